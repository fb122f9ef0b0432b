// The run loop's commands: Run File (with Arguments…), Run File on Group, Stop Run, Re-run Last.
// A file runs as `python FILE ARGS` would (launch.ts), shown in an output channel or a terminal; a
// second run of a file that still runs on that gateway stops the first, asks, or runs beside it
// (execnet.run.whenRunning).

import * as path from 'node:path';
import * as vscode from 'vscode';
import { documentFor, ensureTrusted } from '../editor';
import { groupGateways, pickGroup, resolveGateway, workers } from '../gateways';
import { GatewayEntry, GroupEntry, Run, type RunSource } from '../session';
import { syncRoute, syncWorkspace, type SyncResult } from '../sync';
import type { Services } from '../services';
import { GroupRun } from './groupRun';
import { scriptRunOptions } from './launch';
import { joinArgs, splitArgs, type RunIn } from './settings';

/** Save before running; false (and the user told) when that failed. */
async function saved(document: vscode.TextDocument): Promise<boolean> {
  if (document.isDirty && !document.isUntitled && !(await document.save())) {
    void vscode.window.showWarningMessage(
      `Execnet: ${path.basename(document.fileName)} could not be saved, so it was not run.`,
    );
    return false;
  }
  return true;
}

function sourceOf(document: vscode.TextDocument, args?: readonly string[]): RunSource {
  const file = document.uri.scheme === 'file' ? document.uri.fsPath : undefined;
  return {
    text: document.getText(),
    file,
    label: file ? path.basename(file) : path.basename(document.uri.path) || 'untitled',
    kind: 'file',
    args: args && args.length > 0 ? args : undefined,
  };
}

function workspaceRoot(file: string | undefined): string | undefined {
  return file ? vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath : undefined;
}

/** Syncs of one Run File on Group by route and entry: a fan-out's tasks share one. */
type Syncs = Map<string, Promise<SyncResult | undefined>>;

/**
 * With execnet.syncBeforeRun, mirror the workspace first (the run then runs in the mirror). The
 * tasks of a Slurm fan-out (same entry, same login node) in one `syncs` are synced once.
 */
async function beforeRun(services: Services, entry: GatewayEntry, syncs?: Syncs): Promise<boolean> {
  if (!services.settings.syncBeforeRun()) {
    return true;
  }
  const key = `${syncRoute(entry).id}\0${entry.configName ?? entry.id}`;
  let sync = syncs?.get(key);
  if (!sync) {
    sync = syncWorkspace(services, entry, { quiet: true });
    syncs?.set(key, sync);
  }
  const result = await sync;
  if (result?.mapping) {
    entry.sync = result.mapping;
  }
  return result !== undefined && !result.cancelled;
}

/** Another run of the same code on the same gateway. */
function isRerunOf(run: Run, source: RunSource): boolean {
  return (
    run.isOpen &&
    run.source.kind === source.kind &&
    run.source.file === source.file &&
    (source.kind === 'file' || run.source.label === source.label)
  );
}

/**
 * What to do about runs of the same code on the gateway that still go (execnet.run.whenRunning):
 * stop them first, ask, or leave them. False: do not run.
 */
async function makeWay(
  services: Services,
  entry: GatewayEntry,
  source: RunSource,
): Promise<boolean> {
  const running = entry.runs.filter((r) => isRerunOf(r, source));
  if (running.length === 0) {
    return true;
  }
  const loop = services.runLoop;
  let policy = loop.settings.whenRunning();
  if (policy === 'ask') {
    const stop = 'Stop and Run Again';
    const beside = 'Run Another';
    const choice = await vscode.window.showWarningMessage(
      `${source.label} is still running on ${entry.id}.`,
      {
        modal: true,
        detail:
          'Stop it and run it again, or start another run beside it (with an output of its own)?',
      },
      stop,
      beside,
    );
    if (choice === undefined) {
      return false;
    }
    policy = choice === stop ? 'stop' : 'parallel';
  }
  if (policy === 'stop') {
    const timeout = loop.settings.stopTimeout();
    services.log.info(`stopping ${running.length} run(s) of ${source.label} on ${entry.id} first`);
    await Promise.all(running.map((run) => services.session.stop(run, timeout)));
  }
  return true;
}

