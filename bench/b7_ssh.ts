// B7 (bench/README.md): an ssh gateway over a private sshd on 127.0.0.1, ours vs execnet in one
// session, alternating which goes first: start → first round trip, a second gateway to the same
// host, terminate, channel RTT and bulk throughput. Both engines get the same spec string, in
// execnet's form. Prints a markdown table with the targets and one JSON line (last on stdout).
//
//   node --import tsx bench/b7_ssh.ts [--rounds 3] [--n 20] [--rtt-n 10000] [--runs 3]
//                                     [--chunks 64] [--rc 0|1|both] [--python /usr/bin/python3]
//                                     [--quick] [--runner bundle|tsx]
//
// --rc 1 lets sessions run the login shell's start-up (root's ~/.bashrc runs pyenv init, as on
// the reference machine); 0 (default) skips it. Our side runs in this process, execnet's in
// bench/execnet/b7_ssh.py. Needs openssh-server (the sshd binary) and python3-execnet.
// --runner bundle (default): our side runs from an esbuild bundle of this script, as users run
// the engine (ssh2's optional native crypto, sshcrypto.node, stays outside the bundle, as in
// dist/); tsx: from the sources, where ssh2 finds its native crypto in node_modules. The header
// says which crypto ran and what the client and our sshd negotiated.

import { spawn, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import { Client } from 'ssh2';
import { Group, type Gateway } from '../src/core';
import { startSshd, type Sshd } from '../test/helpers/sshd';
import { runSelfBundled } from './lib/bundle';
import { emitLine, loadavg, log, median, now, summarize } from './lib/stats';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string' },
    n: { type: 'string' },
    'rtt-n': { type: 'string' },
    runs: { type: 'string' },
    chunks: { type: 'string' },
    rc: { type: 'string', default: '0' },
    python: { type: 'string', default: process.env.BENCH_PYTHON ?? '/usr/bin/python3' },
    quick: { type: 'boolean', default: false },
    runner: { type: 'string', default: 'bundle' },
  },
});

/** bench/, also when this runs from the bundle. */
const BENCH_DIR = process.env.B7_BENCH_DIR ?? __dirname;
const runner = process.env.B7_BUNDLED ? 'bundle' : opts.runner;

const quick = opts.quick;
const rounds = Number(opts.rounds ?? (quick ? 1 : 3));
const n = Number(opts.n ?? (quick ? 5 : 20));
const rttN = Number(opts['rtt-n'] ?? (quick ? 2000 : 10_000));
const runs = Number(opts.runs ?? (quick ? 1 : 3));
const chunks = Number(opts.chunks ?? (quick ? 16 : 64));
const python = opts.python;
const rcModes = opts.rc === 'both' ? [0, 1] : [Number(opts.rc)];
const MIB = 1 << 20;

type Results = Record<string, unknown>;

function sshOptions(sshd: Sshd): string[] {
  return [
    '-p',
    String(sshd.port),
    '-i',
    sshd.key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${sshd.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
  ];
}

function specFor(sshd: Sshd): string {
  return `ssh=${sshOptions(sshd).join(' ')} ${sshd.user}@127.0.0.1//python=${python}`;
}

/** `ssh <args> true`: connection, login and the login shell, without any Python. */
function sshTrue(sshd: Sshd, count: number): number[] {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = now();
    const run = spawnSync('ssh', [...sshOptions(sshd), `${sshd.user}@127.0.0.1`, 'true']);
    if (run.status !== 0) {
      throw new Error(`ssh true failed: ${run.stderr.toString()}`);
    }
    samples.push(now() - t0);
  }
  return samples;
}

// -- our side -------------------------------------------------------------------------------

const ECHO_PLUS_ONE = 'channel.send(channel.receive() + 1)';
const ECHO = 'for item in channel:\n    channel.send(item)\n';
const REMOTE_SENDS =
  'chunks = channel.receive()\ndata = b"\\xab" * (1 << 20)\nfor _ in range(chunks):\n    channel.send(data)\n';
const REMOTE_RECEIVES =
  'chunks = channel.receive()\ntotal = 0\nfor _ in range(chunks):\n    total += len(channel.receive())\nchannel.send(total)\n';

