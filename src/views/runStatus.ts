// The status-bar item of the runs going on: `$(debug-stop) train.py on gw1 · 0:12` while one runs
// (two or more: `$(debug-stop) 2 runs`), hidden when none does. A click stops the run (picks one
// of several); its tooltip says how long each has run.

import * as vscode from 'vscode';
import { Disposable, toDisposable } from '../core/lifecycle';
import type { Run, Session } from '../extension/session';

/** `0:07`, `12:03`, `1:02:03`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}

export class RunStatus extends Disposable {
  private readonly item = this.register(
    vscode.window.createStatusBarItem('execnet.runs', vscode.StatusBarAlignment.Left, 49),
  );
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly session: Session) {
    super();
    this.item.name = 'Execnet Runs';
    this.item.command = 'execnet.stopRun';
    this.register(
      session.onDidChange((change) => {
        if (change.kind === 'run' || change.kind === 'gateway') {
          this.update();
        }
      }),
    );
    this.register(session.onDidStartRun(() => this.update()));
    this.register(toDisposable(() => clearInterval(this.timer)));
    this.update();
  }

  /** The text shown now ('' when hidden). */
  get text(): string {
    return this.timer ? this.item.text : '';
  }

  private update(): void {
    const open = this.session.runs.filter((r) => r.isOpen);
    if (open.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.item.hide();
      return;
    }
    this.render(open);
    if (!this.timer) {
      // the elapsed time ticks while something runs
      this.timer = setInterval(() => this.render(this.session.runs.filter((r) => r.isOpen)), 1000);
    }
    this.item.show();
  }

  private render(open: Run[]): void {
    if (open.length === 0) {
      this.update();
      return;
    }
    const now = Date.now();
    const elapsed = (run: Run): string => formatElapsed(now - run.startedAt.getTime());
    const stopping = open.every((r) => r.stopping);
    const icon = stopping ? '$(loading~spin)' : '$(debug-stop)';
    this.item.text =
      open.length === 1
        ? `${icon} ${open[0].label} on ${open[0].entry.id} · ${elapsed(open[0])}`
        : `${icon} ${open.length} runs`;
    const lines = open.map(
      (r) =>
        `- ${r.label} on ${r.entry.id}: ${r.stopping ? 'stopping' : 'running'} for ${elapsed(r)}`,
    );
    this.item.tooltip = new vscode.MarkdownString(
      `${lines.join('\n')}\n\nClick to stop ${open.length === 1 ? 'it' : 'one'} (Ctrl+Alt+M)`,
    );
  }
}
