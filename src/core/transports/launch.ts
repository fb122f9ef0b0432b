// What the Slurm and container transports share. Their interpreter is started by a launcher
// (srun, salloc, podman/docker exec or run) on this machine or on a via= gateway's host. A small
// shell wrapper announces on stderr where the interpreter landed (job, step and node; the pid
// inside the container) and then becomes the interpreter, so the transport knows what to clean
// up before a single protocol byte is sent. Launchers are ended gently: SIGTERM, then a cleanup
// command (scancel, a kill inside the container), SIGKILL only as a last resort, because a
// SIGKILLed srun strands its job and killing `podman exec` leaves the process inside running.

import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { ExecnetError, GatewayStartError } from '../errors';
import type { GatewaySpec } from '../spec';
import { interpreterArgv, pythonCommand, REMOTE_DEFAULT_PYTHON, shellQuote } from './command';
import { killGroup, spawnTransport } from './popen';
import { REAPER_SCRIPT, tellReaper } from './reaper';
import { relayProcess, relayRun, type CommandResult, type RelayedProcess } from './relay';
import { trace } from '../trace';
import type { Transport, TransportExit } from './transport';

/** What the wrapper prints, followed by its fields, before it execs the interpreter. */
const ANNOUNCE = '[execnet-launch]';

/** Seconds a launcher gets to end after SIGTERM and its cleanup before it is killed. */
const GRACE_SECONDS = 2;
/**
 * Seconds ending a launcher waits for its cleanup (scancel returns at once from a controller
 * that answers; one that is gone would hold it for a long while): what is ours here is gone by
 * then, which is what terminate() waits for.
 */
const CLEANUP_WAIT_SECONDS = 4;

/** A launcher process carrying a gateway; `terminate()` sends it SIGTERM. */
export interface Launched extends Transport {
  terminate(): void;
}

/** Where launchers run: this machine, or the host of a via= gateway. */
export interface LaunchHost {
  /** `local`, or the id of the via= gateway. */
  readonly name: string;
  /** For messages: `on this machine`, `on login`. */
  readonly where: string;
  /** For descriptions: '', or ` via login`. */
  readonly via: string;
  /** The same object for the same host: this machine, or the via= gateway itself. */
  readonly key: object;
  /** Start a launcher whose stdin/stdout carry a gateway (or that holds something open). */
  spawn(argv: readonly string[], label: string): Promise<Launched>;
  /** Run a short command to its end (squeue, scancel, podman rm). */
  run(argv: readonly string[], timeoutSeconds?: number): Promise<CommandResult>;
  /**
   * A Slurm job we own (`watch`), or one we let go of: if this process dies first, or its
   * connection to the host does, the host's reaper cancels it.
   */
  watchJob(jobId: string, watch: boolean): void;
}

/**
 * A via= host: launchers run through its gateway (relay.py), each leading a session of its own
 * there. The host has a reaper of its own (reaper.ts's script, relayed too) that is told every
 * launcher's group and every job we own: when the gateway goes, however it goes (terminated,
 * killed, its connection to us broken), the reaper's input ends and it ends what is left.
 */
export function launchHost(via: string | undefined, lookup: (id: string) => unknown): LaunchHost {
  if (via === undefined) {
    return localHost;
  }
  const key = (lookup(via) as object | undefined) ?? localHost;
  const tell = (line: string): void => {
    void hostReaper(key, lookup, via)
      .then((reaper) => reaper.input.write(`${line}\n`))
      .catch(() => undefined);
  };
  return {
    name: via,
    where: `on ${via}`,
    via: ` via ${via}`,
    key,
    spawn: async (argv, label) => {
      void hostReaper(key, lookup, via).catch(() => undefined); // asked for before the launcher
      const launched = await relayProcess(lookup, via, argv, {}, label);
      tell(`+ ${launched.remotePid}`);
      void launched.exited.then(() => tell(`- ${launched.remotePid}`));
      return launched;
    },
    run: (argv, timeoutSeconds = 30) => relayRun(lookup, via, argv, timeoutSeconds),
    watchJob: (jobId, watch) => tell(`${watch ? '+job' : '-job'} ${jobId}`),
  };
}

const hostReapers = new WeakMap<object, Promise<RelayedProcess>>();

