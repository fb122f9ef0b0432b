// Nothing of ours outlives its owner, whatever happens: a Node process that dies at any moment
// of a fan-out's start (SIGKILL, or the SIGTERM a test runner's timeout sends), or dies after the
// controller is gone, leaves no job in squeue and no salloc, cat, srun, reaper or task process,
// on this machine or on a login node; a group terminated while its fan-out starts cancels the
// start. Each owner is a Node process of its own whose every descendant carries its mark.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { before, describe, test } from 'node:test';
import { startOwner, type Owner } from '../helpers/owner';
import {
  describeProcesses,
  leftoverProcesses,
  othersLeft,
  processesWithMark,
} from '../helpers/processes';
import { defaultPython } from '../helpers/pythons';
import { jobInState, jobsLeft, jobsNamed, requireCluster, slurmSpec } from '../helpers/slurm';
import { SLURM_CPUS, startSlurmCluster, type SlurmCluster } from '../helpers/slurmCluster';

before(() => {
  requireCluster();
});

const LOGIN = `popen//id=login//python=${defaultPython()}`;
/** More CPUs than the cluster has: the job waits in the queue for ever. */
const TOO_BIG = `-c ${SLURM_CPUS * 8}`;

/** A slurm spec whose job is named after the owner's mark, so squeue finds it. */
function named(mark: string, options = '', more = ''): string {
  return slurmSpec(
    mark,
    [`slurm=-J ${mark}${options ? ` ${options}` : ''}`, more].filter(Boolean).join('//'),
  );
}

/** Runs a test with an owner, killed at the end whatever happened. */
async function withOwner(owner: Owner, body: (owner: Owner) => Promise<void>): Promise<void> {
  try {
    await body(owner);
  } finally {
    await owner.kill('SIGKILL');
  }
}

describe('a Node process that dies or exits while its fan-out starts', () => {
  for (const end of ['SIGKILL', 'SIGTERM', 'exit'] as const) {
    for (const via of [false, true]) {
      const where = via ? ', salloc and srun on a login node' : '';
      const how = end === 'exit' ? 'process.exit() without terminate()' : end;
      test(`${how} as the job is granted${where}: no job, no process left`, (t) =>
        withOwner(
          startOwner(
            (mark) => `
              const group = new Group('doomed');
              void command().then(() => process.exit(0));
              ${via ? `await group.makeGateway(${JSON.stringify(LOGIN)});` : ''}
              say('starting');
              await group.makeGateways(${JSON.stringify(named(mark, '', via ? 'via=login' : ''))}, 4);
              say('started');
            `,
          ),
          async (owner) => {
            await owner.line(/^starting$/);
            const job = await jobInState(owner.mark, ['RUNNING']);
            const ended = Date.now();
            if (end === 'exit') {
              owner.send('exit');
              await owner.exited;
            } else {
              await owner.kill(end);
            }
            assert.deepEqual(await leftoverProcesses(owner.mark, 20_000), [], owner.output);
            t.diagnostic(`last process gone ${Date.now() - ended} ms after the owner ended`);
            assert.deepEqual(await jobsLeft([job], 20_000), [], 'squeue still lists the job');
          },
        ));
    }
  }
});

describe('a Node process killed together with its reaper (a whole process tree killed)', () => {
  test('a salloc waiting in the queue (it ignores its input then) ends with it and cancels its job (PR_SET_PDEATHSIG)', () =>
    withOwner(
      startOwner(
        (mark) => `
          const group = new Group('tree');
          say('starting');
          await group.makeGateways(${JSON.stringify(named(mark, TOO_BIG))}, 4);
        `,
      ),
      async (owner) => {
        await owner.line(/^starting$/);
        const job = await jobInState(owner.mark, ['PENDING']);
        const reaper = processesWithMark(owner.mark).filter((pid) => isReaperOf(pid, owner.pid));
        assert.equal(reaper.length, 1, 'the reaper');
        process.kill(reaper[0], 'SIGKILL');
        await owner.kill('SIGKILL');
        try {
          const left = await leftoverProcesses(owner.mark, 5000);
          assert.deepEqual(left, [], describeProcesses(left));
          assert.deepEqual(await jobsLeft([job], 10_000), [], 'salloc cancels its job on SIGTERM');
        } finally {
          execFileSync('scancel', ['-n', owner.mark]); // a pending job would wait for ever
        }
      },
    ));
});

