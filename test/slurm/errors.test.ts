// What a user sees when Slurm will not run the job: a SlurmError naming the cause (a partition
// that does not exist, options srun refuses, a job that is not running), or, for a job that
// stays pending, a cancellation after slurm_pending= seconds with squeue's reason.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { GatewayStartError, SlurmError, SpecError } from '../../src/core/errors';
import { Group } from '../../src/core/group';
import { newMark } from '../helpers/processes';
import { ensureTestUser, TEST_USER } from '../helpers/sshd';
import { allJobIds, jobsLeft, requireCluster, slurmSpec } from '../helpers/slurm';
import { INVALID_ACCOUNT, SLURM_CPUS } from '../helpers/slurmCluster';

before(() => {
  requireCluster();
});

describe('pending jobs', () => {
  test("a job that stays pending is cancelled after slurm_pending= with squeue's reason", async () => {
    const before = new Set(allJobIds());
    const started = Date.now();
    const progress: string[] = [];
    let job: string | undefined;
    const group = new Group('pending', { onProgress: (message) => progress.push(message) });
    await assert.rejects(
      group.makeGateway(slurmSpec(newMark(), `slurm=-c ${SLURM_CPUS * 8}//slurm_pending=2`)),
      (error: unknown) => {
        assert.ok(error instanceof SlurmError, String(error));
        assert.equal(error.kind, 'pending');
        assert.match(error.message, /still pending after 2 s \(pending: PartitionConfig\)/);
        assert.match(error.message, /was cancelled/);
        assert.equal(error.reason, 'PartitionConfig');
        assert.ok(error.jobId && !before.has(error.jobId), 'names the new job');
        job = error.jobId;
        return true;
      },
    );
    assert.ok(
      Date.now() - started < 12_000,
      `failed within its timeout (${Date.now() - started} ms)`,
    );
    assert.deepEqual(await jobsLeft([job ?? '']), [], 'the pending job was cancelled');
    assert.deepEqual(progress, [`job ${job} pending`, `job ${job} pending: PartitionConfig`]);
  });

  test('a fan-out whose allocation stays pending is cancelled the same way', async () => {
    const before = new Set(allJobIds());
    let job: string | undefined;
    await assert.rejects(
      new Group('pending-fanout').makeGateways(
        slurmSpec(newMark(), `slurm=-n ${SLURM_CPUS * 4}//slurm_pending=2`),
        2,
      ),
      (error: unknown) => {
        assert.ok(error instanceof SlurmError && error.kind === 'pending', String(error));
        assert.match(error.message, /pending: \w+/);
        assert.ok(error.jobId && !before.has(error.jobId), 'names the new job');
        job = error.jobId;
        return true;
      },
    );
    assert.deepEqual(await jobsLeft([job ?? '']), [], 'the allocation was cancelled');
  });
});

describe('cancelling a start', () => {
  test('an aborted start of a pending job rejects at once and cancels the job', async () => {
    const abort = new AbortController();
    let job: string | undefined;
    const group = new Group('abort', {
      onProgress: (message) => {
        job ??= /^job (\d+) pending/.exec(message)?.[1];
        if (job) {
          abort.abort();
        }
      },
    });
    await assert.rejects(
      group.makeGateway(slurmSpec(newMark(), `slurm=-c ${SLURM_CPUS * 8}`), {
        signal: abort.signal,
      }),
      (error: unknown) =>
        error instanceof GatewayStartError && /the start was cancelled/.test(error.message),
    );
    assert.ok(job);
    assert.deepEqual(await jobsLeft([job]), [], 'the pending job was cancelled');
  });
});

