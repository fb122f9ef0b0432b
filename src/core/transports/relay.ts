// via= and installvia= through a remote gateway: another gateway's bytes travel as channel items
// of an exec running src/core/remote/relay.py on the master. The relayed process (or TCP
// connection) lives on the master's host; when the master goes, so does it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duplex, PassThrough } from 'node:stream';
import type { Channel } from '../channel';
import {
  ExecnetError,
  GatewayStartError,
  HostNotFound,
  PythonNotFound,
  RemoteError,
} from '../errors';
import type { Gateway } from '../gateway';
import { remoteSourceDir } from '../bootstrap';
import type { Transport, TransportExit } from './transport';

let relaySource: string | undefined;

function source(): string {
  relaySource ??= fs.readFileSync(path.join(remoteSourceDir(), 'relay.py'), 'utf8');
  return relaySource;
}

const END = Symbol('end of relay');

/** A byte stream over a relay channel; stderr and the end status come separately. */
class RelayStream extends Duplex {
  readonly stderr = new PassThrough();
  readonly started: Promise<number>;
  readonly exited: Promise<TransportExit>;
  private holding = false;
  private status: { code: number | null; message?: string } | undefined;

  constructor(
    private readonly master: Gateway,
    private readonly channel: Channel,
    what: string,
  ) {
    super({ allowHalfOpen: true });
    // the relay's end is the stream's end: 'close' tells users (ssh2, the gateway) it is gone
    this.once('end', () => this.destroy());
    this.on('error', () => undefined);
    let started!: (pid: number) => void;
    let startFailed!: (error: Error) => void;
    this.started = new Promise<number>((resolve, reject) => {
      started = resolve;
      startFailed = reject;
    });
    this.started.catch(() => undefined);
    let exited!: (exit: TransportExit) => void;
    this.exited = new Promise((resolve) => {
      exited = resolve;
    });
    // A callback holds the master open as long as the channel is: a relay must hold it only
    // while its own gateway wants to be held (setKeepAlive). The end marker arrives before the
    // channel lets go of its hold, so the balance is restored there.
    let neutralized = false;
    channel.setCallback((item: unknown) => {
      if (item === END) {
        if (neutralized) {
          neutralized = false;
          master.hold(1);
        }
        this.setKeepAlive(false);
        const error = channel.error;
        const failure =
          error instanceof RemoteError
            ? new ExecnetError(`${what} on ${master.id} failed: ${error.summary}`, { cause: error })
            : error;
        startFailed(
          failure ?? new GatewayStartError(`${what} on ${master.id} ended before starting`),
        );
        this.push(null);
        this.stderr.end();
        exited({
          code: this.status?.code ?? null,
          signal: null,
          error:
            this.status === undefined
              ? (failure ?? new ExecnetError(`the relay through ${master.id} closed`))
              : undefined,
        });
        return;
      }
      if (Buffer.isBuffer(item)) {
        this.push(item);
        return;
      }
      if (Array.isArray(item)) {
        const [kind, value, message] = item as [string, unknown, unknown];
        if (kind === 'e' && Buffer.isBuffer(value)) {
          this.stderr.write(value);
        } else if (kind === 'p') {
          started(Number(value));
        } else if (kind === 'x') {
          this.status = {
            code: typeof value === 'number' ? value : null,
            message: typeof message === 'string' ? message : undefined,
          };
          if (this.status.message !== undefined) {
            startFailed(
              new PythonNotFound(`${what} on ${master.id}: ${this.status.message}`, master.id),
            );
          }
        }
      }
    }, END);
    if (channel.state !== 'closed') {
      master.hold(-1);
      neutralized = true;
    }
  }

  override _read(): void {
    // items are pushed as they arrive
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    // a relay that is gone drops what is written: its end is reported through `exited`
    this.channel.send(chunk).then(
      () => callback(),
      () => callback(),
    );
  }

