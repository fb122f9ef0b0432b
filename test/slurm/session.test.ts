// The editor's model (src/extension/session.ts, plain Node) on the real cluster: a Slurm fan-out
// from a spec is N gateway entries in a group of their own with the allocation's job, a run on
// each task, and terminating the group gives the job back; a pending start shows squeue's reason
// and terminating it while it waits cancels the job at once.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Session, type Run } from '../../src/extension/session';
import { describeGateway, describeGroup } from '../../src/views/format';
import { leftoverProcesses, newMark } from '../helpers/processes';
import { jobsLeft, listedJobs, requireCluster, slurmSpec } from '../helpers/slurm';
import { SLURM_CPUS } from '../helpers/slurmCluster';

before(() => {
  requireCluster();
});

const sessions: Session[] = [];
after(async () => {
  await Promise.all(sessions.map((s) => s.shutdown(2)));
});

function newSession(): Session {
  const session = new Session({ terminateTimeout: () => 5 });
  sessions.push(session);
  return session;
}

function ended(run: Run): Promise<string> {
  return new Promise((resolve) => {
    const text = (): string => run.events.map((e) => (e.kind === 'output' ? e.text : '')).join('');
    if (run.outcome) {
      resolve(text());
      return;
    }
    run.onEvent((event) => event.kind === 'end' && resolve(text()));
  });
}

test('a fan-out is a group of entries on one allocation; terminating the group ends the job', async () => {
  const session = newSession();
  const mark = newMark();
  const { entry, entries, ready } = session.startGateway(slurmSpec(mark, 'slurm_tasks=3'), {
    name: 'cluster',
  });
  assert.deepEqual(
    entries.map((e) => e.id),
    ['cluster-0', 'cluster-1', 'cluster-2'],
  );
  assert.equal(entry, entries[0]);
  assert.equal(entry.group.name, 'cluster', 'a group of its own, named after it');
  assert.ok(entries.every((e) => e.state === 'connecting'));
  await ready;
  const group = entry.group;
  const job = group.allocation?.jobId ?? '';
  assert.match(job, /^\d+$/);
  assert.equal(describeGroup(group), `job ${job} running · 3 of 3 alive`);
  for (const e of entries) {
    assert.equal(e.info?.slurm?.jobId, job);
    assert.match(
      describeGateway(e),
      new RegExp(`^alive · job ${job}\\.\\d+ on localhost · Python 3`),
    );
  }
  const runs = entries.map((e) =>
    session.run(e, {
      text: 'import os\nprint("task", os.environ["SLURM_PROCID"], "of", os.environ["SLURM_NTASKS"])',
      label: 'rank.py',
      kind: 'file',
    }),
  );
  const outputs = await Promise.all(runs.map(ended));
  assert.deepEqual(outputs.sort(), ['task 0 of 3\n', 'task 1 of 3\n', 'task 2 of 3\n']);

  await session.terminateGroup(group);
  assert.ok(entries.every((e) => e.state === 'dead'));
  assert.deepEqual(await jobsLeft([job]), []);
  assert.equal(group.allocation?.state, 'ended');
  assert.match(describeGroup(group), new RegExp(`^job ${job} ended · 0 of 3 alive`));
  assert.deepEqual(await leftoverProcesses(mark), []);
});

test('a start waiting in the queue shows why, and terminating it cancels the job at once', async () => {
  const session = newSession();
  const { entry, ready } = session.startGateway(slurmSpec(newMark(), `slurm=-c ${SLURM_CPUS * 8}`));
  ready.catch(() => undefined);
  const deadline = Date.now() + 15_000;
  while (!/pending: PartitionConfig/.test(entry.progress ?? '') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const job = /^job (\d+) pending/.exec(entry.progress ?? '')?.[1] ?? '';
  assert.equal(describeGateway(entry), `connecting · job ${job} pending: PartitionConfig`);
  const started = Date.now();
  await session.terminate(entry);
  await assert.rejects(ready);
  assert.ok(Date.now() - started < 10_000, 'given up at once, not at the pending timeout');
  assert.equal(entry.state, 'dead');
  assert.equal(entry.reason, 'cancelled while it started');
  assert.deepEqual(await jobsLeft([job]), []);
});

test('closing the window (the session shuts down) gives every allocation back', async () => {
  const session = new Session({ terminateTimeout: () => 5 });
  const mark = newMark();
  const fanout = session.startGateway(slurmSpec(mark, 'slurm_tasks=2'), { name: 'closing' });
  const single = session.startGateway(slurmSpec(mark));
  await Promise.all([fanout.ready, single.ready]);
  const jobs = [fanout.entry.group.allocation?.jobId ?? '', single.entry.info?.slurm?.jobId ?? ''];
  assert.equal(listedJobs(jobs).length, 2);
  await session.shutdown();
  assert.deepEqual(await jobsLeft(jobs), []);
  assert.deepEqual(await leftoverProcesses(mark), []);
});

test("cancelling one task of a fan-out that waits in the queue cancels the fan-out's start", async () => {
  const session = newSession();
  const { entries, ready } = session.startGateway(
    slurmSpec(newMark(), `slurm=-c ${SLURM_CPUS * 8}//slurm_tasks=2`),
    { name: 'waiting' },
  );
  ready.catch(() => undefined);
  const deadline = Date.now() + 15_000;
  while (!/pending/.test(entries[1].progress ?? '') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const job = /^job (\d+) pending/.exec(entries[1].progress ?? '')?.[1] ?? '';
  assert.match(job, /^\d+$/);
  await session.terminate(entries[0]);
  await assert.rejects(ready);
  assert.deepEqual(
    entries.map((e) => [e.state, e.reason]),
    [
      ['dead', 'cancelled while it started'],
      ['dead', 'cancelled while it started'],
    ],
  );
  assert.deepEqual(await jobsLeft([job]), []);
});

test('starting a configured fan-out again while it runs names the second one gwN-0 …', async () => {
  const session = newSession();
  const mark = newMark();
  const first = session.startGateway(slurmSpec(mark, 'slurm_tasks=2'), { name: 'twice' });
  await first.ready;
  const second = session.startGateway(slurmSpec(mark, 'slurm_tasks=2'), { name: 'twice' });
  await second.ready;
  assert.deepEqual(
    first.entries.map((e) => e.id),
    ['twice-0', 'twice-1'],
  );
  assert.match(second.entries.map((e) => e.id).join(' '), /^gw(\d+)-0 gw\1-1$/);
  assert.notEqual(first.entry.info?.slurm?.jobId, second.entry.info?.slurm?.jobId);
  const jobs = [first.entry, second.entry].map((e) => e.info?.slurm?.jobId ?? '');
  await session.shutdown();
  assert.deepEqual(await jobsLeft(jobs), []);
});