describe('refused jobs', () => {
  test('no such partition is a SlurmError naming it', async () => {
    await assert.rejects(
      new Group('refused').makeGateway(slurmSpec(newMark(), 'slurm=-p nosuch')),
      (error: unknown) => {
        assert.ok(error instanceof SlurmError, String(error));
        assert.equal(error.kind, 'partition');
        assert.match(error.message, /Slurm refused the job: .*invalid partition.*nosuch/i);
        assert.match(error.message, /check -p\/--partition in 'slurm=-p nosuch'/);
        return true;
      },
    );
  });

  test('salloc refusals are typed too', async () => {
    await assert.rejects(
      new Group('refused').makeGateways(slurmSpec(newMark(), 'slurm=-p nosuch'), 2),
      (error: unknown) =>
        error instanceof SlurmError && error.kind === 'partition' && /nosuch/.test(error.message),
    );
  });

  test('an account Slurm refuses is a SlurmError of kind account, for srun and salloc', async () => {
    for (const start of [
      (spec: string) => new Group('refused').makeGateway(spec),
      (spec: string) => new Group('refused').makeGateways(spec, 2),
    ]) {
      await assert.rejects(
        start(slurmSpec(newMark(), `slurm=-A ${INVALID_ACCOUNT}`)),
        (error: unknown) => {
          assert.ok(error instanceof SlurmError, String(error));
          assert.equal(error.kind, 'account');
          assert.match(
            error.message,
            /Slurm refused the job: .*Invalid account or account\/partition combination specified/,
          );
          assert.match(
            error.message,
            new RegExp(`check -A/--account in 'slurm=-A ${INVALID_ACCOUNT}'`),
          );
          return true;
        },
      );
    }
  });

  test('a partition the user may not use is a SlurmError of kind denied', async (t) => {
    if (!ensureTestUser()) {
      t.skip('needs root to create the test user');
      return;
    }
    // the login node runs as another user: root may use every partition
    const group = new Group('denied');
    try {
      await group.makeGateway(
        `popen//id=login//sudo=${TEST_USER}//python=/usr/bin/python3//chdir=/tmp//env:SLURM_CONF=${process.env.SLURM_CONF}`,
      );
      await assert.rejects(
        group.makeGateway(slurmSpec(newMark(), 'slurm=-p closed//via=login')),
        (error: unknown) => {
          assert.ok(error instanceof SlurmError, String(error));
          assert.equal(error.kind, 'denied');
          assert.match(error.message, /not permitted to use this partition/);
          return true;
        },
      );
    } finally {
      await group.terminate(5);
    }
  });

  test('no srun where it should run is a SlurmError of kind missing', async () => {
    const group = new Group('missing');
    try {
      // a "login node" whose PATH has no Slurm
      await group.makeGateway('popen//id=box//python=/usr/bin/python3//env:PATH=/nonexistent');
      await assert.rejects(
        group.makeGateway(slurmSpec(newMark(), 'via=box')),
        (error: unknown) =>
          error instanceof SlurmError &&
          error.kind === 'missing' &&
          /cannot run srun on box: .*is Slurm installed there\?/.test(error.message),
      );
    } finally {
      await group.terminate(5);
    }
  });

  test('options srun refuses are a SlurmError of kind options', async () => {
    await assert.rejects(
      new Group('refused').makeGateway(slurmSpec(newMark(), 'slurm=--time=abc')),
      (error: unknown) =>
        error instanceof SlurmError && error.kind === 'options' && /--time/.test(error.message),
    );
  });

  test('slurm_job= naming no job is a SlurmError of kind job', async () => {
    await assert.rejects(
      new Group('refused').makeGateway(slurmSpec(newMark(), 'slurm_job=999999')),
      (error: unknown) =>
        error instanceof SlurmError &&
        error.kind === 'job' &&
        /job 999999 is not running/.test(error.message),
    );
  });

  test('-n 4 for one gateway is refused before anything starts', async () => {
    await assert.rejects(
      new Group('refused').makeGateway(slurmSpec(newMark(), 'slurm=-n 4')),
      (error: unknown) => error instanceof SpecError && /add slurm_tasks=4/.test(error.message),
    );
  });

  test('a missing interpreter on the node is PythonNotFound', async () => {
    await assert.rejects(
      new Group('refused').makeGateway('slurm//python=/nonexistent/python3'),
      (error: unknown) =>
        error instanceof Error &&
        error.name === 'PythonNotFound' &&
        /nonexistent/.test(error.message),
    );
  });
});
