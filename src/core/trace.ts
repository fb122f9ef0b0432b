// EXECNET_DEBUG tracing, as in execnet: 1 writes a trace file per process
// (`execnet-debug-PID` in the temp dir), 2 writes to stderr. The editor redirects it to its log.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type TraceSink = (line: string) => void;

let sink: TraceSink | undefined;
let level = parseLevel(process.env.EXECNET_DEBUG);

function parseLevel(value: string | undefined): number {
  const n = Number(value ?? 0);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 2) : 0;
}

/** The trace level the remote side should use too (0 = off). */
export function traceLevel(): number {
  return level;
}

/** Send trace lines somewhere else (the editor's log channel); `undefined` restores the default. */
export function setTraceSink(newSink: TraceSink | undefined, newLevel?: number): void {
  sink = newSink;
  if (newLevel !== undefined) {
    level = newLevel;
  }
}

let fileFd: number | undefined;

function defaultSink(line: string): void {
  if (level >= 2) {
    process.stderr.write(line + '\n');
    return;
  }
  if (fileFd === undefined) {
    fileFd = fs.openSync(path.join(os.tmpdir(), `execnet-debug-${process.pid}`), 'a');
  }
  fs.writeSync(fileFd, line + '\n');
}

export function isTracing(): boolean {
  return level > 0 || sink !== undefined;
}

export function trace(...parts: unknown[]): void {
  if (!isTracing()) {
    return;
  }
  const time = new Date().toISOString().slice(11, 23);
  const line = `[${time} local ${process.pid}] ${parts.map(String).join(' ')}`;
  (sink ?? defaultSink)(line);
}
