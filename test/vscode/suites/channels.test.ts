// Channels: values typed by the user reach the remote code (checked first), an interrupt stops it.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Run } from '../../../src/extension/session';
import { newGateway, openFile, terminateAll, waitEnd, waitOutput } from '../helpers';

describe('channels', () => {
  let run: Run;

  before(async () => {
    await newGateway('local');
    await openFile('echo.py');
    const started = await vscode.commands.executeCommand<Run | undefined>('execnet.runFile');
    assert.ok(started);
    run = started;
  });
  after(terminateAll);

  it('sends a Python literal to the running code and shows what comes back', async () => {
    const sent = await vscode.commands.executeCommand(
      'execnet.sendToChannel',
      run,
      "(1, 'x', [2.5, None], b'\\x00')",
    );
    assert.equal(sent, true);
    const text = await waitOutput(run, /^\[channel\] \(1, 'x', \[2\.5, None\], b'\\x00'\)$/m);
    assert.match(text, /^\[sent\] \(1, 'x', \[2\.5, None\], b'\\x00'\)$/m);
  });

  it('refuses text that is not a Python literal, sending nothing', async () => {
    const sent = await vscode.commands.executeCommand('execnet.sendToChannel', run, '(1, 2');
    assert.equal(sent, undefined);
    assert.ok(run.isOpen);
  });

  it('interrupts the running code', async () => {
    await vscode.commands.executeCommand('execnet.interruptChannel', run);
    await waitEnd(run);
    assert.equal(run.outcome?.kind, 'interrupted');
    await waitOutput(run, /KeyboardInterrupt/);
    await waitOutput(run, /was interrupted after/);
  });

  it('a closed channel takes nothing more', async () => {
    const sent = await vscode.commands.executeCommand('execnet.sendToChannel', run, '1');
    assert.equal(sent, false);
  });
});
