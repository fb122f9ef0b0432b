// Where runs show. Each file on each gateway has its pane, named `gw1: train.py`: an output channel,
// or (execnet.run.in = terminal) a terminal whose typed lines reach the code's sys.stdin. A pane
// shows a status line when a run starts, the remote's prints and stderr as they arrive, received
// items as Python reprs, values the user sent, the traceback of a remote error and a status line
// when it ends. Running the file again appends to its pane after a separator (or clears it); a
// run started while the pane's run still goes gets a pane of its own (`gw1: train.py (2)`), so no
// run's output is ever mixed with another's. Panes of finished runs beyond the limit are disposed,
// the longest unused first.

import * as vscode from 'vscode';
import { formatValue } from '../core/repr';
import { Disposable, toDisposable } from '../core/lifecycle';
import type { GatewayEntry, Run, RunEvent, Session } from '../extension/session';
import { endLine, outputName, startLine } from './format';
import { openConsoleTerminal } from './consoleTerminal';
import type { OutputStyle } from './runConsole';

/** The language of run output channels: its grammar colours status lines, its links open frames. */
export const OUTPUT_LANGUAGE = 'execnet-output';

/** Text kept per run for `transcript()` (the pane itself keeps everything). */
const MAX_TRANSCRIPT = 1 << 20;

/** Drawn between the runs of a pane. */
export const RUN_SEPARATOR = '─'.repeat(60);

export interface OutputSettings {
  /** Clear a pane when its file runs again, instead of appending after a separator. */
  clearOnRerun(): boolean;
  /** Panes of finished runs kept; beyond it the longest unused go. */
  maxPanes(): number;
}

/** Where a pane's text goes: an output channel or a terminal. */
interface Sink {
  readonly kind: 'output' | 'terminal';
  readonly terminal?: vscode.Terminal;
  write(text: string, style: OutputStyle): void;
  clear(): void;
  show(preserveFocus: boolean): void;
  /** The run whose stdin typed lines go to (terminals). */
  takeInput(run: Run | undefined): void;
  dispose(): void;
}

interface Pane {
  readonly name: string;
  readonly sink: Sink;
  /** The run writing to it now (the last one). */
  run: Run;
  atLineStart: boolean;
  lastUsed: number;
}

export interface RunOutputsOptions {
  readonly settings: OutputSettings;
  /** The user closed the terminal of a run that still goes. */
  readonly onTerminalClosed?: (run: Run) => void;
  readonly createChannel?: (name: string) => vscode.OutputChannel;
}

export class RunOutputs extends Disposable {
  private readonly panes = new Map<string, Pane>();
  private readonly byRun = new Map<Run, Pane>();
  private readonly transcripts = new Map<Run, string>();
  private clock = 0;

  constructor(
    session: Session,
    private readonly options: RunOutputsOptions,
  ) {
    super();
    this.register(session.onDidStartRun((run) => this.attach(run)));
    this.register(
      toDisposable(() => {
        for (const pane of this.panes.values()) {
          pane.sink.dispose();
        }
        this.panes.clear();
      }),
    );
  }

  /** Bring a run's pane to the front. */
  show(run: Run, preserveFocus = true): void {
    this.byRun.get(run)?.sink.show(preserveFocus);
  }

  /** The name of the pane a run writes to (undefined once it was disposed). */
  paneName(run: Run): string | undefined {
    const pane = this.byRun.get(run);
    return pane && this.isLive(pane) ? pane.name : undefined;
  }

  /** The gateway of the run a terminal shows (its traceback links map that gateway's mirror). */
  entryOfTerminal(terminal: vscode.Terminal): GatewayEntry | undefined {
    for (const pane of this.panes.values()) {
      if (pane.sink.terminal === terminal) {
        return pane.run.entry;
      }
    }
    return undefined;
  }

  /** Names of the panes there are now (an output channel and a terminal may share one). */
  get paneNames(): string[] {
    return [...this.panes.values()].map((p) => p.name);
  }

  /** The text written for a run so far (typed lines included), until its pane goes. */
  transcript(run: Run): string {
    return this.transcripts.get(run) ?? '';
  }

  private attach(run: Run): void {
    const pane = this.paneFor(run);
    this.byRun.set(run, pane);
    pane.run = run;
    pane.lastUsed = ++this.clock;
    this.transcripts.set(run, '');
    this.write(pane, run, `${startLine(run)}\n`, 'info');
    for (const event of run.events) {
      this.onEvent(pane, run, event);
    }
    if (run.isOpen) {
      pane.sink.takeInput(run);
      // the run drops its listeners when it ends
      run.onEvent((event) => this.onEvent(pane, run, event));
    }
    // a terminal takes the focus: the user may have to type
    pane.sink.show(pane.sink.kind === 'output');
    this.evict();
  }

