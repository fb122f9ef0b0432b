// Gateways: from the settings and from a spec, shown in the model the tree renders, terminated
// on request; bad specs are refused before anything starts.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, isRunning, newGateway, terminateAll, waitFor } from '../helpers';

describe('gateways', () => {
  afterEach(terminateAll);

  it('starts a popen gateway from execnet.gateways, named after its entry', async () => {
    const ext = await api();
    const entry = await newGateway('local');
    assert.equal(entry.id, 'local');
    assert.equal(entry.configName, 'local');
    assert.equal(entry.group.name, 'default');
    assert.ok(entry.info, 'no interpreter info');
    assert.match(entry.info.versionString, /^3\./);
    assert.ok(ext.session.groups.some((g) => g.gateways.includes(entry)));
    assert.equal(ext.session.defaultEntry, entry);
    assert.match(ext.statusText(), /local/);
  });

  it('starts a gateway from a spec, in the group asked for', async () => {
    const entry = await newGateway({ spec: 'popen//execmodel=main_thread_only', group: 'extra' });
    assert.match(entry.id, /^gw\d+$/);
    assert.equal(entry.group.name, 'extra');
    assert.equal(entry.info?.execmodel, 'main_thread_only');
  });

  it('replaces ${workspaceFolder} in a spec', async () => {
    const entry = await newGateway({ spec: 'popen//chdir=${workspaceFolder}' });
    assert.equal(entry.info?.cwd, vscode.workspace.workspaceFolders?.[0].uri.fsPath);
  });

  it("refuses a bad spec with the parser's message, starting nothing", async () => {
    const ext = await api();
    const before = ext.session.entries.length;
    const entry = await vscode.commands.executeCommand('execnet.newGateway', {
      spec: 'popen//nice=abc',
    });
    assert.equal(entry, undefined);
    assert.equal(ext.session.entries.length, before);
  });

  it('a gateway that cannot start is dead with the reason', async () => {
    const ext = await api();
    const entry = await vscode.commands.executeCommand('execnet.newGateway', {
      spec: 'popen//python=/nonexistent/python3',
    });
    assert.equal(entry, undefined);
    const dead = ext.session.entries.find((e) => e.spec.includes('/nonexistent/python3'));
    assert.ok(dead);
    assert.equal(dead.state, 'dead');
    assert.match(dead.reason ?? '', /nonexistent/);
  });

  it('terminates a gateway: it is dead and its interpreter is gone', async () => {
    const entry = await newGateway({ spec: 'popen' });
    const pid = entry.info?.pid;
    assert.ok(pid && isRunning(pid));
    await vscode.commands.executeCommand('execnet.terminateGateway', entry);
    await waitFor('the gateway to be dead', () => entry.state === 'dead');
    await waitFor(`pid ${pid} to exit`, () => !isRunning(pid));
  });

  it('shows the remote status', async () => {
    const entry = await newGateway({ spec: 'popen' });
    const status = await vscode.commands.executeCommand<{ numchannels: number; pid: number }>(
      'execnet.remoteStatus',
      entry,
    );
    assert.equal(status?.pid, entry.info?.pid);
  });
});
