// What a failed run may mean, said with a way out: a ModuleNotFoundError for a module the workspace
// has, on a gateway that has no copy of it (offer Sync Workspace, and to run again after it); an
// EOFError from input() in a run shown in an output channel, which has no input (offer a terminal).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Disposable } from '../../core/lifecycle';
import type { Services } from '../services';
import type { Run } from '../session';
import { syncWorkspace } from '../sync';
import { runAgain } from './commands';

/** Where the workspace has the module `name` (`pkg.mod`) for a script in `dir`, if it has it. */
export function workspaceModule(name: string, dirs: readonly string[]): string | undefined {
  const parts = name.split('.');
  for (const dir of dirs) {
    const base = path.join(dir, ...parts);
    for (const candidate of [`${base}.py`, path.join(base, '__init__.py'), base]) {
      try {
        const stat = fs.statSync(candidate);
        if (stat.isFile() || (stat.isDirectory() && candidate === base)) {
          return candidate;
        }
      } catch {
        // not there
      }
    }
  }
  return undefined;
}

export class RunHints extends Disposable {
  /** The last hint shown (for the log and tests). */
  last: string | undefined;

  constructor(private readonly services: Services) {
    super();
    this.register(
      services.session.onDidStartRun((run) => {
        run.onEvent((event) => {
          if (event.kind === 'end' && !this.isDisposed) {
            void this.consider(run);
          }
        });
      }),
    );
  }

  private async consider(run: Run): Promise<void> {
    const outcome = run.outcome;
    if (outcome?.kind !== 'error') {
      return;
    }
    const error = outcome.error;
    if (error.type === 'ModuleNotFoundError') {
      await this.missingModule(run, /No module named '([^']+)'/.exec(error.remoteMessage)?.[1]);
    } else if (
      error.type === 'EOFError' &&
      run.presentation === 'output' &&
      /reading a line/.test(error.remoteMessage)
    ) {
      await this.noInput(run);
    }
  }

  private async missingModule(run: Run, name: string | undefined): Promise<void> {
    const file = run.source.file;
    if (!name || !file || run.entry.isLocal) {
      return;
    }
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath;
    const found = workspaceModule(name, [path.dirname(file), ...(folder ? [folder] : [])]);
    if (!found) {
      return;
    }
    const entry = run.entry;
    const where = vscode.workspace.asRelativePath(found);
    const synced = entry.sync
      ? `its copy of the workspace (synced ${entry.sync.syncedAt.toLocaleTimeString()}) lacks it`
      : 'the workspace was not synced to it';
    const message = `Execnet: ${entry.id} has no module '${name}': the workspace has it (${where}), but ${synced}.`;
    this.show(message);
    const again = 'Sync and Run Again';
    const sync = 'Sync Workspace';
    const choice = await vscode.window.showWarningMessage(message, again, sync);
    if (!choice || entry.state !== 'alive') {
      return;
    }
    const result = await syncWorkspace(this.services, entry);
    if (choice === again && result && !result.cancelled) {
      await runAgain(this.services, run);
    }
  }

  private async noInput(run: Run): Promise<void> {
    const message = `Execnet: ${run.label} reads input, but a run shown in an output channel has none: run it in a terminal to type into it.`;
    this.show(message);
    const once = 'Run in Terminal';
    const always = 'Always Run in Terminal';
    const choice = await vscode.window.showInformationMessage(message, once, always);
    if (choice === always) {
      await vscode.workspace
        .getConfiguration('execnet.run')
        .update('in', 'terminal', vscode.ConfigurationTarget.Global);
    }
    if (choice && run.entry.state === 'alive') {
      await runAgain(this.services, run, 'terminal');
    }
  }

  private show(message: string): void {
    this.last = message;
    this.services.log.info(message.replace(/^Execnet: /, 'hint: '));
  }
}
