// B6 (bench/README.md): mirror a 5,000-file, 198.5 MiB tree with our RSync, execnet.RSync and
// `rsync -a`, in one session, alternating which goes first: cold (empty destination), no change,
// and 1 % of the files modified. Prints a markdown table of medians with the targets, where our
// time goes, and one JSON line (last line of stdout).
//
//   node --import tsx bench/b6_rsync.ts [--repeats 6] [--root DIR] [--tools ours,execnet,rsync]
//                                       [--python /usr/bin/python3] [--no-verify]
//                                       [--runner bundle|tsx]
//
// --runner bundle (default): our side runs from an esbuild bundle of this script (minified CJS
// for node20, the remote sources beside it, as the extension ships), which the script builds
// into bench/results/bundle-b6_rsync/ and runs; tsx: straight from the sources.
//
// Repeats default to 6 rather than the reference's 5: a multiple of the number of tools, so that
// each goes first equally often. Going first matters: right after the destinations are deleted,
// ext4 (without a journal, as here) makes new inodes skip the recently freed ones one by one,
// and whichever tool creates files first pays most of that.
//
// Our side runs in this process (one popen gateway made beforehand, like execnet's); execnet's in
// bench/execnet/b6_rsync.py, which also makes and modifies the tree exactly as the reference
// bench_rsync.py does; rsync as a child process. `sync` runs (untimed) before every timed sync.

import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Group, RSync, type Gateway, type RSyncSummary } from '../src/core';
import { emitLine, loadavg, log, median, now, summarize } from './lib/stats';
import { runSelfBundled } from './lib/bundle';

const { values: opts } = parseArgs({
  options: {
    repeats: { type: 'string', default: '6' },
    root: { type: 'string', default: path.join(process.env.TMPDIR ?? os.tmpdir(), 'bench-rsync') },
    nfiles: { type: 'string', default: '5000' },
    seed: { type: 'string', default: '20240601' },
    'modify-fraction': { type: 'string', default: '0.01' },
    tools: { type: 'string', default: 'ours,execnet,rsync' },
    python: { type: 'string', default: process.env.BENCH_PYTHON ?? '/usr/bin/python3' },
    'no-verify': { type: 'boolean', default: false },
    runner: { type: 'string', default: 'bundle' },
  },
});

/** bench/, also when this runs from the bundle. */
const BENCH_DIR = process.env.B6_BENCH_DIR ?? __dirname;
const runner = process.env.B6_BUNDLED ? 'bundle' : opts.runner;

/** `ours-channel`: ours with copyLocally: false, i.e. file data through the pipe. */
type Tool = 'ours' | 'ours-channel' | 'execnet' | 'rsync';
type Case = 'cold' | 'nochange' | 'modified';
const CASES: Case[] = ['cold', 'nochange', 'modified'];
const TOOL_LABELS: Record<Tool, string> = {
  rsync: '`rsync -a`',
  execnet: 'execnet.RSync',
  ours: 'ours',
  'ours-channel': 'ours (data over the channel)',
};
/** ours / `rsync -a` must be at most this. */
const TARGETS: Record<Case, number> = { cold: 1.0, nochange: 0.6, modified: 0.5 };
/** ours with the data over the channel (as to a remote host) / `rsync -a`, cold. */
const CHANNEL_COLD_TARGET = 0.8;

const repeats = Number(opts.repeats);
const nfiles = Number(opts.nfiles);
const seed = Number(opts.seed);
const fraction = Number(opts['modify-fraction']);
const tools = opts.tools.split(',').map((t) => t.trim()) as Tool[];
for (const tool of tools) {
  if (!(tool in TOOL_LABELS)) {
    throw new Error(`--tools: unknown tool ${tool} (known: ours, ours-channel, execnet, rsync)`);
  }
}
const root = path.resolve(opts.root);
const src = path.join(root, 'src');
const dst = (tool: Tool): string => path.join(root, `dst_${tool}`);

