// `npm run bench`: runs the workloads B1–B5 (bench/README.md) for execnet and for our engine in
// the same session, alternating engines, and prints a markdown table of medians, ratios and
// targets. Every workload of every engine runs in its own process and prints one JSON line;
// all lines go to bench/results/bench-<time>.jsonl.
//
//   npm run bench -- [--only B2,B3] [--quick] [--rounds N] [--runner bundle|tsx|both]
//                    [--remote-codec auto|pure|both] [--python /usr/bin/python3]
//                    [--remote-dir DIR] [--pin CPUS] [--timeout SECONDS]
//
// --remote-dir: the bundle ships the remote Python sources from DIR instead of src/core/remote
// (for trying a change to the remote side; the tsx runner always uses src/core/remote).
// --pin: run every benchmark process under `taskset -c CPUS` (a diagnostic: with one CPU there
// are no cross-CPU wake-ups, which on this VM cost far more than the software path).

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadavg, median } from './lib/stats';
import { buildBenchBundle } from './lib/bundle';

const BENCH_DIR = __dirname;
const ROOT = path.dirname(BENCH_DIR);
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const BUNDLE_DIR = path.join(RESULTS_DIR, 'bundle');

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    runner: { type: 'string', default: 'both' },
    'remote-codec': { type: 'string', default: 'both' },
    'remote-dir': { type: 'string' },
    pin: { type: 'string' },
    python: { type: 'string', default: process.env.BENCH_PYTHON ?? '/usr/bin/python3' },
    timeout: { type: 'string', default: '900' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  process.stdout.write(
    'usage: npm run bench -- [--only B2,B3] [--quick] [--rounds N] [--runner bundle|tsx|both]\n' +
      '                        [--remote-codec auto|pure|both] [--python /usr/bin/python3]\n' +
      '                        [--remote-dir DIR] [--pin CPUS] [--timeout SECONDS]\n',
  );
  process.exit(0);
}

type WorkloadName = 'B1' | 'B2' | 'B3' | 'B4' | 'B5' | 'B8';
const ALL: WorkloadName[] = ['B1', 'B2', 'B3', 'B4', 'B5', 'B8'];

const SCRIPTS: Record<WorkloadName, string> = {
  B1: 'b1_startup.py',
  B2: 'b2_rtt.py',
  B3: 'b3_small_items.py',
  B4: 'b4_bulk.py',
  B5: 'b5_fanout.py',
  B8: 'b8_large.py',
};

/** Repetitions: the reference README's for a full run, fewer for --quick. Same for both engines. */
const PARAMS: Record<'full' | 'quick', Record<WorkloadName, string[]>> = {
  full: {
    B1: ['-n', '20', '--warmup', '2'],
    B2: ['-n', '10000', '--runs', '5', '--warmup', '500'],
    B3: ['--count', '200000', '--runs', '5', '--warmup-count', '10000'],
    B4: ['--chunks', '256', '--runs', '5', '--warmup-chunks', '16'],
    B5: ['-k', '8', '--work-n', '200000', '--runs', '7'],
    B8: ['--mib', '256', '--runs', '3'],
  },
  quick: {
    B1: ['-n', '5', '--warmup', '1'],
    B2: ['-n', '2000', '--runs', '2', '--warmup', '200'],
    B3: ['--count', '200000', '--runs', '2', '--warmup-count', '10000'],
    B4: ['--chunks', '64', '--runs', '2', '--warmup-chunks', '16'],
    B5: ['-k', '8', '--work-n', '200000', '--runs', '2', '--scale', '1,8,32', '--scale-runs', '1'],
    B8: ['--mib', '64', '--runs', '1'],
  },
};

/**
 * execnet, or our engine run from the esbuild bundle or through tsx, with the remote's codec as
 * found (the msgpack C extension if the interpreter has it) or forced to pure Python (`-pure`).
 */
type EngineKey = 'execnet' | `ours:${'bundle' | 'tsx'}${'' | '-pure'}`;

