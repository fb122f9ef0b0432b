// The Gateways view: groups → gateways → runs, rendered from the session. Elements are the
// session's own objects, so a change refreshes exactly the element it concerns.

import * as vscode from 'vscode';
import { Disposable } from '../core/lifecycle';
import { GatewayEntry, GroupEntry, Run, SessionNode, type Session } from '../extension/session';
import {
  describeGateway,
  describeGroup,
  describeInterpreter,
  placementDetails,
  describeRunState,
  describeSession,
  formatClock,
} from './format';

export type TreeNode = GroupEntry | GatewayEntry | SessionNode | Run;

export const VIEW_ID = 'execnet.gateways';

export class GatewayTreeProvider extends Disposable implements vscode.TreeDataProvider<TreeNode> {
  private readonly changeEmitter = this.register(
    new vscode.EventEmitter<TreeNode | TreeNode[] | undefined>(),
  );
  readonly onDidChangeTreeData = this.changeEmitter.event;
  /** The state each gateway row was last refreshed for. */
  private readonly shownStates = new WeakMap<GatewayEntry, GatewayEntry['state']>();

  constructor(private readonly session: Session) {
    super();
    this.register(
      session.onDidChange((change) => {
        switch (change.kind) {
          case 'groups':
            this.changeEmitter.fire(undefined);
            return;
          case 'group':
            this.changeEmitter.fire(change.group);
            return;
          case 'gateway': {
            // a new state also changes the group's "n of m alive": refresh the group then
            const entry = change.entry;
            const stateChanged = this.shownStates.get(entry) !== entry.state;
            this.shownStates.set(entry, entry.state);
            this.changeEmitter.fire(stateChanged ? entry.group : entry);
            return;
          }
          case 'run':
            this.changeEmitter.fire(change.run);
            return;
          case 'session':
            this.changeEmitter.fire(change.node);
            return;
          case 'default': {
            // the star moves from one gateway to another
            this.changeEmitter.fire(session.entries);
            return;
          }
        }
      }),
    );
  }

  getChildren(element?: TreeNode): TreeNode[] {
    if (!element) {
      return [...this.session.groups];
    }
    if (element instanceof GroupEntry) {
      return [...element.gateways];
    }
    if (element instanceof GatewayEntry) {
      const runs = [...element.runs].reverse();
      return element.interactive ? [element.interactive, ...runs] : runs;
    }
    return [];
  }

  getParent(element: TreeNode): TreeNode | undefined {
    if (element instanceof Run || element instanceof SessionNode) {
      return element.entry;
    }
    if (element instanceof GatewayEntry) {
      return element.group;
    }
    return undefined;
  }

  getTreeItem(element: TreeNode): vscode.TreeItem {
    if (element instanceof GroupEntry) {
      return this.groupItem(element);
    }
    if (element instanceof GatewayEntry) {
      return this.gatewayItem(element);
    }
    if (element instanceof SessionNode) {
      return this.sessionItem(element);
    }
    return this.runItem(element);
  }

  private groupItem(group: GroupEntry): vscode.TreeItem {
    const item = new vscode.TreeItem(group.name, vscode.TreeItemCollapsibleState.Expanded);
    item.id = `group:${group.name}`;
    item.description = describeGroup(group);
    item.iconPath = new vscode.ThemeIcon('server-environment');
    item.contextValue = 'group';
    const job = group.allocation
      ? `\n\nSlurm allocation: job ${group.allocation.jobId}, ${group.allocation.state}`
      : '';
    item.tooltip = `Group ${group.name}: ${group.gateways.map((e) => e.id).join(', ')}${job}`;
    return item;
  }

  private gatewayItem(entry: GatewayEntry): vscode.TreeItem {
    const isDefault = this.session.defaultEntry === entry;
    // Expanded from the start (a row cannot turn from leaf to expanded later under the same id):
    // its runs show as they start.
    const item = new vscode.TreeItem(entry.id, vscode.TreeItemCollapsibleState.Expanded);
    item.id = `gateway:${entry.group.name}/${entry.id}/${entry.createdAt.getTime()}`;
    item.description = `${isDefault ? '★ ' : ''}${describeGateway(entry)}`;
    item.iconPath = gatewayIcon(entry);
    item.contextValue = `gateway.${entry.state}`;
    item.tooltip = gatewayTooltip(entry, isDefault);
    return item;
  }

