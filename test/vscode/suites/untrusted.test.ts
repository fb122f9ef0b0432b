// In Restricted Mode the extension activates but runs nothing, and says why.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, openFile } from '../helpers';

describe('untrusted workspace', () => {
  it('is what this host opened', () => {
    assert.equal(vscode.workspace.isTrusted, false);
  });

  it('refuses to start gateways or run code', async () => {
    const ext = await api();
    assert.equal(await vscode.commands.executeCommand('execnet.newGateway', 'local'), undefined);
    await openFile('hello.py');
    assert.equal(await vscode.commands.executeCommand('execnet.runFile'), undefined);
    assert.equal(await vscode.commands.executeCommand('execnet.runSelection'), undefined);
    assert.deepEqual(await vscode.commands.executeCommand('execnet.runFileOnGroup', 'pair'), []);
    assert.equal(await vscode.commands.executeCommand('execnet.debugFile'), false);
    assert.equal(vscode.debug.activeDebugSession, undefined);
    assert.equal(ext.session.entries.length, 0);
  });
});