/** The execnet side: one request line in, one reply line out. */
class ExecnetSide {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: AsyncIterator<string>;

  constructor(python: string) {
    this.child = spawn(python, ['-u', path.join(BENCH_DIR, 'execnet', 'b6_rsync.py')], {
      cwd: path.join(BENCH_DIR, 'execnet'),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async call(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(request)}\n`);
    const next = await this.lines.next();
    if (next.done) {
      throw new Error(`bench/execnet/b6_rsync.py ended during ${String(request.cmd)}`);
    }
    return JSON.parse(next.value) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    await new Promise((resolve) => this.child.on('close', resolve));
  }
}

function flushDisks(): void {
  spawnSync('sync');
}

/** CPU seconds (user, system) of a process so far, from /proc. */
function procCpu(pid: number): [number, number] {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tick = 100;
  return [Number(fields[11]) / tick, Number(fields[12]) / tick];
}

interface OursSample {
  seconds: number;
  summary: RSyncSummary;
  localCpu: [number, number];
  remoteCpu: [number, number];
}

async function syncOurs(gw: Gateway, tool: 'ours' | 'ours-channel'): Promise<OursSample> {
  flushDisks();
  const remote0 = procCpu(gw.pid!);
  const local0 = process.cpuUsage();
  const t0 = now();
  const rs = new RSync(src);
  rs.addTarget(gw, dst(tool), undefined, { copyLocally: tool === 'ours' });
  const summary = (await rs.send())!;
  const seconds = now() - t0;
  const local = process.cpuUsage(local0);
  const remote1 = procCpu(gw.pid!);
  return {
    seconds,
    summary,
    localCpu: [local.user / 1e6, local.system / 1e6],
    remoteCpu: [remote1[0] - remote0[0], remote1[1] - remote0[1]],
  };
}

function syncRsync(): number {
  flushDisks();
  const t0 = now();
  const result = spawnSync('rsync', ['-a', `${src}/`, `${dst('rsync')}/`], { stdio: 'inherit' });
  const seconds = now() - t0;
  if (result.status !== 0) {
    throw new Error(`rsync -a failed: ${result.error ?? `exit ${result.status}`}`);
  }
  return seconds;
}

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '—';
}

async function main(): Promise<void> {
  if (runner === 'bundle' && !process.env.B6_BUNDLED) {
    process.exitCode = await runSelfBundled(BENCH_DIR, 'b6_rsync.ts', 'B6');
    return;
  }
  if (runner !== 'bundle' && runner !== 'tsx') {
    throw new Error('--runner is bundle or tsx');
  }
  if (tools.includes('rsync') && spawnSync('rsync', ['--version']).status !== 0) {
    throw new Error('rsync not found: apt-get install -y rsync');
  }
  const rsyncVersion = tools.includes('rsync')
    ? spawnSync('rsync', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]
    : '';
  const side = new ExecnetSide(opts.python);
  const group = new Group('bench-rsync');
  try {
    fs.mkdirSync(root, { recursive: true });
    let t = now();
    const manifest = await side.call({ cmd: 'generate', root, nfiles, seed });
    log(`tree ready in ${(now() - t).toFixed(1)} s: ${JSON.stringify(manifest)}`);
    const execnetEnv = await side.call({ cmd: 'env' });
    const gw = await group.makeGateway(`popen//python=${opts.python}`);

    const times: Record<Tool, Record<Case, number[]>> = {
      ours: { cold: [], nochange: [], modified: [] },
      'ours-channel': { cold: [], nochange: [], modified: [] },
      execnet: { cold: [], nochange: [], modified: [] },
      rsync: { cold: [], nochange: [], modified: [] },
    };
    const samples: Record<'ours' | 'ours-channel', Record<Case, OursSample[]>> = {
      ours: { cold: [], nochange: [], modified: [] },
      'ours-channel': { cold: [], nochange: [], modified: [] },
    };
    const ours = samples.ours;
    const execnetCounts: Record<Case, unknown[]> = { cold: [], nochange: [], modified: [] };
    const verified: Record<string, boolean>[] = [];

    const run = async (tool: Tool, which: Case): Promise<void> => {
      let seconds: number;
      let note = '';
      if (tool === 'ours' || tool === 'ours-channel') {
        const sample = await syncOurs(gw, tool);
        samples[tool][which].push(sample);
        seconds = sample.seconds;
        note = `sent ${sample.summary.filesSent}`;
      } else if (tool === 'execnet') {
        const reply = await side.call({ cmd: 'sync', src, dst: dst('execnet') });
        seconds = Number(reply.seconds);
        execnetCounts[which].push({ requested: reply.requested, shipped: reply.shipped });
        note = `requested ${String(reply.requested)}, shipped ${String(reply.shipped)}`;
      } else {
        seconds = syncRsync();
      }
      times[tool][which].push(seconds);
      log(`  ${tool.padEnd(12)} ${which.padEnd(9)} ${seconds.toFixed(3)} s ${note}`);
    };

    t = now();
    for (let r = 0; r < repeats; r++) {
      const order = [...tools.slice(r % tools.length), ...tools.slice(0, r % tools.length)];
      log(`repeat ${r} order=${order.join(',')} load ${loadavg()[0]}`);
      for (const tool of order) {
        fs.rmSync(dst(tool), { recursive: true, force: true });
      }
      for (const which of ['cold', 'nochange'] as const) {
        for (const tool of order) {
          await run(tool, which);
        }
      }
      await side.call({ cmd: 'modify', src, nfiles, seed, repeat: r, fraction });
      for (const tool of order) {
        await run(tool, 'modified');
      }
      if (!opts['no-verify']) {
        const ok: Record<string, boolean> = {};
        for (const tool of order) {
          ok[tool] = Boolean((await side.call({ cmd: 'verify', src, dst: dst(tool) })).identical);
        }
        verified.push(ok);
        log(`  verified identical: ${JSON.stringify(ok)}`);
      }
    }
    const wall = now() - t;

    // -- the table --------------------------------------------------------------------------
    const med = (tool: Tool, which: Case): number => median(times[tool][which]);
    const header = ['case', ...tools.map((tool) => TOOL_LABELS[tool])];
    const withRsync = tools.includes('rsync') && tools.includes('ours');
    if (withRsync) {
      header.push('ours / rsync', 'target', 'met?');
    }
    if (tools.includes('execnet') && tools.includes('ours')) {
      header.push('ours / execnet');
    }
    const withChannel = tools.includes('rsync') && tools.includes('ours-channel');
    if (withChannel) {
      header.push('over the channel / rsync', 'target', 'met?');
    }
    const out = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
    for (const which of CASES) {
      const cells = [which, ...tools.map((tool) => `${fmt(med(tool, which))} s`)];
      if (withRsync) {
        const ratio = med('ours', which) / med('rsync', which);
        cells.push(
          `${fmt(ratio, 2)}×`,
          `≤ ${TARGETS[which]}×`,
          ratio <= TARGETS[which] ? 'yes' : '**no**',
        );
      }
      if (tools.includes('execnet') && tools.includes('ours')) {
        cells.push(`${fmt(med('ours', which) / med('execnet', which), 2)}×`);
      }
      if (withChannel) {
        const ratio = med('ours-channel', which) / med('rsync', which);
        cells.push(`${fmt(ratio, 2)}×`);
        if (which === 'cold') {
          cells.push(`≤ ${CHANNEL_COLD_TARGET}×`, ratio <= CHANNEL_COLD_TARGET ? 'yes' : '**no**');
        } else {
          cells.push('', '');
        }
      }
      out.push(`| ${cells.join(' | ')} |`);
    }

    // where our time goes: medians of each part, per case
    const parts: [string, (s: OursSample) => number][] = [
      ['wall', (s) => s.seconds * 1000],
      ['walk (local lstat/readdir)', (s) => s.summary.walkMs],
      ['read source files', (s) => s.summary.targets[0].timings.read],
      [
        'hash (same size, new mtime)',
        (s) => s.summary.targets[0].timings.hash + s.summary.targets[0].timings['remote.hash'],
      ],
      ['wait for the channel to drain', (s) => s.summary.targets[0].timings.wait],
      ['remote: compare listing (lstat)', (s) => s.summary.targets[0].timings['remote.compare']],
      [
        'remote: write received files (open/write/utime/rename)',
        (s) => s.summary.targets[0].timings['remote.write'],
      ],
      ['remote: copy files itself (same host)', (s) => s.summary.targets[0].timings['remote.copy']],
      ['files the remote copied itself', (s) => s.summary.targets[0].filesCopiedLocally],
      ['remote: directory modes and times', (s) => s.summary.targets[0].timings['remote.dirs']],
      ['CPU local user+sys', (s) => (s.localCpu[0] + s.localCpu[1]) * 1000],
      ['CPU remote user+sys', (s) => (s.remoteCpu[0] + s.remoteCpu[1]) * 1000],
    ];
    const breakdown: string[] = [];
    for (const tool of ['ours', 'ours-channel'] as const) {
      if (!tools.includes(tool)) {
        continue;
      }
      breakdown.push(
        `| ${TOOL_LABELS[tool]}, ms (median) | ${CASES.join(' | ')} |`,
        `|---|${CASES.map(() => '---').join('|')}|`,
      );
      for (const [label, get] of parts) {
        const cells = CASES.map((which) => fmt(median(samples[tool][which].map(get)), 1));
        breakdown.push(`| ${label} | ${cells.join(' | ')} |`);
      }
      breakdown.push('');
    }
    process.stdout.write(
      `# B6: RSync of ${nfiles} files / ${(Number(manifest.total_bytes) / 2 ** 20).toFixed(1)} MiB\n\n` +
        `- ${os.cpus().length} CPUs, node ${process.version}, python ${opts.python}, ` +
        `execnet ${String(execnetEnv.execnet_version)}, ${rsyncVersion}; ours from ${runner}\n` +
        `- ${repeats} repeats, order rotating; load average at end ${loadavg().join(' ')}; ` +
        `wall ${wall.toFixed(0)} s\n\n${out.join('\n')}\n\n${breakdown.join('\n')}\n` +
        '"wait" is time spent in channel.send(): encoding, and waiting for the pipe while the ' +
        'remote writes; the remote parts overlap the local ones.\n\n',
    );
    await emitLine({
      benchmark: 'B6',
      engine: 'all',
      timestamp: new Date().toISOString(),
      params: {
        nfiles,
        seed,
        repeats,
        modify_fraction: fraction,
        root,
        tools,
        python: opts.python,
        runner,
      },
      results: {
        ...Object.fromEntries(
          tools.map((tool) => [
            tool,
            Object.fromEntries(CASES.map((which) => [which, summarize(times[tool][which])])),
          ]),
        ),
        ours_breakdown_ms: Object.fromEntries(
          CASES.map((which) => [
            which,
            Object.fromEntries(parts.map(([label, get]) => [label, median(ours[which].map(get))])),
          ]),
        ),
        ours_channel_breakdown_ms: Object.fromEntries(
          CASES.map((which) => [
            which,
            Object.fromEntries(
              parts.map(([label, get]) => [label, median(samples['ours-channel'][which].map(get))]),
            ),
          ]),
        ),
        ours_files_sent: Object.fromEntries(
          CASES.map((which) => [which, ours[which].map((s) => s.summary.filesSent)]),
        ),
        execnet_file_counts: execnetCounts,
        verified_identical: verified,
        tree: manifest,
      },
      env: {
        node: process.version,
        rsync: rsyncVersion,
        execnet: execnetEnv,
        loadavg_end: loadavg(),
      },
    });
    if (verified.some((v) => Object.values(v).some((ok) => !ok))) {
      throw new Error('a destination differs from the source after a sync');
    }
  } finally {
    await group.terminate(10);
    await side.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
