#!/usr/bin/env python3
"""Serve execnet-vscode gateways over TCP, for `socket=HOST:PORT` specs.

    python3 socketserver.py --listen 127.0.0.1:8888 --key-file ~/.execnet/socket.key
    EXECNET_SOCKET_TOKEN=... python3 socketserver.py --listen 127.0.0.1:8888

Each client must prove it knows the shared secret (a token, or a key file's contents) before
anything runs: the server sends a random challenge, the client answers with an HMAC-SHA256 of
it, and the server answers the client's own challenge the same way. The secret never crosses
the wire. A client that fails is told so and disconnected; the server keeps serving others.
An authenticated client names the bootstrap line, and the server starts its own interpreter
with it (`python -c LINE`), with the connection as that interpreter's stdin and stdout.

The server binds to loopback unless --allow-remote is given, and speaks TLS when given
--tls-cert and --tls-key. Single file, standard library only, Python 3.6+. Unlike execnet's
socketserver it never evaluates what a client sends before authentication.
"""

import argparse
import binascii
import collections
import errno
import hmac
import hashlib
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time

PROTOCOL = b"EXECNET-SOCKET 1"
MAX_LINE = 1 << 16
HANDSHAKE_TIMEOUT = 5.0
MAX_PENDING = 32

try:
    import ssl
    _WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
except ImportError:  # an interpreter built without ssl serves plain connections
    ssl = None
    _WOULD_BLOCK = (BlockingIOError,)


def _log(message):
    sys.stderr.write("[execnet-socketserver] %s\n" % (message,))
    sys.stderr.flush()


def _mac(secret, label, first, second):
    return hmac.new(secret, label + b"|" + first + b"|" + second, hashlib.sha256).hexdigest().encode()


class Refused(Exception):
    """The client broke the handshake: it is told why (if it still listens) and disconnected."""


# The handshake of one connection is a generator: it yields (socket, "r" or "w") whenever it
# has to wait for the client, and returns (socket, request) once the client is authenticated.
# One thread drives every handshake at once (see serve), so a client that connects and then
# says nothing, or one byte at a time, costs a socket, never a thread, and is dropped at its
# deadline.

def _send(conn, data):
    view = memoryview(data)
    while view:
        try:
            view = view[conn.send(view):]
        except _WOULD_BLOCK:
            yield conn, "w"


def _read_line(conn):
    """One line. Nothing after the newline may be consumed, because the connection itself
    becomes the interpreter's stdin: a plain socket is peeked at, a TLS one read bytewise
    (from what OpenSSL has already decrypted)."""
    data = bytearray()
    plain = type(conn) is socket.socket
    while True:
        try:
            if plain:
                chunk = conn.recv(MAX_LINE + 1 - len(data), socket.MSG_PEEK)
                if chunk:
                    newline = chunk.find(b"\n")
                    chunk = conn.recv(newline + 1 if newline >= 0 else len(chunk))
            else:
                chunk = conn.recv(1)
        except _WOULD_BLOCK as exc:
            yield conn, "w" if ssl is not None and isinstance(exc, ssl.SSLWantWriteError) else "r"
            continue
        if not chunk:
            raise EOFError("connection closed during the handshake")
        data += chunk
        if data.endswith(b"\n"):
            return bytes(data[:-1])
        if len(data) > MAX_LINE:
            raise Refused("protocol: handshake line too long")


def handshake(conn, secret, tls_context):
    """Challenge exchange (and TLS first, if any); returns (socket, EXEC request)."""
    if tls_context is not None:
        conn = tls_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        while True:
            try:
                conn.do_handshake()
                break
            except ssl.SSLWantReadError:
                yield conn, "r"
            except ssl.SSLWantWriteError:
                yield conn, "w"
    nonce = binascii.hexlify(os.urandom(32))
    yield from _send(conn, PROTOCOL + b" " + nonce + b"\n")
    words = (yield from _read_line(conn)).split(b" ")
    if len(words) != 3 or words[0] != b"AUTH" or len(words[1]) < 32:
        yield from _send(conn, b"ERR protocol: expected AUTH\n")
        raise Refused("protocol: expected AUTH")
    client_nonce, answer = words[1], words[2]
    if not hmac.compare_digest(answer, _mac(secret, b"execnet-socket client", nonce, client_nonce)):
        yield from _send(conn, b"ERR authentication failed\n")
        raise Refused("authentication failed")
    yield from _send(conn, b"OK " + _mac(secret, b"execnet-socket server", client_nonce, nonce) + b"\n")
    line = yield from _read_line(conn)
    try:
        request = json.loads(line[5:].decode("utf-8")) if line.startswith(b"EXEC ") else None
    except ValueError:
        request = None
    if not isinstance(request, dict) or not isinstance(request.get("line"), str):
        yield from _send(conn, b"ERR protocol: bad EXEC request\n")
        raise Refused("protocol: bad EXEC request")
    return conn, request


