#!/usr/bin/env python3
"""B5 (execnet): a Group of 8 popen gateways.

Per run, fresh Group: t0; 8 x makegateway (sequential, or from 8 threads for the
"parallel_start" variant); t1; mch = group.remote_exec(work, n=200000); receive_each();
waitclose(); t2 (8 results, 8 distinct pids checked); group.terminate(10); t3.

Scale rows: the same with N = --scale gateways (1, 8, 32, 64) started from N threads and a
small work (n = --scale-work-n) each: how the total grows per added gateway.
"""

import argparse
import threading

import execnet

from _common import default_spec, emit, env_info, log, now, summarize


def work(channel, n):
    # a plain loop on purpose: execnet's global-name check rejects names bound in a genexpr
    import os

    total = 0
    for i in range(n):
        total += i * i
    channel.send((os.getpid(), total))


def one(spec, k, n, parallel):
    expected = sum([i * i for i in range(n)])
    t0 = now()
    group = execnet.Group()
    if parallel:
        threads = [threading.Thread(target=group.makegateway, args=(spec,)) for _ in range(k)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for _ in range(k):
            group.makegateway(spec)
    assert len(group) == k
    t1 = now()
    mch = group.remote_exec(work, n=n)
    results = mch.receive_each()
    mch.waitclose()
    t2 = now()
    assert len({pid for pid, _ in results}) == k
    assert all(r == expected for _, r in results)
    group.terminate(timeout=10)
    t3 = now()
    return t3 - t0, t1 - t0, t2 - t1, t3 - t2


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-k", type=int, default=8)
    ap.add_argument("--work-n", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--spec", default=default_spec())
    ap.add_argument("--scale", default="1,8,32,64")
    ap.add_argument("--scale-runs", type=int, default=3)
    ap.add_argument("--scale-work-n", type=int, default=1000)
    args = ap.parse_args()
    env = env_info()

    one(args.spec, 2, 1000, False)  # warm-up
    out = {}
    for variant, parallel in (("sequential_start", False), ("parallel_start", True)):
        cols = ([], [], [], [])
        for r in range(args.runs):
            sample = one(args.spec, args.k, args.work_n, parallel)
            for col, value in zip(cols, sample):
                col.append(value)
            log("B5 %s run %d: total=%.0fms start=%.0fms exec+collect=%.0fms terminate=%.0fms"
                % (variant, r, sample[0] * 1e3, sample[1] * 1e3, sample[2] * 1e3, sample[3] * 1e3))
        out[variant] = {
            "total_ms": summarize(cols[0], 1e3, 1),
            "start_gateways_ms": summarize(cols[1], 1e3, 1),
            "remote_exec_and_collect_ms": summarize(cols[2], 1e3, 1),
            "terminate_ms": summarize(cols[3], 1e3, 1),
        }

    scale = {}
    for k in [int(x) for x in args.scale.split(",") if x]:
        totals = []
        for r in range(args.scale_runs):
            totals.append(one(args.spec, k, args.scale_work_n, True)[0])
            log("B5 scale N=%d run %d: total=%.0fms" % (k, r, totals[-1] * 1e3))
        scale[str(k)] = summarize(totals, 1e3, 1)
    out["scale_parallel_start"] = scale

    class _Sink(object):
        def send(self, item):
            pass

    ref = []
    for _ in range(5):
        t = now()
        work(_Sink(), args.work_n)
        ref.append(now() - t)
    out["work_local_single_ms"] = summarize(ref, 1e3, 2)

    params = {"k": args.k, "work_n": args.work_n, "runs": args.runs, "spec": args.spec,
              "scale": args.scale, "scale_runs": args.scale_runs, "scale_work_n": args.scale_work_n}
    emit("B5", params, out, env)


if __name__ == "__main__":
    main()
