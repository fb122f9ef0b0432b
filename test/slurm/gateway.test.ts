// One slurm gateway on the real cluster (test/slurm/system.ts) is a job of its own: it runs
// code, streams output, says where it runs, and terminating it ends the job and its processes.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Group } from '../../src/core/group';
import { leftoverProcesses, newMark } from '../helpers/processes';
import { jobsLeft, listedJobs, requireCluster, slurmGroup, slurmSpec } from '../helpers/slurm';

before(() => {
  requireCluster();
});

describe('one slurm gateway', () => {
  const t = slurmGroup();
  after(() => t.close());

  test('runs code as a job of its own and reports job, step and node', async () => {
    const gateway = await t.group.makeGateway(t.spec());
    t.saw(gateway);
    const slurm = gateway.info.slurm;
    assert.ok(slurm, 'info.slurm is set');
    assert.match(slurm.jobId, /^\d+$/);
    assert.equal(slurm.stepId, '0');
    assert.equal(slurm.node, 'localhost');
    assert.deepEqual([slurm.procId, slurm.tasks, slurm.owned], [0, 1, true]);
    assert.match(gateway.description, new RegExp(`^slurm step ${slurm.jobId}\\.0 on localhost`));
    const channel = gateway.remoteExec(
      'import os; channel.send([os.environ[k] for k in ("SLURM_JOB_ID", "SLURM_STEP_ID", "SLURMD_NODENAME")])',
    );
    assert.deepEqual(await channel.receive(10), [slurm.jobId, '0', 'localhost']);
    assert.deepEqual(listedJobs([slurm.jobId]), [`${slurm.jobId} RUNNING`]);
  });

  test('streams output and carries channel data both ways, bytes intact', async () => {
    const gateway = await t.group.makeGateway(t.spec());
    t.saw(gateway);
    const channel = gateway.remoteExec(
      'print("hello from", __import__("os").environ["SLURMD_NODENAME"], flush=True)\n' +
        'for item in channel: channel.send(item)',
    );
    const output: string[] = [];
    channel.onOutput(({ data }) => output.push(data.toString()));
    const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = Buffer.alloc(4 << 20, 7);
    await channel.send(payload);
    await channel.send('näive ✓');
    await channel.send(big);
    assert.deepEqual(await channel.receive(10), payload);
    assert.equal(await channel.receive(10), 'näive ✓');
    assert.ok(big.equals((await channel.receive(30)) as Buffer), '4 MiB come back intact');
    channel.close();
    await channel.waitClose(10);
    assert.match(output.join(''), /hello from localhost/);
  });
});

describe('ending', () => {
  test('terminate ends the job: squeue no longer lists it, no task process is left', async () => {
    const mark = newMark();
    const group = new Group('one');
    const gateway = await group.makeGateway(slurmSpec(mark));
    const job = gateway.info.slurm?.jobId ?? '';
    try {
      const channel = gateway.remoteExec(
        'import subprocess, time\nsubprocess.Popen(["sleep", "300"])\nchannel.send("up")\ntime.sleep(300)',
      );
      assert.equal(await channel.receive(10), 'up');
      await gateway.terminate(1);
    } finally {
      await group.terminate(0);
    }
    assert.deepEqual(await jobsLeft([job]), []);
    assert.deepEqual(await leftoverProcesses(mark), []);
  });
});
