# Runs inside a gateway (through remote_exec) to carry another gateway's bytes: via= starts the
# new gateway's process (relay_popen) or opens its TCP connection (relay_tcp) on this host, and
# pumps bytes between it and the channel. Items to the local side: bytes (the process's stdout,
# or what the socket received), ("e", bytes) for stderr, ("p", pid) once started, ("x", status)
# at the end. Items from the local side: bytes to write, None for end of input, "kill", "term"
# (SIGTERM, for launchers such as srun that clean up after themselves only when asked nicely).
# run() runs a short command here and sends back (status, stdout, stderr).
# When the channel closes (the local side is gone, or this gateway terminates) the input ends,
# so the relayed interpreter sees EOF and exits: nothing outlives the gateway it hangs from.

import os
import queue
import signal
import socket
import subprocess
import threading

_END = object()


def _writer(items, write, close):
    try:
        while True:
            item = items.get()
            if item is _END:
                break
            write(item)
    except (OSError, ValueError):
        pass
    finally:
        try:
            close()
        except OSError:
            pass


def _reader(read, send):
    try:
        while True:
            data = read(65536)
            if not data:
                return
            send(data)
    except (OSError, ValueError):
        return


def _listen(channel, items, on_kill, on_term=None):
    def on_item(item):
        if item is _END or item is None:
            items.put(_END)
        elif item == "kill":
            on_kill()
        elif item == "term":
            (on_term or on_kill)()
        else:
            items.put(item)

    channel.setcallback(on_item, endmarker=_END)


def relay_popen(channel, argv, env=None):
    environ = dict(os.environ)
    environ.update(env or {})
    options = {"start_new_session": True} if os.name == "posix" else {}
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=0, env=environ, **options)
    except OSError as exc:
        channel.send(("x", 127, "%s: %s" % (argv[0], exc)))
        return
    channel.send(("p", proc.pid))
    items = queue.Queue()

    def kill(signum=signal.SIGKILL):
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signum)
            else:
                proc.kill()
        except OSError:
            pass

    writer = threading.Thread(target=_writer, args=(items, proc.stdin.write, proc.stdin.close))
    writer.daemon = True
    writer.start()
    _listen(channel, items, kill, lambda: kill(signal.SIGTERM))
    send = channel.send
    errors = threading.Thread(target=_reader,
                              args=(proc.stderr.read, lambda data: send(("e", data))))
    errors.daemon = True
    errors.start()
    _reader(proc.stdout.read, send)
    status = proc.wait()
    errors.join(1.0)
    items.put(_END)
    try:
        send(("x", status))
    except OSError:
        pass


def relay_tcp(channel, host, port, timeout=30.0):
    sock = socket.create_connection((host, port), timeout)
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    channel.send(("p", 0))
    items = queue.Queue()

    def shutdown():
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def kill():
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    writer = threading.Thread(target=_writer, args=(items, sock.sendall, shutdown))
    writer.daemon = True
    writer.start()
    _listen(channel, items, kill)
    _reader(sock.recv, channel.send)
    items.put(_END)
    writer.join(1.0)
    sock.close()
    try:
        channel.send(("x", 0))
    except OSError:
        pass


def run(channel, argv, timeout=60.0):
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        channel.send((127, b"", ("%s: %s" % (argv[0], exc)).encode()))
        return
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += ("%s did not finish within %s s" % (argv[0], timeout)).encode()
        channel.send((None, out, err))
        return
    channel.send((proc.returncode, out, err))
