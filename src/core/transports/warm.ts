// Warm start for popen gateways. Starting an interpreter costs 10+ ms before it runs a line of
// ours; a warm interpreter that has already loaded the gateway forks a fresh one in ~1 ms. The
// first popen gateway of an interpreter (same python, env and -B) starts the ordinary way and,
// beside it, a warm interpreter; later ones are forked from it. A forked gateway is a process of
// its own (its own session and process group, killed like a spawned one) that connects back to
// this process over a Unix socket. The warm interpreter exits when this process does, or after
// `IDLE_SECONDS` without children.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { interpreterKey, makeBootstrap, type RemoteConfig } from '../bootstrap';
import { formatValue } from '../repr';
import { onThisMachine, type GatewaySpec } from '../spec';
import { trace } from '../trace';
import { defaultPythonCommand, killGroup, openPopen, releaseGroup, trackGroup } from './popen';
import type { Transport, TransportExit } from './transport';

const IDLE_SECONDS = 2;
/** How long a fork may take to connect back before the gateway starts the ordinary way. */
const CONNECT_TIMEOUT_MS = 5000;
const RECORD_SIZE = 13;
const FORKED = 1;
const EXITED = 2;
const KILLED = 3;
const FAILED = 4;

/**
 * Whether a spec may be warm-started: a plain local interpreter, on a system that can fork, and
 * `python=` (or the default) names a CPython executable itself. A fork skips whatever runs
 * before the interpreter, so a wrapper (`srun …`, `sudo -u x python3`, `env X=1 python3`, a
 * pyenv shim choosing the version per directory) must run for every start.
 */
export function canWarmStart(spec: GatewaySpec): boolean {
  return (
    onThisMachine(spec) &&
    spec.sudo === undefined &&
    process.platform !== 'win32' &&
    process.env.EXECNET_WARM_START !== '0' &&
    isPythonExecutable(
      (spec.python ?? defaultPythonCommand())[0],
      spec.env.PATH ?? process.env.PATH,
    )
  );
}

const PYTHON_NAME = /^python\d*(\.\d+)?[a-z]?$/;
const BINARY_MAGIC = [
  0x7f454c46, // ELF
  0xfeedface, // Mach-O
  0xfeedfacf,
  0xcefaedfe,
  0xcffaedfe,
  0xcafebabe, // universal binary
];
const pythonExecutables = new Map<string, boolean>();

/**
 * Whether `command` (looked up on `searchPath` like spawn does) is a CPython interpreter: its
 * real path is named python, python3, python3.12… and is a binary, not a script that starts one.
 */
export function isPythonExecutable(command: string, searchPath = ''): boolean {
  const key = `${command}\0${searchPath}`;
  let verdict = pythonExecutables.get(key);
  if (verdict === undefined) {
    verdict = checkPythonExecutable(command, searchPath);
    pythonExecutables.set(key, verdict);
  }
  return verdict;
}

function checkPythonExecutable(command: string, searchPath: string): boolean {
  const candidates = command.includes('/')
    ? [path.resolve(command)]
    : searchPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    let real: string;
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      real = fs.realpathSync(candidate);
      if (!fs.statSync(real).isFile()) {
        continue;
      }
    } catch {
      continue;
    }
    // the first executable found is what spawn runs
    if (!PYTHON_NAME.test(path.basename(real)) && !PYTHON_NAME.test(path.basename(candidate))) {
      return false;
    }
    const head = Buffer.alloc(4);
    try {
      const fd = fs.openSync(real, 'r');
      try {
        fs.readSync(fd, head, 0, 4, 0);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return false;
    }
    return BINARY_MAGIC.includes(head.readUInt32BE(0));
  }
  return false;
}

function warmKey(spec: GatewaySpec): string {
  const python = spec.python ?? defaultPythonCommand();
  return JSON.stringify([python, spec.env, spec.dontWriteBytecode]);
}

const servers = new Map<string, WarmInterpreter>();

/** Pids of the warm interpreters of this process (not of the gateways forked from them). */
export function warmInterpreterPids(): number[] {
  return [...servers.values()].flatMap((s) =>
    s.pid !== undefined && s.state !== 'dead' ? [s.pid] : [],
  );
}