describe('a group terminated while its fan-out starts', () => {
  const moments = [
    ['at once', ''],
    ['while the job waits in the queue', 'queued'],
    ['as the job is granted', 'granted'],
  ] as const;
  for (const [when, wait] of moments) {
    test(`${when}: the start is cancelled, terminate() resolves with nothing left`, () =>
      withOwner(
        startOwner(
          (mark) => `
            const group = new Group('racing');
            const start = group.makeGateways(
              ${JSON.stringify(named(mark, wait === 'queued' ? TOO_BIG : ''))}, 4);
            const outcome = start.then(() => 'started', (error) => 'rejected ' + error.message);
            ${wait ? `say('waiting'); await command();` : ''}
            await group.terminate(5);
            say('terminated');
            say(await outcome);
            process.exit(0);
          `,
        ),
        async (owner) => {
          if (wait) {
            await owner.line(/^waiting$/);
            await jobInState(owner.mark, [wait === 'queued' ? 'PENDING' : 'RUNNING']);
            owner.send('terminate');
          }
          await owner.line(/^terminated$/);
          assert.deepEqual(jobsLeftNow(owner.mark), [], `a job is left: ${owner.output}`);
          const [outcome] = await owner.line(/^(started|rejected .*)$/);
          if (wait !== 'granted') {
            // granted: the steps may all have started before terminate() came
            assert.match(
              outcome,
              /^rejected .*was still starting when group 'racing' was terminated/,
            );
          }
          assert.deepEqual(await leftoverProcesses(owner.mark, 10_000), [], owner.output);
        },
      ));
  }
});

/** The jobs named `name` squeue lists now, but a job that is already completing is gone. */
function jobsLeftNow(name: string): string[] {
  return jobsNamed(name).filter((line) => !/ (COMPLETING|CANCELLED|COMPLETED)$/.test(line));
}

describe('a cluster whose controller is gone', () => {
  test('a Node process killed while fan-outs wait in the queue: the reapers end every salloc, here and on a login node', async () => {
    await withClusterOwner(
      (mark) => `
            const group = new Group('waiting', { onProgress: (message) => say(message) });
            await group.makeGateway(${JSON.stringify(LOGIN)});
            const running = await group.makeGateways(${JSON.stringify(named(mark))}, 2);
            const remote = await group.makeGateways(${JSON.stringify(named(mark, '', 'via=login'))}, 2);
            say('running');
            group.makeGateways(${JSON.stringify(named(mark, TOO_BIG))}, 2).catch(() => {});
            group.makeGateways(${JSON.stringify(named(mark, TOO_BIG, 'via=login'))}, 2).catch(() => {});
          `,
      async (owner, cluster) => {
        await owner.line(/^running$/);
        await owner.line(/^job \d+ pending: [\s\S]*^job \d+ pending: /);
        cluster.killController();
        await owner.kill('SIGKILL');
        // scancel gives up on the dead controller after ~10 s; the reapers wait for it
        assert.deepEqual(await leftoverProcesses(owner.mark, 45_000), [], owner.output);
      },
    );
  });
});

