#!/usr/bin/env python3
"""B1 (execnet): popen gateway cold start, first round trip, terminate.

Per iteration, with a fresh Group (so a brand-new child interpreter):
  t0; gw = group.makegateway(spec); t1
  ch = gw.remote_exec("channel.send(channel.receive() + 1)"); ch.send(1); receive() == 2; t2
  group.terminate(timeout=10); t3
Floor: spawn `<python> -u -c <bootline>`, send one line that writes "1", read it, close stdin,
wait() -- interpreter start-up without execnet.
"""

import argparse
import subprocess
import sys

import execnet

from _common import default_spec, emit, env_info, log, now, summarize

ECHO_PLUS_ONE = "channel.send(channel.receive() + 1)"
BOOTLINE = "import sys;exec(eval(sys.stdin.readline()))"


def one(spec):
    group = execnet.Group()
    t0 = now()
    gw = group.makegateway(spec)
    t1 = now()
    ch = gw.remote_exec(ECHO_PLUS_ONE)
    ch.send(1)
    assert ch.receive() == 2
    t2 = now()
    group.terminate(timeout=10)
    t3 = now()
    return t2 - t0, t1 - t0, t2 - t1, t3 - t2


def python_spawn(python):
    t0 = now()
    p = subprocess.Popen([python, "-u", "-c", BOOTLINE], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.stdin.write((repr("sys.stdout.write('1'); sys.stdout.flush()") + "\n").encode())
    p.stdin.flush()
    assert p.stdout.read(1) == b"1"
    p.stdin.close()
    p.wait()
    t1 = now()
    p.stdout.close()
    return t1 - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--spec", default=default_spec())
    args = ap.parse_args()
    env = env_info()

    for _ in range(args.warmup):
        one(args.spec)
    cols = ([], [], [], [])
    for i in range(args.n):
        sample = one(args.spec)
        for col, value in zip(cols, sample):
            col.append(value)
        log("B1 [%d] startup=%.1fms makegw=%.1fms first_rtt=%.2fms terminate=%.1fms"
            % (i, sample[0] * 1e3, sample[1] * 1e3, sample[2] * 1e3, sample[3] * 1e3))
    python = sys.executable
    if "python=" in args.spec:
        python = args.spec.split("python=", 1)[1].split("//", 1)[0]
    spawn = [python_spawn(python) for _ in range(args.n)]

    emit("B1", {"n": args.n, "warmup": args.warmup, "spec": args.spec}, {
        "startup_to_first_roundtrip_ms": summarize(cols[0], 1e3),
        "makegateway_ms": summarize(cols[1], 1e3),
        "first_remote_exec_roundtrip_ms": summarize(cols[2], 1e3),
        "group_terminate_ms": summarize(cols[3], 1e3),
        "python_spawn_baseline_ms": summarize(spawn, 1e3),
    }, env)


if __name__ == "__main__":
    main()
