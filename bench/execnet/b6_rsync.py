#!/usr/bin/env python3
"""B6 (execnet side): the tree, its 1 % modification and execnet.RSync, driven by bench/b6_rsync.ts.

The driver runs our RSync in its own process and `rsync -a` as a child, and this script for
execnet, so that all three sync the same tree in the same session, alternating. It speaks one
JSON object per line on stdin/stdout:

  {"cmd": "generate", "root": R, "nfiles": N, "seed": S}   -> the manifest (tree in R/src)
  {"cmd": "modify", "src": D, "nfiles": N, "seed": S, "repeat": r, "fraction": f} -> {"k": 50}
  {"cmd": "sync", "src": D, "dst": E}   -> {"seconds": s, "requested": n, "shipped": m}
  {"cmd": "verify", "src": D, "dst": E} -> {"identical": true}
  {"cmd": "env"}                         -> env_info()

The tree, the modification rule and the timed call are those of the reference
bench_rsync.py (../shared/bench-reference): file i at d{i%10}/s{(i//10)%10}/t{(i//100)%5}/
f{i:05d}.bin, sizes 81 % 1-16 KiB, 15 % 16-128 KiB, 4 % 128-1024 KiB from random.Random(seed),
content rng.randbytes(size); a modification inverts every byte of 1 % of the files (sampled
with random.Random(seed*1000 + repeat)). A sync is timed around
`rs = RSync(src, verbose=False); rs.add_target(gw, dst); rs.send()` with one popen gateway made
beforehand.
"""

import filecmp
import json
import os
import random
import shutil
import sys

import execnet
from execnet import RSync

from _common import default_spec, env_info, log, now

KIB = 1024


def file_path(i):
    return "d%d/s%d/t%d/f%05d.bin" % (i % 10, (i // 10) % 10, (i // 100) % 5, i)


def draw_size(rng):
    u = rng.random()
    if u < 0.81:
        return rng.randint(1 * KIB, 16 * KIB)
    if u < 0.96:
        return rng.randint(16 * KIB, 128 * KIB)
    return rng.randint(128 * KIB, 1024 * KIB)


def generate(root, nfiles, seed):
    """The tree under root/src, made once and reused while manifest.json matches."""
    src = os.path.join(root, "src")
    manifest_path = os.path.join(root, "manifest.json")
    want = {"nfiles": nfiles, "seed": seed, "layout": "v1"}
    if os.path.isdir(src) and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            have = json.load(f)
        if {k: have.get(k) for k in want} == want:
            return have
    if os.path.exists(src):
        shutil.rmtree(src)
    rng = random.Random(seed)
    total = 0
    dirs = set()
    for i in range(nfiles):
        p = os.path.join(src, file_path(i))
        d = os.path.dirname(p)
        if d not in dirs:
            os.makedirs(d, exist_ok=True)
            dirs.add(d)
        size = draw_size(rng)
        with open(p, "wb") as f:
            f.write(rng.randbytes(size))
        total += size
    manifest = dict(want, total_bytes=total, ndirs=len(dirs))
    with open(manifest_path, "w") as f:
        json.dump(manifest, f)
    return manifest


def modify(src, nfiles, seed, repeat, fraction):
    """Invert every byte of 1 % of the files: same size, new mtime, content surely different."""
    rng = random.Random(seed * 1000 + repeat)
    k = max(1, int(nfiles * fraction))
    for i in rng.sample(range(nfiles), k):
        p = os.path.join(src, file_path(i))
        with open(p, "r+b") as f:
            old = f.read()
            size = len(old)
            new = (int.from_bytes(old, "big") ^ ((1 << (8 * size)) - 1)).to_bytes(size, "big")
            f.seek(0)
            f.write(new)
    return k


class CountingRSync(RSync):
    """Counts requested files and files shipped with content (as the reference does: a
    callback would crash execnet's RSync when the remote requests nothing)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.requested = 0
        self.shipped = 0

    def _send_item(self, *args):
        self.requested += 1
        super()._send_item(*args)

    def _report_send_file(self, gateway, modified_rel_path):
        self.shipped += 1


def trees_equal(a, b):
    cmp = filecmp.dircmp(a, b)
    stack = [cmp]
    while stack:
        c = stack.pop()
        if c.left_only or c.right_only or c.funny_files:
            return False
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        if mismatch or errors:
            return False
        stack.extend(c.subdirs.values())
    return True


def main():
    gw = None
    group = execnet.Group()
    try:
        for line in sys.stdin:
            request = json.loads(line)
            cmd = request["cmd"]
            if cmd == "generate":
                reply = generate(request["root"], request["nfiles"], request["seed"])
            elif cmd == "modify":
                reply = {"k": modify(request["src"], request["nfiles"], request["seed"],
                                     request["repeat"], request["fraction"])}
            elif cmd == "sync":
                if gw is None:
                    gw = group.makegateway(default_spec())
                t0 = now()
                rs = CountingRSync(request["src"], verbose=False)
                rs.add_target(gw, request["dst"])
                rs.send()
                t1 = now()
                reply = {"seconds": t1 - t0, "requested": rs.requested, "shipped": rs.shipped}
            elif cmd == "verify":
                reply = {"identical": trees_equal(request["src"], request["dst"])}
            elif cmd == "env":
                reply = env_info()
            else:
                raise SystemExit("b6_rsync.py: unknown command %r" % cmd)
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
    finally:
        group.terminate(timeout=10)
        log("execnet side done")


if __name__ == "__main__":
    main()
