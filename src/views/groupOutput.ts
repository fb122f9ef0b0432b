// The combined output of Run File on Group, `group pair: fanout.py`: every gateway's lines as they
// come, each prefixed with its id as the CLI does (`[gw1] …`), a line per gateway when it ends
// (how, and how long it took) and a summary when all have ended. Each gateway keeps its own
// output besides. Running the file on the group again appends after a separator (or clears).

import * as vscode from 'vscode';
import { formatValue } from '../core/repr';
import { Disposable, toDisposable } from '../core/lifecycle';
import type { GroupRun } from '../extension/run/groupRun';
import type { Run } from '../extension/session';
import { formatDuration, howItEnded } from './format';
import { OUTPUT_LANGUAGE, RUN_SEPARATOR, type OutputSettings } from './runOutput';

const MAX_TRANSCRIPT = 1 << 20;

interface GroupPane {
  channel: vscode.OutputChannel;
  current: GroupRun;
  lastUsed: number;
}

/** `[a] finished in 0.52 s`, `[b] failed after 0.10 s: ZeroDivisionError: division by zero`. */
export function gatewaySummary(run: Run): string {
  return `[${run.entry.id}] ${howItEnded(run)}`;
}

/** `[execnet] fanout.py on group pair: 2 finished, 1 failed in 1.20 s`. */
export function groupSummary(groupRun: GroupRun): string {
  const counts = new Map<string, number>();
  for (const run of groupRun.runs) {
    const kind = run.outcome?.kind ?? 'running';
    const word =
      kind === 'ok'
        ? 'finished'
        : kind === 'exit'
          ? (run.outcome as { code: number }).code === 0
            ? 'finished'
            : 'exited with an error'
          : kind === 'error' || kind === 'gateway-closed'
            ? 'failed'
            : kind === 'killed'
              ? 'stopped'
              : kind;
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const parts = [...counts].map(([word, n]) => `${n} ${word}`);
  const took = formatDuration(
    (groupRun.endedAt ?? new Date()).getTime() - groupRun.startedAt.getTime(),
  );
  return `[execnet] ${groupRun.label} on group ${groupRun.group}: ${parts.join(', ')} in ${took}`;
}

export class GroupOutputs extends Disposable {
  private readonly panes = new Map<string, GroupPane>();
  private readonly transcripts = new Map<GroupRun, string>();
  private clock = 0;

  constructor(
    private readonly settings: OutputSettings,
    private readonly createChannel: (name: string) => vscode.OutputChannel = (name) =>
      vscode.window.createOutputChannel(name, OUTPUT_LANGUAGE),
  ) {
    super();
    this.register(
      toDisposable(() => {
        for (const pane of this.panes.values()) {
          pane.channel.dispose();
        }
        this.panes.clear();
      }),
    );
  }

  /** Everything written for a group run so far. */
  transcript(groupRun: GroupRun): string {
    return this.transcripts.get(groupRun) ?? '';
  }

  /** Show a group run's combined output, and follow its runs until they end. */
  attach(groupRun: GroupRun): void {
    const name = `group ${groupRun.group}: ${groupRun.label}`;
    let pane = this.panes.get(name);
    if (pane && !pane.current.isOpen) {
      this.transcripts.delete(pane.current);
      if (this.settings.clearOnRerun()) {
        // a fresh channel, as a file's pane does (text appended after clear() can stay unseen)
        pane.channel.dispose();
        pane.channel = this.createChannel(name);
      } else {
        pane.channel.append(`\n${RUN_SEPARATOR}\n`);
      }
      pane.current = groupRun;
    } else if (!pane) {
      pane = { channel: this.createChannel(name), current: groupRun, lastUsed: 0 };
      this.panes.set(name, pane);
    } else {
      // the group's previous run of the file still goes: this one gets a channel of its own
      let n = 2;
      while (this.panes.has(`${name} (${n})`)) {
        n++;
      }
      pane = { channel: this.createChannel(`${name} (${n})`), current: groupRun, lastUsed: 0 };
      this.panes.set(`${name} (${n})`, pane);
    }
    pane.lastUsed = ++this.clock;
    this.transcripts.set(groupRun, '');
    const target = pane;
    const write = (text: string): void => {
      if (target.current !== groupRun || this.isDisposed) {
        return;
      }
      const kept = this.transcripts.get(groupRun) ?? '';
      if (kept.length < MAX_TRANSCRIPT) {
        this.transcripts.set(groupRun, kept + text.slice(0, MAX_TRANSCRIPT - kept.length));
      }
      target.channel.append(text);
    };
    const ids = groupRun.runs.map((r) => r.entry.id).join(', ');
    write(
      `[execnet] ${groupRun.label} on group ${groupRun.group} (${ids}) at ${groupRun.startedAt.toTimeString().slice(0, 8)}\n`,
    );
    for (const run of groupRun.runs) {
      this.follow(run, write);
    }
    groupRun.onDidEnd(() => {
      write(`${groupSummary(groupRun)}\n`);
      this.evict();
    });
    if (!groupRun.isOpen) {
      write(`${groupSummary(groupRun)}\n`);
    }
    target.channel.show(true);
    this.evict();
  }

  /** A run's events as prefixed lines; partial lines wait for their newline (or the end). */
  private follow(run: Run, write: (text: string) => void): void {
    const prefix = `[${run.entry.id}] `;
    const partial = { stdout: '', stderr: '' };
    const emit = (text: string): void => {
      write(
        text
          .split('\n')
          .map((line) => `${prefix}${line}\n`)
          .join(''),
      );
    };
    const flush = (): void => {
      for (const stream of ['stdout', 'stderr'] as const) {
        const rest = partial[stream];
        partial[stream] = '';
        if (rest) {
          emit(rest);
        }
      }
    };
    const onEvent = (event: (typeof run.events)[number]): void => {
      switch (event.kind) {
        case 'output': {
          const text = partial[event.stream] + event.text;
          const cut = text.lastIndexOf('\n');
          partial[event.stream] = text.slice(cut + 1);
          if (cut >= 0) {
            emit(text.slice(0, cut));
          }
          return;
        }
        case 'item':
          emit(`[channel] ${formatValue(event.value)}`);
          return;
        case 'sent':
          emit(`[sent] ${formatValue(event.value)}`);
          return;
        case 'end': {
          flush();
          const outcome = event.outcome;
          if ((outcome.kind === 'error' || outcome.kind === 'killed') && outcome.error.traceback) {
            emit(outcome.error.traceback.replace(/\n$/, ''));
          }
          write(`${gatewaySummary(run)}\n`);
          return;
        }
      }
    };
    for (const event of run.events) {
      onEvent(event);
    }
    if (run.isOpen) {
      run.onEvent(onEvent);
    }
  }

  private evict(): void {
    const limit = Math.max(1, this.settings.maxPanes());
    const finished = [...this.panes]
      .filter(([, p]) => !p.current.isOpen)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    while (this.panes.size > limit && finished.length > 0) {
      const [name, pane] = finished.shift() as [string, GroupPane];
      this.panes.delete(name);
      this.transcripts.delete(pane.current);
      pane.channel.dispose();
    }
  }
}