const ENGINE_LABELS: Record<EngineKey, string> = {
  execnet: 'execnet',
  'ours:bundle': 'ours (bundle)',
  'ours:bundle-pure': 'ours (bundle, pure codec)',
  'ours:tsx': 'ours (tsx)',
  'ours:tsx-pure': 'ours (tsx, pure codec)',
};

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

const only = opts.only
  ? opts.only.split(',').map((s) => s.trim().toUpperCase() as WorkloadName)
  : ALL;
for (const name of only) {
  if (!ALL.includes(name)) {
    fail(`--only: unknown workload ${name} (known: ${ALL.join(', ')})`);
  }
}
const mode = opts.quick ? 'quick' : 'full';
const rounds = Number(opts.rounds ?? (opts.quick ? 1 : 3));
if (!Number.isInteger(rounds) || rounds < 1) {
  fail('--rounds must be a positive integer');
}
const timeoutMs = Number(opts.timeout) * 1000;
const runners: Array<'bundle' | 'tsx'> =
  opts.runner === 'both'
    ? ['bundle', 'tsx']
    : opts.runner === 'bundle' || opts.runner === 'tsx'
      ? [opts.runner]
      : fail('--runner is bundle, tsx or both');
const codecs: Array<'' | '-pure'> =
  opts['remote-codec'] === 'both'
    ? ['', '-pure']
    : opts['remote-codec'] === 'auto'
      ? ['']
      : opts['remote-codec'] === 'pure'
        ? ['-pure']
        : fail('--remote-codec is auto, pure or both');
const engines: EngineKey[] = ['execnet'];
for (const runner of runners) {
  for (const codec of codecs) {
    // With both runners and both codecs, the codecs are compared on the bundle only.
    if (!(runner === 'tsx' && codec === '-pure' && runners.length > 1)) {
      engines.push(`ours:${runner}${codec}`);
    }
  }
}
const PURE_CODEC_DIR = path.join(BENCH_DIR, 'pure-codec');
const python = opts.python;

/** Children get our environment without allocator tuning (B4 must be measured untuned). */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of Object.keys(env)) {
    if (key.startsWith('MALLOC_')) {
      delete env[key];
    }
  }
  return env;
}

function checkExecnet(): string {
  const probe = spawnSync(
    python,
    ['-c', 'import execnet, sys; print(execnet.__version__, sys.version.split()[0])'],
    {
      encoding: 'utf8',
    },
  );
  if (probe.status !== 0) {
    fail(
      `${python} cannot import execnet: ${(probe.stderr || String(probe.error)).trim()}\n` +
        '  install it with: apt-get install -y python3-execnet  (then use --python /usr/bin/python3)',
    );
  }
  return probe.stdout.trim();
}

/** The commit the engine was measured at, and whether src/core differed from it. */
function engineRevision(): string {
  const git = (...args: string[]): string =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown commit';
  const dirty = git('status', '--porcelain', '--', 'src/core');
  return dirty ? `${head} + uncommitted changes in src/core` : head;
}

async function buildBundle(): Promise<void> {
  const remoteDir = opts['remote-dir']
    ? path.resolve(opts['remote-dir'])
    : path.join(ROOT, 'src', 'core', 'remote');
  await buildBenchBundle(ROOT, path.join(BENCH_DIR, 'ours.ts'), BUNDLE_DIR, remoteDir);
}

function command(
  engine: EngineKey,
  workload: WorkloadName,
): { argv: string[]; env: NodeJS.ProcessEnv; cwd: string } {
  const params = PARAMS[mode][workload];
  if (engine === 'execnet') {
    return {
      argv: [
        python,
        '-u',
        path.join(BENCH_DIR, 'execnet', SCRIPTS[workload]),
        ...params,
        '--spec',
        `popen//python=${python}`,
      ],
      env: childEnv(),
      cwd: path.join(BENCH_DIR, 'execnet'),
    };
  }
  const runner = engine.startsWith('ours:bundle') ? 'bundle' : 'tsx';
  const entry =
    runner === 'bundle'
      ? [path.join(BUNDLE_DIR, 'ours.js')]
      : ['--import', 'tsx', path.join(BENCH_DIR, 'ours.ts')];
  // The remote interpreter inherits PYTHONPATH: a stub `msgpack` there makes it use its pure codec.
  const extra: Record<string, string> = { BENCH_RUNNER: runner };
  if (engine.endsWith('-pure')) {
    extra.PYTHONPATH = [PURE_CODEC_DIR, process.env.PYTHONPATH]
      .filter(Boolean)
      .join(path.delimiter);
  }
  return {
    argv: [process.execPath, ...entry, workload, ...params, '--python', python],
    env: childEnv(extra),
    cwd: ROOT,
  };
}

