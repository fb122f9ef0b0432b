# Hello from wherever the gateway runs: prints where it is, and sends a value back on `channel`.
#
#   node dist/cli.js run examples/hello.py
#   node dist/cli.js run --gateway popen//python=/usr/bin/python3 examples/hello.py
import os
import platform
import socket
import sys

print("hello from %s (pid %d): Python %s on %s" % (
    socket.gethostname(), os.getpid(), platform.python_version(), sys.platform))
print("running as %r, sys.argv = %r" % (__name__, sys.argv))

# `channel` is the execnet channel this code was started with; the CLI prints what arrives.
channel.send(("hello", socket.gethostname(), os.getpid()))
