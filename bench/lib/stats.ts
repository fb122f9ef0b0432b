// Statistics and JSON-line output shared by the TypeScript side of the benchmarks. The shapes
// match bench/execnet/_common.py so that bench/run.ts can read both engines' lines alike.

import * as os from 'node:os';

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly p10: number;
  readonly p90: number;
  readonly max: number;
  readonly n: number;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function median(samples: readonly number[]): number {
  const xs = [...samples].sort((a, b) => a - b);
  const n = xs.length;
  if (n === 0) {
    return NaN;
  }
  return n % 2 === 1 ? xs[(n - 1) / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/** median / min / p10 / p90 / max / n, linear-interpolated percentiles (as _common.py). */
export function summarize(samples: readonly number[], scale = 1, digits = 3): Summary {
  const xs = samples.map((s) => s * scale).sort((a, b) => a - b);
  const n = xs.length;
  const pct = (p: number): number => {
    if (n === 1) {
      return xs[0];
    }
    const k = (n - 1) * p;
    const lo = Math.floor(k);
    const hi = Math.min(lo + 1, n - 1);
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo);
  };
  return {
    median: round(median(xs), digits),
    min: round(xs[0], digits),
    p10: round(pct(0.1), digits),
    p90: round(pct(0.9), digits),
    max: round(xs[n - 1], digits),
    n,
  };
}

export function loadavg(): number[] {
  return os.loadavg().map((x) => round(x, 2));
}

/** Seconds, monotonic, from process.hrtime.bigint(). */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export function log(...parts: unknown[]): void {
  process.stderr.write(`[ours] ${parts.map(String).join(' ')}\n`);
}

/** Write one JSON line on stdout and resolve once it is flushed. */
export function emitLine(line: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) =>
    process.stdout.write(`${JSON.stringify(line)}\n`, () => resolve()),
  );
}
