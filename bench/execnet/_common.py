"""Helpers shared by the execnet side of the benchmarks (bench/execnet/b*.py).

Every script prints exactly one JSON line on stdout (progress goes to stderr), in the same
shape as the TypeScript side (bench/ours.ts), so bench/run.ts can put them side by side:

    {"benchmark": "B2", "engine": "execnet", "params": {...}, "results": {...}, "env": {...}}

Only the standard library and execnet are used; run with the interpreter that can import
execnet (Debian: /usr/bin/python3 with python3-execnet).
"""

import json
import os
import platform
import statistics
import sys
import time

now = time.perf_counter
now_ns = time.perf_counter_ns


def default_spec():
    """The gateway spec both engines use: popen of the very interpreter running this script."""
    return "popen//python=%s" % sys.executable


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def env_info():
    import execnet

    return {
        "execnet_version": getattr(execnet, "__version__", "?"),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "loadavg_start": loadavg(),
    }


def summarize(samples, scale=1.0, ndigits=3):
    """median / min / p10 / p90 / max / n, linear-interpolated percentiles."""
    xs = sorted(s * scale for s in samples)
    n = len(xs)

    def pct(p):
        if n == 1:
            return xs[0]
        k = (n - 1) * p
        lo = int(k)
        hi = min(lo + 1, n - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

    return {
        "median": round(statistics.median(xs), ndigits),
        "min": round(xs[0], ndigits),
        "p10": round(pct(0.10), ndigits),
        "p90": round(pct(0.90), ndigits),
        "max": round(xs[-1], ndigits),
        "n": n,
    }


def emit(name, params, results, env):
    env = dict(env)
    env["loadavg_end"] = loadavg()
    line = {
        "benchmark": name,
        "engine": "execnet",
        "runner": "python",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "params": params,
        "results": results,
        "env": env,
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def log(*args):
    sys.stderr.write("[execnet] " + " ".join(str(a) for a in args) + "\n")
    sys.stderr.flush()
