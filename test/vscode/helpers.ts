// Helpers of the integration suites: the extension's API, waiting for state, opening files of the
// test workspace.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { ExecnetApi } from '../../src/extension/api';
import type { GatewayEntry, Run } from '../../src/extension/session';

export const EXTENSION_ID = 'execnet.execnet-vscode';

export async function api(): Promise<ExecnetApi> {
  const extension = vscode.extensions.getExtension<ExecnetApi>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not installed in this host`);
  return extension.activate();
}

export function workspaceFolder(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the tests need a workspace folder');
  return folder.uri;
}

export function workspaceFile(name: string): vscode.Uri {
  return vscode.Uri.joinPath(workspaceFolder(), name);
}

export async function openFile(name: string): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument(workspaceFile(name));
  return vscode.window.showTextDocument(document);
}

/** Poll until `probe` returns something truthy; fail with `what` after `timeout` ms. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeout = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function waitEnd(run: Run, timeout = 20_000): Promise<Run> {
  await waitFor(`${run.label} on ${run.entry.id} to end`, () => run.outcome, timeout);
  return run;
}

/** Wait until the run's output channel shows `pattern`. */
export async function waitOutput(run: Run, pattern: RegExp, timeout = 20_000): Promise<string> {
  const ext = await api();
  let text = '';
  try {
    await waitFor(
      `${pattern} in the output of ${run.label}`,
      () => pattern.test((text = ext.transcript(run))),
      timeout,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; the output is:\n${text}`, { cause: error });
  }
  return text;
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function terminateAll(): Promise<void> {
  await vscode.commands.executeCommand('execnet.terminateAll', true);
  const ext = await api();
  await waitFor('every gateway to be dead', () =>
    ext.session.entries.every((e) => e.state === 'dead'),
  );
  for (const entry of [...ext.session.entries]) {
    ext.session.dismiss(entry);
  }
}

export async function newGateway(
  arg: string | { spec: string; name?: string; group?: string },
): Promise<GatewayEntry> {
  const entry = await vscode.commands.executeCommand<GatewayEntry | undefined>(
    'execnet.newGateway',
    arg,
  );
  assert.ok(entry, `no gateway from ${JSON.stringify(arg)}`);
  assert.equal(entry.state, 'alive', `gateway ${entry.id}: ${entry.reason}`);
  return entry;
}

export function basename(uri: vscode.Uri): string {
  return path.basename(uri.fsPath);
}

/** A measurement for the report (the runner prints it with the results). */
export function note(text: string): void {
  console.log(text);
  const report = process.env.EXECNET_TEST_REPORT;
  if (report) {
    fs.appendFileSync(report, `      ${text}\n`);
  }
}