/**
 * A forked gateway for the spec if a warm interpreter for it is ready, else undefined (and one
 * is started for next time). Never fails: any problem means "start the ordinary way".
 */
export async function openWarm(
  spec: GatewaySpec,
  config: RemoteConfig,
): Promise<Transport | undefined> {
  const key = warmKey(spec);
  let server = servers.get(key);
  if (server && server.state === 'dead') {
    servers.delete(key);
    server = undefined;
  }
  if (!server) {
    servers.set(key, new WarmInterpreter(spec, key));
    return undefined;
  }
  if (server.state !== 'ready') {
    return undefined;
  }
  try {
    return await server.fork({ ...config, cwd: process.cwd() });
  } catch (error) {
    trace(`warm start failed, starting the ordinary way: ${(error as Error).message}`);
    return undefined;
  }
}

// -- the socket forked gateways connect back to --------------------------------------------------

let listener: { server: net.Server; path: string; ready: Promise<void> } | undefined;
const waitingForConnection = new Map<number, (socket: net.Socket) => void>();

function socketListener(): { path: string; ready: Promise<void> } {
  if (!listener) {
    const socketPath = path.join(
      os.tmpdir(),
      `execnet-${process.pid}-${Math.random().toString(36).slice(2, 10)}.sock`,
    );
    const server = net.createServer((socket) => {
      // the child's first four bytes say which fork it is
      socket.once('readable', function claim() {
        const token = socket.read(4) as Buffer | null;
        if (!token) {
          socket.once('readable', claim);
          return;
        }
        const waiting = waitingForConnection.get(token.readUInt32BE(0));
        if (waiting) {
          waiting(socket);
        } else {
          socket.destroy();
        }
      });
    });
    server.unref();
    const ready = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    process.once('exit', () => fs.rmSync(socketPath, { force: true }));
    listener = { server, path: socketPath, ready };
  }
  return listener;
}

// -- the warm interpreter ----------------------------------------------------------------------

interface Fork {
  readonly resolvePid: (pid: number) => void;
  readonly rejectPid: (error: Error) => void;
  exit?: TransportExit;
  onExit?: (exit: TransportExit) => void;
}

class WarmInterpreter {
  state: 'starting' | 'ready' | 'dead' = 'starting';
  private readonly transport: Transport;
  private readonly python: string;
  private nextToken = 1;
  private readonly forks = new Map<number, Fork>();
  private pending = Buffer.alloc(0);

  constructor(spec: GatewaySpec, key: string) {
    const { path: socketPath, ready } = socketListener();
    const bootstrap = makeBootstrap(
      {
        id: 'warm',
        env: spec.env,
        dont_write_bytecode: spec.dontWriteBytecode,
        execmodel: 'thread',
        debug: 0,
        protocol: 0,
        warm: true,
        socket: socketPath,
        idle: IDLE_SECONDS,
        die_with_parent: process.pid,
      } as RemoteConfig,
      // a warm interpreter restarted after an idle spell can skip compiling, like any gateway
      interpreterKey(spec),
      true,
    );
    this.python = (spec.python ?? defaultPythonCommand()).join(' ');
    // started exactly as a popen gateway of this spec would be: same argv, -B and env
    this.transport = openPopen(spec, bootstrap.line);
    this.transport.setKeepAlive(false);
    this.transport.output.on('data', (chunk: Buffer) => this.onRecords(chunk));
    (this.transport.stderr as Readable | undefined)?.resume();
    void this.transport.exited.then(() => this.onGone());
    ready.then(
      () => {
        this.transport.input.write(bootstrap.payload);
        if (this.state === 'starting') {
          this.state = 'ready';
        }
      },
      () => this.onGone(),
    );
    trace(`warm interpreter for ${key}: started (pid ${this.transport.pid})`);
  }

  get pid(): number | undefined {
    return this.transport.pid;
  }

