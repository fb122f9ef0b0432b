// Which gateway a command acts on, and starting one: the configured gateways and "Enter a spec…"
// in a quick pick, the spec validated as it is typed, a progress notification while it connects.

import * as vscode from 'vscode';
import { parseSpec, validateSpec } from '../core/spec';
import { firstLine } from '../views/format';
import type { Log } from './log';
import type { GatewayEntry, GroupEntry, Session } from './session';
import type { GatewayConfig, Settings } from './settings';

export interface GatewayServices {
  readonly session: Session;
  readonly settings: Settings;
  readonly log: Log;
}

/** What to start: a spec, and optionally the configured entry it came from. */
export interface StartRequest {
  readonly spec: string;
  readonly name?: string;
  readonly group?: string;
}

/**
 * `${workspaceFolder}` and `${workspaceFolderBasename}` in a spec, as in tasks and launch configs:
 * `popen//chdir=${workspaceFolder}` starts a local interpreter in the workspace folder.
 */
export function withWorkspaceVariables(spec: string): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    // no folder to stand for: leave out the items that name one (`chdir=${workspaceFolder}`)
    return spec
      .split('//')
      .filter((item) => !item.includes('${workspaceFolder'))
      .join('//');
  }
  return spec
    .replace(/\$\{workspaceFolder\}/g, folder.uri.fsPath)
    .replace(/\$\{workspaceFolderBasename\}/g, folder.name);
}

/** A configured gateway by name, or a spec typed into the setting directly. */
export function requestFor(settings: Settings, nameOrSpec: string): StartRequest {
  const config = settings.gateways().find((g) => g.name === nameOrSpec);
  return config ? fromConfig(config) : { spec: nameOrSpec };
}

function fromConfig(config: GatewayConfig): StartRequest {
  return { spec: config.spec, name: config.name, group: config.group };
}

/** Ask for a spec, with the parser's error shown while it is invalid. */
export async function enterSpec(): Promise<StartRequest | undefined> {
  const spec = await vscode.window.showInputBox({
    title: 'New Gateway: spec',
    prompt:
      'An execnet gateway spec: popen, popen//python=python3.12, ssh=user@host//chdir=/srv/app',
    value: 'popen',
    valueSelection: [0, 5],
    ignoreFocusOut: true,
    validateInput: (text) => validateSpec(withWorkspaceVariables(text.trim())),
  });
  return spec === undefined ? undefined : { spec: spec.trim() };
}

/**
 * New Gateway's choices: the configured gateways (their specs as they will start, variables
 * replaced), the hosts of ~/.ssh/config, the specs used lately, and "Enter a spec…".
 */
export async function pickStartRequest(
  settings: Settings,
  more: {
    readonly sshHosts?: readonly string[];
    readonly recent?: readonly string[];
    readonly title?: string;
  } = {},
): Promise<StartRequest | undefined> {
  type Item = vscode.QuickPickItem & { request?: StartRequest };
  const section = (label: string, items: Item[]): Item[] =>
    items.length > 0 ? [{ label, kind: vscode.QuickPickItemKind.Separator }, ...items] : [];
  const configured: Item[] = settings.gateways().map((g) => {
    const resolved = withWorkspaceVariables(g.spec);
    return {
      label: g.name,
      description: resolved,
      detail:
        [g.group !== 'default' ? `group ${g.group}` : '', resolved !== g.spec ? g.spec : '']
          .filter(Boolean)
          .join(' · ') || undefined,
      request: fromConfig(g),
    };
  });
  const hosts: Item[] = (more.sshHosts ?? []).map((host) => ({
    label: `$(remote) ${host}`,
    description: `ssh=${host}`,
    request: { spec: `ssh=${host}` },
  }));
  const recent: Item[] = (more.recent ?? []).map((spec) => ({
    label: `$(history) ${spec}`,
    description: withWorkspaceVariables(spec) !== spec ? withWorkspaceVariables(spec) : undefined,
    request: { spec },
  }));
  const items: Item[] = [
    ...section('execnet.gateways', configured),
    ...section('~/.ssh/config', hosts),
    ...section('recently used', recent),
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(edit) Enter a spec…', description: 'popen, ssh=host, socket=host:port …' },
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: more.title ?? 'New Gateway',
    placeHolder: 'A configured gateway, an ssh host, or a spec of your own',
    matchOnDescription: true,
    ignoreFocusOut: true,
  });
  if (!picked) {
    return undefined;
  }
  return picked.request ?? enterSpec();
}

/**
 * Start a gateway with a progress notification (cancellable). Resolves with the entry once it is
 * alive; undefined if it failed (the user was told why) or was cancelled.
 */
