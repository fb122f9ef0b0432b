// Sync Workspace to Gateway: mirrors the workspace folder to a remote directory with the engine's
// RSync, honouring .gitignore and execnet.rsync.exclude, with a cancellable progress notification
// (files and bytes) and a summary. Cancelling stops files not yet under way; those in flight land.

import * as vscode from 'vscode';
import type { Gateway } from '../core/gateway';
import type { RSyncEvent, RSyncSummary } from '../core/rsync';
import { formatDuration } from '../views/format';
import { loadRSync } from './engine';
import type { Log } from './log';
import type { GatewayEntry } from './session';
import type { Settings } from './settings';
import type { SyncMapping } from './syncMapping';

export interface SyncServices {
  readonly settings: Settings;
  readonly log: Log;
}

export interface SyncResult {
  /** The remote folder, as given to the gateway (`~` is the remote home). */
  readonly target: string;
  readonly cancelled: boolean;
  readonly summary: RSyncSummary;
  /** The workspace ↔ mirror mapping (also kept as the entry's `sync`); unset when cancelled. */
  readonly mapping?: SyncMapping;
  /** What the notification said: the numbers first. */
  readonly headline: string;
}

/**
 * The sync's outcome for a notification, numbers first so that nothing that matters is cut off
 * (`Synced 12 files (3.4 MB) in 0.41 s to gw1, 2 deleted`), and the whole of it for the details.
 */
export function describeSync(
  summary: RSyncSummary,
  gateway: string,
  where: { from: string; to: string; resolved?: string },
): { headline: string; detail: string } {
  const files = `${summary.filesSent} file${summary.filesSent === 1 ? '' : 's'} (${formatBytes(summary.bytesSent)})`;
  const took = formatDuration(summary.seconds * 1000);
  const extras = [
    summary.deleted ? `${summary.deleted} deleted` : '',
    summary.errors ? `${summary.errors} error${summary.errors === 1 ? '' : 's'}` : '',
  ].filter(Boolean);
  const headline = `${summary.cancelled ? 'Sync cancelled after' : 'Synced'} ${files} in ${took} to ${gateway}${extras.length ? `, ${extras.join(', ')}` : ''}.`;
  const detail = [
    `${where.from} → ${where.to}${where.resolved && !where.to.endsWith(where.resolved) ? ` (${where.resolved})` : ''}`,
    `${summary.filesSent} of ${summary.listed.files} file(s) sent, ${formatBytes(summary.bytesSent)}; ${summary.metaUpdated} unchanged file(s) re-dated; ${summary.deleted} deleted; ${summary.skipped} skipped; ${summary.errors} error(s)`,
    `${took}${summary.cancelled ? ', cancelled' : ''}`,
  ].join('\n');
  return { headline, detail };
}

