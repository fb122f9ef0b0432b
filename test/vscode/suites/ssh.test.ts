// ssh gateways from the editor, against the private sshd the runner starts on 127.0.0.1
// (EXECNET_TEST_SSH): run a file there and sync the workspace to it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { Run } from '../../../src/extension/session';
import type { SyncResult } from '../../../src/extension/sync';
import { newGateway, openFile, terminateAll, waitEnd, waitOutput } from '../helpers';

const sshd = process.env.EXECNET_TEST_SSH
  ? (JSON.parse(process.env.EXECNET_TEST_SSH) as { known: string })
  : undefined;

describe('ssh gateways', function () {
  let target: string;

  before(function () {
    if (!sshd) {
      this.skip();
    }
    target = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-ssh-sync-'));
  });
  after(async () => {
    await terminateAll();
    if (target) {
      fs.rmSync(target, { recursive: true, force: true });
    }
  });

  it('runs a file on an ssh gateway', async () => {
    const entry = await newGateway({ spec: sshd?.known ?? '', name: 'loopback' });
    assert.equal(entry.id, 'loopback');
    await openFile('hello.py');
    const run = await vscode.commands.executeCommand<Run | undefined>('execnet.runFile', entry);
    assert.ok(run);
    await waitEnd(run);
    const text = await waitOutput(run, /finished in/);
    assert.match(text, /^\[execnet\] hello\.py started on loopback \(Python 3/m);
    assert.match(text, /^\[channel\] \('hello', /m);
  });

  it('syncs the workspace through the ssh gateway', async () => {
    const entry = await newGateway({ spec: sshd?.known ?? '' });
    const destination = path.join(target, 'mirror');
    const result = await vscode.commands.executeCommand<SyncResult | undefined>(
      'execnet.syncWorkspace',
      entry,
      destination,
    );
    assert.ok(result);
    assert.equal(result.summary.errors, 0);
    assert.ok(fs.existsSync(path.join(destination, 'fanout.py')));
    assert.equal(entry.sync?.remoteRoot, destination);
  });
});
