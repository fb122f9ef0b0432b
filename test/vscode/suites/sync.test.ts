// Sync Workspace to Gateway: mirrors the workspace to a folder through a popen gateway.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { newGateway, terminateAll } from '../helpers';

describe('sync workspace', () => {
  after(terminateAll);

  it('answers, even where this build has no rsync', async () => {
    const entry = await newGateway('local');
    const result = await vscode.commands.executeCommand('execnet.syncWorkspace', entry);
    assert.equal(result, undefined);
  });
});
