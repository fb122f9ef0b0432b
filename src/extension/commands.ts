// Every command of the extension, registered in one place. Handlers are plain functions of their
// services and arguments (a tree element, a Uri from a menu, or values a test passes), and return
// what they made, so tests and other extensions can call them through executeCommand.

import * as vscode from 'vscode';
import type { RemoteStatus } from '../core/gateway';
import { parsePythonLiteral, validatePythonLiteral } from '../core/literal';
import { describeInterpreter, firstLine } from '../views/format';
import { dedent } from '../views/selection';
import { runCells, runCurrent } from './cells';
import { ensureTrusted, linesText, selectedLines } from './editor';
import {
  pickGateway,
  requestFor,
  resolveGateway,
  showError,
  startGateway,
  type StartRequest,
} from './gateways';
import {
  addGatewayToGroup,
  moveToGroup,
  newGroup,
  saveGatewayToSettings,
  startPicked,
} from './organize';
import { rerunLast, runFile, runFileOnGroup, runFileWithArgs, stopRun } from './run/commands';
import { runSelection } from './run/selection';
import { confirmTerminateAll, terminateEntries } from './run/terminate';
import { GatewayEntry, GroupEntry, Run, SessionNode } from './session';
import type { Services } from './services';
import { showWithDetails, syncWorkspace, type SyncResult } from './sync';

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
  const text = linesText(editor.document, first, last);
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
    'execnet.runFile': (arg?: unknown) => runFile(services, arg),
    'execnet.runFileWithArgs': (arg?: unknown, line?: string) =>
      runFileWithArgs(services, arg, line),
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
    'execnet.rerunLast': () => rerunLast(services),
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
    'execnet.runFileOnGroup': (arg?: unknown) => runFileOnGroup(services, arg),
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
    'execnet.showPlots': () => services.plots.show(),
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
