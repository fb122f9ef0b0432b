// The single "Execnet" log channel: what the extension does, failures in full, stray output of
// the remotes, and EXECNET_DEBUG tracing (the environment variable or `execnet.trace.level`).

import * as vscode from 'vscode';
import { setTraceSink } from '../core/trace';
import { Disposable, toDisposable } from '../core/lifecycle';
import type { TraceSetting } from './settings';

export class Log extends Disposable {
  readonly channel = this.register(vscode.window.createOutputChannel('Execnet', { log: true }));

  constructor() {
    super();
    this.register(toDisposable(() => setTraceSink(undefined, envTraceLevel())));
  }

  info(message: string): void {
    this.channel.info(message);
  }

  warn(message: string): void {
    this.channel.warn(message);
  }

  /** An error with everything known about it (stack, cause); the user sees a one-line toast. */
  error(message: string, error?: unknown): void {
    this.channel.error(error === undefined ? message : `${message}: ${describe(error)}`);
  }

  show(): void {
    this.channel.show(true);
  }

  /** Route the engine's tracing here at the level the setting (or EXECNET_DEBUG) asks for. */
  applyTraceLevel(setting: TraceSetting): void {
    const level = setting === 'verbose' ? 2 : setting === 'local' ? 1 : envTraceLevel();
    if (level === 0) {
      setTraceSink(undefined, 0);
      return;
    }
    setTraceSink((line) => this.channel.info(`[trace] ${line}`), level);
  }
}

function envTraceLevel(): number {
  const n = Number(process.env.EXECNET_DEBUG ?? 0);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 2) : 0;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause ? `\ncaused by: ${describe(error.cause)}` : '';
    return `${error.stack ?? `${error.name}: ${error.message}`}${cause}`;
  }
  return String(error);
}
