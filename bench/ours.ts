// The workloads B1–B5 and B8 of bench/README.md on our engine (src/core). One workload per process:
//
//   node --import tsx bench/ours.ts B2 [-n 10000] [--runs 5] [--warmup 500] [--spec SPEC]
//
// prints one JSON line on stdout (the same shape as bench/execnet/*.py) and progress on stderr.
// bench/run.ts runs it (also bundled with esbuild, as users run the engine) next to execnet.

import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { Group, Tuple, type Channel, type Gateway } from '../src/core';
import { collectGarbage, peakGrowth, resetPeak } from '../test/helpers/memory';
import { emitLine, loadavg, log, median, now, summarize } from './lib/stats';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string', short: 'n' },
    warmup: { type: 'string' },
    runs: { type: 'string' },
    count: { type: 'string' },
    'warmup-count': { type: 'string' },
    chunks: { type: 'string' },
    'warmup-chunks': { type: 'string' },
    k: { type: 'string', short: 'k' },
    'work-n': { type: 'string' },
    spec: { type: 'string' },
    python: { type: 'string' },
    mib: { type: 'string' },
    scale: { type: 'string' },
    'scale-runs': { type: 'string' },
    'scale-work-n': { type: 'string' },
  },
});

const PYTHON = opts.python ?? process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const SPEC = opts.spec ?? `popen//python=${PYTHON}`;

