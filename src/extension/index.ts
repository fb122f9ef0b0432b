// Composition root of the extension: activate() builds everything once and hands every disposable
// to `context.subscriptions`, so VS Code releases it all on deactivation; deactivate() first ends
// every gateway (politely, then by force), so no interpreter outlives the window.

import * as vscode from 'vscode';
import { DefaultGatewayStatus } from '../views/statusBar';
import { RunOutputs } from '../views/runOutput';
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
  });
  session = current;
  context.subscriptions.push(current);

  const outputs = new RunOutputs(current);
  const traceback = new TracebackNavigation(current);
  const tree = new GatewayTreeProvider(current);
  const status = new DefaultGatewayStatus(current);
  const repls = new ReplTerminals(current, context.globalState);
  const notebooks = new NotebookKernels({ session: current, settings, log });
  const debugging = new GatewayDebugging({ session: current, settings, log });
  context.subscriptions.push(
    repls,
    notebooks,
    debugging,
    registerCells(),
    outputs,
    traceback,
    tree,
    status,
    vscode.window.createTreeView(VIEW_ID, { treeDataProvider: tree, showCollapseAll: true }),
    ...registerCommands({
      session: current,
      settings,
      log,
      outputs,
      traceback,
      repls,
      notebooks,
      debugging,
    }),
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
    statusText: () => status.text,
  };
}

export async function deactivate(): Promise<void> {
  const current = session;
  session = undefined;
  await current?.shutdown(SHUTDOWN_TIMEOUT);
}
