// B10 (bench/README.md): Slurm and container gateways beside their floors, in one session on the
// private cluster of the slurm tier and the container tier's podman image, alternating which
// goes first: start → first round trip of one slurm gateway against `srun -n1 -u python3 -c
// pass`, of 8 gateways on one allocation against `salloc` + 8 such steps, and of a podman gateway
// (exec into a running container, and a fresh container of an image) against `podman exec -i` /
// `podman run --rm -i` of `python3 -c pass`. Prints a markdown table of medians and ratios and
// one JSON line (last on stdout).
//
//   node --import tsx bench/b10_slurm.ts [--rounds 3] [--n 10] [--only slurm|containers] [--quick]

import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Group } from '../src/core';
import { startPodman, podman } from '../test/helpers/podman';
import { startSlurmCluster, SLURM_CPUS } from '../test/helpers/slurmCluster';
import type { RunningSystem } from '../test/helpers/system';
import { emitLine, loadavg, log, median, now } from './lib/stats';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string' },
    n: { type: 'string' },
    only: { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
    quick: { type: 'boolean', default: false },
  },
});
const rounds = Number(opts.rounds ?? (opts.quick ? 1 : 3));
const n = Number(opts.n ?? (opts.quick ? 3 : 10));
const python = opts.python;
const FANOUT = 8;
const ROUND_TRIP = 'channel.send(channel.receive() + 1)';

/** Runs a command to its end; resolves with its stdout (rejects when it fails). */
function run(argv: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(out + err) : reject(new Error(`${argv.join(' ')}: ${code}: ${err}`)),
    );
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = now();
  await fn();
  return now() - t0;
}

interface Workload {
  readonly name: string;
  readonly floorName: string;
  floor(): Promise<number>;
  ours(): Promise<number>;
}

/** Start → first round trip of every gateway `start` makes; they are ended after (not timed). */
async function oursFirstTrip(start: (group: Group) => Promise<unknown>): Promise<number> {
  const group = new Group('bench');
  const t0 = now();
  await start(group);
  const trips = group.remoteExec(ROUND_TRIP);
  await trips.send(1);
  const results = await trips.receiveEach(60);
  const seconds = now() - t0;
  if (results.some((r) => r !== 2)) {
    throw new Error(`unexpected answers ${results}`);
  }
  await group.terminate(10);
  return seconds;
}

function slurmWorkloads(env: NodeJS.ProcessEnv): Workload[] {
  const spec = `slurm//python=${python}`;
  return [
    {
      name: 'slurm: 1 gateway',
      floorName: 'srun -n1 -u python3 -c pass',
      floor: () => timed(() => run(['srun', '-n1', '-u', python, '-c', 'pass'], env)),
      ours: () => oursFirstTrip((group) => group.makeGateway(spec)),
    },
    {
      name: `slurm: ${FANOUT} gateways, one allocation`,
      floorName: `salloc -n${FANOUT} + ${FANOUT} × srun --jobid -n1 -u python3 -c pass`,
      floor: async () => {
        let job = '';
        const seconds = await timed(async () => {
          const said = await run(['salloc', `-n${FANOUT}`, '--no-shell'], env);
          job = /Granted job allocation (\d+)/.exec(said)?.[1] ?? '';
          await Promise.all(
            Array.from({ length: FANOUT }, () =>
              run(['srun', `--jobid=${job}`, '-n1', '-u', '--overlap', python, '-c', 'pass'], env),
            ),
          );
        });
        await run(['scancel', job], env);
        return seconds;
      },
      ours: () => oursFirstTrip((group) => group.makeGateways(spec, FANOUT)),
    },
  ];
}

function containerWorkloads(env: NodeJS.ProcessEnv, container: string): Workload[] {
  const image = env.EXECNET_TEST_IMAGE ?? '';
  return [
    {
      name: 'podman: exec into a running container',
      floorName: 'podman exec -i CTR python3 -c pass',
      floor: () =>
        timed(() => run(['podman', 'exec', '-i', container, 'python3', '-c', 'pass'], env)),
      ours: () => oursFirstTrip((group) => group.makeGateway(`podman=${container}`)),
    },
    {
      name: 'podman: a fresh container of an image',
      floorName: 'podman run --rm -i IMG python3 -c pass',
      floor: () =>
        timed(() => run(['podman', 'run', '--rm', '-i', image, 'python3', '-c', 'pass'], env)),
      ours: () => oursFirstTrip((group) => group.makeGateway(`podman//image=${image}`)),
    },
  ];
}

async function main(): Promise<void> {
  const systems: RunningSystem[] = [];
  const workloads: Workload[] = [];
  const started = loadavg();
  try {
    if (opts.only !== 'containers') {
      const cluster = await startSlurmCluster();
      systems.push(cluster);
      Object.assign(process.env, cluster.env);
      log(`slurm: a private cluster of ${SLURM_CPUS} CPUs is up`);
      workloads.push(...slurmWorkloads(process.env));
    }
    if (opts.only !== 'slurm') {
      const containers = await startPodman();
      systems.push(containers);
      Object.assign(process.env, containers.env);
      const name = `execnet-bench-${process.pid}`;
      await podman([
        'run',
        '-d',
        '--name',
        name,
        process.env.EXECNET_TEST_IMAGE ?? '',
        'sleep',
        'infinity',
      ]);
      systems.push({
        env: {},
        stop: async () => void (await podman(['rm', '-f', '-t', '0', name])),
      });
      workloads.push(...containerWorkloads(process.env, name));
    }
    const results: Record<string, { floor: number[]; ours: number[] }> = {};
    for (const workload of workloads) {
      results[workload.name] = { floor: [], ours: [] };
      // one of each first, untimed: caches (images, the compiled remote code) are warm for both
      await workload.floor();
      await workload.ours();
    }
    for (let round = 0; round < rounds; round++) {
      for (const workload of workloads) {
        const sides = round % 2 === 0 ? (['floor', 'ours'] as const) : (['ours', 'floor'] as const);
        for (const side of sides) {
          for (let i = 0; i < n; i++) {
            results[workload.name][side].push(await workload[side]());
          }
        }
        log(`round ${round + 1}: ${workload.name}`);
      }
    }
    const ended = loadavg();
    const rows = workloads.map((w) => {
      const floor = median(results[w.name].floor);
      const ours = median(results[w.name].ours);
      return { workload: w.name, floorName: w.floorName, floor, ours, ratio: ours / floor };
    });
    const ms = (s: number): string => (s * 1000).toFixed(0);
    console.log(
      `B10: start → first round trip, medians of ${rounds} × ${n} (ms); load ${started.join(' ')} → ${ended.join(' ')}\n`,
    );
    console.log('| workload | floor | floor (ms) | ours (ms) | ours / floor | target |');
    console.log('|---|---|---|---|---|---|');
    for (const row of rows) {
      console.log(
        `| ${row.workload} | \`${row.floorName}\` | ${ms(row.floor)} | ${ms(row.ours)} | ${row.ratio.toFixed(2)} | ≤ 1.3 |`,
      );
    }
    await emitLine({ bench: 'B10', rounds, n, loadavg: [started, ended], rows });
  } finally {
    for (const system of systems.reverse()) {
      await system.stop().catch(() => undefined);
    }
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