/** An information message with a Show Details action that opens the whole text in a dialog. */
export async function showWithDetails(message: string, detail: string): Promise<void> {
  const choice = await vscode.window.showInformationMessage(message, 'Show Details');
  if (choice) {
    await vscode.window.showInformationMessage(message, { modal: true, detail });
  }
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

/** `1.2 MB` */
export function formatBytes(n: number): string {
  if (n < 1000) {
    return `${n} B`;
  }
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * The gateway that writes a sync for `entry`: itself, or for a Slurm gateway reached through a
 * login node (via=), that login node, which sees the same shared file system the tasks do.
 */
export function syncRoute(entry: GatewayEntry): GatewayEntry {
  const spec = entry.gateway?.spec;
  if (spec?.type === 'slurm' && spec.via !== undefined) {
    const login = entry.group.gateways.find((e) => e.id === spec.via && e.state === 'alive');
    if (login) {
      return login;
    }
  }
  return entry;
}

/** `target` as an absolute path on the gateway, resolved as the sync resolved it. */
async function remotePath(gateway: Gateway, target: string): Promise<string> {
  const channel = gateway.remoteExec(
    'import os\nchannel.send(os.path.abspath(os.path.expanduser(channel.receive())))',
  );
  await channel.send(target);
  return String(await channel.receive(30));
}

function workspaceFolder(): vscode.WorkspaceFolder | undefined {
  const active = vscode.window.activeTextEditor?.document.uri;
  return (
    (active && vscode.workspace.getWorkspaceFolder(active)) ??
    vscode.workspace.workspaceFolders?.[0]
  );
}

/**
 * Mirror the workspace folder to `entry` (at `target`, else the configured folder). Resolves with
 * what happened, or undefined when nothing could be synced (the user was told why).
 */
export async function syncWorkspace(
  services: SyncServices,
  entry: GatewayEntry,
  options: { target?: string; quiet?: boolean; folder?: vscode.WorkspaceFolder } = {},
): Promise<SyncResult | undefined> {
  const { settings, log } = services;
  const folder = options.folder ?? workspaceFolder();
  if (!folder || folder.uri.scheme !== 'file') {
    void vscode.window.showWarningMessage(
      'Execnet: open a folder on this machine to sync it to a gateway.',
    );
    return undefined;
  }
  if (!entry.gateway || entry.state !== 'alive') {
    void vscode.window.showWarningMessage(`Execnet: gateway ${entry.id} is ${entry.state}.`);
    return undefined;
  }
  const route = syncRoute(entry);
  const gateway = route.gateway ?? entry.gateway;
  const target = options.target ?? syncTarget(settings, entry, folder);
  const where = `${entry.id}:${target}${route === entry ? '' : ` (through ${route.id})`}`;
  const { RSync } = loadRSync();
  log.info(`sync ${folder.uri.fsPath} → ${where}`);

  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Execnet: syncing ${folder.name} to ${where}`,
      cancellable: true,
    },
    async (progress, token) => {
      // a cancel ends the walk, skips any delete, and drops a file in transfer on the target
      const abort = new AbortController();
      const cancel = token.onCancellationRequested(() => {
        abort.abort();
        log.info(`sync to ${where}: cancelled`);
      });
      let reported = 0;
      let lastReport = 0;
      progress.report({ message: 'listing files…' });
      const onEvent = (event: RSyncEvent): void => {
        if (event.type === 'error') {
          log.warn(`sync to ${where}: ${event.path}: ${event.message}`);
        } else if (event.type === 'progress') {
          const now = Date.now();
          const done = event.filesDone === event.filesTotal;
          if (now - lastReport < 100 && !done) {
            return;
          }
          lastReport = now;
          const percent = event.bytesTotal > 0 ? (event.bytesDone / event.bytesTotal) * 100 : 0;
          progress.report({
            message: `${event.filesDone} of ${event.filesTotal} files · ${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)}`,
            increment: Math.max(0, percent - reported),
          });
          reported = Math.max(reported, percent);
        }
      };
      const rsync = new RSync(folder.uri.fsPath, {
        callback: onEvent,
        gitignore: true,
        exclude: settings.rsyncExclude(),
      });
      rsync.addTarget(gateway, target, undefined, { delete: settings.rsyncDelete() });
      try {
        const summary = (await rsync.send({ signal: abort.signal })) as RSyncSummary;
        const cancelled = summary.cancelled;
        let mapping: SyncMapping | undefined;
        if (!cancelled) {
          mapping = {
            localRoot: folder.uri.fsPath,
            remoteRoot: await remotePath(gateway, target),
            target,
            syncedAt: new Date(),
          };
          entry.sync = mapping;
        }
        const { headline, detail } = describeSync(summary, entry.id, {
          from: folder.uri.fsPath,
          to: where,
          resolved: mapping?.remoteRoot,
        });
        log.info(`${headline} · ${detail.replace(/\n/g, ' · ')}`);
        if (summary.errors > 0) {
          void vscode.window
            .showWarningMessage(`Execnet: ${headline}`, 'Show Log')
            .then((choice) => choice && log.show());
        } else if (!options.quiet) {
          void showWithDetails(`Execnet: ${headline}`, detail);
        }
        return { target, cancelled, summary, mapping, headline };
      } catch (error) {
        log.error(`sync to ${where} failed`, error);
        void vscode.window
          .showErrorMessage(
            `Execnet: sync to ${where} failed: ${error instanceof Error ? error.message : String(error)}`,
            'Show Log',
          )
          .then((choice) => choice && log.show());
        return undefined;
      } finally {
        cancel.dispose();
      }
    },
  );
}
