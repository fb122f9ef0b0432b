// Run Selection and cells: lines of a document run in the gateway's interactive session, dedented,
// with the file's line numbers in tracebacks and the value of a final expression shown. With
// execnet.syncBeforeRun the session first moves into the freshly synced mirror.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { dedent } from '../../views/selection';
import { ensureTrusted, linesText, selectedLines } from '../editor';
import { resolveGateway } from '../gateways';
import type { GatewayEntry, Run } from '../session';
import type { Services } from '../services';
import { syncWorkspace } from '../sync';

/**
 * With execnet.syncBeforeRun, mirror the workspace first and run in the mirror (its folder
 * becomes the remote's working directory and first import path). False: do not run.
 */
async function enterSyncedMirror(services: Services, entry: GatewayEntry): Promise<boolean> {
  if (!services.settings.syncBeforeRun()) {
    return true;
  }
  const result = await syncWorkspace(services, entry, { quiet: true });
  if (!result || result.cancelled) {
    return false;
  }
  const enter = entry.gateway?.remoteExec(
    [
      'import os, sys',
      `os.chdir(os.path.expanduser(${JSON.stringify(result.target)}))`,
      'if os.getcwd() not in sys.path: sys.path.insert(0, os.getcwd())',
    ].join('\n'),
  );
  await enter?.waitClose(30);
  return true;
}

/**
 * Run lines `first`..`last` (0-based, inclusive) of a document in the gateway's interactive
 * session: dedented, with the file's line numbers in tracebacks, the final expression's value shown.
 */
export async function runLinesInSession(
  services: Services,
  document: vscode.TextDocument,
  first: number,
  last: number,
  kind: 'selection' | 'cell',
  label?: string,
): Promise<Run | undefined> {
  const text = linesText(document, first, last);
  if (text.trim() === '') {
    void vscode.window.showWarningMessage(
      `Execnet: ${kind === 'cell' ? 'the cell' : 'the selection'} is empty.`,
    );
    return undefined;
  }
  const entry = await resolveGateway(services);
  if (!entry || !(await enterSyncedMirror(services, entry))) {
    return undefined;
  }
  const file = document.uri.scheme === 'file' ? document.uri.fsPath : undefined;
  const name = path.basename(document.uri.path) || 'untitled';
  if (file) {
    // the file's frames link back to the editor's document
    services.traceback.files.add(file, document.uri);
  }
  const run = services.session.runInSession(entry, {
    text: dedent(text),
    file,
    firstLine: first + 1,
    label: label ?? (first === last ? `${name}:${first + 1}` : `${name}:${first + 1}-${last + 1}`),
    kind,
  });
  services.log.info(
    `run ${run.id}: ${run.label} on ${entry.id} (${run.channel ? `channel ${run.channel.id}` : 'in its session'})`,
  );
  return run;
}

/**
 * Run Selection on Gateway: the selected lines in the gateway's interactive session, so names
 * defined by earlier selections, cells and the REPL are there.
 */
export async function runSelection(services: Services): Promise<Run | undefined> {
  if (!ensureTrusted()) {
    return undefined;
  }
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage('Execnet: select Python code in an editor to run it.');
    return undefined;
  }
  const { first, last } = selectedLines(editor);
  return runLinesInSession(services, editor.document, first, last, 'selection');
}
