// Launch configurations of the `execnet` debug type: F5 with no launch.json debugs the current
// file; `gateway` is found (a running gateway's id, a configured name, or a spec, started if need
// be); and the program's paths are mapped to the gateway: none on a gateway that sees this
// machine's files, else the workspace's mirror (synced first, as Run does), unless the
// configuration brings its own `pathMappings`.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PathMapping } from '../../core/pathMapping';
import { ensureTrusted } from '../editor';
import {
  requestFor,
  resolveGateway,
  startGateway,
  withWorkspaceVariables,
  type GatewayServices,
} from '../gateways';
import type { GatewayEntry } from '../session';
import { syncWorkspace } from '../sync';

export const DEBUG_TYPE = 'execnet';

/** The launch configuration as the user writes it (see package.json's schema). */
export interface ExecnetLaunchConfiguration extends vscode.DebugConfiguration {
  gateway?: string;
  program?: string;
  args?: string[] | string;
  cwd?: string;
  env?: Record<string, string | null>;
  justMyCode?: boolean;
  stopOnEntry?: boolean;
  pathMappings?: PathMapping[];
  /** Sync the workspace before debugging on a gateway that has its own files (default true). */
  sync?: boolean;
  /** Set by the resolver: the gateway the session runs on. */
  __gatewayId?: string;
}

export const CURRENT_FILE_CONFIGURATION: ExecnetLaunchConfiguration = {
  type: DEBUG_TYPE,
  request: 'launch',
  name: 'Execnet: Debug Current File on Gateway',
  program: '${file}',
};

export class ExecnetConfigurationProvider implements vscode.DebugConfigurationProvider {
  constructor(private readonly services: GatewayServices) {}

  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    const gateway = this.services.settings.defaultGateway();
    return [{ ...CURRENT_FILE_CONFIGURATION, ...(gateway ? { gateway } : {}) }];
  }

  /** F5 with no launch.json (or an empty configuration): the current Python file. */
  resolveDebugConfiguration(
    _folder: vscode.WorkspaceFolder | undefined,
    config: ExecnetLaunchConfiguration,
  ): vscode.DebugConfiguration | undefined {
    if (!config.type && !config.request && !config.name) {
      const document = vscode.window.activeTextEditor?.document;
      if (document?.languageId !== 'python') {
        void vscode.window.showWarningMessage(
          'Execnet: open a Python file to debug it on a gateway, or add an "execnet" configuration to launch.json.',
        );
        return undefined;
      }
      return { ...CURRENT_FILE_CONFIGURATION };
    }
    return { ...config, program: config.program ?? '${file}' };
  }

  /** The gateway (started if need be), the saved program, and the paths on the gateway. */
  async resolveDebugConfigurationWithSubstitutedVariables(
    folder: vscode.WorkspaceFolder | undefined,
    config: ExecnetLaunchConfiguration,
  ): Promise<vscode.DebugConfiguration | undefined> {
    if (!ensureTrusted()) {
      return undefined;
    }
    const { log } = this.services;
    const program = config.program ? path.resolve(config.program) : undefined;
    if (!program) {
      void vscode.window.showErrorMessage(
        'Execnet: the launch configuration names no "program" to debug.',
      );
      return undefined;
    }
    const document = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === program);
    if (document?.isDirty && !(await document.save())) {
      return undefined;
    }
    const entry = await this.gateway(config.gateway);
    if (!entry?.gateway || entry.state !== 'alive') {
      return undefined;
    }
    const programFolder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(program)) ?? folder;
    let pathMappings = config.pathMappings;
    // a gateway on this machine sees the program where it is
    if (!pathMappings && !entry.isLocal) {
      if (config.sync !== false && programFolder) {
        const synced = await syncWorkspace(this.services, entry, {
          quiet: true,
          folder: programFolder,
          target:
            entry.sync?.localRoot === programFolder.uri.fsPath ? entry.sync.target : undefined,
        });
        if (!synced?.mapping) {
          return undefined;
        }
      }
      if (!entry.sync) {
        void vscode.window.showErrorMessage(
          `Execnet: ${entry.id} has no copy of the workspace to debug: sync it first, or give the configuration "pathMappings".`,
        );
        return undefined;
      }
      pathMappings = [{ localRoot: entry.sync.localRoot, remoteRoot: entry.sync.remoteRoot }];
    }
    log.info(
      `debug ${program} on ${entry.id}${pathMappings ? ` (${pathMappings.map((m) => `${m.localRoot} → ${m.remoteRoot}`).join(', ')})` : ''}`,
    );
    // a configuration we made up (F5 with no launch.json, Debug File) is named for what runs where
    const madeUp =
      config.name === CURRENT_FILE_CONFIGURATION.name || config.name === path.basename(program);
    return {
      ...config,
      name: madeUp ? `${path.basename(program)} on ${entry.id}` : config.name,
      program,
      cwd: config.cwd ?? programFolder?.uri.fsPath ?? path.dirname(program),
      pathMappings,
      __gatewayId: entry.id,
    };
  }

  /** A running gateway's id, a configured name (its running gateway, or started), or a spec. */
  private async gateway(name: string | undefined): Promise<GatewayEntry | undefined> {
    const { session, settings } = this.services;
    if (!name) {
      return resolveGateway(this.services);
    }
    const running = session.findEntry(name);
    if (running?.state === 'alive') {
      return running;
    }
    // a configured gateway, or one started from the same spec, is reused
    const request = requestFor(settings, name);
    const spec = withWorkspaceVariables(request.spec);
    const reused = session.aliveEntries.find((e) =>
      request.name ? e.configName === request.name : e.spec === spec,
    );
    return reused ?? startGateway(this.services, request);
  }
}
