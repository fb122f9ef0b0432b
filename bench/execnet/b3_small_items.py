#!/usr/bin/env python3
"""B3 (execnet): small-item throughput, remote -> local.

Per run a new remote_exec of PRODUCER on one gateway; local: t0, send(count), receive() count
times (last item checked), t1. items/s = count / (t1 - t0). One warm-up run of 10,000.
"""

import argparse
import statistics

import execnet

from _common import default_spec, emit, env_info, log, now, summarize

PRODUCER = """
count = channel.receive()
payload = "x" * 16
send = channel.send
for i in range(count):
    send((i, payload))
"""


def one(gw, count):
    ch = gw.remote_exec(PRODUCER)
    recv = ch.receive
    t0 = now()
    ch.send(count)
    item = None
    for _ in range(count):
        item = recv()
    t1 = now()
    assert item == (count - 1, "x" * 16), item
    ch.waitclose(10)
    return t1 - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup-count", type=int, default=10000)
    ap.add_argument("--spec", default=default_spec())
    args = ap.parse_args()
    env = env_info()

    group = execnet.Group()
    gw = group.makegateway(args.spec)
    one(gw, args.warmup_count)
    secs = []
    for r in range(args.runs):
        s = one(gw, args.count)
        secs.append(s)
        log("B3 run %d: %.3fs  %.0f items/s" % (r, s, args.count / s))
    group.terminate(timeout=10)

    rates = [args.count / s for s in secs]
    emit("B3", {"count": args.count, "item": "(i, 'x'*16)", "runs": args.runs, "spec": args.spec}, {
        "items_per_s": summarize(rates, 1.0, 0),
        "seconds": summarize(secs, 1.0, 3),
        "median_items_per_s": round(statistics.median(rates)),
    }, env)


if __name__ == "__main__":
    main()
