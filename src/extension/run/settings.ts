// The `execnet.run.*` settings, read with their defaults: where runs show, what a second run of a
// file that still runs does, how long Stop waits for an interrupt, what panes keep, and the
// arguments fixed per file.

import * as path from 'node:path';
import { parse as parseShell } from 'shell-quote';
import * as vscode from 'vscode';

export type RunIn = 'output' | 'terminal';
export type WhenRunning = 'stop' | 'ask' | 'parallel';

export class RunSettings {
  private get config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration('execnet.run', vscode.workspace.workspaceFolders?.[0]);
  }

  /** `execnet.run.in`: an output channel, or a terminal with stdin. */
  runIn(): RunIn {
    return this.config.get<string>('in') === 'terminal' ? 'terminal' : 'output';
  }

  whenRunning(): WhenRunning {
    const value = this.config.get<string>('whenRunning');
    return value === 'ask' || value === 'parallel' ? value : 'stop';
  }

  /** Seconds Stop waits after the interrupt before it ends the run by force. */
  stopTimeout(): number {
    return this.number('stopTimeout', 3, 0, 600);
  }

  clearOnRerun(): boolean {
    return this.config.get<boolean>('clearOutput') === true;
  }

  maxPanes(): number {
    return Math.round(this.number('maxOutputs', 10, 1, 100));
  }

  /**
   * The arguments `execnet.run.args` fixes for a file: its key is the file's path relative to
   * its workspace folder (or its name), its value a command line or a list of arguments.
   */
  fixedArgs(file: string): string[] | undefined {
    const table = this.config.get<Record<string, unknown>>('args') ?? {};
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file));
    const relative = folder
      ? path.relative(folder.uri.fsPath, file).split(path.sep).join('/')
      : undefined;
    for (const key of [relative, path.basename(file)]) {
      const value = key === undefined ? undefined : table[key];
      if (typeof value === 'string') {
        return splitArgs(value);
      }
      if (Array.isArray(value)) {
        return value.map(String);
      }
    }
    return undefined;
  }

  private number(key: string, fallback: number, min: number, max: number): number {
    const value = this.config.get<number>(key);
    return typeof value === 'number' && Number.isFinite(value)
      ? Math.min(max, Math.max(min, value))
      : fallback;
  }
}

/**
 * A command line split as a POSIX shell would (quotes, backslashes), without running anything:
 * `--name "a b" 'x y'` is ['--name', 'a b', 'x y']. Operators such as `|` or `>` are an error.
 */
export function splitArgs(line: string): string[] {
  const words: string[] = [];
  for (const token of parseShell(line, (name) => `$${name}`)) {
    if (typeof token === 'string') {
      words.push(token);
    } else if ('op' in token && token.op === 'glob') {
      words.push(token.pattern);
    } else if ('comment' in token) {
      break;
    } else {
      throw new Error(`'${'op' in token ? token.op : ''}' is not an argument: quote it`);
    }
  }
  return words;
}

/** Arguments joined back into a command line that splitArgs reads the same. */
export function joinArgs(args: readonly string[]): string {
  return args
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}
