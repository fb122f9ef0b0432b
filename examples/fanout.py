# The same computation on several gateways at once; each sends (hostname, pid, result).
#
#   node dist/cli.js run -g popen -g popen -g popen//python=/usr/bin/python3 examples/fanout.py 100000
#
# Every line of output is prefixed with the id of the gateway that produced it.
import os
import socket
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
primes = [p for p in range(2, n) if all(p % d for d in range(2, int(p ** 0.5) + 1))]
print("%d primes below %d" % (len(primes), n))
channel.send((socket.gethostname(), os.getpid(), len(primes)))