describe('a cluster whose controller stops under a held allocation', () => {
  for (const via of [false, true]) {
    const where = via ? ', salloc and srun on a login node' : '';
    test(`the holder and the steps are ended, nothing is left or spins, terminate() resolves after saying why${where}`, async (t) => {
      await withClusterOwner(
        (mark) => `
              const group = new Group('stranded');
              ${via ? `await group.makeGateway(${JSON.stringify(LOGIN)});` : ''}
              const gateways = await group.makeGateways(
                ${JSON.stringify(named(mark, '', via ? 'via=login' : ''))}, 2);
              say('held');
              await Promise.all(gateways.map((gateway) => new Promise((dead) =>
                gateway.onDidChangeState((state) => state === 'dead' && dead()))));
              say('dead ' + gateways[0].closeReason.message.split('\\n')[0]);
              const started = Date.now();
              await group.terminate(5);
              say('terminated ' + (Date.now() - started));
              await command();
            `,
        async (owner, cluster) => {
          await owner.line(/^held$/);
          await jobInState(owner.mark, ['RUNNING'], { conf: cluster.conf });
          cluster.killController();
          const killed = Date.now();
          const [, reason] = await owner.line(/^dead (.*)$/, 90_000);
          const dead = Date.now() - killed;
          assert.match(
            reason,
            /the Slurm controller of job \d+ could not be reached for \d+ s .*: the allocation was given up and its steps ended/,
          );
          const [, took] = await owner.line(/^terminated (\d+)$/, 30_000);
          // the owner still runs (and its reaper, waiting for it): nothing else of ours does
          await assertOnlyOwnerLeft(owner);
          t.diagnostic(
            `gateways dead ${dead} ms after the controller died, then terminate() took ${took} ms; nothing of ours left ${Date.now() - killed} ms after`,
          );
        },
      );
    });
  }
});

describe('a cluster whose controller stops while a fan-out waits in the queue', () => {
  test('the start fails with a SlurmError that says so, before slurm_pending= runs out, and leaves nothing', async (t) => {
    await withClusterOwner(
      (mark) => `
            const group = new Group('queued');
            say('starting');
            const outcome = await group.makeGateways(${JSON.stringify(named(mark, TOO_BIG))}, 2).then(
              () => 'started', (error) => 'rejected ' + error.constructor.name + ' ' + error.message);
            say(outcome);
            await command();
          `,
      async (owner, cluster) => {
        await owner.line(/^starting$/);
        await jobInState(owner.mark, ['PENDING'], { conf: cluster.conf });
        cluster.killController();
        const killed = Date.now();
        const [outcome] = await owner.line(/^(started|rejected .*)$/, 90_000);
        assert.match(
          outcome,
          /^rejected SlurmError the Slurm controller of job \d+ could not be reached for \d+ s while the job was pending .*: the request was given up$/,
        );
        const rejected = Date.now() - killed;
        await assertOnlyOwnerLeft(owner);
        t.diagnostic(
          `rejected ${rejected} ms after the controller died; nothing of ours left ${Date.now() - killed} ms after`,
        );
      },
    );
  });
});

/**
 * Runs a test with a cluster of its own (its controller may be killed) and an owner using it
 * (`body` as in startOwner); the owner is killed and the cluster stopped whatever happened.
 */
async function withClusterOwner(
  body: (mark: string) => string,
  check: (owner: Owner, cluster: SlurmCluster) => Promise<void>,
): Promise<void> {
  const cluster = await startSlurmCluster();
  try {
    await withOwner(startOwner(body, { SLURM_CONF: cluster.conf }), (owner) =>
      check(owner, cluster),
    );
  } finally {
    await cluster.stop();
  }
}

/** Asserts that, soon, the owner and the reaper it started are all that carries its mark. */
async function assertOnlyOwnerLeft(owner: Owner): Promise<void> {
  const reaper = processesWithMark(owner.mark).filter((pid) => isReaperOf(pid, owner.pid));
  const left = await othersLeft(owner.mark, [owner.pid, ...reaper], 10_000);
  assert.deepEqual(left, [], `${describeProcesses(left)}\n${owner.output}`);
}

/** Whether `pid` is the reaper shell (reaper.ts) the process `parent` started. */
function isReaperOf(pid: number, parent: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return (
      Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent &&
      cmdline.includes('while read -r op id')
    );
  } catch {
    return false;
  }
}