def is_loopback(host):
    if host in ("localhost", "::1"):
        return True
    try:
        return socket.inet_aton(host)[0] == 127
    except OSError:
        return False


def _relay(source, sink, after):
    try:
        while True:
            data = source()
            if not data:
                break
            sink(data)
    except (OSError, ValueError):
        pass
    finally:
        after()


def start_interpreter(conn, request, peer):
    """Start `python -c LINE` talking over conn; returns the process."""
    args = [a for a in request.get("args") or [] if a in ("-B", "-u", "-E", "-s")]
    argv = [sys.executable] + args + ["-c", request["line"]]
    popen_options = {}
    if os.name == "posix":
        popen_options["start_new_session"] = True
    conn.setblocking(True)
    plain = type(conn) is socket.socket and os.name == "posix"
    if plain:
        # the interpreter reads and writes the socket itself: no copying through us
        proc = subprocess.Popen(argv, stdin=conn.fileno(), stdout=conn.fileno(), **popen_options)
        conn.sendall(b"RUN %d\n" % proc.pid)
        conn.close()
        return proc
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
                            **popen_options)
    conn.sendall(b"RUN %d\n" % proc.pid)

    def close_stdin():
        try:
            proc.stdin.close()
        except OSError:
            pass

    def close_conn():
        try:
            conn.close()
        except OSError:
            pass

    threading.Thread(target=_relay, args=(lambda: conn.recv(65536), proc.stdin.write, close_stdin),
                     daemon=True).start()
    threading.Thread(target=_relay, args=(lambda: proc.stdout.read(65536), conn.sendall, close_conn),
                     daemon=True).start()
    return proc


