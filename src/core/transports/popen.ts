// popen: a local Python child process, talking over its stdin/stdout. The child leads its own
// process group so that terminate() can take down everything remote code started, and so that
// a Ctrl-C in the local terminal does not reach it.

import { spawn, type ChildProcess } from 'node:child_process';
import type { GatewaySpec } from '../spec';
import { tellReaper } from './reaper';
import type { Transport, TransportExit } from './transport';

/**
 * Process groups of live remotes, signalled if the Node process exits without terminating them
 * (and by the reaper if it is killed): SIGKILL, or SIGTERM for launchers (srun) that must clean
 * up after themselves.
 */
const liveGroups = new Map<number, NodeJS.Signals>();
let exitHookInstalled = false;

/** Kill this process group when the Node process exits, unless `releaseGroup` comes first. */
export function trackGroup(pgid: number, exitSignal: NodeJS.Signals = 'SIGKILL'): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const [group, signal] of liveGroups) {
        killGroup(group, signal);
      }
    });
  }
  liveGroups.set(pgid, exitSignal);
  tellReaper('+', pgid);
}

/** The group's leader is gone: take down anything it left running, and stop tracking it. */
export function releaseGroup(pgid: number): void {
  killGroup(pgid);
  if (liveGroups.delete(pgid)) {
    tellReaper('-', pgid);
  }
}

export function killGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

/** The interpreter used when a spec names none: `EXECNET_PYTHON`, else `python3`. */
export function defaultPythonCommand(): string[] {
  return [process.env.EXECNET_PYTHON || 'python3'];
}

export function openPopen(spec: GatewaySpec, bootstrapLine: string): Transport {
  const argv = spec.python && spec.python.length > 0 ? [...spec.python] : defaultPythonCommand();
  const args = argv.slice(1);
  if (spec.dontWriteBytecode) {
    args.push('-B');
  }
  args.push('-c', bootstrapLine);
  return spawnTransport(
    [argv[0], ...args],
    { ...process.env, ...spec.env },
    `popen ${argv.join(' ')}`,
  );
}

/**
 * Runs a command whose stdin/stdout carry the protocol (an interpreter, or ssh/sudo/vagrant in
 * front of one), leading its own process group that kill() takes down.
 */
export function spawnTransport(
  command: readonly string[],
  env: NodeJS.ProcessEnv,
  label: string,
  exitSignal?: NodeJS.Signals,
): Transport {
  const child = spawn(command[0], command.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    env,
    windowsHide: true,
  });
  const pid = child.pid;
  if (pid !== undefined) {
    trackGroup(pid, exitSignal);
  }
  const exited = new Promise<TransportExit>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
      // a child that never started emits no 'close'
      if (pid === undefined) {
        resolve({ code: null, signal: null, error });
      }
    });
    child.once('close', (code, signal) => {
      if (pid !== undefined) {
        // the interpreter is gone; take down anything it left running in its group
        releaseGroup(pid);
      }
      resolve({ code, signal, error: spawnError });
    });
  });
  // Writes to a child that died raise EPIPE on the stream; the gateway learns of the death
  // from `exited`, so these errors carry no news.
  child.stdin.on('error', () => undefined);
  child.stdout.on('error', () => undefined);
  child.stderr.on('error', () => undefined);

  return {
    description: `${label}${pid !== undefined ? ` (pid ${pid})` : ''}`,
    input: child.stdin,
    output: child.stdout,
    stderr: child.stderr,
    pid,
    exited,
    kill: () => {
      if (pid !== undefined) {
        killGroup(pid);
      }
    },
    setKeepAlive: keepAliveSwitch(child),
  };
}

/** Whether a child process (and its pipes) keeps the Node process alive. */
export function keepAliveSwitch(child: ChildProcess): (keepAlive: boolean) => void {
  const handles = [child, child.stdin, child.stdout, child.stderr] as unknown as Array<{
    ref?: () => void;
    unref?: () => void;
  } | null>;
  return (keepAlive) => {
    for (const handle of handles) {
      (keepAlive ? handle?.ref : handle?.unref)?.call(handle);
    }
  };
}
