// Composition root of the extension: activate() builds everything once and hands every disposable
// to `context.subscriptions`, so VS Code releases it all on deactivation; deactivate() first ends
// every gateway (politely, then by force), so no interpreter outlives the window.

import * as vscode from 'vscode';
import { GroupOutputs } from '../views/groupOutput';
import { PlotsPanel } from '../views/plots';
import { DefaultGatewayStatus } from '../views/statusBar';
import { RunOutputs } from '../views/runOutput';
import { RunStatus } from '../views/runStatus';
import { GatewayTreeProvider, VIEW_ID } from '../views/tree';
import { TracebackNavigation } from '../views/tracebackLinks';
import type { ExecnetApi } from './api';
import { registerCells } from './cells';
import { registerCommands } from './commands';
import { GatewayDebugging } from './debug';
import { Log } from './log';
import { NotebookKernels } from './notebook';
import { EditorPrompts } from './prompts';
import { ReplTerminals } from './repl';
import { RecentSpecs } from './organize';
import { RunHints } from './run/hints';
import { RunLoop } from './run/loop';
import { Session } from './session';
import { Settings } from './settings';

/** Seconds a gateway gets to exit when the window closes, before it is killed. */
const SHUTDOWN_TIMEOUT = 2;

let session: Session | undefined;

export function activate(context: vscode.ExtensionContext): ExecnetApi {
  const started = performance.now();
  const log = new Log();
  context.subscriptions.push(log);
  const settings = new Settings((message) => log.warn(message));
  log.applyTraceLevel(settings.traceLevel());

  const current = new Session({
    gatewayOptions: { prompts: new EditorPrompts(context.secrets) },
    terminateTimeout: () => settings.terminateTimeout(),
    onStrayOutput: (entry, stream, text) =>
      log.info(`[${entry.id} ${stream}] ${text.replace(/\n$/, '')}`),
    onInput: (run, request) =>
      Promise.resolve(
        vscode.window.showInputBox({
          title: `input() in ${run.label} on ${run.entry.id}`,
          prompt: request.prompt || 'The code asks for input',
          password: request.password,
          ignoreFocusOut: true,
        }),
      ),
    workspaceRoot: () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
  });
  session = current;
  context.subscriptions.push(current);

  const runLoop = new RunLoop(current, context.workspaceState);
  const plots = new PlotsPanel(current);
  const recents = new RecentSpecs(context.globalState);
  const outputs = new RunOutputs(current, {
    settings: runLoop.settings,
    // closing the terminal of a run that still goes stops it
    onTerminalClosed: (run) => void current.stop(run, runLoop.settings.stopTimeout()),
  });
  const groupOutputs = new GroupOutputs(runLoop.settings);
  const traceback = new TracebackNavigation(current, (terminal) =>
    outputs.entryOfTerminal(terminal),
  );
  const tree = new GatewayTreeProvider(current);
  const status = new DefaultGatewayStatus(current, () => settings.defaultGateway());
  const runStatus = new RunStatus(current);
  const repls = new ReplTerminals(current, context.globalState, plots);
  const notebooks = new NotebookKernels({ session: current, settings, log });
  const debugging = new GatewayDebugging({ session: current, settings, log });
  const services = {
    session: current,
    settings,
    log,
    outputs,
    groupOutputs,
    plots,
    runLoop,
    recents,
    traceback,
    repls,
    notebooks,
    debugging,
  };
  const hints = new RunHints(services);
  context.subscriptions.push(
    repls,
    notebooks,
    debugging,
    registerCells(),
    runLoop,
    hints,
    outputs,
    groupOutputs,
    plots,
    traceback,
    tree,
    status,
    runStatus,
    vscode.window.createTreeView(VIEW_ID, { treeDataProvider: tree, showCollapseAll: true }),
    ...registerCommands(services),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('execnet.trace.level')) {
        log.applyTraceLevel(settings.traceLevel());
      }
    }),
  );

  const activationMs = performance.now() - started;
  log.info(
    `activated in ${activationMs.toFixed(1)} ms (VS Code ${vscode.version}, ${vscode.env.appHost})`,
  );
  return {
    activationMs,
    session: current,
    transcript: (run) => outputs.transcript(run),
    paneName: (run) => outputs.paneName(run),
    paneNames: () => outputs.paneNames,
    groupTranscript: (run) => {
      const groupRun = runLoop.groupRunOf(run);
      return groupRun ? groupOutputs.transcript(groupRun) : '';
    },
    statusText: () => status.text,
    runStatusText: () => runStatus.text,
    lastHint: () => hints.last,
    recentSpecs: () => recents.list(),
    plots: () => plots.plots,
  };
}

export async function deactivate(): Promise<void> {
  const current = session;
  session = undefined;
  await current?.shutdown(SHUTDOWN_TIMEOUT);
}
