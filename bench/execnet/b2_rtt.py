#!/usr/bin/env python3
"""B2 (execnet): channel round-trip latency, small int echo.

Remote: `for item in channel: channel.send(item)`. `warmup` untimed round trips, then `runs`
runs of `n` sequential `ch.send(i); ch.receive()`, each timed with perf_counter_ns.
"""

import argparse
import statistics

import execnet

from _common import default_spec, emit, env_info, log, now_ns, summarize

ECHO = """
for item in channel:
    channel.send(item)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--spec", default=default_spec())
    args = ap.parse_args()
    env = env_info()

    group = execnet.Group()
    gw = group.makegateway(args.spec)
    ch = gw.remote_exec(ECHO)
    for i in range(args.warmup):
        ch.send(i)
        ch.receive()

    all_us = []
    run_medians, run_means = [], []
    pc = now_ns
    n = args.n
    for r in range(args.runs):
        samples = [0] * n
        t_start = pc()
        for i in range(n):
            t0 = pc()
            ch.send(i)
            x = ch.receive()
            samples[i] = pc() - t0
            if x != i:
                raise AssertionError((x, i))
        t_run = pc() - t_start
        us = [s / 1e3 for s in samples]
        all_us.extend(us)
        run_medians.append(round(statistics.median(us), 2))
        run_means.append(round(t_run / 1e3 / n, 2))
        log("B2 run %d: median=%sus mean=%sus" % (r, run_medians[-1], run_means[-1]))

    ch.close()
    group.terminate(timeout=10)
    emit("B2", {"n": n, "runs": args.runs, "warmup": args.warmup, "spec": args.spec,
                "payload": "small int"}, {
        "rtt_us": summarize(all_us, 1.0, 2),
        "run_medians_us": run_medians,
        "run_means_us": run_means,
    }, env)


if __name__ == "__main__":
    main()