interface Line {
  benchmark: string;
  engine: string;
  runner: string;
  results: Record<string, unknown>;
  [key: string]: unknown;
}

function runOne(engine: EngineKey, workload: WorkloadName): Promise<Line> {
  const cmd = command(engine, workload);
  const { env, cwd } = cmd;
  const argv = opts.pin ? ['taskset', '-c', opts.pin, ...cmd.argv] : cmd.argv;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    const timer = setTimeout(() => {
      process.stderr.write(
        `bench: ${engine} ${workload} timed out after ${timeoutMs / 1000}s: killing pid ${child.pid}\n`,
      );
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(
          new Error(
            `${engine} ${workload} failed (${signal ?? `exit ${code}`}): ${argv.join(' ')}`,
          ),
        );
        return;
      }
      resolve(JSON.parse(last) as Line);
    });
  });
}

// -- the table ------------------------------------------------------------------------------

type Results = Record<string, unknown>;

function dig(obj: unknown, ...keys: string[]): number {
  let v: unknown = obj;
  for (const k of keys) {
    v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  }
  return typeof v === 'number' ? v : NaN;
}

/**
 * ours/execnet must be at most `maxRatio` or at least `minRatio`; or ours itself at least
 * `minAbs` or at most `maxAbs`; or ours at least `minOfOwn.factor` × another value of the same
 * engine in the same run (B8: one large value against the same bytes in 1 MiB chunks).
 */
interface Target {
  maxRatio?: number;
  minRatio?: number;
  minAbs?: number;
  maxAbs?: number;
  unit?: string;
  minOfOwn?: { factor: number; of: string; get(results: Results): number };
}

interface Row {
  workload: WorkloadName;
  metric: string;
  get(results: Results): number;
  /** The target, and where the remote's pure-Python codec has its own (`pure`). */
  target?: Target & { pure?: Target };
  digits?: number;
}

/** B8's rows for one direction: the single value against the chunks of the same run. */
function b8Rows(dir: 'r2l' | 'l2r', label: string): Row[] {
  const chunks = (r: Results): number => dig(r, `${dir}_chunks`, 'MB_per_s', 'median');
  return [
    {
      workload: 'B8',
      metric: `one 256 MiB value ${label} (MB/s)`,
      get: (r) => dig(r, dir, 'MB_per_s', 'median'),
      target: { minOfOwn: { factor: 0.8, of: 'chunks', get: chunks } },
      digits: 0,
    },
    {
      workload: 'B8',
      metric: `· same bytes in 1 MiB chunks ${label} (MB/s)`,
      get: chunks,
      digits: 0,
    },
    ...(['local', 'remote'] as const).map((side): Row => ({
      workload: 'B8',
      metric: `· peak memory growth, ${side} side (× the value)`,
      get: (r) => dig(r, `peak_${dir}_${side}_x`, 'median'),
      target: { maxAbs: 2, unit: '×' },
      digits: 2,
    })),
  ];
}

