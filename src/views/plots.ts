// Execnet Plots: the figures and images that selections and `# %%` cells show (matplotlib's
// plt.show() and the figures left at the end of a cell, display() of an image), newest first, in
// a panel beside the editor — where a notebook would show them under the cell. The output channel
// keeps the figure's text (`<Figure size 640x480 with 1 Axes>`); the panel opens without taking
// the focus, and keeps the latest figures while it is closed (Execnet: Show Plots). The REPL
// terminal sends its figures here too.

import * as vscode from 'vscode';
import { Disposable, toDisposable } from '../core/lifecycle';
import type { Run, RunImage, Session } from '../extension/session';
import { formatClock } from './format';

export const PLOTS_VIEW_TYPE = 'execnet.plots';

/** Figures kept (the oldest go first). */
const MAX_PLOTS = 30;

export interface Plot extends RunImage {
  /** `analysis.py:12-20 on gw1` */
  readonly title: string;
  readonly shown: Date;
}

export class PlotsPanel extends Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private readonly kept: Plot[] = [];

  constructor(session: Session) {
    super();
    this.register(session.onDidStartRun((run) => this.follow(run)));
    this.register(toDisposable(() => this.panel?.dispose()));
  }

  /** The figures kept, newest first. */
  get plots(): readonly Plot[] {
    return this.kept;
  }

  /** Open the panel (beside the editor, keeping the focus where it is), or bring it forward. */
  show(): void {
    if (this.panel) {
      this.panel.reveal(undefined, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      PLOTS_VIEW_TYPE,
      'Execnet Plots',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: false, retainContextWhenHidden: false },
    );
    panel.onDidDispose(() => {
      if (this.panel === panel) {
        this.panel = undefined;
      }
    });
    this.panel = panel;
    this.render();
  }

  private follow(run: Run): void {
    for (const event of run.events) {
      this.take(run, event);
    }
    if (run.isOpen) {
      run.onEvent((event) => this.take(run, event));
    }
  }

  /** Keep an image and show it first; `title` says where it comes from. */
  add(image: RunImage, title: string): void {
    if (this.isDisposed) {
      return;
    }
    this.kept.unshift({ ...image, title, shown: new Date() });
    this.kept.length = Math.min(this.kept.length, MAX_PLOTS);
    if (this.panel) {
      this.render();
    }
    // a panel made now renders what is kept
    this.show();
  }

  private take(run: Run, event: Run['events'][number]): void {
    if ((event.kind === 'display' || event.kind === 'result') && event.image) {
      this.add(event.image, `${run.label} on ${run.entry.id}`);
    }
  }

  private render(): void {
    if (!this.panel) {
      return;
    }
    const figures = this.kept.map(
      (plot) => `<figure>
  <figcaption>${escape(plot.title)} · ${formatClock(plot.shown)}</figcaption>
  <img alt="${escape(plot.alt)}" src="data:${plot.mime};base64,${plot.data.toString('base64')}">
</figure>`,
    );
    this.panel.webview.html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>
  body { padding: 8px 16px; }
  figure { margin: 0 0 20px; }
  figcaption { color: var(--vscode-descriptionForeground); margin-bottom: 6px; }
  img { max-width: 100%; height: auto; background: white; }
</style>
</head>
<body>
${figures.join('\n') || '<p>Figures that selections and cells show appear here.</p>'}
</body>
</html>`;
  }
}

function escape(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c,
  );
}