  override _writev(
    chunks: Array<{ chunk: Buffer }>,
    callback: (error?: Error | null) => void,
  ): void {
    const data = Buffer.concat(chunks.map((c) => c.chunk));
    this.channel.send(data).then(
      () => callback(),
      () => callback(),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.channel.send(null).then(
      () => callback(),
      () => callback(),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.kill();
    callback(error);
  }

  /**
   * Ends the relayed process (its whole process group) or connection. The relay reports the
   * exit status and closes the channel once the process is gone: `exited` means gone.
   */
  kill(): void {
    if (!this.channel.isClosed()) {
      void this.channel.send('kill').catch(() => undefined);
    }
  }

  /** SIGTERM to the relayed process group: asks it to end (and clean up) on its own. */
  terminate(): void {
    if (!this.channel.isClosed()) {
      void this.channel.send('term').catch(() => undefined);
    }
  }

  setKeepAlive(keepAlive: boolean): void {
    if (keepAlive !== this.holding && this.master.state !== 'dead') {
      this.holding = keepAlive;
      this.master.hold(keepAlive ? 1 : -1);
    }
  }
}

/** Runs a function of relay.py on the master, with its channel. */
function relayExec(master: Gateway, call: string, kwargs: Record<string, unknown>): Channel {
  return master.remoteExec({ source: source(), filename: '<execnet-relay>', call, kwargs });
}

function masterGateway(lookup: (id: string) => unknown, id: string, key: string): Gateway {
  const master = lookup(id) as Gateway | undefined;
  if (!master) {
    throw new GatewayStartError(`${key}=${id}: there is no gateway '${id}' in this group`);
  }
  if (master.state !== 'alive') {
    throw new GatewayStartError(`${key}=${id}: gateway '${id}' is ${master.state}`);
  }
  return master;
}

/** A process relayed through another gateway; `terminate()` sends its process group SIGTERM. */
export interface RelayedProcess extends Transport {
  terminate(): void;
  /** Its pid on the master's host, where it leads a session (and process group) of its own. */
  readonly remotePid: number;
}

/** Starts a process on the master's host whose stdin/stdout carry a gateway. */
export async function relayProcess(
  lookup: (id: string) => unknown,
  via: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  label: string,
): Promise<RelayedProcess> {
  const master = masterGateway(lookup, via, 'via');
  const channel = relayExec(master, 'relay_popen', { argv: [...argv], env: { ...env } });
  const stream = new RelayStream(master, channel, label);
  stream.setKeepAlive(true); // until the gateway decides
  let pid: number;
  try {
    pid = await stream.started;
  } finally {
    stream.setKeepAlive(false);
  }
  return {
    description: `${label} via ${master.id} (remote pid ${pid})`,
    remotePid: pid,
    input: stream,
    output: stream,
    stderr: stream.stderr,
    exited: stream.exited,
    kill: () => stream.kill(),
    terminate: () => stream.terminate(),
    setKeepAlive: (keepAlive) => stream.setKeepAlive(keepAlive),
  };
}

/** What a short command printed and how it ended (status null: killed, or it timed out). */
export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a short command to its end on the master's host. */
export async function relayRun(
  lookup: (id: string) => unknown,
  via: string,
  argv: readonly string[],
  timeoutSeconds: number,
): Promise<CommandResult> {
  const master = masterGateway(lookup, via, 'via');
  const channel = relayExec(master, 'run', { argv: [...argv], timeout: timeoutSeconds });
  const [code, stdout, stderr] = (await channel.receive(timeoutSeconds + 30)) as [
    number | null,
    Buffer,
    Buffer,
  ];
  return { code, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') };
}

/** A TCP connection opened from the master's host, as a stream here. */
export async function relayTcp(
  lookup: (id: string) => unknown,
  via: string,
  host: string,
  port: number,
  key = 'via',
): Promise<{ stream: Duplex; hold: (keepAlive: boolean) => void; master: Gateway }> {
  const master = masterGateway(lookup, via, key);
  const channel = relayExec(master, 'relay_tcp', { host, port });
  const stream = new RelayStream(master, channel, `connection to ${host}:${port}`);
  // held while whoever uses the stream is connecting; they call hold(false) when idle
  stream.setKeepAlive(true);
  try {
    await stream.started;
  } catch (error) {
    stream.setKeepAlive(false);
    throw new HostNotFound(
      `cannot reach ${host}:${port} from ${master.id}: ${(error as Error).message}`,
      host,
      { cause: error },
    );
  }
  return { stream, hold: (keepAlive) => stream.setKeepAlive(keepAlive), master };
}