  /** The file's pane on its gateway, reused when its last run has ended. */
  private paneFor(run: Run): Pane {
    const base = outputName(run);
    const kind = run.presentation;
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : `${base} (${n})`;
      const pane = this.panes.get(paneKey(kind, name));
      if (!pane) {
        const created: Pane = {
          name,
          sink: kind === 'terminal' ? this.terminalSink(name) : this.outputSink(name),
          run,
          atLineStart: true,
          lastUsed: 0,
        };
        this.panes.set(paneKey(kind, name), created);
        return created;
      }
      if (pane.run.isOpen) {
        continue;
      }
      if (this.options.settings.clearOnRerun()) {
        pane.sink.clear();
      } else {
        const gap = pane.atLineStart ? '' : '\n';
        pane.sink.write(`${gap}\n${RUN_SEPARATOR}\n`, 'info');
      }
      this.transcripts.delete(pane.run);
      pane.atLineStart = true;
      return pane;
    }
  }

  private onEvent(pane: Pane, run: Run, event: RunEvent): void {
    switch (event.kind) {
      case 'output':
        this.write(pane, run, event.text, event.stream);
        return;
      case 'item':
        this.line(pane, run, `[channel] ${formatValue(event.value)}`, 'item');
        return;
      case 'sent':
        this.line(pane, run, `[sent] ${formatValue(event.value)}`, 'item');
        return;
      case 'result':
      case 'display':
        this.line(pane, run, event.text, 'stdout');
        return;
      case 'end': {
        const outcome = event.outcome;
        if (
          (outcome.kind === 'error' ||
            outcome.kind === 'interrupted' ||
            outcome.kind === 'killed') &&
          outcome.error.traceback
        ) {
          this.line(pane, run, outcome.error.traceback.replace(/\n$/, ''), 'stderr');
        } else if (
          outcome.kind === 'exit' &&
          outcome.message &&
          outcome.message !== String(outcome.code)
        ) {
          this.line(pane, run, outcome.message, 'stderr');
        }
        const ok = outcome.kind === 'ok' || (outcome.kind === 'exit' && outcome.code === 0);
        this.line(pane, run, endLine(run), ok ? 'success' : 'failure');
        if (pane.run === run) {
          pane.sink.takeInput(undefined);
        }
        this.evict();
        return;
      }
    }
  }

  /** Text of our own, on a line of its own even if the remote left one unfinished. */
  private line(pane: Pane, run: Run, text: string, style: OutputStyle): void {
    this.write(pane, run, `${pane.atLineStart ? '' : '\n'}${text}\n`, style);
  }

  private write(pane: Pane, run: Run, text: string, style: OutputStyle): void {
    if (text === '' || this.isDisposed || pane.run !== run || !this.isLive(pane)) {
      return;
    }
    this.record(run, text);
    pane.sink.write(text, style);
    pane.atLineStart = text.endsWith('\n');
  }

  private record(run: Run, text: string): void {
    const kept = this.transcripts.get(run);
    if (kept !== undefined && kept.length < MAX_TRANSCRIPT) {
      this.transcripts.set(run, kept + text.slice(0, MAX_TRANSCRIPT - kept.length));
    }
  }

  /** Panes of finished runs beyond the limit go, the longest unused first. */
  private evict(): void {
    const limit = Math.max(1, this.options.settings.maxPanes());
    const finished = [...this.panes.values()]
      .filter((p) => !p.run.isOpen)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    while (this.panes.size > limit && finished.length > 0) {
      this.remove(finished.shift() as Pane);
    }
  }

  private isLive(pane: Pane): boolean {
    return this.panes.get(paneKey(pane.sink.kind, pane.name)) === pane;
  }

  private remove(pane: Pane): void {
    if (this.isLive(pane)) {
      this.panes.delete(paneKey(pane.sink.kind, pane.name));
    }
    this.transcripts.delete(pane.run);
    pane.sink.dispose();
  }

  // -- sinks -----------------------------------------------------------------------------------

  private outputSink(name: string): Sink {
    const create = (): vscode.OutputChannel =>
      this.options.createChannel?.(name) ??
      vscode.window.createOutputChannel(name, OUTPUT_LANGUAGE);
    let channel = create();
    return {
      kind: 'output',
      write: (text) => channel.append(text),
      // a fresh channel of the same name: what is appended right after OutputChannel.clear()
      // can stay out of the Output view until the channel is shown again
      clear: () => {
        channel.dispose();
        channel = create();
      },
      show: (preserveFocus) => channel.show(preserveFocus),
      takeInput: () => undefined,
      dispose: () => channel.dispose(),
    };
  }

  private terminalSink(name: string): Sink {
    const { terminal, console, clear, dispose } = openConsoleTerminal({
      name,
      icon: 'vm-running',
      // the user closed it: the pane goes, and a run still going in it is stopped
      onClose: () => {
        const pane = this.panes.get(paneKey('terminal', name));
        if (pane && pane.sink === sink) {
          this.panes.delete(paneKey('terminal', name));
          if (pane.run.isOpen) {
            this.options.onTerminalClosed?.(pane.run);
          }
        }
      },
    });
    const sink: Sink = {
      kind: 'terminal',
      terminal,
      write: (text, style) => console.output(text, style),
      clear,
      show: (preserveFocus) => terminal.show(preserveFocus),
      takeInput: (run) => {
        console.target = run && {
          write: (text) => {
            this.record(run, text);
            void run.channel?.stdin?.write(text).catch(() => undefined);
          },
          eof: () => void run.channel?.stdin?.eof().catch(() => undefined),
          interrupt: () => run.interrupt(),
        };
      },
      dispose,
    };
    return sink;
  }
}

function paneKey(kind: 'output' | 'terminal', name: string): string {
  return `${kind}:${name}`;
}
