#!/usr/bin/env python3
"""B8 (execnet): one large `bytes` value in each direction, beside the same bytes in 1 MiB chunks.

Per run, alternating: one value of `--mib` MiB remote->local, one local->remote, then B4's
chunk loops with as many 1 MiB chunks. For a single value, the sender makes it after its peak
memory is reset and says "ready"; t0 is when the local side says "go" (r->l) or starts sending
(l->r); t1 when the value (r->l) or the remote's reply (l->r) arrived. Peak memory: the growth
of each process's peak RSS (VmHWM, reset through /proc/PID/clear_refs) over its RSS before the
value was made, as a multiple of the value's size.
"""

import argparse
import gc
import os

import execnet

from _common import emit, env_info, log, now, summarize
from b4_bulk import MIB, local_to_remote, remote_to_local

REMOTE_SENDS_ONE = """
n, kind = channel.receive()
if kind == "bytes":
    data = b"\\xab" * n
elif kind == "bytearray":
    data = bytearray(b"\\xab") * n
else:
    data = memoryview(b"\\xab" * n)
channel.send(None)
channel.receive()
channel.send(data)
del data
channel.receive()
"""

REMOTE_RECEIVES_ONE = """
x = channel.receive()
channel.send(len(x) if type(x) is bytes else -1)
del x
channel.receive()
"""


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/%d/status" % (field, pid))


def reset_peak(pid):
    """Make VmHWM start again from the current RSS; returns that RSS in bytes."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")
    return status_kib(pid, "VmRSS") * 1024


def peak_growth(pid, base):
    return status_kib(pid, "VmHWM") * 1024 - base


def one_value(gw, remote_pid, nbytes, source, transfer):
    """One value moved by transfer(ch) -> (t0, t1) in a fresh exec of source, with both
    processes' peak memory restarted just before: (seconds, local peak, remote peak)."""
    gc.collect()
    ch = gw.remote_exec(source)
    local_base = reset_peak(os.getpid())
    remote_base = reset_peak(remote_pid)
    t0, t1 = transfer(ch)
    result = (
        t1 - t0,
        peak_growth(os.getpid(), local_base) / nbytes,
        peak_growth(remote_pid, remote_base) / nbytes,
    )
    ch.send("done")
    ch.waitclose(60)
    return result


def one_remote_to_local(gw, remote_pid, nbytes, kind="bytes"):
    def transfer(ch):
        ch.send((nbytes, kind))
        assert ch.receive() is None
        t0 = now()
        ch.send("go")
        x = ch.receive()
        t1 = now()
        assert len(x) == nbytes, len(x)
        return t0, t1

    return one_value(gw, remote_pid, nbytes, REMOTE_SENDS_ONE, transfer)


def one_local_to_remote(gw, remote_pid, nbytes):
    def transfer(ch):
        data = b"\xcd" * nbytes
        t0 = now()
        ch.send(data)
        got = ch.receive()
        t1 = now()
        assert got == nbytes, got
        return t0, t1

    return one_value(gw, remote_pid, nbytes, REMOTE_RECEIVES_ONE, transfer)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--spec", default="popen")
    args = ap.parse_args()
    env = env_info()
    nbytes = args.mib * MIB

    group = execnet.Group()
    gw = group.makegateway(args.spec)
    remote_pid = gw.remote_exec("import os; channel.send(os.getpid())").receive()
    remote_to_local(gw, 16)
    local_to_remote(gw, 16)
    cols = {k: [] for k in ("r2l", "l2r", "r2l_chunks", "l2r_chunks")}
    peaks = {k: [] for k in ("r2l_local", "r2l_remote", "l2r_local", "l2r_remote")}
    for r in range(args.runs):
        secs, local_peak, remote_peak = one_remote_to_local(gw, remote_pid, nbytes)
        cols["r2l"].append(secs)
        peaks["r2l_local"].append(local_peak)
        peaks["r2l_remote"].append(remote_peak)
        secs, local_peak, remote_peak = one_local_to_remote(gw, remote_pid, nbytes)
        cols["l2r"].append(secs)
        peaks["l2r_local"].append(local_peak)
        peaks["l2r_remote"].append(remote_peak)
        cols["r2l_chunks"].append(remote_to_local(gw, args.mib))
        cols["l2r_chunks"].append(local_to_remote(gw, args.mib))
        log(
            "B8 run %d: one value r->l %.0f MB/s l->r %.0f MB/s; chunks r->l %.0f l->r %.0f MB/s"
            % tuple([r] + [nbytes / cols[k][-1] / 1e6 for k in ("r2l", "l2r", "r2l_chunks", "l2r_chunks")])
        )
    group.terminate(timeout=10)

    results = {}
    for key, secs in cols.items():
        results[key] = {
            "MB_per_s": summarize([nbytes / s / 1e6 for s in secs], 1.0, 1),
            "seconds": summarize(secs, 1.0, 3),
        }
    for key, xs in peaks.items():
        results["peak_" + key + "_x"] = summarize(xs, 1.0, 2)
    emit("B8", {"mib": args.mib, "runs": args.runs, "spec": args.spec}, results, env)


if __name__ == "__main__":
    main()
