// Debugging Python on a gateway in the editor: the `execnet` debug type (F5, launch.json) and
// Debug File on Gateway. Each session gets an inline debug adapter whose DAP travels over a
// channel of the gateway to debugpy's adapter on the gateway's host (shipped there first if its
// Python has no debugpy); the editor's debugger UI works as it does for a local program. The
// program's stdin is a terminal of the editor (console: integratedTerminal, the default).

import * as path from 'node:path';
import * as vscode from 'vscode';
import { Disposable } from '../../core/lifecycle';
import { documentFor, ensureTrusted } from '../editor';
import { DebugTerminals } from './console';
import { loadDebug } from '../engine';
import type { GatewayServices } from '../gateways';
import { GatewayEntry } from '../session';
import {
  CURRENT_FILE_CONFIGURATION,
  DEBUG_TYPE,
  ExecnetConfigurationProvider,
  type ExecnetLaunchConfiguration,
} from './configuration';

export class GatewayDebugging extends Disposable implements vscode.DebugAdapterDescriptorFactory {
  private readonly terminals = this.register(new DebugTerminals());

  constructor(private readonly services: GatewayServices) {
    super();
    const provider = new ExecnetConfigurationProvider(services);
    this.register(vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, provider));
    // offered under "Run and Debug" even where launch.json has no execnet configuration
    this.register(
      vscode.debug.registerDebugConfigurationProvider(
        DEBUG_TYPE,
        { provideDebugConfigurations: () => provider.provideDebugConfigurations() },
        vscode.DebugConfigurationProviderTriggerKind.Dynamic,
      ),
    );
    this.register(vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, this));
  }

  /** Start debugpy's adapter on the session's gateway and relay to it. */
  async createDebugAdapterDescriptor(
    session: vscode.DebugSession,
  ): Promise<vscode.DebugAdapterDescriptor> {
    const { log, settings } = this.services;
    const config = session.configuration as ExecnetLaunchConfiguration;
    const entry = config.__gatewayId
      ? this.services.session.findEntry(config.__gatewayId)
      : undefined;
    const gateway = entry?.gateway;
    if (!entry || !gateway || entry.state !== 'alive') {
      throw new Error(
        `Execnet: the gateway ${config.__gatewayId ?? config.gateway} is not running.`,
      );
    }
    const { DebugRelay, DebugpyNotFound, GatewayDebugAdapter } = loadDebug();
    const started = performance.now();
    try {
      const relay = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: `Execnet: debugger on ${entry.id}` },
        (progress) =>
          DebugRelay.open(gateway, {
            debugpyPath: settings.debugpyPath() || undefined,
            progress: (message) => {
              log.info(`debug on ${entry.id}: ${message}`);
              progress.report({ message });
            },
          }),
      );
      log.info(
        `debug on ${entry.id}: debugpy (${relay.info.debugpy}${relay.info.folder ? ` in ${relay.info.folder}` : ''}) ready in ${(performance.now() - started).toFixed(0)} ms`,
      );
      relay.onDidEnd((end) =>
        log.info(
          `debug on ${entry.id}: ended${end.error ? ` (${end.error.message})` : end.status ? ` (adapter status ${end.status})` : ''}`,
        ),
      );
      const program = path.basename(String(config.program ?? 'program'));
      return new vscode.DebugAdapterInlineImplementation(
        new GatewayDebugAdapter(relay, {
          openConsole: () => this.terminals.openConsole(entry.id, program),
        }),
      );
    } catch (error) {
      log.error(`the debugger did not start on ${entry.id}`, error);
      const message = error instanceof Error ? error.message : String(error);
      const hint =
        error instanceof Error && error.cause instanceof DebugpyNotFound && !settings.debugpyPath()
          ? ', or set execnet.debug.debugpyPath to a folder that holds it'
          : '';
      throw new Error(`Execnet: ${message}${hint}`, { cause: error });
    }
  }

  /**
   * Debug File on Gateway: the file (a Uri from a menu, else the active editor's) on the gateway
   * given (a tree item), else the default one; no launch.json needed.
   */
  async debugFile(arg?: unknown): Promise<boolean> {
    if (!ensureTrusted()) {
      return false;
    }
    const document = await documentFor(arg instanceof GatewayEntry ? undefined : arg);
    if (!document) {
      return false;
    }
    if (document.uri.scheme !== 'file') {
      void vscode.window.showWarningMessage(
        `Execnet: save ${path.basename(document.uri.path)} to a file to debug it.`,
      );
      return false;
    }
    const config: ExecnetLaunchConfiguration = {
      ...CURRENT_FILE_CONFIGURATION,
      name: path.basename(document.uri.fsPath),
      program: document.uri.fsPath,
      ...(arg instanceof GatewayEntry ? { gateway: arg.id } : {}),
    };
    return vscode.debug.startDebugging(vscode.workspace.getWorkspaceFolder(document.uri), config);
  }
}