function hostReaper(
  key: object,
  lookup: (id: string) => unknown,
  via: string,
): Promise<RelayedProcess> {
  let reaper = hostReapers.get(key);
  if (!reaper) {
    reaper = relayProcess(lookup, via, ['/bin/sh', '-c', REAPER_SCRIPT], {}, 'reaper').then(
      (launched) => {
        launched.setKeepAlive(false);
        return launched;
      },
    );
    reaper.catch((error: Error) => {
      trace(`the reaper on ${via} did not start: ${error.message}`);
      hostReapers.delete(key);
    });
    hostReapers.set(key, reaper);
  }
  return reaper;
}

const localHost: LaunchHost = {
  name: 'local',
  where: 'on this machine',
  via: '',
  key: {},
  spawn: (argv, label) => {
    // SIGTERM, not SIGKILL, if this process exits with the launcher still running
    const transport = spawnTransport(argv, process.env, label, 'SIGTERM');
    const pid = transport.pid;
    return Promise.resolve({
      ...transport,
      terminate: () => {
        if (pid !== undefined) {
          killGroup(pid, 'SIGTERM');
        }
      },
    });
  },
  watchJob: (jobId, watch) => tellReaper(watch ? '+job' : '-job', jobId),
  run: (argv, timeoutSeconds = 30) =>
    new Promise((resolve) => {
      execFile(
        argv[0],
        argv.slice(1),
        { timeout: timeoutSeconds * 1000, encoding: 'utf8', killSignal: 'SIGKILL' },
        (error, stdout, stderr) => {
          const code = error ? (error as NodeJS.ErrnoException).code : 0;
          if (code === 'ENOENT') {
            resolve({ code: 127, stdout: '', stderr: `${argv[0]}: command not found` });
            return;
          }
          resolve({ code: typeof code === 'number' ? code : error ? null : 0, stdout, stderr });
        },
      );
    }),
};

/**
 * The interpreter a launcher starts, `[env K=V] python [-B]` (the spec's env travels on the
 * command line: srun and exec do not pass this process's environment on), and how to show it.
 */
export function launchedInterpreter(spec: GatewaySpec): { argv: string[]; shown: string } {
  return {
    argv: interpreterArgv(spec, {
      defaultPython: REMOTE_DEFAULT_PYTHON,
      envPrefix: true,
      canAskSudo: false,
    }),
    shown: pythonCommand(spec).join(' '),
  };
}

/**
 * `/bin/sh -c '<exports>; echo "[execnet-launch] FIELDS" >&2; exec "$@"' execnet COMMAND...`:
 * `fields` is expanded by that shell where the interpreter runs (`$SLURM_JOB_ID`, `$$`).
 */
