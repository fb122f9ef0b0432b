// A fan-out on the real cluster: one allocation (salloc), one `srun --overlap` step per gateway,
// each gateway ranked like a task of `srun -n N` (SLURM_PROCID, SLURM_NTASKS); steps end one by
// one and the allocation goes with the last of them.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { leftoverProcesses } from '../helpers/processes';
import {
  jobSteps,
  jobsLeft,
  listedJobs,
  requireCluster,
  slurmGroup,
  stepsBecome,
} from '../helpers/slurm';

before(() => {
  requireCluster();
});

describe('fan-out on one allocation', () => {
  const t = slurmGroup();
  after(() => t.close());

  test('4 gateways are 4 steps of one job, ranked 0-3, and the group collects from all', async () => {
    const gateways = await t.group.makeGateways(t.spec(), 4);
    t.saw(...gateways);
    const placements = gateways.map((g) => g.info.slurm);
    const job = placements[0]?.jobId;
    assert.ok(job);
    for (const placement of placements) {
      assert.equal(placement?.jobId, job, 'one allocation');
      assert.equal(placement?.tasks, 4);
      assert.equal(placement?.owned, true);
    }
    assert.deepEqual(placements.map((p) => p?.procId).sort(), [0, 1, 2, 3]);
    assert.equal(new Set(placements.map((p) => p?.stepId)).size, 4, 'a step each');
    assert.deepEqual(jobSteps(job).sort(), placements.map((p) => `${job}.${p?.stepId}`).sort());

    const ranks = await t.group
      .remoteExec(
        'import os; channel.send((int(os.environ["SLURM_PROCID"]), int(os.environ["SLURM_NTASKS"]), os.environ["SLURM_JOB_ID"]))',
      )
      .receiveEach(10);
    assert.deepEqual(
      ranks.map((r) => [...(r as unknown[])]).sort(),
      [0, 1, 2, 3].map((i) => [i, 4, job]),
    );
  });

  test('slurm_tasks=N in the spec is the count; ids follow id= as ID-0, ID-1', async () => {
    const gateways = await t.group.makeGateways(t.spec('id=task//slurm_tasks=2'));
    t.saw(...gateways);
    assert.deepEqual(
      gateways.map((g) => g.id),
      ['task-0', 'task-1'],
    );
    assert.equal(gateways[0].info.slurm?.jobId, gateways[1].info.slurm?.jobId);
  });
});

describe('ending a fan-out', () => {
  test('terminating one gateway ends its step only; the last one gives the allocation back', async () => {
    const t = slurmGroup('steps');
    try {
      const [a, b] = await t.group.makeGateways(t.spec(), 2);
      t.saw(a, b);
      const job = a.info.slurm?.jobId ?? '';
      await a.terminate(5);
      assert.deepEqual(await stepsBecome(job, [`${job}.${b.info.slurm?.stepId}`]), [
        `${job}.${b.info.slurm?.stepId}`,
      ]);
      assert.deepEqual(listedJobs([job]), [`${job} RUNNING`]);
      assert.equal(await b.remoteExec('channel.send(1)').receive(10), 1);
      await b.terminate(5);
      assert.deepEqual(await jobsLeft([job]), [], 'the allocation is given back');
    } finally {
      await t.close();
    }
  });

  test('a gateway that ignores the request to exit is killed: its step ends', async () => {
    const t = slurmGroup('kill');
    try {
      const [gateway, other] = await t.group.makeGateways(t.spec(), 2);
      t.saw(gateway);
      const channel = gateway.remoteExec(
        'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nchannel.send(1)\nwhile True: time.sleep(1)',
      );
      await channel.receive(10);
      const started = Date.now();
      await gateway.terminate(0.5);
      assert.ok(Date.now() - started < 15_000, 'terminate returns soon after its timeout');
      const job = gateway.info.slurm?.jobId ?? '';
      assert.deepEqual(await stepsBecome(job, [`${job}.${other.info.slurm?.stepId}`]), [
        `${job}.${other.info.slurm?.stepId}`,
      ]);
      await other.terminate(5);
      assert.deepEqual(await leftoverProcesses(t.mark, 10_000), []);
    } finally {
      await t.close();
    }
  });
});