async function firstRoundTrip(gw: Gateway): Promise<void> {
  const ch = gw.remoteExec(ECHO_PLUS_ONE);
  await ch.send(1);
  if ((await ch.receive()) !== 2) {
    throw new Error('echo+1 did not return 2');
  }
}

async function startOnce(spec: string): Promise<[number, number, number]> {
  const group = new Group('bench');
  const t0 = now();
  const gw = await group.makeGateway(spec);
  const t1 = now();
  await firstRoundTrip(gw);
  const t2 = now();
  await group.terminate(10);
  return [t2 - t0, t1 - t0, now() - t2];
}

async function ours(spec: string): Promise<Results> {
  await startOnce(spec);
  const cols: number[][] = [[], [], []];
  for (let i = 0; i < n; i++) {
    const sample = await startOnce(spec);
    sample.forEach((v, j) => cols[j].push(v));
    log(
      `B7 [${i}] startup=${(sample[0] * 1e3).toFixed(1)}ms terminate=${(sample[2] * 1e3).toFixed(1)}ms`,
    );
  }
  const second: number[] = [];
  for (let i = 0; i < n; i++) {
    const group = new Group('bench');
    await group.makeGateway(spec);
    const t0 = now();
    const gw = await group.makeGateway(spec);
    await firstRoundTrip(gw);
    second.push(now() - t0);
    await group.terminate(10);
  }

  const group = new Group('bench');
  const gw = await group.makeGateway(spec);
  const echo = gw.remoteExec(ECHO);
  for (let i = 0; i < 500; i++) {
    await echo.send(i);
    await echo.receive();
  }
  const allUs: number[] = [];
  const runMedians: number[] = [];
  const hr = process.hrtime.bigint;
  for (let r = 0; r < runs; r++) {
    const us: number[] = [];
    for (let i = 0; i < rttN; i++) {
      const t0 = hr();
      await echo.send(i);
      if ((await echo.receive()) !== i) {
        throw new Error('echo mismatch');
      }
      us.push(Number(hr() - t0) / 1e3);
    }
    allUs.push(...us);
    runMedians.push(Math.round(median(us) * 100) / 100);
    log(`B7 RTT run ${r}: median=${runMedians[r]}us`);
  }
  echo.close();

  const remoteToLocal = async (count: number): Promise<number> => {
    const ch = gw.remoteExec(REMOTE_SENDS);
    const t0 = now();
    await ch.send(count);
    for (let i = 0; i < count; i++) {
      const x = await ch.receive();
      if (!Buffer.isBuffer(x) || x.length !== MIB) {
        throw new Error('expected a 1 MiB chunk');
      }
    }
    const t1 = now();
    await ch.waitClose(30);
    return t1 - t0;
  };
  const localToRemote = async (count: number): Promise<number> => {
    const ch = gw.remoteExec(REMOTE_RECEIVES);
    const data = Buffer.alloc(MIB, 0xcd);
    await ch.send(count);
    const t0 = now();
    for (let i = 0; i < count; i++) {
      await ch.send(data);
    }
    const total = await ch.receive();
    const t1 = now();
    if (total !== count * MIB) {
      throw new Error(`remote got ${String(total)} bytes`);
    }
    await ch.waitClose(30);
    return t1 - t0;
  };
  await remoteToLocal(16);
  await localToRemote(16);
  const nbytes = chunks * MIB;
  const r2l: number[] = [];
  const l2r: number[] = [];
  for (let r = 0; r < runs; r++) {
    r2l.push(await remoteToLocal(chunks));
    l2r.push(await localToRemote(chunks));
    log(
      `B7 bulk run ${r}: r->l ${Math.round(nbytes / r2l[r] / 1e6)} MB/s  l->r ${Math.round(nbytes / l2r[r] / 1e6)} MB/s`,
    );
  }
  await group.terminate(10);
  return {
    startup_to_first_roundtrip_ms: summarize(cols[0], 1e3),
    makegateway_ms: summarize(cols[1], 1e3),
    group_terminate_ms: summarize(cols[2], 1e3),
    second_gateway_ms: summarize(second, 1e3),
    rtt_us: summarize(allUs, 1, 2),
    rtt_run_medians_us: runMedians,
    remote_to_local_MB_per_s: summarize(
      r2l.map((s) => nbytes / s / 1e6),
      1,
      1,
    ),
    local_to_remote_MB_per_s: summarize(
      l2r.map((s) => nbytes / s / 1e6),
      1,
      1,
    ),
  };
}

