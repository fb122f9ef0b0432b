// One output channel per run (`execnet gw1 · train.py`): a status line when it starts, the remote's
// prints and stderr as they arrive, received items as Python reprs, values the user sent, the
// traceback of a remote error and a status line when it ends. Running the same file on the same
// gateway again reuses (and clears) its channel; the oldest channels go when there are too many.

import * as vscode from 'vscode';
import { formatValue } from '../core/repr';
import { Disposable, toDisposable } from '../core/lifecycle';
import type { Run, RunEvent, Session } from '../extension/session';
import { endLine, outputName, startLine } from './format';

/** The language of run output channels: its grammar colours status lines, its links open frames. */
export const OUTPUT_LANGUAGE = 'execnet-output';

const MAX_CHANNELS = 20;
/** Text kept per run for `transcript()` (the output channel itself keeps everything). */
const MAX_TRANSCRIPT = 1 << 20;

interface Pane {
  readonly channel: vscode.OutputChannel;
  /** The run writing to it now. */
  run: Run;
  atLineStart: boolean;
}

export class RunOutputs extends Disposable {
  private readonly panes = new Map<string, Pane>();
  private readonly transcripts = new Map<Run, string>();

  constructor(
    session: Session,
    private readonly createChannel: (name: string) => vscode.OutputChannel = (name) =>
      vscode.window.createOutputChannel(name, OUTPUT_LANGUAGE),
  ) {
    super();
    this.register(session.onDidStartRun((run) => this.attach(run)));
    this.register(
      toDisposable(() => {
        for (const pane of this.panes.values()) {
          pane.channel.dispose();
        }
        this.panes.clear();
      }),
    );
  }

  /** Bring a run's output channel to the front. */
  show(run: Run, preserveFocus = true): void {
    const pane = this.panes.get(outputName(run));
    pane?.channel.show(preserveFocus);
  }

  /** The text written for a run so far: its output channel's content ('' once a rerun took it). */
  transcript(run: Run): string {
    return this.transcripts.get(run) ?? '';
  }

  private attach(run: Run): void {
    const name = outputName(run);
    let pane = this.panes.get(name);
    if (pane) {
      // a rerun: the newest wins the channel, the reader starts from a clean page
      this.panes.delete(name);
      pane.channel.clear();
      this.transcripts.delete(pane.run);
      pane.run = run;
      pane.atLineStart = true;
    } else {
      pane = { channel: this.createChannel(name), run, atLineStart: true };
      this.evictOldest();
    }
    this.panes.set(name, pane);
    const target = pane;
    this.write(target, run, `${startLine(run)}\n`);
    for (const event of run.events) {
      this.onEvent(target, run, event);
    }
    if (run.isOpen) {
      // the run drops its listeners when it ends
      run.onEvent((event) => this.onEvent(target, run, event));
    }
    target.channel.show(true);
  }

  private onEvent(pane: Pane, run: Run, event: RunEvent): void {
    switch (event.kind) {
      case 'output':
        this.write(pane, run, event.text);
        return;
      case 'item':
        this.line(pane, run, `[channel] ${formatValue(event.value)}`);
        return;
      case 'sent':
        this.line(pane, run, `[sent] ${formatValue(event.value)}`);
        return;
      case 'result':
      case 'display':
        this.line(pane, run, event.text);
        return;
      case 'end': {
        const outcome = event.outcome;
        if (
          (outcome.kind === 'error' || outcome.kind === 'interrupted') &&
          outcome.error.traceback
        ) {
          this.line(pane, run, outcome.error.traceback.replace(/\n$/, ''));
        } else if (
          outcome.kind === 'exit' &&
          outcome.message &&
          outcome.message !== String(outcome.code)
        ) {
          this.line(pane, run, outcome.message);
        }
        this.line(pane, run, endLine(run));
        return;
      }
    }
  }

  /** Text of our own, on a line of its own even if the remote left one unfinished. */
  private line(pane: Pane, run: Run, text: string): void {
    this.write(pane, run, `${pane.atLineStart ? '' : '\n'}${text}\n`);
  }

  private write(pane: Pane, run: Run, text: string): void {
    if (text === '' || this.isDisposed) {
      return;
    }
    if (pane.run !== run) {
      // a newer run of the same file on the same gateway took the channel over
      return;
    }
    const kept = this.transcripts.get(run) ?? '';
    if (kept.length < MAX_TRANSCRIPT) {
      this.transcripts.set(run, kept + text.slice(0, MAX_TRANSCRIPT - kept.length));
    }
    pane.channel.append(text);
    pane.atLineStart = text.endsWith('\n');
  }

  private evictOldest(): void {
    while (this.panes.size >= MAX_CHANNELS) {
      const [name, pane] = this.panes.entries().next().value as [string, Pane];
      this.panes.delete(name);
      this.transcripts.delete(pane.run);
      pane.channel.dispose();
    }
  }
}
