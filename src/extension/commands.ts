// Every command of the extension, registered in one place. Handlers are plain functions of their
// services and arguments (a tree element, a Uri from a menu, or values a test passes), and return
// what they made, so tests and other extensions can call them through executeCommand.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RemoteStatus } from '../core/gateway';
import { parsePythonLiteral, validatePythonLiteral } from '../core/literal';
import { describeInterpreter, firstLine } from '../views/format';
import type { GroupOutputs } from '../views/groupOutput';
import type { RunOutputs } from '../views/runOutput';
import { dedent } from '../views/selection';
import type { TracebackNavigation } from '../views/tracebackLinks';
import {
  pickGateway,
  requestFor,
  resolveGateway,
  showError,
  startGateway,
  type GatewayServices,
  type StartRequest,
} from './gateways';
import { runCells, runCurrent } from './cells';
import type { GatewayDebugging } from './debug';
import type { NotebookKernels } from './notebook';
import type { ReplTerminals } from './repl';
import { rerunLast, runFile, runFileOnGroup, runFileWithArgs, stopRun } from './run/commands';
import {
  addGatewayToGroup,
  moveToGroup,
  newGroup,
  saveGatewayToSettings,
  startPicked,
  type RecentSpecs,
} from './organize';
import type { RunLoop } from './run/loop';
import { confirmTerminateAll, terminateEntries } from './run/terminate';
import { GatewayEntry, GroupEntry, Run, SessionNode, type RunSource } from './session';
import { showWithDetails, syncWorkspace, type SyncResult } from './sync';

export interface Services extends GatewayServices {
  readonly outputs: RunOutputs;
  readonly groupOutputs: GroupOutputs;
  readonly runLoop: RunLoop;
  readonly recents: RecentSpecs;
  readonly traceback: TracebackNavigation;
  readonly repls: ReplTerminals;
  readonly notebooks: NotebookKernels;
  readonly debugging: GatewayDebugging;
}

/** Gateways run code from the workspace: not in Restricted Mode. Says why when it refuses. */
export function ensureTrusted(): boolean {
  if (vscode.workspace.isTrusted) {
    return true;
  }
  const manage = 'Manage Workspace Trust';
  void vscode.window
    .showWarningMessage(
      'Execnet: remote execution is disabled because this workspace is not trusted (Restricted Mode). ' +
        'Gateways run code from the workspace; trust it to use them.',
      manage,
    )
    .then((choice) => {
      if (choice === manage) {
        void vscode.commands.executeCommand('workbench.trust.manage');
      }
    });
  return false;
}

// -- gateways ------------------------------------------------------------------------------------

/** New Gateway…: a configured gateway, a spec, or (from code) `{ spec, name?, group? }` or a name. */
export async function newGateway(
  services: Services,
  arg?: StartRequest | string,
): Promise<GatewayEntry | undefined> {
  if (!ensureTrusted()) {
    return undefined;
  }
  if (typeof arg === 'string') {
    return startGateway(services, requestFor(services.settings, arg));
  }
  // picked (configured, ~/.ssh/config, recent, typed) or given: typed specs are remembered
  return startPicked(services, undefined, isStartRequest(arg) ? arg : undefined);
}

export async function selectDefaultGateway(services: Services): Promise<GatewayEntry | undefined> {
  const picked = await pickGateway(services, {
    title: 'Default gateway for Run File',
    offerNew: vscode.workspace.isTrusted,
    filter: (e) => e.state === 'alive' || e.state === 'connecting',
  });
  if (picked) {
    services.session.defaultEntry = picked;
  }
  return picked;
}

export async function remoteStatus(
  services: Services,
  arg?: GatewayEntry,
): Promise<RemoteStatus | undefined> {
  const entry =
    arg instanceof GatewayEntry
      ? arg
      : await pickGateway(services, { title: 'Status of which gateway?' });
  if (!entry?.gateway || entry.state !== 'alive') {
    return undefined;
  }
  const status = await entry.gateway.remoteStatus(10);
  const info = entry.info;
  // the numbers first: a long host name must not push them out of the toast
  const message = `${entry.id}: ${status.numexecuting} executing, ${status.numchannels} channel(s) open, pid ${status.pid}`;
  const detail = [
    info ? `${describeInterpreter(info)} (${info.platform}, ${info.implementation})` : '',
    info ? `executable ${info.executable}` : '',
    info ? `working directory ${info.cwd}` : '',
    `execmodel ${status.execmodel}`,
    `spec ${entry.spec}`,
  ]
    .filter(Boolean)
    .join('\n');
  services.log.info(`remote status ${message} · ${detail.replace(/\n/g, ' · ')}`);
  void showWithDetails(`Execnet: ${message}`, detail);
  return status;
}