// -- execnet's side -------------------------------------------------------------------------

function execnet(spec: string): Promise<Results> {
  const args = [
    '-u',
    path.join(BENCH_DIR, 'execnet', 'b7_ssh.py'),
    '--spec',
    spec,
    '-n',
    String(n),
    '--rtt-n',
    String(rttN),
    '--runs',
    String(runs),
    '--chunks',
    String(chunks),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, {
      cwd: path.join(BENCH_DIR, 'execnet'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`bench/execnet/b7_ssh.py failed with ${code}`));
        return;
      }
      resolve((JSON.parse(last) as { results: Results }).results);
    });
  });
}

// -- the table ------------------------------------------------------------------------------

function dig(obj: unknown, ...keys: string[]): number {
  let v: unknown = obj;
  for (const k of keys) {
    v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  }
  return typeof v === 'number' ? v : NaN;
}

interface Row {
  readonly metric: string;
  readonly key: string;
  readonly target?: { maxRatio?: number; minRatio?: number; maxAbs?: number };
  readonly digits: number;
}

const ROWS: Row[] = [
  {
    metric: 'start → first round trip (ms)',
    key: 'startup_to_first_roundtrip_ms',
    target: { maxRatio: 0.8 },
    digits: 1,
  },
  { metric: '· makegateway (ms)', key: 'makegateway_ms', digits: 1 },
  {
    metric: 'second gateway to the same host, + round trip (ms)',
    key: 'second_gateway_ms',
    target: { maxAbs: 30 },
    digits: 1,
  },
  { metric: 'group terminate (ms)', key: 'group_terminate_ms', digits: 1 },
  { metric: 'channel RTT, median (µs)', key: 'rtt_us', target: { maxRatio: 1 }, digits: 1 },
  {
    metric: 'bulk 1 MiB chunks remote→local (MB/s)',
    key: 'remote_to_local_MB_per_s',
    target: { minRatio: 2 },
    digits: 0,
  },
  {
    metric: 'bulk 1 MiB chunks local→remote (MB/s)',
    key: 'local_to_remote_MB_per_s',
    target: { minRatio: 2 },
    digits: 0,
  },
];

function fmt(x: number, digits: number): string {
  return Number.isFinite(x)
    ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '—';
}

function table(
  rc: number,
  sshTrueMs: number,
  results: { execnet: Results[]; ours: Results[] },
): string {
  const value = (engine: 'execnet' | 'ours', key: string): number =>
    median(results[engine].map((r) => dig(r, key, 'median')).filter(Number.isFinite));
  const out = [
    `| B7 (${rc ? 'login shell start-up' : 'no .bashrc'}) | execnet | ours | ratio | target | met? |`,
    '|---|---|---|---|---|---|',
    `| \`ssh … true\` baseline (ms) | ${fmt(sshTrueMs, 1)} | | | | |`,
  ];
  for (const row of ROWS) {
    const base = value('execnet', row.key);
    const mine = value('ours', row.key);
    const ratio = mine / base;
    let target = '';
    let met = '';
    const t = row.target;
    if (t?.maxRatio !== undefined) {
      target = `≤ ${t.maxRatio}×`;
      met = ratio <= t.maxRatio ? 'yes' : '**no**';
    } else if (t?.minRatio !== undefined) {
      target = `≥ ${t.minRatio}×`;
      met = ratio >= t.minRatio ? 'yes' : '**no**';
    } else if (t?.maxAbs !== undefined) {
      target = `≤ ${t.maxAbs} ms`;
      met = mine <= t.maxAbs ? 'yes' : '**no**';
    }
    out.push(
      `| ${row.metric} | ${fmt(base, row.digits)} | ${fmt(mine, row.digits)} | ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—'} | ${target} | ${met} |`,
    );
  }
  return out.join('\n');
}