const ROWS: Row[] = [
  {
    workload: 'B1',
    metric: 'makegateway → first round trip (ms)',
    get: (r) => dig(r, 'startup_to_first_roundtrip_ms', 'median'),
    target: { maxRatio: 0.4 },
    digits: 1,
  },
  {
    workload: 'B1',
    metric: '· makegateway (ms)',
    get: (r) => dig(r, 'makegateway_ms', 'median'),
    digits: 1,
  },
  {
    workload: 'B1',
    metric: '· first remote_exec round trip (ms)',
    get: (r) => dig(r, 'first_remote_exec_roundtrip_ms', 'median'),
    digits: 2,
  },
  {
    workload: 'B1',
    metric: '· group terminate (ms)',
    get: (r) => dig(r, 'group_terminate_ms', 'median'),
    digits: 1,
  },
  {
    workload: 'B1',
    metric: '· floor: bare python spawn + 1 line (ms)',
    get: (r) => dig(r, 'python_spawn_baseline_ms', 'median'),
    digits: 1,
  },
  {
    workload: 'B2',
    metric: 'channel RTT, median (µs)',
    get: (r) => dig(r, 'rtt_us', 'median'),
    target: { maxRatio: 0.6 },
    digits: 1,
  },
  { workload: 'B2', metric: '· p90 (µs)', get: (r) => dig(r, 'rtt_us', 'p90'), digits: 1 },
  {
    workload: 'B2',
    metric: '· mean = run wall / n (µs)',
    get: (r) => median((r.run_means_us as number[] | undefined) ?? []),
    digits: 1,
  },
  {
    workload: 'B3',
    metric: '200k (i, "x"*16) r→l (items/s)',
    get: (r) => dig(r, 'median_items_per_s'),
    target: { minRatio: 5, pure: { minRatio: 4 } },
    digits: 0,
  },
  {
    workload: 'B4',
    metric: '1 MiB chunks remote→local (MB/s)',
    get: (r) => dig(r, 'remote_to_local', 'MB_per_s', 'median'),
    target: { minAbs: 1500, unit: 'MB/s' },
    digits: 0,
  },
  {
    workload: 'B4',
    metric: '1 MiB chunks local→remote (MB/s)',
    get: (r) => dig(r, 'local_to_remote', 'MB_per_s', 'median'),
    target: { minAbs: 1500, unit: 'MB/s' },
    digits: 0,
  },
  {
    workload: 'B5',
    metric: '8 gateways total, sequential start (ms)',
    get: (r) => dig(r, 'sequential_start', 'total_ms', 'median'),
    target: { maxRatio: 0.3 },
    digits: 0,
  },
  {
    workload: 'B5',
    metric: '· start 8 gateways (ms)',
    get: (r) => dig(r, 'sequential_start', 'start_gateways_ms', 'median'),
    digits: 0,
  },
  {
    workload: 'B5',
    metric: '· remote_exec + collect (ms)',
    get: (r) => dig(r, 'sequential_start', 'remote_exec_and_collect_ms', 'median'),
    digits: 1,
  },
  {
    workload: 'B5',
    metric: '· terminate (ms)',
    get: (r) => dig(r, 'sequential_start', 'terminate_ms', 'median'),
    digits: 1,
  },
  {
    workload: 'B5',
    metric: 'total, parallel start (ms) ¹',
    get: (r) => dig(r, 'parallel_start', 'total_ms', 'median'),
    digits: 0,
  },
  {
    workload: 'B5',
    metric: '· start 8 gateways in parallel (ms)',
    get: (r) => dig(r, 'parallel_start', 'start_gateways_ms', 'median'),
    digits: 0,
  },
  ...[1, 8, 32, 64].map((n): Row => ({
    workload: 'B5',
    metric: `scale: ${n} gateway${n > 1 ? 's' : ''} at once + a small exec each + terminate (ms)`,
    get: (r) => dig(r, 'scale_parallel_start', String(n), 'median'),
    digits: 0,
  })),
  {
    workload: 'B5',
    metric: 'scale: slope per added gateway, 1 → 64 (ms)',
    get: (r) =>
      (dig(r, 'scale_parallel_start', '64', 'median') -
        dig(r, 'scale_parallel_start', '1', 'median')) /
      63,
    target: { maxRatio: 0.3 },
    digits: 2,
  },
  ...b8Rows('r2l', 'remote→local'),
  ...b8Rows('l2r', 'local→remote'),
  ...(
    [
      ['r2l_bytearray', 'bytearray remote→local'],
      ['r2l_memoryview', 'memoryview remote→local'],
      ['l2r_Uint8Array', 'Uint8Array local→remote'],
    ] as const
  ).map(([key, label]): Row => ({
    workload: 'B8',
    metric: `· one ${label} (MB/s)`,
    get: (r) => dig(r, key, 'MB_per_s', 'median'),
    digits: 0,
  })),
];