export async function terminateGateway(services: Services, arg?: GatewayEntry): Promise<void> {
  const entry =
    arg instanceof GatewayEntry
      ? arg
      : await pickGateway(services, {
          title: 'Terminate which gateway?',
          filter: (e) => e.state === 'alive' || e.state === 'connecting',
        });
  if (entry) {
    services.log.info(`terminating gateway ${entry.id}`);
    await terminateEntries(services, [entry]);
  }
}

export async function terminateGroup(services: Services, arg?: GroupEntry): Promise<void> {
  if (arg instanceof GroupEntry) {
    services.log.info(`terminating group ${arg.name}`);
    await terminateEntries(services, arg.gateways);
  }
}

/** Terminate All: asks first, unless `confirmed` (from code). */
export async function terminateAll(services: Services, confirmed = false): Promise<void> {
  const entries = services.session.entries;
  if (!confirmed && !(await confirmTerminateAll(entries))) {
    return;
  }
  services.log.info('terminating all gateways');
  await terminateEntries(services, entries);
}

export function dismissGateway(services: Services, arg?: GatewayEntry): void {
  if (arg instanceof GatewayEntry) {
    services.session.dismiss(arg);
  }
}

// -- running code --------------------------------------------------------------------------------

/** The Python document a run command is about: a Uri from a menu, or the active editor's. */
export async function documentFor(arg: unknown): Promise<vscode.TextDocument | undefined> {
  const document =
    arg instanceof vscode.Uri
      ? await vscode.workspace.openTextDocument(arg)
      : vscode.window.activeTextEditor?.document;
  if (!document) {
    void vscode.window.showWarningMessage('Execnet: open a Python file to run it on a gateway.');
    return undefined;
  }
  if (document.languageId !== 'python') {
    void vscode.window.showWarningMessage(
      `Execnet: ${path.basename(document.uri.path)} is not a Python file.`,
    );
    return undefined;
  }
  return document;
}

/** Start a run and show its output; the file's frames link back to the editor's document. */
function startRun(
  services: Services,
  entry: GatewayEntry,
  source: RunSource,
  document?: vscode.TextDocument,
): Run {
  if (source.file && document) {
    services.traceback.files.add(source.file, document.uri);
  }
  const run =
    source.kind === 'file'
      ? services.session.run(entry, source)
      : services.session.runInSession(entry, source);
  services.log.info(
    `run ${run.id}: ${source.label} on ${entry.id} (${run.channel ? `channel ${run.channel.id}` : 'in its session'})`,
  );
  return run;
}

/**
 * With execnet.syncBeforeRun, mirror the workspace first and run in the mirror (its folder
 * becomes the remote's working directory and first import path). False: do not run.
 */
async function beforeRun(services: Services, entry: GatewayEntry): Promise<boolean> {
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
  const range = new vscode.Range(first, 0, last, document.lineAt(last).text.length);
  const text = document.getText(range);
  if (text.trim() === '') {
    void vscode.window.showWarningMessage(
      `Execnet: ${kind === 'cell' ? 'the cell' : 'the selection'} is empty.`,
    );
    return undefined;
  }
  const entry = await resolveGateway(services);
  if (!entry || !(await beforeRun(services, entry))) {
    return undefined;
  }
  const file = document.uri.scheme === 'file' ? document.uri.fsPath : undefined;
  const name = path.basename(document.uri.path) || 'untitled';
  return startRun(
    services,
    entry,
    {
      text: dedent(text),
      file,
      firstLine: first + 1,
      label:
        label ?? (first === last ? `${name}:${first + 1}` : `${name}:${first + 1}-${last + 1}`),
      kind,
    },
    document,
  );
}