/** Whether ssh2 runs its native crypto here, and what it and our sshd agree on. */
async function sshCrypto(sshd: Sshd): Promise<string> {
  // the module ssh2 itself loads: in the bundle, the bundled copy
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { bindingAvailable } = require('ssh2/lib/protocol/crypto.js') as {
    bindingAvailable: boolean;
  };
  const client = new Client();
  const negotiated = await new Promise<Record<string, { cipher: string; mac: string }>>(
    (resolve, reject) => {
      client.on('handshake', (n) => resolve(n as never));
      client.on('error', reject);
      client.connect({
        host: '127.0.0.1',
        port: sshd.port,
        username: sshd.user,
        privateKey: fs.readFileSync(sshd.key),
      });
    },
  );
  client.end();
  const dir = (d: { cipher: string; mac: string }): string =>
    `${d.cipher}${d.mac ? ` + ${d.mac}` : ''}`;
  return (
    `ssh2 native crypto (sshcrypto.node): ${bindingAvailable ? 'loaded' : "not loaded (Node's crypto, a cipher context per packet)"}; ` +
    `negotiated with OpenSSH: client→server ${dir(negotiated.cs)}, server→client ${dir(negotiated.sc)}`
  );
}

async function main(): Promise<void> {
  if (runner === 'bundle' && !process.env.B7_BUNDLED) {
    process.exitCode = await runSelfBundled(BENCH_DIR, 'b7_ssh.ts', 'B7');
    return;
  }
  if (runner !== 'bundle' && runner !== 'tsx') {
    throw new Error('--runner is bundle or tsx');
  }
  const probe = spawnSync(python, ['-c', 'import execnet; print(execnet.__version__)'], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) {
    throw new Error(`${python} cannot import execnet (apt-get install python3-execnet)`);
  }
  process.stdout.write(
    `# B7: ssh gateways over a loopback sshd (${quick ? 'quick' : 'full'}, ${rounds} round(s))\n\n` +
      `- ${os.cpus().length} CPUs, node ${process.version}, python ${python}, execnet ${probe.stdout.trim()}\n` +
      `- load average at start: ${loadavg().join(' ')}\n\n`,
  );
  const record: Record<string, unknown> = {
    benchmark: 'B7',
    timestamp: new Date().toISOString(),
    params: { rounds, n, rtt_n: rttN, runs, chunks, python, runner },
    results: {},
  };
  for (const rc of rcModes) {
    const sshd = await startSshd({ shellStartup: rc === 1 });
    try {
      if (rc === rcModes[0]) {
        const crypto = await sshCrypto(sshd);
        process.stdout.write(`- ours from ${runner}; ${crypto}\n\n`);
        record.ssh_crypto = crypto;
      }
      const spec = specFor(sshd);
      const sshTrueMs = median(sshTrue(sshd, n)) * 1e3;
      const results = { execnet: [] as Results[], ours: [] as Results[] };
      for (let round = 0; round < rounds; round++) {
        const order: Array<'execnet' | 'ours'> =
          round % 2 === 0 ? ['execnet', 'ours'] : ['ours', 'execnet'];
        for (const engine of order) {
          process.stderr.write(
            `bench: B7 rc=${rc} round ${round + 1}/${rounds}: ${engine} (load ${loadavg()[0]})\n`,
          );
          results[engine].push(engine === 'ours' ? await ours(spec) : await execnet(spec));
        }
      }
      process.stdout.write(`${table(rc, sshTrueMs, results)}\n\n`);
      (record.results as Record<string, unknown>)[`rc${rc}`] = {
        ssh_true_ms: sshTrueMs,
        ...results,
      };
    } finally {
      await sshd.stop();
    }
  }
  process.stdout.write(
    `- values: medians of each run's samples, then the median over rounds; ratio = ours / execnet\n` +
      `- load average at end: ${loadavg().join(' ')}\n\n`,
  );
  await emitLine(record);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