/** Start a run of `source` on `entry` as a script, shown where execnet.run.in says. */
async function launch(
  services: Services,
  entry: GatewayEntry,
  source: RunSource,
  document?: vscode.TextDocument,
  presentation: RunIn = services.runLoop.settings.runIn(),
  syncs?: Syncs,
): Promise<Run | undefined> {
  if (!(await beforeRun(services, entry, syncs)) || !(await makeWay(services, entry, source))) {
    return undefined;
  }
  if (entry.state !== 'alive') {
    void vscode.window.showWarningMessage(`Execnet: gateway ${entry.id} is ${entry.state}.`);
    return undefined;
  }
  if (source.file && document) {
    services.traceback.files.add(source.file, document.uri);
  }
  const options = scriptRunOptions(
    entry,
    source,
    workspaceRoot(source.file),
    presentation,
    services.settings.syncBeforeRun(),
  );
  const run = services.session.run(entry, source, options);
  const args = source.args ? ` ${joinArgs(source.args)}` : '';
  services.log.info(
    `run ${run.id}: ${source.label}${args} on ${entry.id} (channel ${run.channel?.id}` +
      `${options.filename && options.filename !== source.file ? `, as ${options.filename}` : ''})`,
  );
  return run;
}

/** Run File on Gateway: saves first; on the gateway given (a tree item), else the default one. */
export async function runFile(
  services: Services,
  arg?: unknown,
  args?: readonly string[],
): Promise<Run | undefined> {
  if (!ensureTrusted()) {
    return undefined;
  }
  const document = await documentFor(arg instanceof GatewayEntry ? undefined : arg);
  if (!document || !(await saved(document))) {
    return undefined;
  }
  const entry = arg instanceof GatewayEntry ? arg : await resolveGateway(services);
  return entry ? runDocument(services, document, entry, args) : undefined;
}

/** A saved document on a gateway, with the arguments given or those execnet.run.args fixes. */
async function runDocument(
  services: Services,
  document: vscode.TextDocument,
  entry: GatewayEntry,
  args: readonly string[] | undefined,
): Promise<Run | undefined> {
  const file = document.uri.scheme === 'file' ? document.uri.fsPath : undefined;
  const chosen = args ?? (file ? services.runLoop.settings.fixedArgs(file) : undefined);
  const run = await launch(services, entry, sourceOf(document, chosen), document);
  if (run) {
    services.runLoop.last = { kind: 'file', uri: document.uri, entry, args: chosen };
  }
  return run;
}

/**
 * Run File with Arguments…: asks for the command line after the file (what was typed last time
 * for this file, or what execnet.run.args fixes), remembers it, and runs. `line` skips the box.
 */
export async function runFileWithArgs(
  services: Services,
  arg?: unknown,
  line?: string,
): Promise<Run | undefined> {
  if (!ensureTrusted()) {
    return undefined;
  }
  const document = await documentFor(arg);
  if (!document) {
    return undefined;
  }
  const file = document.uri.scheme === 'file' ? document.uri.fsPath : document.uri.toString();
  const loop = services.runLoop;
  const previous = loop.typedArgs(file) ?? loop.settings.fixedArgs(file) ?? [];
  const typed =
    typeof line === 'string'
      ? line
      : await vscode.window.showInputBox({
          title: `Run ${path.basename(document.uri.path)} with Arguments`,
          prompt: `sys.argv[1:], as on a command line: --epochs 3 --name "two words"`,
          value: joinArgs(previous),
          ignoreFocusOut: true,
          validateInput: (text) => {
            try {
              splitArgs(text);
              return undefined;
            } catch (error) {
              return (error as Error).message;
            }
          },
        });
  if (typed === undefined) {
    return undefined;
  }
  const args = splitArgs(typed);
  await loop.rememberArgs(file, args);
  return runFile(services, document.uri, args);
}

/**
 * Run File on Group: the same file on every gateway of a group, each with its own output, and
 * one combined output with a line per gateway when it ends.
 */
export async function runFileOnGroup(services: Services, arg?: unknown): Promise<Run[]> {
  if (!ensureTrusted()) {
    return [];
  }
  const document = await documentFor(
    arg instanceof GroupEntry || typeof arg === 'string' ? undefined : arg,
  );
  if (!document || !(await saved(document))) {
    return [];
  }
  const group =
    arg instanceof GroupEntry ? arg : typeof arg === 'string' ? arg : await pickGroup(services);
  return group ? runOnGroup(services, document, group) : [];
}

