// Slurm gateways in the real editor, on the private cluster the editor tier starts (SLURM_CONF):
// a configured fan-out starts as a group of tasks on one allocation, Run File on Group runs on
// every task, Terminate Group gives the job back; with a login node (via=), Run File on Group
// syncs once through it and runs on the tasks only; Debug File on Gateway stops in a task.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import * as vscode from 'vscode';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { GatewayEntry, GroupEntry, Run } from '../../../src/extension/session';
import { describeGateway, describeGroup } from '../../../src/views/format';
import {
  api,
  newGateway,
  openFile,
  terminateAll,
  waitFor,
  waitOutput,
  workspaceFile,
} from '../helpers';

const PYTHON = '/usr/bin/python3';

const SLURM_GATEWAYS = [
  { name: 'cluster', spec: `slurm//python=${PYTHON}//slurm_tasks=3` },
  { name: 'login', spec: `popen//python=${PYTHON}`, group: 'hpc' },
  {
    name: 'hpc-tasks',
    spec: `slurm//python=${PYTHON}//via=login//slurm_tasks=2`,
    group: 'hpc',
    rsyncTarget: '/tmp/execnet-slurm-sync/${workspaceFolderBasename}',
  },
];

const RANK_PY = `import os
print("task", os.environ["SLURM_PROCID"], "of", os.environ["SLURM_NTASKS"], "in", os.getcwd())
`;

const FAIL_PY = `def share(total, parts):
    return total / parts  # raises on a task with nothing to share


print(share(1, 0))
`;

function listed(job: string): string[] {
  return execFileSync('squeue', ['-h', '-j', job, '-o', '%i'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.trim() === job);
}

async function group(name: string): Promise<GroupEntry> {
  const found = (await api()).session.findGroup(name);
  assert.ok(found, `no group ${name}`);
  return found;
}

describe('Slurm gateways', function () {
  let saved: unknown;

  before(async function () {
    if (!process.env.SLURM_CONF) {
      // the editor tier says loudly why the cluster did not start
      this.skip();
    }
    const config = vscode.workspace.getConfiguration('execnet');
    saved = config.get('gateways');
    await config.update(
      'gateways',
      [...((saved as unknown[]) ?? []), ...SLURM_GATEWAYS],
      vscode.ConfigurationTarget.Workspace,
    );
    fs.writeFileSync(workspaceFile('rank.py').fsPath, RANK_PY);
    fs.writeFileSync(workspaceFile('share.py').fsPath, FAIL_PY);
  });
  after(async function () {
    if (!process.env.SLURM_CONF) {
      return;
    }
    await terminateAll();
    const config = vscode.workspace.getConfiguration('execnet');
    await config.update('gateways', saved, vscode.ConfigurationTarget.Workspace);
    await config.update('syncBeforeRun', undefined, vscode.ConfigurationTarget.Workspace);
    fs.rmSync(workspaceFile('rank.py').fsPath, { force: true });
    fs.rmSync(workspaceFile('share.py').fsPath, { force: true });
    fs.rmSync('/tmp/execnet-slurm-sync', { recursive: true, force: true });
  });

  it('New Gateway starts a fan-out: a group of tasks on one allocation, each row with its job, step and node', async () => {
    const first = await newGateway('cluster');
    const cluster = await group('cluster');
    assert.deepEqual(
      cluster.gateways.map((e) => e.id),
      ['cluster-0', 'cluster-1', 'cluster-2'],
    );
    const job = cluster.allocation?.jobId ?? '';
    assert.match(job, /^\d+$/);
    await waitFor('every task alive', () => cluster.alive.length === 3);
    assert.equal(describeGroup(cluster), `job ${job} running · 3 of 3 alive`);
    for (const entry of cluster.gateways) {
      assert.match(describeGateway(entry), new RegExp(`^alive · job ${job}\\.\\d+ on localhost`));
    }
    assert.equal(first, cluster.gateways[0]);
    assert.deepEqual(listed(job), [job]);
  });

  it('Run File on Group runs the file on every task, each knowing its rank', async () => {
    await openFile('rank.py');
    const runs = await vscode.commands.executeCommand<Run[]>('execnet.runFileOnGroup', 'cluster');
    assert.equal(runs.length, 3);
    const texts = await Promise.all(runs.map((run) => waitOutput(run, /task \d of 3/)));
    assert.deepEqual(texts.map((text) => /task (\d) of 3/.exec(text)?.[1]).sort(), ['0', '1', '2']);
  });

  it('Terminate Group ends the tasks and gives the allocation back', async () => {
    const cluster = await group('cluster');
    const job = cluster.allocation?.jobId ?? '';
    await vscode.commands.executeCommand('execnet.terminateGroup', cluster);
    await waitFor('the tasks to be dead', () => cluster.gateways.every((e) => e.state === 'dead'));
    await waitFor(`job ${job} to leave squeue`, () => listed(job).length === 0, 20_000);
    await waitFor('the allocation to end', () => cluster.allocation?.state === 'ended');
  });

  it('with a login node, Run File on Group syncs once through it and runs on the tasks only', async () => {
    const config = vscode.workspace.getConfiguration('execnet');
    await config.update('syncBeforeRun', true, vscode.ConfigurationTarget.Workspace);
    await openFile('rank.py');
    const runs = await vscode.commands.executeCommand<Run[]>('execnet.runFileOnGroup', 'hpc');
    const hpc = await group('hpc');
    assert.deepEqual(hpc.gateways.map((e) => e.id).sort(), ['hpc-tasks-0', 'hpc-tasks-1', 'login']);
    assert.deepEqual(runs.map((run) => run.entry.id).sort(), ['hpc-tasks-0', 'hpc-tasks-1']);
    const mirror = `/tmp/execnet-slurm-sync/${vscode.workspace.workspaceFolders?.[0].name}`;
    for (const run of runs) {
      await waitOutput(run, new RegExp(`task \\d of 2 in ${mirror}`));
      assert.equal(run.entry.sync?.remoteRoot, mirror);
    }
    assert.ok(fs.existsSync(`${mirror}/rank.py`), 'the file is in the mirror');
    await config.update('syncBeforeRun', undefined, vscode.ConfigurationTarget.Workspace);
  });

  it('Debug File on Gateway stops in a Slurm task where the exception is raised', async () => {
    const hpc = await group('hpc');
    const entry = hpc.gateways.find((e) => e.id === 'hpc-tasks-0') as GatewayEntry;
    await openFile('share.py');
    const stopped = new Promise<DebugProtocol.StoppedEvent>((resolve) => {
      const tracker = vscode.debug.registerDebugAdapterTrackerFactory('execnet', {
        createDebugAdapterTracker: () => ({
          onDidSendMessage: (message: DebugProtocol.ProtocolMessage) => {
            if (message.type === 'event' && (message as DebugProtocol.Event).event === 'stopped') {
              tracker.dispose();
              resolve(message as DebugProtocol.StoppedEvent);
            }
          },
        }),
      });
    });
    assert.ok(await vscode.commands.executeCommand<boolean>('execnet.debugFile', entry));
    const event = await stopped;
    assert.equal(event.body.reason, 'exception');
    await waitFor('the editor at share.py:2', () => {
      const editor = vscode.window.activeTextEditor;
      return editor?.document.uri.fsPath.endsWith('share.py') && editor.selection.active.line === 1;
    });
    await vscode.debug.stopDebugging();
    assert.equal(entry.state, 'alive', 'the task lives on');
  });
});
