// Words and lines the views show for gateways and runs: status lines of an output channel, tree
// descriptions, durations. Editor-free, so the wording is tested in plain Node.

import type { RemoteInfo } from '../core/gateway';
import type { Session as InteractiveSession } from '../core/session';
import type { GatewayEntry, GroupEntry, Run, RunOutcome } from '../extension/session';

/** `0.42 s`, `12.3 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) {
    return `${(ms / 1000).toFixed(2)} s`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const s = Math.round(ms / 1000);
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** `14:03:07`, local time. */
export function formatClock(date: Date): string {
  return date.toTimeString().slice(0, 8);
}

/** `Python 3.11.2`, `PyPy 3.10.14` */
function interpreterName(info: RemoteInfo): string {
  const name =
    info.implementation && info.implementation.toLowerCase() !== 'cpython'
      ? info.implementation
      : 'Python';
  return `${name} ${info.version.join('.')}`;
}

/** `Python 3.11.2 on host` */
export function describeInterpreter(info: RemoteInfo): string {
  return `${interpreterName(info)} on ${info.hostname}`;
}

/** The first line of a (possibly multi-line) reason. */
export function firstLine(text: string): string {
  const line = text.split('\n', 1)[0];
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** The gateway row's description: `alive · Python 3.11.2 on host`, `dead: exited with status 1`. */
export function describeGateway(entry: GatewayEntry): string {
  switch (entry.state) {
    case 'connecting':
      return `connecting · ${entry.progress ?? entry.spec}`;
    case 'alive':
    case 'closing': {
      const info = entry.info;
      if (!info) {
        return entry.state;
      }
      // where a scheduler or container put it says more than the host name
      const placement = describePlacement(info);
      return placement
        ? `${entry.state} · ${placement} · ${interpreterName(info)}`
        : `${entry.state} · ${describeInterpreter(info)}`;
    }
    case 'dead':
      return entry.reason ? `dead: ${firstLine(entry.reason)}` : 'dead';
  }
}

/** Where Slurm or a container runtime runs the interpreter: `job 12.3 on node01`, `podman web`. */
export function describePlacement(info: RemoteInfo): string | undefined {
  if (info.slurm) {
    return `job ${info.slurm.jobId}.${info.slurm.stepId} on ${info.slurm.node}`;
  }
  if (info.container) {
    return `${info.container.engine} ${info.container.container}`;
  }
  return undefined;
}

/** The placement in full, for a tooltip: job, step, node, rank; container, image, pid inside. */
export function placementDetails(info: RemoteInfo): string | undefined {
  const slurm = info.slurm;
  if (slurm) {
    const rank = slurm.tasks > 1 ? `, task ${slurm.procId} of ${slurm.tasks}` : '';
    const whose = slurm.owned
      ? 'cancelled when its gateways end'
      : 'a job of someone else, left running';
    return `Slurm job ${slurm.jobId}, step ${slurm.stepId} on ${slurm.node}${rank} (${whose})`;
  }
  const container = info.container;
  if (container) {
    const image = container.image ? ` (a fresh one of ${container.image}, removed at the end)` : '';
    return `${container.engine} container ${container.container}${image}, pid ${container.pid} inside`;
  }
  return undefined;
}

/** A group row: `4 of 4 alive`, or with its Slurm allocation `job 12 running · 4 of 4 alive`. */
export function describeGroup(group: GroupEntry): string {
  const alive = `${group.alive.length} of ${group.gateways.length} alive`;
  const allocation = group.allocation;
  return allocation ? `job ${allocation.jobId} ${allocation.state} · ${alive}` : alive;
}

/** What a run's row says about its state: `running since 14:03:07`, `failed: ZeroDivisionError`. */
export function describeRunState(run: Run): string {
  if (!run.outcome && run.execution?.state === 'queued') {
    return 'waiting for the session';
  }
  if (!run.outcome) {
    return run.stopping ? 'stopping…' : `running since ${formatClock(run.startedAt)}`;
  }
  return describeOutcome(run.outcome);
}

export function describeOutcome(outcome: RunOutcome): string {
  switch (outcome.kind) {
    case 'ok':
      return 'finished';
    case 'exit':
      return outcome.code === 0 ? 'exited (status 0)' : `exited with status ${outcome.code}`;
    case 'error':
      return `failed: ${outcome.error.summary}`;
    case 'interrupted':
      return 'interrupted';
    case 'cancelled':
      return 'cancelled';
    case 'killed':
      return 'stopped';
    case 'gateway-closed':
      return `gateway ended: ${firstLine(outcome.message)}`;
  }
}

/** The name of a run's output channel or terminal: `gw1: train.py` (short: the Output list cuts). */
export function outputName(run: Run): string {
  return `${run.entry.id}: ${run.label}`;
}

/** First line of a run's output. */
export function startLine(run: Run): string {
  const info = run.entry.info;
  const where = info ? ` (${describeInterpreter(info)})` : '';
  return `[execnet] ${run.label} started on ${run.entry.id}${where} at ${formatClock(run.startedAt)}`;
}

/** Last line of a run's output: how it ended and how long it took. */
export function endLine(run: Run): string {
  return `[execnet] ${run.label} on ${run.entry.id} ${howItEnded(run)}`;
}

/** How a run ended and after how long: `finished in 0.52 s`, `failed after 1.2 s: ValueError: x`. */
export function howItEnded(run: Run): string {
  const outcome = run.outcome;
  const took = formatDuration((run.endedAt ?? new Date()).getTime() - run.startedAt.getTime());
  if (!outcome) {
    return `is running (${took})`;
  }
  switch (outcome.kind) {
    case 'ok':
      return `finished in ${took}`;
    case 'exit':
      return `exited with status ${outcome.code} after ${took}`;
    case 'error':
      return `failed after ${took}: ${outcome.error.summary}`;
    case 'interrupted':
      return `was interrupted after ${took}`;
    case 'cancelled':
      return 'was cancelled before it ran';
    case 'killed':
      return `was stopped after ${took}: it did not end when interrupted${killDetail(outcome.error.remoteMessage)}`;
    case 'gateway-closed':
      return `stopped after ${took}: ${firstLine(outcome.message)}`;
  }
}

/** `; 2 processes it started ended` from the remote's `killed by the local side (…)`. */
function killDetail(message: string): string {
  const detail = /\((.*)\)$/.exec(message)?.[1];
  return detail ? `; ${detail}` : '';
}

/** The session row's description: `busy · [3] since 14:03:07`, `idle · 3 runs, last 14:03:07`. */
export function describeSession(session: InteractiveSession): string {
  switch (session.state) {
    case 'closed':
      return 'closed';
    case 'busy': {
      const running = session.running;
      const queued = session.pending.length > 0 ? `, ${session.pending.length} waiting` : '';
      return running?.startedAt
        ? `busy · [${running.count}] since ${formatClock(running.startedAt)}${queued}`
        : `busy${queued}`;
    }
    case 'idle': {
      const count = session.executionCount;
      const last = session.lastRun;
      return count === 0
        ? 'idle · fresh namespace'
        : `idle · ${count} run${count === 1 ? '' : 's'}${last ? `, last ${formatClock(last)}` : ''}`;
    }
  }
}

/** A traceback line that names a file: `  File "/p/x.py", line 12, in f`. */
export const TRACEBACK_FRAME = /File "([^"]+)", line (\d+)/g;