/** The selected lines (whole lines; the cursor's line when nothing is selected), 0-based. */
export function selectedLines(editor: vscode.TextEditor): { first: number; last: number } {
  const selection = editor.selection;
  const first = selection.start.line;
  // a selection ending at the start of a line does not include that line
  const last =
    selection.end.line > first && selection.end.character === 0
      ? selection.end.line - 1
      : selection.end.line;
  return { first, last };
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

// -- the interactive session -------------------------------------------------------------------

/** The gateway a session command is about: a tree row, else the running default (or a pick). */
async function sessionEntry(
  services: Services,
  arg: unknown,
  title: string,
): Promise<GatewayEntry | undefined> {
  if (arg instanceof SessionNode) {
    return arg.entry;
  }
  if (arg instanceof GatewayEntry) {
    return arg;
  }
  const notebook = vscode.window.activeNotebookEditor?.notebook;
  const fromNotebook = notebook && services.notebooks.entryFor(notebook);
  if (fromNotebook) {
    return fromNotebook;
  }
  const withSession = services.session.aliveEntries.filter((e) => e.interactive);
  if (withSession.length === 1) {
    return withSession[0];
  }
  return pickGateway(services, { title, filter: (e) => e.state === 'alive' });
}

/** Open REPL on Gateway: a terminal with a Python prompt in the gateway's session. */
export async function openRepl(services: Services, arg?: unknown) {
  if (!ensureTrusted()) {
    return undefined;
  }
  const entry =
    arg instanceof SessionNode
      ? arg.entry
      : arg instanceof GatewayEntry
        ? arg
        : await resolveGateway(services);
  return entry ? services.repls.show(entry) : undefined;
}

/** Run Selection/Line in REPL: the code is echoed at the gateway's prompt and runs there. */
export async function runSelectionInRepl(services: Services) {
  if (!ensureTrusted()) {
    return undefined;
  }
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    return undefined;
  }
  const { first, last } = selectedLines(editor);
  const text = editor.document.getText(
    new vscode.Range(first, 0, last, editor.document.lineAt(last).text.length),
  );
  if (text.trim() === '') {
    return undefined;
  }
  const entry = await resolveGateway(services);
  if (!entry) {
    return undefined;
  }
  const repl = await services.repls.show(entry, true);
  return repl.console.runEchoed(dedent(text));
}

export async function interruptSession(services: Services, arg?: unknown): Promise<void> {
  const entry = await sessionEntry(services, arg, 'Interrupt the session of which gateway?');
  if (entry?.interactive) {
    services.log.info(`interrupting the session of ${entry.id}`);
    entry.interactive.session.interrupt();
  }
}

/** Restart Session: a fresh namespace (the gateway keeps running). */
export async function restartSession(services: Services, arg?: unknown): Promise<void> {
  const entry = await sessionEntry(services, arg, 'Restart the session of which gateway?');
  if (entry && entry.state === 'alive') {
    services.log.info(`restarting the session of ${entry.id}`);
    await services.session.interactive(entry).session.restart();
    void vscode.window.setStatusBarMessage(
      `Execnet: the session of ${entry.id} was restarted`,
      4000,
    );
  }
}

// -- channels ------------------------------------------------------------------------------------

async function pickRun(services: Services, title: string): Promise<Run | undefined> {
  const open = services.session.runs.filter((r) => r.isOpen);
  if (open.length === 0) {
    void vscode.window.showInformationMessage(
      'Execnet: no channel is open. Run a file on a gateway first.',
    );
    return undefined;
  }
  if (open.length === 1) {
    return open[0];
  }
  const picked = await vscode.window.showQuickPick(
    open.map((run) => ({
      label: run.label,
      description: `on ${run.entry.id}${run.channel ? ` · channel ${run.channel.id}` : ''}`,
      run,
    })),
    { title, ignoreFocusOut: true },
  );
  return picked?.run;
}

/** Send to Channel: a Python literal, checked as it is typed (or `text` from code). */
export async function sendToChannel(
  services: Services,
  arg?: Run,
  text?: string,
): Promise<boolean> {
  const run = arg instanceof Run ? arg : await pickRun(services, 'Send to which channel?');
  if (!run) {
    return false;
  }
  if (!run.isOpen) {
    void vscode.window.showWarningMessage(
      `Execnet: ${run.label} on ${run.entry.id} has ended; its channel is closed.`,
    );
    return false;
  }
  const literal =
    typeof text === 'string'
      ? text
      : await vscode.window.showInputBox({
          title: `Send to ${run.label} on ${run.entry.id}`,
          prompt: "A Python literal: 42, 'text', (1, 'x'), [1.5, None], {'key': b'bytes'}",
          placeHolder: "(1, 'x')",
          ignoreFocusOut: true,
          validateInput: (value) => validatePythonLiteral(value),
        });
  if (literal === undefined) {
    return false;
  }
  const value = parsePythonLiteral(literal);
  await run.send(value);
  return true;
}

export async function interruptChannel(services: Services, arg?: Run): Promise<void> {
  const run = arg instanceof Run ? arg : await pickRun(services, 'Interrupt which channel?');
  if (run?.isOpen) {
    services.log.info(`interrupting run ${run.id} (${run.label} on ${run.entry.id})`);
    run.interrupt();
  }
}

export function showChannelOutput(services: Services, arg?: Run): void {
  if (arg instanceof Run) {
    services.outputs.show(arg, false);
  }
}

