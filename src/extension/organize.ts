// Gateways and groups without editing JSON: New Group, Add Gateway to Group, Move to Group, Save
// Gateway to Settings (for one started from a typed spec), and what New Gateway offers besides
// the configured gateways: the hosts of ~/.ssh/config and the specs used lately.

import * as vscode from 'vscode';
import type * as SshConfigModule from '../core/ssh/config';
import type { Services } from './services';
import { pickStartRequest, startGateway, type StartRequest } from './gateways';
import { GatewayEntry, GroupEntry } from './session';

const RECENT_KEY = 'execnet.recentSpecs';
const RECENT_KEPT = 8;

/** Specs typed into New Gateway that started, newest first (kept across windows). */
export class RecentSpecs {
  constructor(private readonly memento: vscode.Memento) {}

  list(): string[] {
    return this.memento.get<string[]>(RECENT_KEY, []);
  }

  async add(spec: string): Promise<void> {
    const list = [spec, ...this.list().filter((s) => s !== spec)].slice(0, RECENT_KEPT);
    await this.memento.update(RECENT_KEY, list);
  }
}

/** The hosts ~/.ssh/config names (no patterns); none when it cannot be read. */
export function sshConfigHosts(): string[] {
  /* eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the picker opens */
  const config = require('../core/ssh/config') as typeof SshConfigModule;
  return config.configuredHosts();
}

const GROUP_NAME = /^[A-Za-z0-9_.-]+$/;

function checkGroupName(services: Services, name: string, isNew: boolean): string | undefined {
  if (!GROUP_NAME.test(name)) {
    return 'A group name is letters, digits, `_`, `.` and `-`';
  }
  if (isNew && services.session.findGroup(name)) {
    return `There is a group ${name} already`;
  }
  return undefined;
}

/** Pick a start request (configured, ssh host, recent, typed) and start it, in `group` if given. */
export async function startPicked(
  services: Services,
  group?: string,
  request?: StartRequest,
): Promise<GatewayEntry | undefined> {
  const chosen =
    request ??
    (await pickStartRequest(services.settings, {
      sshHosts: sshConfigHosts(),
      recent: services.recents.list(),
      title: group ? `Add a Gateway to Group ${group}` : undefined,
    }));
  if (!chosen) {
    return undefined;
  }
  const entry = await startGateway(services, group ? { ...chosen, group } : chosen);
  if (entry && !chosen.name) {
    await services.recents.add(chosen.spec);
  }
  return entry;
}

/** New Group…: a group of its own, then a gateway for it (given by `request`, or picked). */
export async function newGroup(
  services: Services,
  name?: string,
  request?: StartRequest,
): Promise<GroupEntry | undefined> {
  const chosen =
    name ??
    (await vscode.window.showInputBox({
      title: 'New Group',
      prompt: 'A name for the group: Run File on Group runs a file on every gateway in it',
      placeHolder: 'cluster',
      ignoreFocusOut: true,
      validateInput: (text) => checkGroupName(services, text.trim(), true),
    }));
  if (chosen === undefined) {
    return undefined;
  }
  const problem = checkGroupName(services, chosen.trim(), true);
  if (problem) {
    void vscode.window.showWarningMessage(`Execnet: ${problem}.`);
    return undefined;
  }
  const group = services.session.createGroup(chosen.trim());
  services.log.info(`group ${group.name} made`);
  await startPicked(services, group.name, request);
  return group;
}

/** Add Gateway to Group (a group row's +): start one in it. */
export async function addGatewayToGroup(
  services: Services,
  arg?: GroupEntry | string,
  request?: StartRequest,
): Promise<GatewayEntry | undefined> {
  const name =
    arg instanceof GroupEntry
      ? arg.name
      : (arg ??
        (await vscode.window.showQuickPick(
          services.session.groups.map((g) => g.name),
          { title: 'Add a gateway to which group?' },
        )));
  return name ? startPicked(services, name, request) : undefined;
}