def listen(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(128)
    return server


class _Pending(object):
    __slots__ = ("conn", "peer", "deadline", "steps", "fd")

    def __init__(self, conn, peer, deadline, steps):
        self.conn = conn
        self.peer = peer
        self.deadline = deadline
        self.steps = steps
        self.fd = conn.fileno()


def serve(server, secret, tls_context=None, once=False, handshake_timeout=HANDSHAKE_TIMEOUT,
          max_pending=MAX_PENDING, until=None):
    """Accept clients and run their handshakes, all in this thread; each authenticated client
    gets its interpreter. A handshake must be over within handshake_timeout seconds; at most
    max_pending run at once, and a newcomer beyond that pushes out the oldest (so a flood of
    idle connections delays a real client by at most one round trip). With once, returns the
    first interpreter started; with until (a time.monotonic() value), gives up then."""
    selector = selectors.DefaultSelector()
    server.setblocking(False)
    selector.register(server, selectors.EVENT_READ, None)
    pending = collections.OrderedDict()   # fd -> _Pending, oldest first

    def drop(item, why, verb="dropped"):
        pending.pop(item.fd, None)
        try:
            selector.unregister(item.fd)
        except (KeyError, ValueError):
            pass
        item.steps.close()
        _log("%s %s: %s" % (verb, item.peer, why))
        try:
            item.conn.close()
        except OSError:
            pass

    def step(item):
        """Run the handshake until it waits; returns the started process once it is over."""
        try:
            sock, want = item.steps.send(None)
        except StopIteration as done:
            conn, request = done.value
            pending.pop(item.fd, None)
            selector.unregister(item.fd)
            proc = start_interpreter(conn, request, item.peer)
            _log("started pid %d for %s" % (proc.pid, item.peer))
            threading.Thread(target=proc.wait, daemon=True).start()  # reap it
            return proc
        item.conn = sock
        selector.modify(item.fd, selectors.EVENT_READ if want == "r" else selectors.EVENT_WRITE,
                        item)
        return None

    try:
        while True:
            now = time.monotonic()
            for item in list(pending.values()):
                if item.deadline > now:
                    break
                drop(item, "no handshake within %gs" % handshake_timeout)
            if until is not None and now >= until:
                return None
            wake = [item.deadline for item in pending.values()][:1]
            if until is not None:
                wake.append(until)
            timeout = max(0.0, min(wake) - now) if wake else None
            for key, _ in selector.select(timeout):
                if key.data is None:
                    try:
                        conn, address = server.accept()
                    except OSError as exc:   # EMFILE, ECONNABORTED...: the others go on
                        _log("accept failed: %s" % (exc,))
                        if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                            time.sleep(0.1)  # out of descriptors: let handshakes end first
                        continue
                    conn.setblocking(False)
                    if len(pending) >= max_pending:
                        drop(next(iter(pending.values())),
                             "more than %d connections without a handshake" % max_pending)
                    item = _Pending(conn, "%s:%s" % address[:2], time.monotonic() + handshake_timeout,
                                    handshake(conn, secret, tls_context))
                    pending[item.fd] = item
                    selector.register(item.fd, selectors.EVENT_READ, item)
                else:
                    item = key.data
                if item.fd not in pending:
                    continue
                try:
                    proc = step(item)
                except Refused as exc:
                    drop(item, str(exc), "refused")
                    continue
                except Exception as exc:  # a bad client must not take the server down
                    drop(item, "%s: %s" % (type(exc).__name__, exc))
                    continue
                if proc is not None and once:
                    return proc
    finally:
        for item in list(pending.values()):
            drop(item, "the server is stopping")
        selector.close()


def serve_installvia(channel, token, host="127.0.0.1", port=0, timeout=60.0):
    """installvia=: run inside a gateway (remote_exec). Listens on loopback, sends the port, and
    serves the one client that knows the token; gives up after `timeout` seconds."""
    server = listen(host, port)
    channel.send(server.getsockname()[1])
    try:
        serve(server, token.encode("utf-8"), once=True, until=time.monotonic() + timeout)
    finally:
        server.close()


def _read_secret(args):
    if args.key_file:
        with open(os.path.expanduser(args.key_file), "rb") as f:
            secret = f.read().strip()
    else:
        secret = os.environ.get(args.token_env, "").encode("utf-8")
    return secret


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:8888", metavar="HOST:PORT",
                        help="address to listen on (default 127.0.0.1:8888; port 0 picks one)")
    parser.add_argument("--key-file", help="file holding the shared secret")
    parser.add_argument("--token-env", default="EXECNET_SOCKET_TOKEN", metavar="VAR",
                        help="environment variable holding the secret (default %(default)s)")
    parser.add_argument("--tls-cert", help="certificate (PEM) to serve TLS with")
    parser.add_argument("--tls-key", help="private key (PEM) of --tls-cert")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow listening on a non-loopback address")
    parser.add_argument("--once", action="store_true", help="serve one client, then exit")
    parser.add_argument("--handshake-timeout", type=float, default=HANDSHAKE_TIMEOUT, metavar="S",
                        help="seconds a client has to authenticate (default %(default)s)")
    parser.add_argument("--max-pending", type=int, default=MAX_PENDING, metavar="N",
                        help="connections authenticating at once; a newer one pushes out the "
                             "oldest (default %(default)s)")
    args = parser.parse_args(argv)

    host, _, port_text = args.listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        parser.error("--listen wants HOST:PORT, got %r" % (args.listen,))
    if not is_loopback(host) and not args.allow_remote:
        parser.error("refusing to listen on %s, which is not a loopback address: anyone who can "
                     "reach it could try the secret. Pass --allow-remote (and prefer --tls-cert) "
                     "if that is what you want." % (host,))
    secret = _read_secret(args)
    if len(secret) < 16:
        parser.error("no secret, or one shorter than 16 bytes: give --key-file FILE or set $%s"
                     % (args.token_env,))
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    elif args.tls_key:
        parser.error("--tls-key needs --tls-cert")

    server = listen(host, port)
    bound = server.getsockname()
    print("listening on %s:%d%s" % (bound[0], bound[1], " (TLS)" if tls_context else ""))
    sys.stdout.flush()
    try:
        serve(server, secret, tls_context, once=args.once,
              handshake_timeout=args.handshake_timeout, max_pending=max(1, args.max_pending))
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