  private sessionItem(node: SessionNode): vscode.TreeItem {
    const session = node.session;
    const item = new vscode.TreeItem('Interactive session', vscode.TreeItemCollapsibleState.None);
    item.id = `session:${node.entry.id}/${node.entry.createdAt.getTime()}`;
    item.description = describeSession(session);
    item.iconPath =
      session.state === 'busy'
        ? new vscode.ThemeIcon('loading~spin')
        : new vscode.ThemeIcon('terminal', new vscode.ThemeColor('testing.iconPassed'));
    item.contextValue = `session.${session.state}`;
    item.tooltip = new vscode.MarkdownString(
      `**Interactive session** on \`${node.entry.id}\`: one namespace for Run Selection, cells, ` +
        `the REPL and notebooks.\n\n${describeSession(session)}`,
    );
    item.command = { command: 'execnet.openRepl', title: 'Open REPL', arguments: [node] };
    return item;
  }

  private runItem(run: Run): vscode.TreeItem {
    const item = new vscode.TreeItem(run.label, vscode.TreeItemCollapsibleState.None);
    item.id = `run:${run.id}`;
    item.description = describeRunState(run);
    item.iconPath = runIcon(run);
    item.contextValue = run.isOpen ? 'channel.open' : 'channel.closed';
    item.tooltip = new vscode.MarkdownString(
      [
        `**${run.label}** on \`${run.entry.id}\`${run.channel ? ` (channel ${run.channel.id})` : ''}`,
        `started ${formatClock(run.startedAt)}${run.endedAt ? `, ended ${formatClock(run.endedAt)}` : ''}`,
        describeRunState(run),
      ].join('\n\n'),
    );
    item.command = { command: 'execnet.showChannelOutput', title: 'Show Output', arguments: [run] };
    return item;
  }
}

function gatewayIcon(entry: GatewayEntry): vscode.ThemeIcon {
  switch (entry.state) {
    case 'connecting':
      return new vscode.ThemeIcon('loading~spin');
    case 'alive':
      return new vscode.ThemeIcon('vm-running', new vscode.ThemeColor('testing.iconPassed'));
    case 'closing':
      return new vscode.ThemeIcon('vm-outline', new vscode.ThemeColor('testing.iconQueued'));
    case 'dead':
      return new vscode.ThemeIcon('vm-outline', new vscode.ThemeColor('testing.iconFailed'));
  }
}

function runIcon(run: Run): vscode.ThemeIcon {
  const outcome = run.outcome;
  if (!outcome) {
    return new vscode.ThemeIcon('sync~spin');
  }
  switch (outcome.kind) {
    case 'ok':
      return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
    case 'exit':
      return outcome.code === 0
        ? new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'))
        : new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    case 'interrupted':
      return new vscode.ThemeIcon('debug-pause');
    default:
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
  }
}

function gatewayTooltip(entry: GatewayEntry, isDefault: boolean): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  md.appendMarkdown(`**${entry.id}**${isDefault ? ' (default)' : ''} — ${entry.state}\n\n`);
  md.appendMarkdown(`spec: \`${entry.spec}\`\n\n`);
  const info = entry.info;
  if (info) {
    md.appendMarkdown(`${describeInterpreter(info)} (${info.platform})\n\n`);
    const placement = placementDetails(info);
    if (placement) {
      md.appendMarkdown(`${placement}\n\n`);
    }
    md.appendMarkdown(`executable: \`${info.executable}\`, pid ${info.pid}\n\n`);
    md.appendMarkdown(`cwd: \`${info.cwd}\`\n\n`);
  }
  if (entry.reason) {
    md.appendText(entry.reason);
  }
  return md;
}