function fmt(x: number, digits = 1): string {
  if (!Number.isFinite(x)) {
    return '—';
  }
  return x.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function table(lines: Line[], primaryRunner: 'bundle' | 'tsx'): string {
  const byKey = new Map<string, Results[]>();
  for (const line of lines) {
    const key = `${line.benchmark}|${String(line.key)}`;
    byKey.set(key, [...(byKey.get(key) ?? []), line.results]);
  }
  /** The median over rounds of each round's value (each round's value is itself a median). */
  const value = (row: Row, engine: EngineKey): number => {
    const all = byKey.get(`${row.workload}|${engine}`) ?? [];
    const xs = all.map((r) => row.get(r)).filter((x) => Number.isFinite(x));
    return xs.length ? median(xs) : NaN;
  };
  const oursCols = engines.filter((e) => e !== 'execnet');
  // Ratios and targets are judged on the primary runner (the bundle: what users run).
  const judged = oursCols.filter((e) => e.startsWith(`ours:${primaryRunner}`));
  const header = [
    'workload',
    'metric',
    'execnet',
    ...oursCols.map((e) => ENGINE_LABELS[e]),
    ...judged.map((e) => `ratio ${ENGINE_LABELS[e].replace(/^ours /, '')}`),
    'target',
    'met?',
  ];
  const out = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of ROWS) {
    if (!only.includes(row.workload)) {
      continue;
    }
    const base = value(row, 'execnet');
    const ratios = judged.map((e) => value(row, e) / base);
    const targets = judged.map((e) =>
      e.endsWith('-pure') && row.target?.pure ? row.target.pure : row.target,
    );
    const describe = (t: Target | undefined): string =>
      t?.maxRatio !== undefined
        ? `≤ ${t.maxRatio}×`
        : t?.minRatio !== undefined
          ? `≥ ${t.minRatio}×`
          : t?.minAbs !== undefined
            ? `≥ ${t.minAbs} ${t.unit ?? ''}`.trim()
            : t?.maxAbs !== undefined
              ? `≤ ${t.maxAbs}${t.unit ?? ''}`
              : t?.minOfOwn
                ? `≥ ${t.minOfOwn.factor}× ${t.minOfOwn.of}`
                : '';
    /** Whether engine `e` meets `t`: 'yes', '**no**', '?' (no number) or '' (no target). */
    const verdict = (t: Target | undefined, e: EngineKey, ratio: number): string => {
      const mine = value(row, e);
      let ok: boolean;
      let x = ratio;
      if (t?.maxRatio !== undefined) {
        ok = ratio <= t.maxRatio;
      } else if (t?.minRatio !== undefined) {
        ok = ratio >= t.minRatio;
      } else if (t?.minAbs !== undefined) {
        [ok, x] = [mine >= t.minAbs, mine];
      } else if (t?.maxAbs !== undefined) {
        [ok, x] = [mine <= t.maxAbs, mine];
      } else if (t?.minOfOwn) {
        const of = t.minOfOwn;
        const all = byKey.get(`${row.workload}|${e}`) ?? [];
        const other = median(all.map((r) => of.get(r)).filter((v) => Number.isFinite(v)));
        x = mine / other;
        ok = x >= of.factor;
      } else {
        return '';
      }
      return Number.isFinite(x) ? (ok ? 'yes' : '**no**') : '?';
    };
    const targetTexts = [...new Set(targets.map(describe))];
    const target = targetTexts.join(' / ');
    const verdicts = judged.map((e, i) => verdict(targets[i], e, ratios[i])).filter(Boolean);
    const cells = [
      row.workload,
      row.metric,
      fmt(base, row.digits),
      ...oursCols.map((e) => fmt(value(row, e), row.digits)),
      ...ratios.map((r) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '—')),
      target,
      verdicts.join(' / '),
    ];
    out.push(`| ${cells.join(' | ')} |`);
  }
  return out.join('\n');
}