export function announcedCommand(
  fields: string,
  command: readonly string[],
  exports: Readonly<Record<string, string>> = {},
): string[] {
  const set = Object.entries(exports)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}; `)
    .join('');
  return [
    '/bin/sh',
    '-c',
    `${set}echo "${ANNOUNCE} ${fields}" >&2; exec "$@"`,
    'execnet',
    ...command,
  ];
}

/**
 * What the launcher ran into when it could not start at all (no srun, no podman where it should
 * run), from how it ended and what it said; undefined when it did start.
 */
export function launcherMissing(exit: TransportExit, said: string): string | undefined {
  if (exit.code === 127 && /^setpriv: failed to execute \S+: No such file/.test(said)) {
    return said; // started through setpriv (slurm.ts)
  }
  return exit.error && /ENOENT|not found|No such file/.test(exit.error.message) && !said
    ? exit.error.message
    : undefined;
}

export interface AnnouncementWait {
  /** Seconds to wait for the announcement. */
  readonly timeout: number;
  /** Each line the launcher prints before the announcement (`srun: job 12 queued ...`). */
  readonly onLine?: (line: string) => void;
  /** The error when time is up; the launcher is ended after it was made (it may ask squeue). */
  readonly timedOut: () => Promise<Error>;
  /** The error when the launcher ends before announcing, from how it ended and what it said. */
  readonly failed: (exit: TransportExit, said: string) => Error;
  /** Cleanup that ending the launcher needs besides SIGTERM (scancel). */
  readonly cleanup?: () => Promise<unknown>;
  /** Gives up waiting: the launcher is ended and the wait rejects with a GatewayStartError. */
  readonly signal?: AbortSignal;
}

/**
 * Waits for the wrapper's announcement; resolves with its fields (split at spaces) and the
 * launcher, whose stderr now starts after the announcement. When it fails the launcher is
 * ended, and the wait rejects once it is gone.
 */
export function waitAnnouncement(
  launched: Launched,
  wait: AnnouncementWait,
): Promise<{ fields: string[]; launched: Launched }> {
  const stderr = launched.stderr;
  if (!stderr) {
    return Promise.reject(new ExecnetError(`${launched.description} has no stderr to announce on`));
  }
  const rest = new PassThrough();
  let said = ''; // lines before the announcement, for error messages
  let partial = '';
  let done = false;
  return new Promise((resolve, reject) => {
    const finish = (error?: Error): void => {
      if (done) {
        return;
      }
      done = true;
      clearTimeout(timer);
      wait.signal?.removeEventListener('abort', onAbort);
      stderr.off('data', onData);
      if (error) {
        // settles once the launcher is gone and its cleanup done: nothing is left by then
        void endGently(launched, wait.cleanup).finally(() => reject(error));
      }
    };
    const timer = setTimeout(() => {
      void wait.timedOut().then(
        (error) => finish(error),
        (error: Error) => finish(error),
      );
    }, wait.timeout * 1000);
    const onData = (chunk: Buffer): void => {
      partial += chunk.toString('utf8');
      for (let newline = partial.indexOf('\n'); newline !== -1; newline = partial.indexOf('\n')) {
        const line = partial.slice(0, newline).replace(/\r$/, '');
        partial = partial.slice(newline + 1);
        const at = line.indexOf(ANNOUNCE);
        if (at !== -1) {
          finish();
          const fields = line
            .slice(at + ANNOUNCE.length)
            .trim()
            .split(/\s+/);
          if (partial) {
            rest.write(partial);
          }
          stderr.pipe(rest);
          resolve({ fields, launched: { ...launched, stderr: rest } });
          return;
        }
        said += `${line}\n`;
        wait.onLine?.(line);
      }
    };
    // aborted with an error (the transport's own reason to give up), or cancelled by the caller
    const onAbort = (): void =>
      finish(
        wait.signal?.reason instanceof ExecnetError
          ? wait.signal.reason
          : new GatewayStartError(`${launched.description}: the start was cancelled`),
      );
    if (wait.signal?.aborted) {
      onAbort();
      return;
    }
    wait.signal?.addEventListener('abort', onAbort);
    stderr.on('data', onData);
    void launched.exited.then((exit) => {
      if (!done) {
        finish(wait.failed(exit, (said + partial).trim()));
      }
    });
  });
}

/**
 * The transport of a launcher whose end needs cleanup. kill() ends it gently with `kill` as the
 * cleanup (scancel, a kill inside the container); `afterExit` runs whenever it has ended (on its
 * own or killed). `exited` resolves only when all of that is done, so a terminated gateway
 * leaves nothing behind by the time terminate() resolves.
 */
export function withCleanup(
  launched: Launched,
  cleanup: {
    readonly kill: () => Promise<unknown>;
    readonly afterExit?: (exit: TransportExit, killed: boolean) => Promise<unknown> | undefined;
  },
): Transport {
  let killing: Promise<unknown> | undefined;
  const exited = launched.exited.then(async (exit) => {
    await killing;
    await cleanup.afterExit?.(exit, killing !== undefined)?.catch(() => undefined);
    return exit;
  });
  return {
    ...launched,
    exited,
    kill: () => {
      killing ??= endGently(launched, cleanup.kill);
    },
  };
}

/**
 * Ends a launcher gently: SIGTERM and the cleanup at once, SIGKILL if it still runs after a
 * grace period. Resolves with how it ended, once the cleanup is done or has had its time.
 */
export async function endGently(
  launched: Launched,
  cleanup?: () => Promise<unknown>,
): Promise<TransportExit> {
  const started = Date.now();
  launched.terminate();
  const cleaned = cleanup?.().catch(() => undefined);
  if ((await within(launched.exited, GRACE_SECONDS * 1000)) === 'late') {
    launched.kill();
  }
  const exit = await launched.exited;
  if (
    cleaned &&
    (await within(cleaned, CLEANUP_WAIT_SECONDS * 1000 - (Date.now() - started))) === 'late'
  ) {
    trace(`${launched.description}: its cleanup has not finished; not waiting for it`);
  }
  return exit;
}

/** Whether `promise` settles within `ms` ('late' if not). */
export async function within(promise: Promise<unknown>, ms: number): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), Math.max(0, ms));
  });
  const outcome = await Promise.race([promise.then(() => 'done' as const), late]);
  clearTimeout(timer);
  return outcome;
}