async function runOnGroup(
  services: Services,
  document: vscode.TextDocument,
  group: GroupEntry | string,
): Promise<Run[]> {
  const name = typeof group === 'string' ? group : group.name;
  // the tasks, not the login node they go through
  const entries = workers(await groupGateways(services, group));
  if (entries.length === 0) {
    void vscode.window.showWarningMessage(`Execnet: no gateway of group ${name} is alive.`);
    return [];
  }
  const file = document.uri.scheme === 'file' ? document.uri.fsPath : undefined;
  const source = sourceOf(document, file ? services.runLoop.settings.fixedArgs(file) : undefined);
  const syncs: Syncs = new Map();
  const started = await Promise.all(
    entries.map((entry) => launch(services, entry, source, document, undefined, syncs)),
  );
  const runs = started.filter((r): r is Run => r !== undefined);
  if (runs.length > 0) {
    const groupRun = new GroupRun(name, source.label, runs);
    services.runLoop.addGroupRun(groupRun);
    services.groupOutputs.attach(groupRun);
    services.runLoop.last = { kind: 'group', uri: document.uri, group };
  }
  return runs;
}

/**
 * Stop Run: the run given, else the newest run of the file given or of the active editor's, else
 * the only run going (or one picked). It is interrupted, and ended by force (with the processes
 * it started) when it has not stopped after execnet.run.stopTimeout seconds; the gateway stays.
 */
export async function stopRun(services: Services, arg?: unknown): Promise<Run | undefined> {
  const open = services.session.runs.filter((r) => r.isOpen);
  let run: Run | undefined;
  if (arg instanceof Run) {
    run = arg.isOpen ? arg : undefined;
  } else {
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    run = uri?.scheme === 'file' ? services.runLoop.runsOf(uri.fsPath)[0] : undefined;
    if (!run && open.length === 1) {
      run = open[0];
    } else if (!run && open.length > 1) {
      const picked = await vscode.window.showQuickPick(
        open.map((r) => ({ label: r.label, description: `on ${r.entry.id}`, run: r })),
        { title: 'Stop which run?' },
      );
      run = picked?.run;
    }
  }
  if (!run) {
    if (open.length === 0) {
      void vscode.window.showInformationMessage('Execnet: nothing is running.');
    }
    return undefined;
  }
  const timeout = services.runLoop.settings.stopTimeout();
  services.log.info(`stopping run ${run.id} (${run.label} on ${run.entry.id})`);
  await services.session.stop(run, timeout);
  return run;
}

/** Re-run Last: the last file, selection or group run, on the same gateway, with its arguments. */
export async function rerunLast(services: Services): Promise<Run | Run[] | undefined> {
  const last = services.runLoop.last;
  if (!last) {
    void vscode.window.showInformationMessage('Execnet: nothing was run yet in this window.');
    return undefined;
  }
  if (!ensureTrusted()) {
    return undefined;
  }
  if (last.kind === 'group') {
    const document = await vscode.workspace.openTextDocument(last.uri);
    return (await saved(document)) ? runOnGroup(services, document, last.group) : undefined;
  }
  // the same gateway while it lives, else the one Run File would use
  const entry = last.entry.state === 'alive' ? last.entry : await resolveGateway(services);
  if (!entry) {
    return undefined;
  }
  if (last.kind === 'selection') {
    // selections and cells run in the gateway's interactive session
    return services.session.runInSession(entry, last.source);
  }
  const document = await vscode.workspace.openTextDocument(last.uri);
  return (await saved(document)) ? runDocument(services, document, entry, last.args) : undefined;
}

/**
 * The same code on the same gateway again (a file as it is now, with the same arguments), shown
 * where `presentation` says (by default where execnet.run.in says).
 */
export async function runAgain(
  services: Services,
  run: Run,
  presentation?: RunIn,
): Promise<Run | undefined> {
  const entry = run.entry;
  if (run.source.kind !== 'file' || !run.source.file) {
    return run.source.kind === 'file'
      ? launch(services, entry, run.source, undefined, presentation)
      : services.session.runInSession(entry, run.source);
  }
  const document = await vscode.workspace.openTextDocument(vscode.Uri.file(run.source.file));
  if (!(await saved(document))) {
    return undefined;
  }
  const source = sourceOf(document, run.source.args);
  const again = await launch(services, entry, source, document, presentation);
  if (again) {
    services.runLoop.last = { kind: 'file', uri: document.uri, entry, args: run.source.args };
  }
  return again;
}
