// Peak memory of a process (large-value tests, bench B8): Linux keeps each process's peak RSS
// (VmHWM), and writing 5 to /proc/PID/clear_refs starts it again from the current RSS.

import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

function statusKiB(pid: number, field: string): number {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  if (!line) {
    throw new Error(`no ${field} in /proc/${pid}/status`);
  }
  return Number(line.split(/\s+/)[1]);
}

/** Restart `pid`'s peak RSS from its current RSS; returns that RSS in bytes. */
export function resetPeak(pid: number): number {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  return statusKiB(pid, 'VmRSS') * 1024;
}

/** How far `pid`'s peak RSS rose above `base` (bytes) since resetPeak. */
export function peakGrowth(pid: number, base: number): number {
  return statusKiB(pid, 'VmHWM') * 1024 - base;
}

let gcFn: (() => void) | undefined;

/** A full garbage collection, so that buffers of an earlier run do not count in the next. */
export function collectGarbage(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}
