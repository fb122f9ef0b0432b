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
import hmac
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time

PROTOCOL = b"EXECNET-SOCKET 1"
MAX_LINE = 1 << 20
HANDSHAKE_TIMEOUT = 30.0


def _log(message):
    sys.stderr.write("[execnet-socketserver] %s\n" % (message,))
    sys.stderr.flush()


def _mac(secret, label, first, second):
    return hmac.new(secret, label + b"|" + first + b"|" + second, hashlib.sha256).hexdigest().encode()


def _read_line(conn):
    """One line, read a byte at a time: nothing after the newline may be consumed, because the
    connection itself becomes the interpreter's stdin."""
    data = bytearray()
    while True:
        byte = conn.recv(1)
        if not byte:
            raise EOFError("connection closed during the handshake")
        if byte == b"\n":
            return bytes(data)
        data += byte
        if len(data) > MAX_LINE:
            raise ValueError("handshake line too long")


def is_loopback(host):
    if host in ("localhost", "::1"):
        return True
    try:
        return socket.inet_aton(host)[0] == 127
    except OSError:
        return False


def authenticate(conn, secret):
    """Run the challenge exchange; returns the client's EXEC request, or None if refused."""
    nonce = binascii.hexlify(os.urandom(32))
    conn.sendall(PROTOCOL + b" " + nonce + b"\n")
    words = _read_line(conn).split(b" ")
    if len(words) != 3 or words[0] != b"AUTH" or len(words[1]) < 32:
        conn.sendall(b"ERR protocol: expected AUTH\n")
        return None
    client_nonce, answer = words[1], words[2]
    if not hmac.compare_digest(answer, _mac(secret, b"execnet-socket client", nonce, client_nonce)):
        conn.sendall(b"ERR authentication failed\n")
        return None
    conn.sendall(b"OK " + _mac(secret, b"execnet-socket server", client_nonce, nonce) + b"\n")
    line = _read_line(conn)
    if not line.startswith(b"EXEC "):
        conn.sendall(b"ERR protocol: expected EXEC\n")
        return None
    request = json.loads(line[5:].decode("utf-8"))
    if not isinstance(request, dict) or not isinstance(request.get("line"), str):
        conn.sendall(b"ERR protocol: bad EXEC request\n")
        return None
    return request


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


def handle(conn, peer, secret, tls_context):
    """Serve one connection; never raises. Returns the started process, or None."""
    try:
        conn.settimeout(HANDSHAKE_TIMEOUT)
        if tls_context is not None:
            conn = tls_context.wrap_socket(conn, server_side=True)
        request = authenticate(conn, secret)
        if request is None:
            _log("refused %s: authentication failed" % (peer,))
            conn.close()
            return None
        conn.settimeout(None)
        proc = start_interpreter(conn, request, peer)
        _log("started pid %d for %s" % (proc.pid, peer))
        threading.Thread(target=proc.wait, daemon=True).start()  # reap it
        return proc
    except Exception as exc:  # a bad client must not take the server down
        _log("dropped %s: %s: %s" % (peer, type(exc).__name__, exc))
        try:
            conn.close()
        except OSError:
            pass
        return None


def listen(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(16)
    return server


def serve(server, secret, tls_context=None, once=False):
    while True:
        conn, address = server.accept()
        peer = "%s:%s" % address[:2]
        if once:
            if handle(conn, peer, secret, tls_context) is not None:
                return
        else:
            threading.Thread(target=handle, args=(conn, peer, secret, tls_context), daemon=True).start()


def serve_installvia(channel, token, host="127.0.0.1", port=0, timeout=60.0):
    """installvia=: run inside a gateway (remote_exec). Listens on loopback, sends the port, and
    serves the one client that knows the token; gives up after `timeout` seconds."""
    server = listen(host, port)
    server.settimeout(timeout)
    channel.send(server.getsockname()[1])
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            try:
                conn, address = server.accept()
            except socket.timeout:
                break
            if handle(conn, "%s:%s" % address[:2], token.encode("utf-8"), None) is not None:
                return
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
        import ssl
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    elif args.tls_key:
        parser.error("--tls-key needs --tls-cert")

    server = listen(host, port)
    bound = server.getsockname()
    print("listening on %s:%d%s" % (bound[0], bound[1], " (TLS)" if tls_context else ""))
    sys.stdout.flush()
    try:
        serve(server, secret, tls_context, once=args.once)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
