// Sync Workspace to Gateway: mirrors the workspace folder to a remote directory with the engine's
// RSync, honouring .gitignore and execnet.rsync.exclude, with cancellable progress and a summary.

import * as vscode from 'vscode';
import type { Log } from './log';
import type { GatewayEntry } from './session';
import type { Settings } from './settings';

export interface SyncServices {
  readonly settings: Settings;
  readonly log: Log;
}

export interface SyncSummary {
  readonly target: string;
  readonly filesSent: number;
  readonly bytesSent: number;
  readonly deleted: number;
  readonly errors: number;
}

/** Whether this build has the rsync engine. */
export function syncAvailable(): boolean {
  return false;
}

/** The remote folder for a gateway: its own rsyncTarget, or execnet.rsync.target. */
export function syncTarget(
  settings: Settings,
  entry: GatewayEntry,
  folder: vscode.WorkspaceFolder,
): string {
  const own = settings.gateways().find((g) => g.name === entry.configName)?.rsyncTarget;
  return (own || settings.rsyncTarget()).replace(/\$\{workspaceFolderBasename\}/g, folder.name);
}

export async function syncWorkspace(
  services: SyncServices,
  _entry: GatewayEntry,
): Promise<SyncSummary | undefined> {
  services.log.warn('Sync Workspace to Gateway: the rsync engine is not part of this build yet');
  void vscode.window.showWarningMessage(
    'Execnet: Sync Workspace to Gateway is not available yet in this version.',
  );
  return undefined;
}
