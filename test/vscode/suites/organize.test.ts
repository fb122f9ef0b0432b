// Gateways and groups without editing JSON: New Group with a gateway in it, Add Gateway to Group,
// Move to Group (Run File on Group then runs there), Save Gateway to Settings, and typed specs
// remembered for New Gateway.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { GatewayEntry, GroupEntry, Run } from '../../../src/extension/session';
import { api, newGateway, openFile, terminateAll, waitEnd } from '../helpers';

describe('organizing gateways', () => {
  after(async () => {
    const config = vscode.workspace.getConfiguration('execnet');
    const saved = (config.inspect<{ name: string }[]>('gateways')?.workspaceValue ?? []).filter(
      (g) => g.name !== 'saved-one',
    );
    await config.update('gateways', saved, vscode.ConfigurationTarget.Workspace);
    await terminateAll();
  });

  it('New Group makes a group with the gateway it starts; Add Gateway to Group adds another', async () => {
    const ext = await api();
    const group = await vscode.commands.executeCommand<GroupEntry | undefined>(
      'execnet.newGroup',
      'lab',
      { spec: 'popen' },
    );
    assert.ok(group);
    assert.equal(group.name, 'lab');
    assert.deepEqual(
      group.gateways.map((e) => e.state),
      ['alive'],
    );
    const second = await vscode.commands.executeCommand<GatewayEntry | undefined>(
      'execnet.addGatewayToGroup',
      group,
      { spec: 'popen//id=lab2' },
    );
    assert.equal(second?.group, group);
    assert.deepEqual(
      ext.session
        .findGroup('lab')
        ?.alive.map((e) => e.id)
        .sort(),
      [group.gateways[0].id, 'lab2'].sort(),
    );
    // a typed spec is offered again by New Gateway
    assert.equal(ext.recentSpecs()[0], 'popen//id=lab2');
    // a name that is taken is refused
    assert.equal(await vscode.commands.executeCommand('execnet.newGroup', 'lab'), undefined);
  });

  it('Move to Group shows a gateway in another group, where Run File on Group runs it', async () => {
    const ext = await api();
    const moved = await newGateway({ spec: 'popen//id=mover' });
    assert.equal(moved.group.name, 'default');
    const target = await vscode.commands.executeCommand<GroupEntry | undefined>(
      'execnet.moveToGroup',
      moved,
      'lab',
    );
    assert.equal(target?.name, 'lab');
    assert.equal(moved.group.name, 'lab');
    assert.ok(!ext.session.findGroup('default')?.gateways.includes(moved));
    await openFile('hello.py');
    const runs = await vscode.commands.executeCommand<Run[]>('execnet.runFileOnGroup', 'lab');
    assert.ok(runs.some((r) => r.entry === moved));
    await Promise.all(runs.map((r) => waitEnd(r)));
    assert.ok(runs.every((r) => r.outcome?.kind === 'ok'));
  });

  it('Save Gateway to Settings writes the typed spec, its name and group to execnet.gateways', async () => {
    const ext = await api();
    const lab2 = ext.session.findEntry('lab2');
    assert.ok(lab2);
    const saved = await vscode.commands.executeCommand<boolean>(
      'execnet.saveGatewayToSettings',
      lab2,
      { name: 'saved-one', where: 'workspace' },
    );
    assert.equal(saved, true);
    const entries = vscode.workspace
      .getConfiguration('execnet')
      .get<{ name: string; spec: string; group?: string }[]>('gateways');
    assert.deepEqual(
      entries?.find((g) => g.name === 'saved-one'),
      { name: 'saved-one', spec: 'popen//id=lab2', group: 'lab' },
    );
    assert.equal(lab2.configName, 'saved-one');
    // once saved, it is not saved twice
    assert.equal(
      await vscode.commands.executeCommand('execnet.saveGatewayToSettings', lab2, {
        name: 'again',
        where: 'workspace',
      }),
      false,
    );
  });
});