// -- workspace -----------------------------------------------------------------------------------

/** Sync Workspace to Gateway: to the gateway given (a tree item), else one picked. */
export async function syncWorkspaceCommand(
  services: Services,
  arg?: GatewayEntry,
  target?: string,
): Promise<SyncResult | undefined> {
  if (!ensureTrusted()) {
    return undefined;
  }
  const entry =
    arg instanceof GatewayEntry
      ? arg
      : await pickGateway(services, {
          title: 'Sync the workspace to which gateway?',
          offerNew: true,
        });
  return entry ? syncWorkspace(services, entry, { target }) : undefined;
}

// -- registration --------------------------------------------------------------------------------

function isStartRequest(value: unknown): value is StartRequest {
  return (
    typeof value === 'object' && value !== null && typeof (value as StartRequest).spec === 'string'
  );
}

/** Register every command; failures become one-line errors with the details in the log. */
export function registerCommands(services: Services): vscode.Disposable[] {
  const handlers: Record<string, (...args: never[]) => unknown> = {
    'execnet.newGateway': (arg?: StartRequest | string) => newGateway(services, arg),
    'execnet.runFile': (arg?: unknown) => runFile(services, ensureTrusted, arg),
    'execnet.runFileWithArgs': (arg?: unknown, line?: string) =>
      runFileWithArgs(services, ensureTrusted, arg, line),
    'execnet.stopRun': (arg?: unknown) => stopRun(services, arg),
    'execnet.newGroup': (name?: string, request?: StartRequest) =>
      ensureTrusted() ? newGroup(services, name, request) : undefined,
    'execnet.addGatewayToGroup': (arg?: GroupEntry | string, request?: StartRequest) =>
      ensureTrusted() ? addGatewayToGroup(services, arg, request) : undefined,
    'execnet.moveToGroup': (arg?: GatewayEntry, target?: string) =>
      moveToGroup(services, arg, target),
    'execnet.saveGatewayToSettings': (
      arg?: GatewayEntry,
      choice?: { name?: string; where?: 'workspace' | 'user' },
    ) => saveGatewayToSettings(services, arg, choice),
    'execnet.rerunLast': () => rerunLast(services, ensureTrusted),
    'execnet.debugFile': (arg?: unknown) => services.debugging.debugFile(arg),
    'execnet.runSelection': () => runSelection(services),
    'execnet.runCurrent': () => runCurrent(services),
    'execnet.runCell': (uri?: vscode.Uri, line?: number) => runCells(services, 'cell', uri, line),
    'execnet.runCellAndBelow': (uri?: vscode.Uri, line?: number) =>
      runCells(services, 'below', uri, line),
    'execnet.runAbove': (uri?: vscode.Uri, line?: number) => runCells(services, 'above', uri, line),
    'execnet.openRepl': (arg?: unknown) => openRepl(services, arg),
    'execnet.runSelectionInRepl': () => runSelectionInRepl(services),
    'execnet.interruptSession': (arg?: unknown) => interruptSession(services, arg),
    'execnet.restartSession': (arg?: unknown) => restartSession(services, arg),
    'execnet.runFileOnGroup': (arg?: unknown) => runFileOnGroup(services, ensureTrusted, arg),
    'execnet.sendToChannel': (arg?: Run, text?: string) => sendToChannel(services, arg, text),
    'execnet.interruptChannel': (arg?: Run) => interruptChannel(services, arg),
    'execnet.showChannelOutput': (arg?: Run) => showChannelOutput(services, arg),
    'execnet.remoteStatus': (arg?: GatewayEntry) => remoteStatus(services, arg),
    'execnet.syncWorkspace': (arg?: GatewayEntry, target?: string) =>
      syncWorkspaceCommand(services, arg, target),
    'execnet.terminateGateway': (arg?: GatewayEntry) => terminateGateway(services, arg),
    'execnet.terminateGroup': (arg?: GroupEntry) => terminateGroup(services, arg),
    'execnet.terminateAll': (confirmed?: boolean) => terminateAll(services, confirmed === true),
    'execnet.dismissGateway': (arg?: GatewayEntry) => dismissGateway(services, arg),
    'execnet.selectDefaultGateway': () => selectDefaultGateway(services),
    'execnet.showLog': () => services.log.show(),
  };
  return Object.entries(handlers).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await handler(...args);
      } catch (error) {
        services.log.error(`${id} failed`, error);
        void showError(
          services.log,
          `Execnet: ${firstLine(error instanceof Error ? error.message : String(error))}`,
        );
        return undefined;
      }
    }),
  );
}
