// Finding processes by an environment marker, to prove that nothing we started is left running.
// Every gateway a test starts gets `env:EXECNET_TEST_MARK=<unique>`; the remote and anything it
// spawns inherit it, so /proc tells us exactly which of "our" processes are still alive.

import * as fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { warmInterpreterPids } from '../../src/core/transports/warm';

export function newMark(): string {
  return `m${randomUUID().replace(/-/g, '')}`;
}

/**
 * Pids of live (non-zombie) processes whose environment holds EXECNET_TEST_MARK=mark, except
 * this process's warm interpreters: they belong to no gateway, end with this process or on
 * their own when idle (test/core/warm.test.ts pins that), and are started with the spec's env.
 */
export function processesWithMark(mark: string): number[] {
  const warm = new Set(warmInterpreterPids());
  const needle = Buffer.from(`EXECNET_TEST_MARK=${mark}\0`);
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      if (/^State:\s+Z/m.test(status)) {
        continue;
      }
      const environ = fs.readFileSync(`/proc/${entry}/environ`);
      if (environ.includes(needle) && !warm.has(Number(entry))) {
        pids.push(Number(entry));
      }
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** Wait (briefly) until no process carries the mark; returns those still alive after the wait. */
export async function leftoverProcesses(mark: string, waitMs = 3000): Promise<number[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const pids = processesWithMark(mark);
    if (pids.length === 0 || Date.now() >= deadline) {
      return pids;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether a process with this pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** Waits until the pid is gone; returns whether it went. */
export async function gone(pid: number, waitMs = 3000): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/**
 * Wait (briefly) until the only processes carrying the mark are `keep` (say, the gateways);
 * returns the others still alive after the wait (killed ones may take a moment to go).
 */
export async function othersLeft(mark: string, keep: readonly number[], waitMs = 5000) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const left = processesWithMark(mark).filter((pid) => !keep.includes(pid));
    if (left.length === 0 || Date.now() >= deadline) {
      return left;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `PID PPID COMMAND` of each pid, for an assertion's message about processes left over. */
export function describeProcesses(pids: readonly number[]): string {
  return pids
    .map((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
        const command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        return `${pid} ${ppid} ${command.trim().slice(0, 120)}`;
      } catch {
        return `${pid} (gone)`;
      }
    })
    .join('\n');
}
