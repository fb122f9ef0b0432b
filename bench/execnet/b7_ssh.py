#!/usr/bin/env python3
"""B7 (execnet): an ssh gateway over a loopback sshd.

With the spec given (`ssh=-p PORT -i KEY ... user@127.0.0.1//python=...`):
  start:  B1's iteration (fresh Group: makegateway, first round trip, terminate), n times
  second: with one gateway up, makegateway of another to the same host + first round trip
          (execnet opens a second ssh process and connection for it)
  RTT:    B2's echo loop, `runs` x `rtt_n`
  bulk:   B4 with `chunks` 1 MiB chunks per direction, `runs` times
"""

import argparse
import statistics

import execnet

from _common import emit, env_info, log, now, now_ns, summarize
from b1_startup import ECHO_PLUS_ONE, one
from b4_bulk import MIB, local_to_remote, remote_to_local

ECHO = """
for item in channel:
    channel.send(item)
"""


def second_gateway(spec, n):
    samples = []
    for _ in range(n):
        group = execnet.Group()
        group.makegateway(spec)
        t0 = now()
        gw = group.makegateway(spec)
        ch = gw.remote_exec(ECHO_PLUS_ONE)
        ch.send(1)
        assert ch.receive() == 2
        samples.append(now() - t0)
        group.terminate(timeout=10)
    return samples


def rtt(gw, n, runs, warmup):
    ch = gw.remote_exec(ECHO)
    for i in range(warmup):
        ch.send(i)
        ch.receive()
    all_us, medians = [], []
    for r in range(runs):
        samples = [0] * n
        for i in range(n):
            t0 = now_ns()
            ch.send(i)
            x = ch.receive()
            samples[i] = now_ns() - t0
            assert x == i
        us = [s / 1e3 for s in samples]
        all_us.extend(us)
        medians.append(round(statistics.median(us), 2))
        log("B7 RTT run %d: median=%sus" % (r, medians[-1]))
    ch.close()
    return all_us, medians


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--spec", required=True)
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rtt-n", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunks", type=int, default=64)
    args = ap.parse_args()
    env = env_info()

    for _ in range(args.warmup):
        one(args.spec)
    cols = ([], [], [], [])
    for i in range(args.n):
        sample = one(args.spec)
        for col, value in zip(cols, sample):
            col.append(value)
        log("B7 [%d] startup=%.1fms terminate=%.1fms" % (i, sample[0] * 1e3, sample[3] * 1e3))
    second = second_gateway(args.spec, args.n)

    group = execnet.Group()
    gw = group.makegateway(args.spec)
    all_us, medians = rtt(gw, args.rtt_n, args.runs, 500)
    remote_to_local(gw, 16)
    local_to_remote(gw, 16)
    nbytes = args.chunks * MIB
    r2l, l2r = [], []
    for r in range(args.runs):
        r2l.append(remote_to_local(gw, args.chunks))
        l2r.append(local_to_remote(gw, args.chunks))
        log("B7 bulk run %d: r->l %.0f MB/s  l->r %.0f MB/s"
            % (r, nbytes / r2l[-1] / 1e6, nbytes / l2r[-1] / 1e6))
    group.terminate(timeout=10)

    emit("B7", {"n": args.n, "rtt_n": args.rtt_n, "runs": args.runs, "chunks": args.chunks,
                "spec": args.spec}, {
        "startup_to_first_roundtrip_ms": summarize(cols[0], 1e3),
        "makegateway_ms": summarize(cols[1], 1e3),
        "group_terminate_ms": summarize(cols[3], 1e3),
        "second_gateway_ms": summarize(second, 1e3),
        "rtt_us": summarize(all_us, 1.0, 2),
        "rtt_run_medians_us": medians,
        "remote_to_local_MB_per_s": summarize([nbytes / s / 1e6 for s in r2l], 1.0, 1),
        "local_to_remote_MB_per_s": summarize([nbytes / s / 1e6 for s in l2r], 1.0, 1),
    }, env)


if __name__ == "__main__":
    main()
