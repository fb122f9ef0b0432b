// The status-bar item of the default gateway: its id and state; a click picks another.

import * as vscode from 'vscode';
import { Disposable } from '../core/lifecycle';
import type { Session } from '../extension/session';
import { describeGateway } from './format';

export class DefaultGatewayStatus extends Disposable {
  private readonly item = this.register(
    vscode.window.createStatusBarItem('execnet.defaultGateway', vscode.StatusBarAlignment.Left, 50),
  );

  constructor(private readonly session: Session) {
    super();
    this.item.name = 'Execnet Default Gateway';
    this.item.command = 'execnet.selectDefaultGateway';
    this.register(
      session.onDidChange((change) => {
        if (
          change.kind === 'default' ||
          (change.kind === 'gateway' && change.entry === session.defaultEntry)
        ) {
          this.update();
        }
      }),
    );
    this.update();
    this.item.show();
  }

  /** The text shown now (for tests and logs). */
  get text(): string {
    return this.item.text;
  }

  private update(): void {
    const entry = this.session.defaultEntry;
    if (!entry) {
      this.item.text = '$(vm-outline) execnet';
      this.item.tooltip = 'No default gateway: click to pick or start one';
      this.item.backgroundColor = undefined;
      return;
    }
    const icon = {
      connecting: '$(loading~spin)',
      alive: '$(vm-running)',
      closing: '$(vm-outline)',
      dead: '$(error)',
    }[entry.state];
    this.item.text = `${icon} ${entry.id}`;
    this.item.tooltip = `Default gateway ${entry.id}: ${describeGateway(entry)}\nClick to pick another`;
    this.item.backgroundColor =
      entry.state === 'dead' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }
}