// -- main -----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const execnetInfo = checkExecnet();
  const revision = engineRevision();
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultFile = path.join(RESULTS_DIR, `bench-${stamp}${opts.quick ? '-quick' : ''}.jsonl`);
  const load0 = loadavg();
  const tuned = Object.keys(process.env).filter((k) => k.startsWith('MALLOC_'));
  process.stdout.write(
    `# execnet-vscode benchmarks (${mode}, ${rounds} round${rounds > 1 ? 's' : ''}, ${only.join(',')})\n\n` +
      `- ${os.cpus().length} CPUs, node ${process.version}, python ${python}, execnet/python ${execnetInfo}\n` +
      `- load average at start: ${load0.join(' ')}\n` +
      (tuned.length ? `- removed from the children's environment: ${tuned.join(', ')}\n` : '') +
      `- engine: ${revision}\n` +
      (opts['remote-dir']
        ? `- the bundle uses the remote sources of ${opts['remote-dir']}\n`
        : '') +
      (opts.pin ? `- every process pinned with taskset -c ${opts.pin}\n` : ''),
  );
  if (runners.includes('bundle')) {
    const t = Date.now();
    await buildBundle();
    process.stderr.write(`bench: bundled bench/ours.ts with esbuild in ${Date.now() - t} ms\n`);
  }
  const lines: Line[] = [];
  const failures: string[] = [];
  const t0 = Date.now();
  for (const [wi, workload] of only.entries()) {
    for (let round = 0; round < rounds; round++) {
      // Alternate: each round (and each workload) starts with a different engine.
      const shift = (round + wi) % engines.length;
      const order = [...engines.slice(shift), ...engines.slice(0, shift)];
      for (const engine of order) {
        process.stderr.write(
          `bench: ${workload} round ${round + 1}/${rounds}: ${engine} (load ${loadavg()[0]})\n`,
        );
        try {
          const line = await runOne(engine, workload);
          const record = { ...line, key: engine, round, mode, engine_revision: revision };
          lines.push(record);
          fs.appendFileSync(resultFile, `${JSON.stringify(record)}\n`);
        } catch (error) {
          failures.push((error as Error).message);
          process.stderr.write(`bench: ${(error as Error).message}\n`);
        }
      }
    }
  }
  const primaryRunner = runners.includes('bundle') ? 'bundle' : 'tsx';
  process.stdout.write(`\n${table(lines, primaryRunner)}\n\n`);
  const notes = [
    "Values: the median of each run's samples, then the median over rounds. Ratios are ours/execnet " +
      `(items/s and MB/s too), judged on ${primaryRunner === 'bundle' ? 'the esbuild bundle (what users run)' : 'tsx'}.`,
  ];
  if (engines.some((e) => e.endsWith('-pure'))) {
    notes.push(
      '"pure codec": the remote cannot import msgpack (a stub on PYTHONPATH), so it uses its ' +
        'pure-Python codec, as on a machine without python3-msgpack; the other columns use what ' +
        'the interpreter has (see remote_codec in the JSON lines).',
    );
  }
  if (only.includes('B5')) {
    notes.push(
      '¹ parallel start: execnet makes the 8 gateways from 8 threads, ours with Promise.all.',
    );
  }
  notes.push(
    `load average at end: ${loadavg().join(' ')}; wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    `JSON lines: ${path.relative(ROOT, resultFile)}`,
  );
  process.stdout.write(notes.map((n) => `- ${n}\n`).join(''));
  if (failures.length) {
    process.stdout.write(
      `\n**${failures.length} run(s) failed:**\n${failures.map((f) => `- ${f}`).join('\n')}\n`,
    );
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
