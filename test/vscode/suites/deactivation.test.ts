// Deactivation ends every gateway: no interpreter outlives the window. Runs last: the extension
// is shut down afterwards.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as vscode from 'vscode';
import type { Run } from '../../../src/extension/session';
import { api, EXTENSION_ID, isRunning, newGateway, openFile, waitFor } from '../helpers';

describe('deactivation', () => {
  it('terminates every gateway, busy ones included, leaving no process behind', async () => {
    const ext = await api();
    const a = await newGateway({ spec: 'popen', group: 'last' });
    const b = await newGateway({ spec: 'popen', group: 'last' });
    await openFile('echo.py');
    // b is busy: its code waits for items forever
    const run = await vscode.commands.executeCommand<Run | undefined>('execnet.runFile', b);
    assert.ok(run?.isOpen);
    const pids = ext.session.entries
      .filter((e) => e.state === 'alive')
      .map((e) => e.info?.pid)
      .filter((pid): pid is number => pid !== undefined);
    assert.ok(pids.includes(a.info?.pid as number) && pids.includes(b.info?.pid as number));

    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    // the module the host loaded (same path, same instance) and its deactivate()
    const main = createRequire(__filename)(
      path.join(extension.extensionPath, 'dist', 'extension.js'),
    );
    await main.deactivate();
    for (const pid of pids) {
      await waitFor(`pid ${pid} to exit`, () => !isRunning(pid), 5_000);
    }
    assert.ok(ext.session.entries.every((e) => e.state === 'dead'));
  });
});
