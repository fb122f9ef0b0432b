// Activation: the extension loads from its bundle, activates, and contributes every command it
// declares. How long loading and activate() take is printed (speed is measured, not asserted).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as vscode from 'vscode';
import { api, EXTENSION_ID, note } from '../helpers';

describe('activation', () => {
  it('activates and reports how long activate() took', async () => {
    const ext = await api();
    assert.ok(vscode.extensions.getExtension(EXTENSION_ID)?.isActive);
    note(`activate(): ${ext.activationMs.toFixed(1)} ms`);
  });

  it('loads its bundle again as an independent copy and prints how long that takes', () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    const main = path.join(extension.extensionPath, 'dist', 'extension.js');
    const load = createRequire(__filename);
    // a second, independent copy: the active one stays untouched
    const resolved = load.resolve(main);
    const active = load.cache[resolved];
    delete load.cache[resolved];
    const started = performance.now();
    try {
      load(main);
    } finally {
      load.cache[resolved] = active;
    }
    const ms = performance.now() - started;
    note(`loading dist/extension.js: ${ms.toFixed(1)} ms`);
  });

  it('registers every command it contributes, each with a category', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    const manifest = JSON.parse(
      fs.readFileSync(path.join(extension.extensionPath, 'package.json'), 'utf8'),
    );
    const contributed: Array<{ command: string; category?: string }> =
      manifest.contributes.commands;
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(
      contributed.filter((c) => !registered.has(c.command)).map((c) => c.command),
      [],
    );
    assert.deepEqual(
      contributed.filter((c) => c.category !== 'Execnet').map((c) => c.command),
      [],
    );
  });

  it('shows the default gateway in the status bar', async () => {
    const ext = await api();
    assert.match(ext.statusText(), /execnet|\$\(vm-/);
  });

  it('has the Execnet log behind Execnet: Show Log', async () => {
    await vscode.commands.executeCommand('execnet.showLog');
  });
});
