// The state of the run loop: the last thing run (for Re-run Last), the arguments typed per file,
// and the context keys the menus and keybindings read (`execnet.running`: some run goes;
// `execnet.runningFiles`: the paths of the files that have a run going).

import * as vscode from 'vscode';
import { Disposable } from '../../core/lifecycle';
import type { GatewayEntry, GroupEntry, Run, RunSource, Session } from '../session';
import type { GroupRun } from './groupRun';
import { RunSettings } from './settings';

/** What Re-run Last repeats. */
export type LastRun =
  | {
      readonly kind: 'file';
      readonly uri: vscode.Uri;
      readonly entry: GatewayEntry;
      readonly args?: readonly string[];
    }
  | { readonly kind: 'selection'; readonly source: RunSource; readonly entry: GatewayEntry }
  | { readonly kind: 'group'; readonly uri: vscode.Uri; readonly group: GroupEntry | string };

const ARGS_KEY = 'execnet.run.argsByFile';

export class RunLoop extends Disposable {
  readonly settings = new RunSettings();
  last: LastRun | undefined;
  private readonly groupRuns = new Map<Run, GroupRun>();
  private shownRunning = '';

  constructor(
    private readonly session: Session,
    private readonly memento: vscode.Memento,
  ) {
    super();
    this.register(
      session.onDidChange((change) => {
        if (change.kind === 'run' || change.kind === 'gateway') {
          this.updateContext();
        }
      }),
    );
    this.register(
      session.onDidStartRun((run) => {
        // Run File notes its own (with the arguments); selections and cells are noted here
        if (run.source.kind !== 'file') {
          this.last = { kind: 'selection', source: run.source, entry: run.entry };
        }
        this.updateContext();
      }),
    );
    this.updateContext();
  }

  /** The open runs of a local file, newest first. */
  runsOf(file: string): Run[] {
    return this.session.runs.filter((r) => r.isOpen && r.source.file === file).reverse();
  }

  /** The arguments last typed for a file (Run File with Arguments…). */
  typedArgs(file: string): readonly string[] | undefined {
    return this.memento.get<Record<string, string[]>>(ARGS_KEY, {})[file];
  }

  async rememberArgs(file: string, args: readonly string[]): Promise<void> {
    const table = { ...this.memento.get<Record<string, string[]>>(ARGS_KEY, {}) };
    table[file] = [...args];
    await this.memento.update(ARGS_KEY, table);
  }

  /** Note a Run File on Group, so that its runs find it (the combined output). */
  addGroupRun(groupRun: GroupRun): void {
    for (const run of groupRun.runs) {
      this.groupRuns.set(run, groupRun);
    }
    groupRun.onDidEnd(() => {
      // keep the latest ones only: the model holds the runs anyway
      if (this.groupRuns.size > 200) {
        for (const run of [...this.groupRuns.keys()].slice(0, 100)) {
          this.groupRuns.delete(run);
        }
      }
    });
  }

  groupRunOf(run: Run): GroupRun | undefined {
    return this.groupRuns.get(run);
  }

  private updateContext(): void {
    const open = this.session.runs.filter((r) => r.isOpen);
    const files = [...new Set(open.flatMap((r) => (r.source.file ? [r.source.file] : [])))].sort();
    const shown = JSON.stringify([open.length > 0, files]);
    if (shown === this.shownRunning) {
      return;
    }
    this.shownRunning = shown;
    void vscode.commands.executeCommand('setContext', 'execnet.running', open.length > 0);
    void vscode.commands.executeCommand('setContext', 'execnet.runningFiles', files);
  }
}
