// Sync Workspace to Gateway: mirrors the workspace folder to a folder through a popen gateway,
// leaving out what .gitignore and execnet.rsync.exclude name; with execnet.syncBeforeRun a run
// syncs first and runs in the mirror.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { Run } from '../../../src/extension/session';
import type { SyncResult } from '../../../src/extension/sync';
import {
  newGateway,
  openFile,
  terminateAll,
  waitEnd,
  waitOutput,
  workspaceFolder,
} from '../helpers';

describe('sync workspace', () => {
  let target: string;

  before(() => {
    target = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-sync-'));
  });
  after(async () => {
    const config = vscode.workspace.getConfiguration('execnet');
    await config.update('syncBeforeRun', undefined, vscode.ConfigurationTarget.Workspace);
    await config.update('rsync.target', undefined, vscode.ConfigurationTarget.Workspace);
    await terminateAll();
    fs.rmSync(target, { recursive: true, force: true });
  });

  it('mirrors the workspace to a folder, honouring .gitignore and execnet.rsync.exclude', async () => {
    const entry = await newGateway('local');
    const destination = path.join(target, 'mirror');
    const result = await vscode.commands.executeCommand<SyncResult | undefined>(
      'execnet.syncWorkspace',
      entry,
      destination,
    );
    assert.ok(result, 'the sync did not happen');
    assert.equal(result.cancelled, false);
    assert.equal(result.summary.errors, 0);
    assert.ok(result.summary.filesSent >= 5, `${result.summary.filesSent} files sent`);
    const synced = fs.readdirSync(destination).sort();
    assert.ok(synced.includes('hello.py') && synced.includes('ratios.py'), synced.join(', '));
    assert.ok(!synced.includes('ignored-by-git.txt'), '.gitignore was not honoured');
    assert.ok(!synced.includes('__pycache__'), 'execnet.rsync.exclude was not honoured');
    assert.equal(
      fs.readFileSync(path.join(destination, 'hello.py'), 'utf8'),
      fs.readFileSync(path.join(workspaceFolder().fsPath, 'hello.py'), 'utf8'),
    );
    // the mapping the sync used is kept with the gateway (debugging and traceback links use it)
    assert.deepEqual(
      { local: result.mapping?.localRoot, remote: result.mapping?.remoteRoot },
      { local: workspaceFolder().fsPath, remote: destination },
    );
    assert.equal(entry.sync, result.mapping);

    const again = await vscode.commands.executeCommand<SyncResult | undefined>(
      'execnet.syncWorkspace',
      entry,
      destination,
    );
    assert.equal(again?.summary.filesSent, 0, 'an unchanged workspace sent files again');
  });

  it('with syncBeforeRun, syncs first and runs in the mirror', async () => {
    const config = vscode.workspace.getConfiguration('execnet');
    const mirror = path.join(target, 'before-run');
    await config.update('rsync.target', mirror, vscode.ConfigurationTarget.Workspace);
    await config.update('syncBeforeRun', true, vscode.ConfigurationTarget.Workspace);
    await newGateway('local');
    await openFile('cwd.py');
    const run = await vscode.commands.executeCommand<Run | undefined>('execnet.runFile');
    assert.ok(run);
    await waitEnd(run);
    const text = await waitOutput(run, /finished in/);
    assert.ok(text.includes(`cwd ${fs.realpathSync(mirror)}`), text);
    assert.ok(fs.existsSync(path.join(mirror, 'cwd.py')));
  });
});
