// The status-bar item of the default gateway: its id and state, or the configured default that is
// not started yet (`local (not started)`: it starts with the first run); a click picks another.

import * as vscode from 'vscode';
import { Disposable } from '../core/lifecycle';
import type { Session } from '../extension/session';
import { describeGateway } from './format';

export class DefaultGatewayStatus extends Disposable {
  private readonly item = this.register(
    vscode.window.createStatusBarItem('execnet.defaultGateway', vscode.StatusBarAlignment.Left, 50),
  );

  constructor(
    private readonly session: Session,
    /** The name (or spec) execnet.defaultGateway sets, if any. */
    private readonly configuredDefault: () => string = () => '',
  ) {
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
    this.register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('execnet.defaultGateway')) {
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
      const configured = this.configuredDefault();
      this.item.backgroundColor = undefined;
      if (configured) {
        this.item.text = `$(vm-outline) ${configured} (not started)`;
        this.item.tooltip =
          `Default gateway ${configured} (execnet.defaultGateway) is not started: ` +
          'it starts when you run a file. Click to pick or start another.';
      } else {
        this.item.text = '$(vm-outline) execnet';
        this.item.tooltip = 'No default gateway: click to pick or start one';
      }
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
