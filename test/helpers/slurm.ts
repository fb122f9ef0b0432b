// What the slurm tier's tests ask the cluster (started by test/slurm/system.ts): which of our
// jobs squeue still lists, and the steps of a job. Jobs end a moment after scancel or the end of
// their last step, so the waits poll with a deadline.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Gateway, GatewayOptions } from '../../src/core/gateway';
import { Group } from '../../src/core/group';
import { leftoverProcesses, newMark } from './processes';
import { defaultPython } from './pythons';

export function requireCluster(): string {
  const conf = process.env.SLURM_CONF;
  if (!conf) {
    throw new Error('no SLURM_CONF: run these tests through `npm run test:slurm`');
  }
  return conf;
}

function squeue(args: string[], conf?: string): string[] {
  return execFileSync('squeue', ['-h', ...args], {
    encoding: 'utf8',
    timeout: 15_000,
    env: conf ? { ...process.env, SLURM_CONF: conf } : process.env,
  })
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/** `JOBID STATE` of each of these jobs that squeue still lists. */
export function listedJobs(ids: readonly string[]): string[] {
  return squeue(['-o', '%i %T']).filter((line) => ids.includes(line.split(' ')[0]));
}

/** `JOBID STATE` of the jobs named `name` (`-J name`) that squeue lists (on `conf`'s cluster). */
export function jobsNamed(name: string, conf?: string): string[] {
  return squeue(['-n', name, '-o', '%i %T'], conf);
}

/** Waits until squeue lists a job named `name` in one of `states`; returns its id. */
export async function jobInState(
  name: string,
  states: readonly string[],
  options: { conf?: string; ms?: number } = {},
): Promise<string> {
  const deadline = Date.now() + (options.ms ?? 30_000);
  for (;;) {
    const listed = jobsNamed(name, options.conf).map((line) => line.split(' '));
    const found = listed.find(([, state]) => states.includes(state));
    if (found) {
      return found[0];
    }
    if (Date.now() > deadline) {
      throw new Error(`no job named ${name} ${states.join(' or ')} (squeue: ${listed.join('; ')})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The step ids (`12.3`) squeue lists for a job. */
export function jobSteps(jobId: string): string[] {
  return squeue(['-s', '-j', jobId, '-o', '%i']).filter((id) => !/\.(batch|extern)$/.test(id));
}

/** Waits until squeue lists exactly these steps of a job; returns what it lists then. */
export async function stepsBecome(jobId: string, steps: readonly string[], ms = 15_000) {
  const want = [...steps].sort().join(' ');
  const deadline = Date.now() + ms;
  for (;;) {
    const listed = jobSteps(jobId).sort();
    if (listed.join(' ') === want || Date.now() > deadline) {
      return listed;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Waits until squeue lists none of these jobs; returns those still listed after `ms`. */
export async function jobsLeft(ids: readonly string[], ms = 15_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = listedJobs(ids);
    if (left.length === 0 || Date.now() > deadline) {
      return left;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Job ids squeue lists right now (to tell a new one apart). */
export function allJobIds(): string[] {
  return squeue(['-o', '%i']);
}

/**
 * A slurm spec for the tests: the system Python on the node, the process mark in its env, then
 * `options` (an item `slurm=...` among them replaces the bare type).
 */
export function slurmSpec(mark: string, options = ''): string {
  const items = options ? options.split('//') : [];
  const type = items.find((item) => item.startsWith('slurm=')) ?? 'slurm';
  const rest = items.filter((item) => item !== type);
  return [type, `python=${defaultPython()}`, `env:EXECNET_TEST_MARK=${mark}`, ...rest].join('//');
}

/** A group whose gateways carry a mark; close() terminates it and checks squeue and /proc. */
export function slurmGroup(name = 'slurm', options: GatewayOptions = {}) {
  const group = new Group(name, options);
  const mark = newMark();
  const jobs = new Set<string>();
  return {
    group,
    mark,
    spec: (options = '') => slurmSpec(mark, options),
    /** Remember the jobs of these gateways, to check that they are gone at the end. */
    saw(...gateways: Gateway[]) {
      for (const gateway of gateways) {
        if (gateway.info.slurm) {
          jobs.add(gateway.info.slurm.jobId);
        }
      }
    },
    async close() {
      await group.terminate(5);
      assert.deepEqual(await jobsLeft([...jobs]), [], 'squeue still lists our jobs');
      assert.deepEqual(await leftoverProcesses(mark), [], 'task processes left running');
    },
  };
}