/** Move to Group…: show a gateway in another group (an existing one, or a new one). */
export async function moveToGroup(
  services: Services,
  arg?: GatewayEntry,
  target?: string,
): Promise<GroupEntry | undefined> {
  if (!(arg instanceof GatewayEntry)) {
    return undefined;
  }
  let name = target;
  if (name === undefined) {
    type Item = vscode.QuickPickItem & { group?: string };
    const others: Item[] = services.session.groups
      .filter((g) => g !== arg.group)
      .map((g) => ({
        label: g.name,
        description: g.gateways.map((e) => e.id).join(', '),
        group: g.name,
      }));
    const picked = await vscode.window.showQuickPick<Item>(
      [...others, { label: '$(add) New Group…' }],
      { title: `Move ${arg.id} to which group?` },
    );
    if (!picked) {
      return undefined;
    }
    name =
      picked.group ??
      (await vscode.window.showInputBox({
        title: `Move ${arg.id} to a new group`,
        prompt: 'The new group’s name',
        validateInput: (text) => checkGroupName(services, text.trim(), true),
      }));
  }
  if (!name || checkGroupName(services, name.trim(), false)) {
    return undefined;
  }
  services.session.moveEntry(arg, name.trim());
  services.log.info(`gateway ${arg.id} moved to group ${arg.group.name}`);
  return arg.group;
}

/**
 * Save Gateway to Settings: a gateway started from a typed spec becomes an entry of
 * execnet.gateways (its name, the spec as typed, its group), in the workspace or user settings.
 */
export async function saveGatewayToSettings(
  services: Services,
  arg?: GatewayEntry,
  choice?: { name?: string; where?: 'workspace' | 'user' },
): Promise<boolean> {
  if (!(arg instanceof GatewayEntry)) {
    return false;
  }
  if (arg.configName) {
    void vscode.window.showInformationMessage(
      `Execnet: ${arg.id} is already in execnet.gateways, as ${arg.configName}.`,
    );
    return false;
  }
  const taken = new Set(services.settings.gateways().map((g) => g.name));
  const name =
    choice?.name ??
    (await vscode.window.showInputBox({
      title: `Save ${arg.id} to Settings`,
      prompt: 'Its name in execnet.gateways (New Gateway and execnet.defaultGateway use it)',
      value: arg.id,
      validateInput: (text) =>
        text.trim() === ''
          ? 'A name, please'
          : taken.has(text.trim())
            ? `execnet.gateways has a ${text.trim()} already`
            : undefined,
    }));
  if (!name || taken.has(name.trim())) {
    return false;
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  let where = choice?.where;
  if (!where) {
    const picked = await vscode.window.showQuickPick(
      [
        ...(folder
          ? [
              {
                label: 'Workspace',
                description: 'this folder’s .vscode/settings.json',
                where: 'workspace' as const,
              },
            ]
          : []),
        { label: 'User', description: 'every window', where: 'user' as const },
      ],
      { title: `Save ${name.trim()} in which settings?` },
    );
    where = picked?.where;
  }
  if (!where) {
    return false;
  }
  const target =
    where === 'workspace'
      ? vscode.ConfigurationTarget.Workspace
      : vscode.ConfigurationTarget.Global;
  const config = vscode.workspace.getConfiguration('execnet', folder);
  const inspected = config.inspect<unknown[]>('gateways');
  const current =
    (where === 'workspace' ? inspected?.workspaceValue : inspected?.globalValue) ??
    inspected?.defaultValue ??
    [];
  const item: Record<string, string> = { name: name.trim(), spec: arg.template ?? arg.spec };
  if (arg.group.name !== 'default') {
    item.group = arg.group.name;
  }
  await config.update('gateways', [...current, item], target);
  arg.configName = item.name;
  services.log.info(`gateway ${arg.id} saved to the ${where} settings as ${item.name}`);
  const open = 'Open Settings';
  void vscode.window
    .showInformationMessage(
      `Execnet: saved ${arg.id} to the ${where} settings as ${item.name}.`,
      open,
    )
    .then(
      (picked) =>
        picked &&
        vscode.commands.executeCommand('workbench.action.openSettings', 'execnet.gateways'),
    );
  return true;
}
