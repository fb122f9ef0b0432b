#!/usr/bin/env python3
"""B4 (execnet): bulk throughput with 1 MiB bytes chunks, both directions, alternating.

remote->local: t0 just before sending the count; t1 after the last chunk arrived.
local->remote: count sent untimed; t0 before the first of `chunks` sends; t1 when the remote's
reply (total bytes received) arrives. MB/s = bytes / s / 1e6.
"""

import argparse
import statistics

import execnet

from _common import default_spec, emit, env_info, log, now, summarize

MIB = 1 << 20

REMOTE_SENDS = """
chunks = channel.receive()
data = b"\\xab" * (1 << 20)
for _ in range(chunks):
    channel.send(data)
"""

REMOTE_RECEIVES = """
chunks = channel.receive()
total = 0
for _ in range(chunks):
    total += len(channel.receive())
channel.send(total)
"""


def remote_to_local(gw, chunks):
    ch = gw.remote_exec(REMOTE_SENDS)
    t0 = now()
    ch.send(chunks)
    for _ in range(chunks):
        x = ch.receive()
        assert len(x) == MIB
    t1 = now()
    ch.waitclose(30)
    return t1 - t0


def local_to_remote(gw, chunks):
    ch = gw.remote_exec(REMOTE_RECEIVES)
    data = b"\xcd" * MIB
    ch.send(chunks)
    t0 = now()
    for _ in range(chunks):
        ch.send(data)
    total = ch.receive()
    t1 = now()
    assert total == chunks * MIB, total
    ch.waitclose(30)
    return t1 - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chunks", type=int, default=256)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup-chunks", type=int, default=16)
    ap.add_argument("--spec", default=default_spec())
    args = ap.parse_args()
    env = env_info()

    group = execnet.Group()
    gw = group.makegateway(args.spec)
    remote_to_local(gw, args.warmup_chunks)
    local_to_remote(gw, args.warmup_chunks)
    nbytes = args.chunks * MIB
    r2l, l2r = [], []
    for r in range(args.runs):
        a = remote_to_local(gw, args.chunks)
        b = local_to_remote(gw, args.chunks)
        r2l.append(a)
        l2r.append(b)
        log("B4 run %d: remote->local %.0f MB/s  local->remote %.0f MB/s"
            % (r, nbytes / a / 1e6, nbytes / b / 1e6))
    group.terminate(timeout=10)

    def block(secs):
        return {
            "MB_per_s": summarize([nbytes / s / 1e6 for s in secs], 1.0, 1),
            "MiB_per_s_median": round(statistics.median(nbytes / s / MIB for s in secs), 1),
            "seconds": summarize(secs, 1.0, 3),
        }

    emit("B4", {"chunks": args.chunks, "chunk_bytes": MIB, "runs": args.runs, "spec": args.spec},
         {"remote_to_local": block(r2l), "local_to_remote": block(l2r)}, env)


if __name__ == "__main__":
    main()