export async function startGateway(
  services: GatewayServices,
  request: StartRequest,
): Promise<GatewayEntry | undefined> {
  const { session, log } = services;
  const spec = withWorkspaceVariables(request.spec);
  const { entry, entries, ready } = session.startGateway(spec, {
    name: request.name,
    group: request.group,
    template: request.spec,
  });
  const what =
    entries.length > 1
      ? `${entries.length} gateways ${entries[0].id} … ${entries[entries.length - 1].id}`
      : `gateway ${entry.id}`;
  log.info(`starting ${what} (${spec}) in group ${entry.group.name}`);
  // the first gateway becomes the default, unless execnet.defaultGateway names another
  const configured = services.settings.defaultGateway();
  if (
    (!session.defaultEntry || session.defaultEntry.state === 'dead') &&
    (!configured || configured === request.name || configured === request.spec)
  ) {
    session.defaultEntry = entry;
  }
  try {
    await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Execnet: starting ${what}`,
        cancellable: true,
      },
      async (progress, token) => {
        progress.report({ message: spec });
        // what the start waits for (a job in the queue) replaces the spec as it changes
        const waiting = session.onDidChange((change) => {
          if (change.kind === 'gateway' && change.entry === entry && entry.progress) {
            progress.report({ message: entry.progress });
          }
        });
        // a cancel closes the notification at once; the gateway is ended as soon as it is up
        // (or its start fails), which the tree shows
        let cancelled: (() => void) | undefined;
        const onCancel = new Promise<void>((resolve) => (cancelled = resolve));
        const cancel = token.onCancellationRequested(() => {
          void session.terminate(entry);
          cancelled?.();
        });
        try {
          await Promise.race([ready, onCancel]);
        } finally {
          cancel.dispose();
          waiting.dispose();
        }
      },
    );
    if (entry.cancelled) {
      ready.catch(() => undefined);
      log.info(`gateway ${entry.id}: start cancelled`);
      return undefined;
    }
  } catch (error) {
    if (entry.cancelled) {
      log.info(`gateway ${entry.id}: start cancelled`);
      return undefined;
    }
    const message = error instanceof Error ? error.message : String(error);
    log.error(`gateway ${entry.id} (${spec}) did not start`, error);
    void showError(log, `Gateway ${entry.id} did not start: ${firstLine(message)}`);
    return undefined;
  }
  const info = entry.info;
  log.info(
    `gateway ${entry.id} is alive: ${info ? `${info.executable} ${info.version.join('.')} pid ${info.pid} on ${info.hostname}` : ''}`,
  );
  return entry;
}

/** A one-line error with the way to the details. */
export async function showError(log: Log, message: string): Promise<void> {
  const choice = await vscode.window.showErrorMessage(message, 'Show Log');
  if (choice === 'Show Log') {
    log.show();
  }
}

/**
 * The gateway to run on when none was named: the default one if it is alive (or still
 * starting), else the configured default (started now), else the only one alive, else ask.
 */
export async function resolveGateway(services: GatewayServices): Promise<GatewayEntry | undefined> {
  const { session, settings } = services;
  const current = session.defaultEntry;
  if (current?.state === 'alive') {
    return current;
  }
  if (current?.state === 'connecting') {
    return waitAlive(session, current);
  }
  const configured = settings.defaultGateway();
  if (configured) {
    const request = requestFor(settings, configured);
    const running = request.name
      ? session.aliveEntries.find((e) => e.configName === request.name)
      : undefined;
    if (running) {
      session.defaultEntry = running;
      return running;
    }
    const entry = await startGateway(services, request);
    if (entry) {
      session.defaultEntry = entry;
    }
    return entry;
  }
  const alive = session.aliveEntries;
  if (alive.length === 1) {
    session.defaultEntry = alive[0];
    return alive[0];
  }
  const picked = await pickGateway(services, { title: 'Run on which gateway?', offerNew: true });
  if (picked) {
    session.defaultEntry = picked;
  }
  return picked;
}

/** Resolves when a connecting entry is alive (undefined if it died instead). */
function waitAlive(session: Session, entry: GatewayEntry): Promise<GatewayEntry | undefined> {
  return new Promise((resolve) => {
    const check = (): boolean => {
      if (entry.state === 'connecting') {
        return false;
      }
      subscription.dispose();
      resolve(entry.state === 'alive' ? entry : undefined);
      return true;
    };
    const subscription = session.onDidChange((change) => {
      if (change.kind === 'gateway' && change.entry === entry) {
        check();
      }
    });
    check();
  });
}

/** Pick a running gateway; with `offerNew`, also the configured ones (started when picked). */
export async function pickGateway(
  services: GatewayServices,
  options: { title: string; offerNew?: boolean; filter?: (e: GatewayEntry) => boolean },
): Promise<GatewayEntry | undefined> {
  const { session, settings } = services;
  type Item = vscode.QuickPickItem & {
    entry?: GatewayEntry;
    request?: StartRequest;
    enter?: boolean;
  };
  const filter = options.filter ?? ((e: GatewayEntry) => e.state === 'alive');
  const running: Item[] = session.entries.filter(filter).map((entry) => ({
    label: `$(vm-running) ${entry.id}`,
    description: `${entry.state} · ${entry.spec}`,
    detail: entry.group.name !== 'default' ? `group ${entry.group.name}` : undefined,
    entry,
  }));
  const items: Item[] = [...running];
  if (options.offerNew) {
    const names = new Set(session.aliveEntries.map((e) => e.configName));
    const startable: Item[] = settings
      .gateways()
      .filter((g) => !names.has(g.name))
      .map((g) => ({
        label: `$(add) ${g.name}`,
        description: `start: ${g.spec}`,
        request: fromConfig(g),
      }));
    if (startable.length > 0) {
      items.push({ label: 'start', kind: vscode.QuickPickItemKind.Separator }, ...startable);
    }
    items.push({ label: '$(edit) Enter a spec…', enter: true });
  }
  if (items.length === 0) {
    void vscode.window.showInformationMessage(
      'Execnet: no gateway is running. Start one with "Execnet: New Gateway…".',
    );
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(items, {
    title: options.title,
    ignoreFocusOut: true,
  });
  if (!picked) {
    return undefined;
  }
  if (picked.entry) {
    return picked.entry;
  }
  const request = picked.request ?? (picked.enter ? await enterSpec() : undefined);
  return request ? startGateway(services, request) : undefined;
}

/** Pick a group: those with a running gateway and those the settings define. */
export async function pickGroup(
  services: GatewayServices,
): Promise<GroupEntry | string | undefined> {
  const { session, settings } = services;
  type Item = vscode.QuickPickItem & { group: GroupEntry | string };
  const items: Item[] = session.groups
    .filter((g) => g.alive.length > 0)
    .map((g) => ({ label: g.name, description: g.alive.map((e) => e.id).join(', '), group: g }));
  const known = new Set(items.map((i) => i.label));
  for (const config of settings.gateways()) {
    if (!known.has(config.group)) {
      known.add(config.group);
      const members = settings.gateways().filter((g) => g.group === config.group);
      items.push({
        label: config.group,
        description: `start ${members.map((g) => g.name).join(', ')}`,
        group: config.group,
      });
    }
  }
  if (items.length === 0) {
    void vscode.window.showInformationMessage(
      'Execnet: no group to run on. Start gateways, or give entries of execnet.gateways a "group".',
    );
    return undefined;
  }
  if (items.length === 1) {
    return items[0].group;
  }
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Run File on which group?',
    ignoreFocusOut: true,
  });
  return picked?.group;
}

/** A group's alive gateways, starting the configured members that are not running. */
export async function groupGateways(
  services: GatewayServices,
  group: GroupEntry | string,
): Promise<GatewayEntry[]> {
  const { session, settings } = services;
  const name = typeof group === 'string' ? group : group.name;
  const entry = session.findGroup(name);
  const runningNames = new Set(entry?.alive.map((e) => e.configName) ?? []);
  const missing = settings.gateways().filter((g) => g.group === name && !runningNames.has(g.name));
  if (missing.length > 0 && (typeof group === 'string' || entry?.alive.length === 0)) {
    // gateways others go through (via=) start first
    const routes = missing.filter((config) =>
      missing.some((other) => viaOf(other) === config.name),
    );
    await Promise.all(routes.map((config) => startGateway(services, fromConfig(config))));
    const rest = missing.filter((config) => !routes.includes(config));
    await Promise.all(rest.map((config) => startGateway(services, fromConfig(config))));
  }
  return session.findGroup(name)?.alive ?? [];
}

/** The via= of a configured gateway's spec, if it has one. */
function viaOf(config: GatewayConfig): string | undefined {
  try {
    return parseSpec(withWorkspaceVariables(config.spec)).via;
  } catch {
    return undefined;
  }
}

/**
 * The gateways of a group that run a file: all, except a login node or container host that
 * Slurm or container gateways of the group go through (via=) — it is the way in, not a worker.
 */
export function workers(entries: readonly GatewayEntry[]): GatewayEntry[] {
  const routes = new Set(
    entries.flatMap((entry) => {
      const spec = entry.gateway?.spec;
      const launched = spec?.type === 'slurm' || spec?.type === 'docker' || spec?.type === 'podman';
      return launched && spec?.via !== undefined ? [spec.via] : [];
    }),
  );
  return entries.filter((entry) => !routes.has(entry.id));
}
