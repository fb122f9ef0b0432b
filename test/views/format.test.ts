// The words the views use for durations, gateways and runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RemoteError } from '../../src/core/errors';
import type { RemoteInfo } from '../../src/core/gateway';
import type { GatewayEntry, Run, RunOutcome } from '../../src/extension/session';
import type { SlurmAllocation } from '../../src/core/transports/slurm';
import type { GroupEntry } from '../../src/extension/session';
import {
  describeGateway,
  describeGroup,
  describeOutcome,
  endLine,
  formatDuration,
  outputName,
  placementDetails,
  startLine,
  TRACEBACK_FRAME,
} from '../../src/views/format';

const info: RemoteInfo = {
  executable: '/usr/bin/python3',
  version: [3, 11, 2],
  versionString: '3.11.2',
  implementation: 'cpython',
  platform: 'linux',
  pid: 42,
  cwd: '/',
  hostname: 'box',
  execmodel: 'thread',
};

function fakeRun(outcome: RunOutcome | undefined, ms = 1234): Run {
  const startedAt = new Date(2026, 0, 1, 14, 3, 7);
  const entry = { id: 'gw1', info, state: 'alive' } as unknown as GatewayEntry;
  return {
    label: 'train.py',
    entry,
    startedAt,
    endedAt: outcome ? new Date(startedAt.getTime() + ms) : undefined,
    outcome,
  } as unknown as Run;
}

test('durations read naturally at every scale', () => {
  assert.equal(formatDuration(12), '0.01 s');
  assert.equal(formatDuration(1234), '1.23 s');
  assert.equal(formatDuration(12_345), '12.3 s');
  assert.equal(formatDuration(125_000), '2 min 05 s');
  assert.equal(formatDuration(3_725_000), '1 h 02 min');
});

test('CPython is Python, whatever its case; other implementations keep their name', () => {
  const entry = (implementation: string) =>
    ({ state: 'alive', info: { ...info, implementation } }) as unknown as GatewayEntry;
  assert.equal(describeGateway(entry('CPython')), 'alive · Python 3.11.2 on box');
  assert.equal(describeGateway(entry('PyPy')), 'alive · PyPy 3.11.2 on box');
});

test('a gateway is described by its state and interpreter, a dead one by why', () => {
  assert.equal(
    describeGateway({ state: 'alive', info } as unknown as GatewayEntry),
    'alive · Python 3.11.2 on box',
  );
  assert.equal(
    describeGateway({ state: 'connecting', spec: 'ssh=h' } as unknown as GatewayEntry),
    'connecting · ssh=h',
  );
  assert.equal(
    describeGateway({
      state: 'dead',
      reason: 'exited with status 1\nstderr...',
    } as unknown as GatewayEntry),
    'dead: exited with status 1',
  );
});

test('output channels are named after the gateway and the file, short enough for the list', () => {
  assert.equal(outputName(fakeRun(undefined)), 'gw1: train.py');
});

test('status lines say when a run started and how it ended', () => {
  assert.equal(
    startLine(fakeRun(undefined)),
    '[execnet] train.py started on gw1 (Python 3.11.2 on box) at 14:03:07',
  );
  assert.equal(endLine(fakeRun({ kind: 'ok' })), '[execnet] train.py on gw1 finished in 1.23 s');
  assert.equal(
    endLine(fakeRun({ kind: 'exit', code: 3, message: '3' })),
    '[execnet] train.py on gw1 exited with status 3 after 1.23 s',
  );
  const error = new RemoteError({ type: 'ValueError', message: 'bad', traceback: '', frames: [] });
  assert.equal(
    endLine(fakeRun({ kind: 'error', error })),
    '[execnet] train.py on gw1 failed after 1.23 s: ValueError: bad',
  );
  assert.equal(describeOutcome({ kind: 'interrupted', error }), 'interrupted');
  const killed = new RemoteError({
    type: 'ExecKilled',
    message: 'killed by the local side (2 processes it started ended)',
    traceback: '',
    frames: [],
  });
  assert.equal(describeOutcome({ kind: 'killed', error: killed }), 'stopped');
  assert.equal(
    endLine(fakeRun({ kind: 'killed', error: killed })),
    '[execnet] train.py on gw1 was stopped after 1.23 s: it did not end when interrupted; 2 processes it started ended',
  );
  assert.equal(
    endLine(fakeRun({ kind: 'gateway-closed', message: 'gateway gw1 was terminated\nmore' })),
    '[execnet] train.py on gw1 stopped after 1.23 s: gateway gw1 was terminated',
  );
});

test('traceback frames are found with their file and line', () => {
  const text = '  File "/a b/x.py", line 12, in f\n  File "<string>", line 1, in <module>\n';
  assert.deepEqual(
    [...text.matchAll(TRACEBACK_FRAME)].map((m) => [m[1], m[2]]),
    [
      ['/a b/x.py', '12'],
      ['<string>', '1'],
    ],
  );
});

test('a Slurm gateway says its job, step and node; a container gateway its container', () => {
  const slurm = {
    ...info,
    slurm: { jobId: '12', stepId: '3', node: 'node01', procId: 2, tasks: 4, owned: true },
  };
  assert.equal(
    describeGateway({ state: 'alive', info: slurm } as unknown as GatewayEntry),
    'alive · job 12.3 on node01 · Python 3.11.2',
  );
  assert.equal(
    placementDetails(slurm),
    'Slurm job 12, step 3 on node01, task 2 of 4 (cancelled when its gateways end)',
  );
  const joined = { ...info, slurm: { ...slurm.slurm, tasks: 1, procId: 0, owned: false } };
  assert.equal(
    placementDetails(joined),
    'Slurm job 12, step 3 on node01 (a job of someone else, left running)',
  );
  const container = {
    ...info,
    container: { engine: 'podman', container: 'execnet-1a2b', image: 'py:3.12', pid: 1 },
  } as const;
  assert.equal(
    describeGateway({ state: 'closing', info: container } as unknown as GatewayEntry),
    'closing · podman execnet-1a2b · Python 3.11.2',
  );
  assert.equal(
    placementDetails(container),
    'podman container execnet-1a2b (a fresh one of py:3.12, removed at the end), pid 1 inside',
  );
  assert.equal(placementDetails(info), undefined);
});

test('a gateway waiting to start says for what; a group row names its allocation', () => {
  assert.equal(
    describeGateway({
      state: 'connecting',
      spec: 'slurm',
      progress: 'job 7 pending: Resources',
    } as unknown as GatewayEntry),
    'connecting · job 7 pending: Resources',
  );
  const gateways = [{ state: 'alive' }, { state: 'dead' }];
  const group = (allocation?: Partial<SlurmAllocation>) =>
    ({
      gateways,
      alive: gateways.filter((g) => g.state === 'alive'),
      allocation,
    }) as unknown as GroupEntry;
  assert.equal(describeGroup(group()), '1 of 2 alive');
  assert.equal(
    describeGroup(group({ jobId: '7', state: 'running' })),
    'job 7 running · 1 of 2 alive',
  );
});