  /** Fork a gateway and wait for it to connect back. */
  fork(config: Record<string, unknown>): Promise<Transport> {
    const token = this.nextToken++;
    const literal = Buffer.from(formatValue(config), 'utf8');
    const request = Buffer.alloc(8 + literal.length);
    request.writeUInt32BE(4 + literal.length, 0);
    request.writeUInt32BE(token, 4);
    literal.copy(request, 8);
    return new Promise<Transport>((resolve, reject) => {
      let pid: number | undefined;
      let socket: net.Socket | undefined;
      const fork: Fork = {
        resolvePid: (value) => {
          pid = value;
          finish();
        },
        rejectPid: (error) => fail(error),
      };
      const fail = (error: Error): void => {
        clearTimeout(timer);
        waitingForConnection.delete(token);
        this.forks.delete(token);
        socket?.destroy();
        if (pid !== undefined) {
          killGroup(pid);
        }
        reject(error);
      };
      const finish = (): void => {
        if (pid === undefined || socket === undefined) {
          return;
        }
        clearTimeout(timer);
        waitingForConnection.delete(token);
        resolve(forkedTransport(socket, pid, fork, this.python));
      };
      const timer = setTimeout(
        () => fail(new Error(`forked gateway did not connect in ${CONNECT_TIMEOUT_MS} ms`)),
        CONNECT_TIMEOUT_MS,
      );
      waitingForConnection.set(token, (s) => {
        socket = s;
        finish();
      });
      this.forks.set(token, fork);
      this.transport.input.write(request);
    });
  }

  private onRecords(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= RECORD_SIZE) {
      const kind = this.pending[0];
      const token = this.pending.readUInt32BE(1);
      const pid = this.pending.readInt32BE(5);
      const value = this.pending.readInt32BE(9);
      this.pending = this.pending.subarray(RECORD_SIZE);
      const fork = this.forks.get(token);
      if (!fork) {
        continue;
      }
      if (kind === FORKED) {
        fork.resolvePid(pid);
      } else if (kind === FAILED) {
        this.forks.delete(token);
        fork.rejectPid(new Error(`fork failed (errno ${value})`));
      } else if (kind === EXITED || kind === KILLED) {
        this.forks.delete(token);
        const exit: TransportExit =
          kind === EXITED
            ? { code: value, signal: null }
            : { code: null, signal: signalName(value) };
        fork.exit = exit;
        fork.onExit?.(exit);
      }
    }
  }

  private onGone(): void {
    this.state = 'dead';
    // children live on (their own sessions); their exit status is just no longer known
    for (const fork of this.forks.values()) {
      fork.rejectPid(new Error('the warm interpreter exited'));
      fork.onExit?.({ code: null, signal: null });
    }
    this.forks.clear();
  }
}

function signalName(signo: number): string {
  const names = os.constants.signals as Record<string, number>;
  return Object.keys(names).find((name) => names[name] === signo) ?? `signal ${signo}`;
}

/** A forked gateway as a transport: the socket carries the protocol, the warm interpreter
 * reports how the process ended. */
function forkedTransport(socket: net.Socket, pid: number, fork: Fork, python: string): Transport {
  trackGroup(pid);
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const status = new Promise<TransportExit>((resolve) => {
    if (fork.exit) {
      resolve(fork.exit);
    } else {
      fork.onExit = resolve;
    }
  });
  const exited = closed
    .then(
      () =>
        // the status follows the socket's end within moments; a (ref'd) timer keeps this
        // process alive until it comes, and bounds the wait
        new Promise<TransportExit>((resolve) => {
          const timer = setTimeout(() => resolve({ code: null, signal: null }), 2000);
          void status.then((exit) => {
            clearTimeout(timer);
            resolve(exit);
          });
        }),
    )
    .then((exit) => {
      // like a spawned gateway: nothing it started outlives it
      releaseGroup(pid);
      return exit;
    });
  return {
    description: `popen ${python} (pid ${pid}, warm start)`,
    input: socket,
    output: socket,
    pid,
    exited,
    kill: () => killGroup(pid),
    setKeepAlive: (keepAlive) => {
      if (keepAlive) {
        socket.ref();
      } else {
        socket.unref();
      }
    },
  };
}