function int(name: keyof typeof opts, fallback: number): number {
  const raw = opts[name];
  if (raw === undefined) {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${name} must be a non-negative integer, not ${String(raw)}`);
  }
  return value;
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) {
    throw new Error(`check failed: ${what}`);
  }
}

const envInfo = {
  node: process.version,
  runner: process.env.BENCH_RUNNER ?? 'unknown',
  python: PYTHON,
  platform: `${os.platform()}-${os.release()}-${os.arch()}`,
  cpus: os.cpus().length,
  malloc_env: Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_')),
  ),
  loadavg_start: loadavg(),
  /** Which codec the remote uses: the msgpack C extension when importable, else pure Python. */
  remote_codec: 'unknown',
};

const CODEC_PROBE =
  "channel.send('c-msgpack' if 'c_codec' in channel.gateway._dumps.__qualname__ else 'pure')";

/** Record the remote's codec once per process, on the first gateway a workload starts. */
async function probeCodec(gw: Gateway): Promise<void> {
  if (envInfo.remote_codec === 'unknown') {
    envInfo.remote_codec = String(await gw.remoteExec(CODEC_PROBE).receive(30));
  }
}

async function emit(
  name: string,
  params: Record<string, unknown>,
  results: Record<string, unknown>,
): Promise<void> {
  await emitLine({
    benchmark: name,
    engine: 'ours',
    runner: envInfo.runner,
    timestamp: new Date().toISOString(),
    params: { ...params, spec: SPEC },
    results,
    env: { ...envInfo, loadavg_end: loadavg() },
  });
}

// -- B1 -------------------------------------------------------------------------------------

const ECHO_PLUS_ONE = 'channel.send(channel.receive() + 1)';
const BOOTLINE = 'import sys;exec(eval(sys.stdin.readline()))';

async function b1One(probe = false): Promise<[number, number, number, number]> {
  const group = new Group('bench');
  const t0 = now();
  const gw = await group.makeGateway(SPEC);
  const t1 = now();
  if (probe) {
    await probeCodec(gw);
  }
  const ch = gw.remoteExec(ECHO_PLUS_ONE);
  await ch.send(1);
  check((await ch.receive()) === 2, 'echo+1 returned 2');
  const t2 = now();
  await group.terminate(10);
  const t3 = now();
  return [t2 - t0, t1 - t0, t2 - t1, t3 - t2];
}

/** The floor: spawn the interpreter, one line in, one byte out, close stdin, wait for exit. */
function pythonSpawn(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(PYTHON, ['-u', '-c', BOOTLINE], { stdio: ['pipe', 'pipe', 'inherit'] });
    let got = '';
    child.stdout.on('data', (chunk: Buffer) => {
      got += chunk.toString();
      if (got === '1') {
        child.stdin.end();
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (got !== '1' || code !== 0) {
        reject(new Error(`python spawn floor: got ${JSON.stringify(got)}, exit ${code}`));
      } else {
        resolve(now() - t0);
      }
    });
    child.stdin.write(`${JSON.stringify("sys.stdout.write('1'); sys.stdout.flush()")}\n`);
  });
}

async function b1(): Promise<void> {
  const n = int('n', 20);
  const warmup = int('warmup', 2);
  for (let i = 0; i < warmup; i++) {
    await b1One(i === 0);
  }
  const cols: number[][] = [[], [], [], []];
  for (let i = 0; i < n; i++) {
    const sample = await b1One();
    sample.forEach((v, j) => cols[j].push(v));
    const [a, b, c, d] = sample.map((v) => v * 1e3);
    log(
      `B1 [${i}] startup=${a.toFixed(1)}ms makegw=${b.toFixed(1)}ms ` +
        `first_rtt=${c.toFixed(2)}ms terminate=${d.toFixed(1)}ms`,
    );
  }
  const spawnFloor: number[] = [];
  for (let i = 0; i < n; i++) {
    spawnFloor.push(await pythonSpawn());
  }
  await emit(
    'B1',
    { n, warmup },
    {
      startup_to_first_roundtrip_ms: summarize(cols[0], 1e3),
      makegateway_ms: summarize(cols[1], 1e3),
      first_remote_exec_roundtrip_ms: summarize(cols[2], 1e3),
      group_terminate_ms: summarize(cols[3], 1e3),
      python_spawn_baseline_ms: summarize(spawnFloor, 1e3),
    },
  );
}

// -- B2 -------------------------------------------------------------------------------------

const ECHO = `
for item in channel:
    channel.send(item)
`;

async function b2(): Promise<void> {
  const n = int('n', 10_000);
  const runs = int('runs', 5);
  const warmup = int('warmup', 500);
  const group = new Group('bench');
  const gw = await group.makeGateway(SPEC);
  await probeCodec(gw);
  const ch = gw.remoteExec(ECHO);
  for (let i = 0; i < warmup; i++) {
    await ch.send(i);
    await ch.receive();
  }
  const allUs: number[] = [];
  const runMedians: number[] = [];
  const runMeans: number[] = [];
  const hr = process.hrtime.bigint;
  for (let r = 0; r < runs; r++) {
    const samples = new Float64Array(n);
    const tStart = hr();
    for (let i = 0; i < n; i++) {
      const t0 = hr();
      await ch.send(i);
      const x = await ch.receive();
      samples[i] = Number(hr() - t0);
      if (x !== i) {
        throw new Error(`echo returned ${String(x)} for ${i}`);
      }
    }
    const tRun = Number(hr() - tStart);
    const us = Array.from(samples, (s) => s / 1e3);
    allUs.push(...us);
    runMedians.push(Math.round(median(us) * 100) / 100);
    runMeans.push(Math.round((tRun / 1e3 / n) * 100) / 100);
    log(`B2 run ${r}: median=${runMedians[r]}us mean=${runMeans[r]}us`);
  }
  ch.close();
  await group.terminate(10);
  await emit(
    'B2',
    { n, runs, warmup, payload: 'small int' },
    {
      rtt_us: summarize(allUs, 1, 2),
      run_medians_us: runMedians,
      run_means_us: runMeans,
    },
  );
}

// -- B3 -------------------------------------------------------------------------------------

const PRODUCER = `
count = channel.receive()
payload = "x" * 16
send = channel.send
for i in range(count):
    send((i, payload))
`;

async function b3One(gw: Gateway, count: number): Promise<number> {
  const ch = gw.remoteExec(PRODUCER);
  const t0 = now();
  await ch.send(count);
  let item: unknown;
  for (let i = 0; i < count; i++) {
    item = await ch.receive();
  }
  const t1 = now();
  check(
    item instanceof Tuple &&
      item.length === 2 &&
      item[0] === count - 1 &&
      item[1] === 'x'.repeat(16),
    `last item is (${count - 1}, 'x'*16), not ${String(item)}`,
  );
  await ch.waitClose(10);
  return t1 - t0;
}

async function b3(): Promise<void> {
  const count = int('count', 200_000);
  const runs = int('runs', 5);
  const warmupCount = int('warmup-count', 10_000);
  const group = new Group('bench');
  const gw = await group.makeGateway(SPEC);
  await probeCodec(gw);
  await b3One(gw, warmupCount);
  const secs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const s = await b3One(gw, count);
    secs.push(s);
    log(`B3 run ${r}: ${s.toFixed(3)}s  ${Math.round(count / s)} items/s`);
  }
  await group.terminate(10);
  const rates = secs.map((s) => count / s);
  await emit(
    'B3',
    { count, item: "(i, 'x'*16)", runs },
    {
      items_per_s: summarize(rates, 1, 0),
      seconds: summarize(secs, 1, 3),
      median_items_per_s: Math.round(median(rates)),
    },
  );
}

// -- B4 -------------------------------------------------------------------------------------

const MIB = 1 << 20;

const REMOTE_SENDS = `
chunks = channel.receive()
data = b"\\xab" * (1 << 20)
for _ in range(chunks):
    channel.send(data)
`;

const REMOTE_RECEIVES = `
chunks = channel.receive()
total = 0
for _ in range(chunks):
    total += len(channel.receive())
channel.send(total)
`;

async function remoteToLocal(gw: Gateway, chunks: number): Promise<number> {
  const ch = gw.remoteExec(REMOTE_SENDS);
  const t0 = now();
  await ch.send(chunks);
  for (let i = 0; i < chunks; i++) {
    const x = await ch.receive();
    check(Buffer.isBuffer(x) && x.length === MIB, 'a 1 MiB Buffer arrived');
  }
  const t1 = now();
  await ch.waitClose(30);
  return t1 - t0;
}

async function localToRemote(gw: Gateway, chunks: number): Promise<number> {
  const ch = gw.remoteExec(REMOTE_RECEIVES);
  const data = Buffer.alloc(MIB, 0xcd);
  await ch.send(chunks);
  const t0 = now();
  for (let i = 0; i < chunks; i++) {
    await ch.send(data);
  }
  const total = await ch.receive();
  const t1 = now();
  check(total === chunks * MIB, `remote got ${String(total)} bytes, expected ${chunks * MIB}`);
  await ch.waitClose(30);
  return t1 - t0;
}

async function b4(): Promise<void> {
  const chunks = int('chunks', 256);
  const runs = int('runs', 5);
  const warmupChunks = int('warmup-chunks', 16);
  const group = new Group('bench');
  const gw = await group.makeGateway(SPEC);
  await probeCodec(gw);
  await remoteToLocal(gw, warmupChunks);
  await localToRemote(gw, warmupChunks);
  const nbytes = chunks * MIB;
  const r2l: number[] = [];
  const l2r: number[] = [];
  for (let r = 0; r < runs; r++) {
    const a = await remoteToLocal(gw, chunks);
    const b = await localToRemote(gw, chunks);
    r2l.push(a);
    l2r.push(b);
    log(
      `B4 run ${r}: remote->local ${Math.round(nbytes / a / 1e6)} MB/s  ` +
        `local->remote ${Math.round(nbytes / b / 1e6)} MB/s`,
    );
  }
  await group.terminate(10);
  const block = (secs: number[]): Record<string, unknown> => ({
    MB_per_s: summarize(
      secs.map((s) => nbytes / s / 1e6),
      1,
      1,
    ),
    MiB_per_s_median: Math.round(median(secs.map((s) => nbytes / s / MIB)) * 10) / 10,
    seconds: summarize(secs, 1, 3),
  });
  await emit(
    'B4',
    { chunks, chunk_bytes: MIB, runs },
    { remote_to_local: block(r2l), local_to_remote: block(l2r) },
  );
}

// -- B5 -------------------------------------------------------------------------------------

const WORK = `
def work(channel, n):
    import os

    total = 0
    for i in range(n):
        total += i * i
    channel.send((os.getpid(), total))
`;

async function b5One(
  k: number,
  n: number,
  parallel: boolean,
  probe = false,
): Promise<[number, number, number, number]> {
  let expected = 0n;
  for (let i = 0n; i < BigInt(n); i++) {
    expected += i * i;
  }
  const t0 = now();
  const group = new Group('bench');
  if (parallel) {
    await Promise.all(Array.from({ length: k }, () => group.makeGateway(SPEC)));
  } else {
    for (let i = 0; i < k; i++) {
      await group.makeGateway(SPEC);
    }
  }
  check(group.size === k, `${k} gateways in the group`);
  const t1 = now();
  if (probe) {
    await probeCodec([...group][0]);
  }
  const mch = group.remoteExec({ source: WORK, call: 'work' }, { n });
  const results = await mch.receiveEach();
  await mch.waitClose();
  const t2 = now();
  const pids = new Set<unknown>();
  for (const result of results) {
    check(result instanceof Tuple && result.length === 2, 'each result is a (pid, total) tuple');
    pids.add(result[0]);
    check(BigInt(result[1] as number | bigint) === expected, `total is ${expected}`);
  }
  check(pids.size === k, `${k} distinct pids`);
  await group.terminate(10);
  const t3 = now();
  return [t3 - t0, t1 - t0, t2 - t1, t3 - t2];
}

async function b5(): Promise<void> {
  const k = int('k', 8);
  const workN = int('work-n', 200_000);
  const runs = int('runs', 7);
  await b5One(2, 1000, false, true);
  const out: Record<string, unknown> = {};
  for (const [variant, parallel] of [
    ['sequential_start', false],
    ['parallel_start', true],
  ] as const) {
    const cols: number[][] = [[], [], [], []];
    for (let r = 0; r < runs; r++) {
      const sample = await b5One(k, workN, parallel);
      sample.forEach((v, j) => cols[j].push(v));
      const [a, b, c, d] = sample.map((v) => Math.round(v * 1e3));
      log(`B5 ${variant} run ${r}: total=${a}ms start=${b}ms exec+collect=${c}ms terminate=${d}ms`);
    }
    out[variant] = {
      total_ms: summarize(cols[0], 1e3, 1),
      start_gateways_ms: summarize(cols[1], 1e3, 1),
      remote_exec_and_collect_ms: summarize(cols[2], 1e3, 1),
      terminate_ms: summarize(cols[3], 1e3, 1),
    };
  }
  // how the total grows per added gateway: N started at once, a small work each
  const scaleRuns = int('scale-runs', 3);
  const scaleWorkN = int('scale-work-n', 1000);
  const scale: Record<string, unknown> = {};
  for (const n of (opts.scale ?? '1,8,32,64').split(',').filter(Boolean).map(Number)) {
    const totals: number[] = [];
    for (let r = 0; r < scaleRuns; r++) {
      totals.push((await b5One(n, scaleWorkN, true))[0]);
      log(`B5 scale N=${n} run ${r}: total=${Math.round(totals[r] * 1e3)}ms`);
    }
    scale[String(n)] = summarize(totals, 1e3, 1);
  }
  out.scale_parallel_start = scale;
  await emit(
    'B5',
    {
      k,
      work_n: workN,
      runs,
      scale: opts.scale ?? '1,8,32,64',
      scale_runs: scaleRuns,
      scale_work_n: scaleWorkN,
    },
    out,
  );
}

// -- B8 -------------------------------------------------------------------------------------

const REMOTE_SENDS_ONE = `
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
`;

const REMOTE_RECEIVES_ONE = `
x = channel.receive()
channel.send(len(x) if type(x) is bytes else -1)
del x
channel.receive()
`;

/** Seconds, and the peak memory growth of each side as a multiple of the value's size. */
type OneValue = [seconds: number, localPeak: number, remotePeak: number];

/**
 * One value moved by `transfer` (which resolves with its t0 and t1) in a fresh exec of `source`,
 * with both processes' peak memory restarted just before.
 */
async function oneValue(
  gw: Gateway,
  nbytes: number,
  source: string,
  transfer: (ch: Channel) => Promise<[number, number]>,
): Promise<OneValue> {
  collectGarbage();
  const ch = gw.remoteExec(source);
  const localBase = resetPeak(process.pid);
  const remoteBase = resetPeak(gw.info.pid);
  const [t0, t1] = await transfer(ch);
  const result: OneValue = [
    t1 - t0,
    peakGrowth(process.pid, localBase) / nbytes,
    peakGrowth(gw.info.pid, remoteBase) / nbytes,
  ];
  await ch.send('done');
  await ch.waitClose(60);
  return result;
}

function oneRemoteToLocal(gw: Gateway, nbytes: number, kind: string): Promise<OneValue> {
  return oneValue(gw, nbytes, REMOTE_SENDS_ONE, async (ch) => {
    await ch.send(Tuple.of(nbytes, kind));
    check((await ch.receive()) === null, 'the remote made its value');
    const t0 = now();
    await ch.send('go');
    const x = await ch.receive();
    const t1 = now();
    check(Buffer.isBuffer(x) && x.length === nbytes, `a Buffer of ${nbytes} bytes arrived`);
    return [t0, t1];
  });
}

function oneLocalToRemote(gw: Gateway, nbytes: number, kind: string): Promise<OneValue> {
  return oneValue(gw, nbytes, REMOTE_RECEIVES_ONE, async (ch) => {
    const data = kind === 'Buffer' ? Buffer.alloc(nbytes, 0xcd) : new Uint8Array(nbytes).fill(0xcd);
    const t0 = now();
    await ch.send(data);
    const got = await ch.receive();
    const t1 = now();
    check(got === nbytes, `the remote got a bytes of ${nbytes} bytes, not ${String(got)}`);
    return [t0, t1];
  });
}

async function b8(): Promise<void> {
  const mib = int('mib', 256);
  const runs = int('runs', 3);
  const nbytes = mib * MIB;
  const group = new Group('bench');
  const gw = await group.makeGateway(SPEC);
  await probeCodec(gw);
  await remoteToLocal(gw, 16);
  await localToRemote(gw, 16);
  // what the one-value transfers are compared with, and what moves them
  const transfers: Record<string, () => Promise<number | OneValue>> = {
    r2l: () => oneRemoteToLocal(gw, nbytes, 'bytes'),
    l2r: () => oneLocalToRemote(gw, nbytes, 'Buffer'),
    r2l_chunks: () => remoteToLocal(gw, mib),
    l2r_chunks: () => localToRemote(gw, mib),
    r2l_bytearray: () => oneRemoteToLocal(gw, nbytes, 'bytearray'),
    r2l_memoryview: () => oneRemoteToLocal(gw, nbytes, 'memoryview'),
    l2r_Uint8Array: () => oneLocalToRemote(gw, nbytes, 'Uint8Array'),
  };
  const secs: Record<string, number[]> = {};
  const peaks: Record<string, number[]> = {};
  for (let r = 0; r < runs; r++) {
    for (const [key, transfer] of Object.entries(transfers)) {
      const sample = await transfer();
      const [s, localPeak, remotePeak] = typeof sample === 'number' ? [sample] : sample;
      (secs[key] ??= []).push(s);
      if (localPeak !== undefined && remotePeak !== undefined) {
        (peaks[`peak_${key}_local_x`] ??= []).push(localPeak);
        (peaks[`peak_${key}_remote_x`] ??= []).push(remotePeak);
      }
    }
    const rate = (key: string): number => Math.round(nbytes / secs[key][r] / 1e6);
    log(
      `B8 run ${r}: one value r->l ${rate('r2l')} MB/s l->r ${rate('l2r')} MB/s; ` +
        `chunks r->l ${rate('r2l_chunks')} l->r ${rate('l2r_chunks')} MB/s`,
    );
  }
  await group.terminate(10);
  const results: Record<string, unknown> = {};
  for (const [key, xs] of Object.entries(secs)) {
    results[key] = {
      MB_per_s: summarize(
        xs.map((s) => nbytes / s / 1e6),
        1,
        1,
      ),
      seconds: summarize(xs, 1, 3),
    };
  }
  for (const [key, xs] of Object.entries(peaks)) {
    results[key] = summarize(xs, 1, 2);
  }
  await emit('B8', { mib, runs }, results);
}

// -- main -----------------------------------------------------------------------------------

const WORKLOADS: Record<string, () => Promise<void>> = {
  B1: b1,
  B2: b2,
  B3: b3,
  B4: b4,
  B5: b5,
  B8: b8,
};

async function main(): Promise<void> {
  const name = (positionals[0] ?? '').toUpperCase();
  const workload = WORKLOADS[name];
  if (!workload) {
    throw new Error(`usage: ours.ts B1|B2|B3|B4|B5|B8 [options] (got ${JSON.stringify(name)})`);
  }
  await workload();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `[ours] FAILED: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  },
);
