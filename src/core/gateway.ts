// A gateway: one remote Python interpreter and the frames to and from it. It starts the remote
// (bootstrap + handshake), owns the channels, turns frames into channel events, and ends the
// remote politely or by force. Channel ids: the local side allocates odd, the remote even.

import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  interpreterKey,
  keepsCompiledOnDisk,
  makeBootstrap,
  rememberCompiled,
  remoteConfig,
} from './bootstrap';
import { Channel, type ChannelHost, type ChannelOrigin, type OutputStream } from './channel';
import {
  DataFormatError,
  DumpError,
  ExecnetError,
  GatewayClosedError,
  GatewayStartError,
  PythonNotFound,
  RemoteError,
} from './errors';
import { Emitter, type Event } from './events';
import {
  encodeFrame,
  FrameDecoder,
  HEADER_SIZE,
  MAX_PAYLOAD,
  Msg,
  PROTOCOL_VERSION,
  writeHeader,
} from './protocol';
import type { Prompts } from './prompts';
import { Codec } from './serializer';
import { Session, type SessionOptions } from './session';
import type { GatewaySpec } from './spec';
import { ExecStdin } from './stdin';
import { after, type Timeout, type Timer } from './timers';
import { trace, traceLevel } from './trace';
import type { SshConnectionPool } from './ssh/connections';
import { openTransport } from './transports';
import { canWarmStart, openWarm } from './transports/warm';
import { defaultPythonCommand } from './transports/popen';
import type { SlurmAllocation } from './transports/slurm';
import type {
  ContainerPlacement,
  SlurmPlacement,
  Transport,
  TransportExit,
} from './transports/transport';

export type GatewayState = 'connecting' | 'alive' | 'closing' | 'dead';

/** What the remote interpreter told us about itself in the handshake. */
export interface RemoteInfo {
  readonly executable: string;
  readonly version: readonly [number, number, number];
  readonly versionString: string;
  readonly implementation: string;
  readonly platform: string;
  readonly pid: number;
  readonly cwd: string;
  readonly hostname: string;
  readonly execmodel: string;
  /** For slurm gateways: the job, step, node and task rank. */
  readonly slurm?: SlurmPlacement;
  /** For docker and podman gateways: the container and the pid inside it. */
  readonly container?: ContainerPlacement;
}

/** `gateway.remoteStatus()`: what runs on the remote right now. */
export interface RemoteStatus {
  readonly numchannels: number;
  readonly numexecuting: number;
  readonly execmodel: string;
  readonly pid: number;
}

/**
 * How code runs, besides what it runs. A script run from an editor or a terminal sets what
 * `python FILE ARGS` would give it: `{ argv: [file, ...args], sysPath0: dirname(file), main: true }`.
 */
export interface ExecOptions {
  /** A sys.stdin of its own, fed through `channel.stdin`; without it, sys.stdin is at its end. */
  readonly stdin?: boolean;
  /** sys.argv for the code. */
  readonly argv?: readonly string[];
  /**
   * Put this remote directory first on sys.path (where the previous run's was), and forget the
   * modules loaded from it before, so that the code imports them as they are now.
   */
  readonly sysPath0?: string;
  /** Run as `__main__` (a module of its own, in sys.modules while it runs), not `__channelexec__`. */
  readonly main?: boolean;
  /** Change the remote's working directory first (`~` is the remote home). */
  readonly cwd?: string;
  /**
   * Never in the main thread: a short helper call beside the code (a completion, say), which
   * must not take the main thread from the next exec (only there can a blocking call such as
   * `time.sleep()` be interrupted). Ignored by execmodel=main_thread_only.
   */
  readonly aside?: boolean;
}

/** What remoteExec runs: source text, a local Python file, a remote module, or a function. */
export type RemoteSource =
  | string
  | (ExecOptions & {
      readonly source: string;
      /** Shown in tracebacks; defaults to `<remote exec>`. */
      readonly filename?: string;
      /** Call this function of the source with `(channel, **kwargs)` after running it. */
      readonly call?: string;
      readonly kwargs?: Readonly<Record<string, unknown>>;
    })
  | (ExecOptions & {
      /** A local Python file: its text runs remotely, tracebacks name this path and its lines. */
      readonly file: string;
      readonly call?: string;
      readonly kwargs?: Readonly<Record<string, unknown>>;
    })
  | (ExecOptions & {
      /** A module found on the remote's sys.path; its source runs like a file would. */
      readonly module: string;
      readonly call?: string;
      readonly kwargs?: Readonly<Record<string, unknown>>;
    });

export interface GatewayOutput {
  /** The channel whose code wrote it, or undefined for output of no exec. */
  readonly channel: Channel | undefined;
  readonly stream: OutputStream;
  readonly data: Buffer;
}

export interface GatewayOptions {
  /** Seconds to wait for the interpreter to start and answer; default 60. */
  readonly startTimeout?: number;
  /** Other gateways of the same group, by id (for `via=` and `installvia=`). */
  readonly lookup?: (id: string) => Gateway | undefined;
  /** Who answers passphrase, password and unknown-host questions while connecting. */
  readonly prompts?: Prompts;
  /** ssh settings: the config file when the spec names none, the connection pool. */
  readonly ssh?: { readonly configFile?: string; readonly pool?: SshConnectionPool };
  /** Progress while the interpreter waits to start: `job 12 pending`. */
  readonly onProgress?: (message: string) => void;
  /** The Slurm allocation a fan-out's gateway runs its step on (Group.makeGateways sets it). */
  readonly allocation?: SlurmAllocation;
  /**
   * Gives up a start that is still waiting for its launcher (a Slurm job in the queue, a
   * container starting): the launcher is ended (the job cancelled) and the start rejects.
   */
  readonly signal?: AbortSignal;
}

/** The seconds callers usually give terminate() before it kills (the editor's default too). */
export const DEFAULT_TERMINATE_TIMEOUT = 10;
/** Seconds a broken pipe waits for the gateway to learn why (see brokenPipe). */
const BROKEN_PIPE_WAIT_SECONDS = 2;
/** Seconds a killed remote may take to be gone before terminate() says it could not be killed. */
export const KILL_WAIT_SECONDS = 5;

export class Gateway implements ChannelHost {
  /** Channels kept: exec channels, and any channel someone waits on or listens to. */
  private readonly channels = new Map<number, Channel>();
  /**
   * Channels user code may drop (newChannel, or received in a value) while nobody waits on
   * them: as in execnet, one that is garbage-collected while open closes (dropRegistry).
   */
  private readonly idleChannels = new Map<number, WeakRef<Channel>>();
  private readonly droppable = new WeakSet<Channel>();
  private readonly dropRegistry = new FinalizationRegistry<number>((cid) => this.onDropped(cid));
  private droppedFramesValue = 0;
  private nextId = 1;
  private readonly codec: Codec;
  private readonly decoder: FrameDecoder;
  private stateValue: GatewayState = 'connecting';
  private closeReasonValue: Error | undefined;
  private infoValue: RemoteInfo | undefined;
  private holds = 0;
  private corked = false;
  /**
   * Sends waiting for the pipe: for it to drain, or for their own memory to be written. One
   * 'drain' and one 'close' listener per gateway serve them all (see watchInput).
   */
  private readonly drainWaiters: Array<{ resolve(): void; reject(error: Error): void }> = [];
  private readonly writesInFlight = new Set<(error: Error) => void>();
  private stderrTail = '';
  private terminating: Promise<void> | undefined;
  private killTimer: Timer | undefined;
  private sessionValue: Session | undefined;
  private helloWaiter:
    { resolve: (info: RemoteInfo) => void; reject: (error: Error) => void } | undefined;

  private readonly stateEmitter = new Emitter<GatewayState>();
  private readonly outputEmitter = new Emitter<GatewayOutput>();
  private readonly channelEmitter = new Emitter<Channel>();
  /** Fires on every state change: connecting → alive → closing → dead. */
  readonly onDidChangeState: Event<GatewayState> = this.stateEmitter.event;
  /** All output of the remote, each piece with the channel whose code wrote it. */
  readonly onOutput: Event<GatewayOutput> = this.outputEmitter.event;
  /** A channel was opened (by remoteExec, newChannel, or the remote sending one). */
  readonly onDidOpenChannel: Event<Channel> = this.channelEmitter.event;

  private constructor(
    readonly id: string,
    readonly spec: GatewaySpec,
    private readonly transport: Transport,
    /** @internal What the compiled-code cache knows this gateway's kind of start by. */
    readonly interpreter: string,
  ) {
    this.codec = new Codec((cid) => this.channelFor(cid));
    this.decoder = new FrameDecoder((type, cid, payload) => this.onFrame(type, cid, payload));
  }

  /**
   * Start the interpreter a spec describes and complete the handshake. Rejects with
   * GatewayStartError (naming the interpreter and what it printed) if it cannot start.
   */
  static async start(
    spec: GatewaySpec,
    id: string,
    options: GatewayOptions = {},
  ): Promise<Gateway> {
    const lookup = options.lookup ?? (() => undefined);
    const interpreter = interpreterKey(spec, (other) => lookup(other)?.interpreter);
    const config = remoteConfig(spec, id, traceLevel());
    let transport = canWarmStart(spec) ? await openWarm(spec, config) : undefined;
    let payload: Buffer = Buffer.alloc(0);
    if (!transport) {
      const bootstrap = makeBootstrap(config, interpreter, keepsCompiledOnDisk(spec));
      transport = await openTransport(spec, bootstrap.line, { lookup, options });
      payload = bootstrap.payload;
    }
    const gateway = new Gateway(id, spec, transport, interpreter);
    trace(`[${id}] starting ${transport.description}`);
    await gateway.handshake(payload, options.startTimeout ?? 60);
    return gateway;
  }

  // -- public API ------------------------------------------------------------------------------

  get state(): GatewayState {
    return this.stateValue;
  }

  /** Why the gateway is dead or closing (set once the remote is gone). */
  get closeReason(): Error | undefined {
    return this.closeReasonValue;
  }

  /** The remote interpreter's executable, version, platform, pid, cwd and host. */
  get info(): RemoteInfo {
    if (!this.infoValue) {
      throw new ExecnetError(`gateway ${this.id} has not finished starting`);
    }
    return this.infoValue;
  }

  /** How the remote was reached, e.g. `popen python3 (pid 1234)` or `ssh user@host`. */
  get description(): string {
    return this.transport.description;
  }

  /** Local process id of what runs the remote, if any (the interpreter for popen). */
  get pid(): number | undefined {
    return this.transport.pid;
  }

  /** Open channels (including those still sending). */
  get openChannels(): Channel[] {
    return [...this.channels.values(), ...this.idleChannelList()];
  }

  /**
   * Data frames that arrived for a channel not open here (never opened, or closed here while the
   * remote still sent) and were dropped, as execnet drops them.
   */
  get droppedFrames(): number {
    return this.droppedFramesValue;
  }

  toString(): string {
    return `<Gateway id=${this.id} ${this.spec.raw} ${this.stateValue}>`;
  }

  /**
   * Run code remotely; returns at once with the channel its `channel` talks to. The channel
   * closes when the code returns, or with a RemoteError carrying the remote traceback.
   * `kwargs` go to the function a `{ source, call }` names; with anything else they are a
   * TypeError, as in execnet. With `stdin: true`, `channel.stdin` feeds the code's sys.stdin.
   */
  remoteExec(source: RemoteSource, kwargs?: Readonly<Record<string, unknown>>): Channel {
    const { request, origin } = this.execRequest(source, kwargs);
    this.assertAlive();
    let stdin: Channel | undefined;
    if (typeof source !== 'string' && source.stdin) {
      stdin = this.openChannel({ kind: 'channel', label: `stdin of ${origin.label}` }, false);
      request.set('stdin', stdin);
    }
    const channel = this.openChannel(origin, false);
    if (stdin) {
      const input = stdin;
      channel.stdin = new ExecStdin(input);
      channel.onClose(() => input.close());
    }
    this.write(encodeFrame(Msg.ChannelExec, channel.id, this.codec.encode(request)));
    return channel;
  }

  /**
   * A new channel with no code attached; send it to remote code inside a value. Dropped while
   * open (garbage-collected, with nobody waiting on it), it closes, as in execnet.
   */
  newChannel(origin?: ChannelOrigin): Channel {
    return this.openChannel(origin, true);
  }

  /**
   * The gateway's interactive session (made on first use, with the options of that call): one
   * persistent namespace for the REPL, cells, notebooks and Run Selection. It closes when the
   * gateway does.
   */
  session(options: SessionOptions = {}): Session {
    if (!this.sessionValue) {
      const session = new Session(this, 'default', options);
      this.sessionValue = session;
      if (this.stateValue === 'dead') {
        session.close();
      } else {
        this.onDidChangeState((state) => state === 'dead' && session.close());
      }
    }
    return this.sessionValue;
  }

  /** Ask the remote how many channels are open and how many execs run. */
  async remoteStatus(timeout: Timeout = 30): Promise<RemoteStatus> {
    const channel = this.openChannel({ kind: 'status', label: 'remote status' }, false);
    this.write(encodeFrame(Msg.Status, channel.id));
    const reply = await channel.receive(timeout);
    const map = reply instanceof Map ? reply : new Map();
    return {
      numchannels: Number(map.get('numchannels') ?? 0),
      numexecuting: Number(map.get('numexecuting') ?? 0),
      execmodel: String(map.get('execmodel') ?? ''),
      pid: Number(map.get('pid') ?? 0),
    };
  }

  /** Reserved for execnet compatibility (string coercion between Python 2 and 3). */
  reconfigure(options: { py2strAsPy3str?: boolean; py3strAsPy2str?: boolean } = {}): void {
    this.assertAlive();
    this.write(encodeFrame(Msg.Reconfigure, 0, this.codec.encode(options)));
  }

  /**
   * Ask the remote to close its channels and exit once its running code returns. As in execnet,
   * the gateway leaves its group at once (its id is not handed out again). Resolves when the
   * remote is gone; nothing is killed (`terminate(timeout)` bounds the wait).
   */
  exit(): Promise<void> {
    if (this.stateValue === 'alive') {
      this.setState('closing');
      trace(`[${this.id}] exit requested`);
      this.write(encodeFrame(Msg.GatewayTerminate, 0));
    }
    if (this.stateValue === 'dead') {
      return Promise.resolve();
    }
    // whoever awaits this must not see Node exit first
    this.hold(1);
    return new Promise((resolve) => {
      const subscription = this.onDidChangeState((state) => {
        if (state === 'dead') {
          subscription.dispose();
          this.hold(-1);
          resolve();
        }
      });
    });
  }

  /**
   * End the remote: ask politely (exit), and if it is still running after `timeout` seconds,
   * kill it and everything it started. With no timeout (or null, Infinity) wait for it and kill
   * nothing, as execnet's `terminate(timeout=None)`; `DEFAULT_TERMINATE_TIMEOUT` is the usual
   * bound. A later call with a shorter timeout shortens a pending wait. Resolves when the
   * remote's process is gone (after a protocol error too); rejects with ExecnetError if it is
   * still there `KILL_WAIT_SECONDS` after it was killed.
   */
  terminate(timeout?: Timeout): Promise<void> {
    this.killTimer?.shorten(timeout);
    if (!this.terminating) {
      this.terminating = this.doTerminate(timeout);
    }
    return this.terminating;
  }

  // -- ChannelHost -----------------------------------------------------------------------------

  sendItem(channel: Channel, item: unknown): Promise<void> {
    this.assertAlive();
    // The frame header goes in the encoding's headroom; large binaries are written from where
    // they are (scatter/gather).
    const parts = this.codec.encodeSegments(item, HEADER_SIZE);
    let length = -HEADER_SIZE;
    for (const part of parts) {
      length += part.length;
    }
    if (length > MAX_PAYLOAD) {
      throw new DumpError(
        `cannot send a value of ${length} bytes: a frame holds at most ${MAX_PAYLOAD} bytes`,
      );
    }
    writeHeader(parts[0], Msg.ChannelData, channel.id, length);
    if (parts.length === 1) {
      return this.write(parts[0]) ? Promise.resolve() : this.drained();
    }
    return this.writeUntaken(parts);
  }

  sendClose(channel: Channel, error?: string): void {
    if (this.stateValue === 'dead') {
      return;
    }
    if (error !== undefined) {
      this.write(encodeFrame(Msg.ChannelCloseError, channel.id, this.codec.encode(error)));
    } else {
      this.write(encodeFrame(Msg.ChannelClose, channel.id));
    }
  }

  sendLastMessage(channel: Channel): void {
    if (this.stateValue === 'alive') {
      this.write(encodeFrame(Msg.ChannelLastMessage, channel.id));
    }
  }

  sendInterrupt(channel: Channel): void {
    if (this.stateValue === 'alive' || this.stateValue === 'closing') {
      this.write(encodeFrame(Msg.Interrupt, channel.id));
    }
  }

  sendKill(channel: Channel): void {
    if (this.stateValue === 'alive' || this.stateValue === 'closing') {
      trace(`[${this.id}] kill exec on channel ${channel.id}`);
      this.write(encodeFrame(Msg.Kill, channel.id));
    }
  }

  hold(delta: 1 | -1): void {
    const before = this.holds;
    this.holds += delta;
    if ((before === 0) !== (this.holds === 0) && this.stateValue !== 'dead') {
      this.transport.setKeepAlive(this.holds > 0);
    }
  }

  channelClosed(channel: Channel): void {
    if (this.channels.get(channel.id) === channel) {
      this.channels.delete(channel.id);
    }
    if (this.idleChannels.get(channel.id)?.deref() === channel) {
      this.idleChannels.delete(channel.id);
    }
    this.dropRegistry.unregister(channel);
  }

  pin(channel: Channel, pinned: boolean): void {
    if (!this.droppable.has(channel) || channel.state === 'closed') {
      return;
    }
    if (pinned) {
      this.channels.set(channel.id, channel);
      this.idleChannels.delete(channel.id);
    } else if (this.channels.get(channel.id) === channel) {
      this.channels.delete(channel.id);
      this.idleChannels.set(channel.id, new WeakRef(channel));
    }
  }

  // -- start-up --------------------------------------------------------------------------------

  private async handshake(payload: Buffer, timeout: Timeout): Promise<void> {
    const transport = this.transport;
    this.watchInput();
    this.hold(1);
    transport.output.on('data', (chunk: Buffer) => this.onData(chunk));
    transport.stderr?.on('data', (chunk: Buffer) => this.onStderr(chunk));
    void transport.exited.then((exit) => this.onExit(exit));
    const hello = new Promise<RemoteInfo>((resolve, reject) => {
      this.helloWaiter = { resolve, reject };
    });
    if (payload.length > 0) {
      transport.input.write(payload);
    }
    let timer: Timer | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = after(timeout, () =>
        reject(
          new GatewayStartError(
            `${transport.description} did not answer within ${timeout} seconds`,
          ),
        ),
      );
    });
    try {
      this.infoValue = await Promise.race([hello, expired]);
      this.setState('alive');
      trace(`[${this.id}] alive: ${this.infoValue.executable} ${this.infoValue.version.join('.')}`);
    } catch (error) {
      transport.kill();
      await this.gone().catch(() => undefined);
      throw error;
    } finally {
      timer?.clear();
      this.helloWaiter = undefined;
      this.hold(-1);
    }
  }

  private onHello(payload: Buffer): void {
    const map = this.codec.decode(payload);
    if (!(map instanceof Map)) {
      throw new DataFormatError('handshake: the remote did not send a map');
    }
    if (map.has('error')) {
      throw new GatewayStartError(
        `${this.transport.description}: the remote could not apply the spec '${this.spec.raw}': ${String(map.get('error'))}`,
      );
    }
    const protocol = Number(map.get('protocol'));
    if (protocol !== PROTOCOL_VERSION) {
      throw new GatewayStartError(
        `${this.transport.description} speaks protocol ${protocol}, this side ${PROTOCOL_VERSION}`,
      );
    }
    const code = map.get('code');
    if (code instanceof Uint8Array) {
      rememberCompiled(this.interpreter, Buffer.from(code), keepsCompiledOnDisk(this.spec));
    }
    const version = (map.get('version') as number[] | undefined) ?? [0, 0, 0];
    this.helloWaiter?.resolve({
      ...this.transport.placement,
      executable: String(map.get('executable')),
      version: [version[0], version[1], version[2]],
      versionString: String(map.get('version_string')),
      implementation: String(map.get('implementation')),
      platform: String(map.get('platform')),
      pid: Number(map.get('pid')),
      cwd: String(map.get('cwd')),
      hostname: String(map.get('hostname')),
      execmodel: String(map.get('execmodel')),
    });
  }

  // -- incoming --------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.stateValue === 'dead') {
      return;
    }
    try {
      this.decoder.push(chunk);
    } catch (error) {
      this.fail(
        error instanceof ExecnetError
          ? error
          : new DataFormatError(`corrupt frame from ${this.id}: ${String(error)}`, {
              cause: error,
            }),
      );
    }
  }

  private onFrame(type: Msg, cid: number, payload: Buffer): void {
    switch (type) {
      case Msg.ChannelData: {
        const channel = this.lookup(cid);
        if (channel) {
          const item = this.decodeFor(channel, payload);
          if (item !== UNREADABLE) {
            channel.deliver(item);
          }
        } else {
          // nobody opened it, or it was closed (or dropped) here: never brought back to life
          this.droppedFramesValue++;
          if (traceLevel() > 0) {
            trace(`[${this.id}] dropped data for channel ${cid}: not open here`);
          }
        }
        return;
      }
      case Msg.Stdout:
      case Msg.Stderr:
        this.onOutputFrame(type === Msg.Stdout ? 'stdout' : 'stderr', cid, payload);
        return;
      case Msg.ChannelClose:
        this.lookup(cid)?.markClosed(undefined, false);
        return;
      case Msg.ChannelCloseError: {
        const channel = this.lookup(cid);
        const value = channel ? this.decodeFor(channel, payload) : UNREADABLE;
        if (channel && value !== UNREADABLE) {
          const error = RemoteError.fromWire(value);
          if (error.exitCode !== undefined) {
            channel.exitCode = error.exitCode;
          }
          channel.markClosed(error, false);
        }
        return;
      }
      case Msg.ChannelLastMessage:
        this.lookup(cid)?.markClosed(undefined, true);
        return;
      case Msg.Hello:
        if (!this.helloWaiter || this.stateValue !== 'connecting') {
          // only the bootstrap speaks the handshake: remote code that forges one is refused
          throw new DataFormatError(
            `the remote sent a handshake frame after the handshake (refused: remote code may not speak for the bootstrap)`,
          );
        }
        this.onHello(payload);
        return;
      case Msg.Trace:
        trace(`[${this.id} remote] ${payload.toString('utf8')}`);
        return;
      default:
        throw new DataFormatError(`unexpected message type ${type} from the remote`);
    }
  }

  /**
   * A payload for `channel`. One that cannot be decoded (nested too deeply, corrupt) fails that
   * channel alone, with the DataFormatError, and the remote hears why: frames around it are
   * intact, so the gateway and its other channels go on.
   */
  private decodeFor(channel: Channel, payload: Buffer): unknown {
    try {
      return this.codec.decode(payload);
    } catch (error) {
      if (!(error instanceof DataFormatError)) {
        throw error;
      }
      const refused = new DataFormatError(
        `${channel} received an item this side cannot read: ${error.message}`,
        { cause: error },
      );
      trace(`[${this.id}] ${refused.message}`);
      if (!channel.isClosed()) {
        this.sendClose(channel, refused.message);
      }
      channel.markClosed(refused, false);
      return UNREADABLE;
    }
  }

  private onOutputFrame(stream: OutputStream, cid: number, data: Buffer): void {
    // the frame's buffer may be a slice of a larger chunk: copy so listeners may keep it
    const copy = Buffer.from(data);
    const channel = cid === 0 ? undefined : this.lookup(cid);
    if (!channel && stream === 'stderr') {
      // what the remote says of itself (no exec wrote it) explains an end that follows
      this.noteStderr(copy.toString('utf8'));
    }
    channel?.output(stream, copy);
    this.outputEmitter.fire({ channel, stream, data: copy });
  }

  private onStderr(chunk: Buffer): void {
    const text = chunk.toString('utf8');
    this.noteStderr(text);
    for (const line of text.split('\n')) {
      if (line) {
        trace(`[${this.id} stderr] ${line}`);
      }
    }
  }

  private noteStderr(text: string): void {
    this.stderrTail = (this.stderrTail + text).slice(-4000);
  }

  private onExit(exit: TransportExit): void {
    const what = this.transport.description;
    let reason: string;
    if (this.stateValue === 'closing') {
      reason = `gateway ${this.id} was terminated (${what} ${
        exit.signal ? `killed by ${exit.signal}` : `exited with status ${exit.code}`
      })`;
    } else if (exit.error) {
      reason = `${what} failed: ${exit.error.message}`;
    } else if (exit.signal) {
      reason = `${what} was killed by ${exit.signal}`;
    } else {
      reason = `${what} exited with status ${exit.code}`;
    }
    if (this.decoder.bufferedBytes > 0) {
      reason += ` in the middle of a frame (${this.decoder.bufferedBytes} bytes of a truncated frame)`;
    }
    const stderr = this.stderrTail.trim();
    if (stderr) {
      reason += `\n${stderr}`;
    }
    trace(`[${this.id}] gone: ${reason}`);
    if (this.helloWaiter) {
      // a transport that knows why the start failed says so with a typed error
      this.helloWaiter.reject(
        exit.error instanceof ExecnetError
          ? exit.error
          : startFailure(this.spec, exit, stderr, what),
      );
    }
    this.fail(new GatewayClosedError(reason), true);
  }

  /** The channel of a reference the remote sent (made here on first sight). */
  private channelFor(cid: number): Channel {
    return this.lookup(cid) ?? this.addChannel(new Channel(this, cid), true);
  }

  private lookup(cid: number): Channel | undefined {
    return this.channels.get(cid) ?? this.idleChannels.get(cid)?.deref();
  }

  private idleChannelList(): Channel[] {
    const live: Channel[] = [];
    for (const ref of this.idleChannels.values()) {
      const channel = ref.deref();
      if (channel) {
        live.push(channel);
      }
    }
    return live;
  }

  private openChannel(origin: ChannelOrigin | undefined, droppable: boolean): Channel {
    this.assertAlive();
    const id = this.nextId;
    this.nextId += 2;
    return this.addChannel(new Channel(this, id, origin), droppable);
  }

  private addChannel(channel: Channel, droppable: boolean): Channel {
    if (droppable) {
      this.droppable.add(channel);
      this.idleChannels.set(channel.id, new WeakRef(channel));
      this.dropRegistry.register(channel, channel.id, channel);
    } else {
      this.channels.set(channel.id, channel);
    }
    this.channelEmitter.fire(channel);
    return channel;
  }

  /** A droppable channel was garbage-collected while open: close it, as execnet's __del__ does. */
  private onDropped(cid: number): void {
    const ref = this.idleChannels.get(cid);
    if (ref === undefined || ref.deref() !== undefined) {
      return; // closed before, or the id has a live channel
    }
    this.idleChannels.delete(cid);
    if (this.stateValue === 'alive') {
      trace(`[${this.id}] channel ${cid} was dropped while open: closing it`);
      this.write(encodeFrame(Msg.ChannelClose, cid));
    }
  }

  // -- outgoing --------------------------------------------------------------------------------

  private write(data: Buffer, callback?: (error?: Error | null) => void): boolean {
    const input = this.transport.input;
    if (!this.corked) {
      // Frames written in the same tick leave in one writev.
      this.corked = true;
      input.cork();
      process.nextTick(() => {
        this.corked = false;
        input.uncork();
      });
    }
    return input.write(data, callback);
  }

  /**
   * Write pieces that are the caller's own memory; settle once the stream is done with them
   * (its write callback: written to the fd, or packed into ssh packets), which for a stream
   * with a high-water mark above their size is later than write() returning true.
   */
  private writeUntaken(parts: Buffer[]): Promise<void> {
    const input = this.transport.input;
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (error?: Error | null): void => {
        if (settled) {
          return;
        }
        settled = true;
        this.writesInFlight.delete(done);
        if (error) {
          void this.brokenPipe(error).then((failure) => {
            this.hold(-1);
            reject(failure);
          });
        } else {
          this.hold(-1);
          resolve();
        }
      };
      this.hold(1);
      this.writesInFlight.add(done);
      for (let i = 0; i < parts.length - 1; i++) {
        this.write(parts[i]);
      }
      // a stream destroyed meanwhile reports its cancelled writes as done
      this.write(parts[parts.length - 1], (error) =>
        done(error ?? (input.destroyed ? this.closedError() : undefined)),
      );
    });
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.hold(1);
      this.drainWaiters.push({ resolve, reject });
    });
  }

  /** The gateway's own listeners on its input: they settle every waiting send at once. */
  private watchInput(): void {
    const input = this.transport.input;
    input.on('drain', () => {
      for (const waiter of this.drainWaiters.splice(0)) {
        this.hold(-1);
        waiter.resolve();
      }
    });
    input.on('close', () => {
      const waiters = this.drainWaiters.splice(0);
      if (waiters.length > 0) {
        void this.brokenPipe().then((failure) => {
          for (const waiter of waiters) {
            this.hold(-1);
            waiter.reject(failure);
          }
        });
      }
      for (const done of [...this.writesInFlight]) {
        done(new GatewayClosedError(`gateway ${this.id}: the connection closed`));
      }
    });
  }

  /**
   * Why a send could not be written. The pipe breaks a moment before the gateway learns that its
   * remote died: wait for that (briefly) and say how it died, rather than that it is alive.
   */
  private async brokenPipe(error?: Error): Promise<Error> {
    if (this.stateValue !== 'dead') {
      await new Promise<void>((resolve) => {
        const timer = after(BROKEN_PIPE_WAIT_SECONDS, () => {
          subscription.dispose();
          resolve();
        });
        const subscription = this.onDidChangeState((state) => {
          if (state === 'dead') {
            timer.clear();
            subscription.dispose();
            resolve();
          }
        });
      });
    }
    if (this.stateValue === 'dead') {
      return this.closedError();
    }
    const why = error ? error.message : 'the connection closed';
    return new GatewayClosedError(`gateway ${this.id}: the value could not be written (${why})`, {
      cause: error,
    });
  }

  private assertAlive(): void {
    if (this.stateValue !== 'alive') {
      throw this.closedError();
    }
  }

  private closedError(): GatewayClosedError {
    const reason = this.closeReasonValue;
    if (reason instanceof GatewayClosedError) {
      return reason;
    }
    const detail = reason ? `: ${reason.message}` : '';
    return new GatewayClosedError(`gateway ${this.id} is ${this.stateValue}${detail}`, {
      cause: reason,
    });
  }

  // -- ending ----------------------------------------------------------------------------------

  private async doTerminate(timeout: Timeout): Promise<void> {
    this.hold(1);
    try {
      if (this.stateValue === 'alive') {
        void this.exit();
      }
      if (this.stateValue !== 'dead') {
        this.setState('closing');
        const expired = new Promise<'kill'>((resolve) => {
          this.killTimer = after(timeout, () => resolve('kill'));
        });
        const outcome = await Promise.race([this.transport.exited, expired]);
        this.killTimer?.clear();
        this.killTimer = undefined;
        if (outcome === 'kill') {
          trace(`[${this.id}] still running after the terminate timeout: killing`);
          this.transport.kill();
        }
      }
      // killed now, or dead after a protocol error (fail() killed it): wait until it is gone
      await this.gone();
    } finally {
      this.hold(-1);
    }
  }

  /** Resolves when the transport has ended; rejects if it outlives a kill by KILL_WAIT_SECONDS. */
  private async gone(): Promise<void> {
    let timer: Timer | undefined;
    const stuck = new Promise<'stuck'>((resolve) => {
      timer = after(KILL_WAIT_SECONDS, () => resolve('stuck'));
    });
    const outcome = await Promise.race([this.transport.exited, stuck]);
    timer?.clear();
    if (outcome === 'stuck') {
      throw new ExecnetError(
        `${this.transport.description} is still running ${KILL_WAIT_SECONDS} seconds after it was killed`,
      );
    }
  }

  /** The gateway is unusable: settle every channel and make sure the remote is gone. */
  private fail(reason: Error, exited = false): void {
    if (this.stateValue === 'dead') {
      return;
    }
    this.closeReasonValue ??= reason;
    if (!exited) {
      trace(`[${this.id}] closing: ${reason.message}`);
      this.helloWaiter?.reject(reason);
      this.transport.kill();
    }
    const closed =
      reason instanceof GatewayClosedError
        ? reason
        : new GatewayClosedError(`gateway ${this.id} closed: ${reason.message}`, { cause: reason });
    for (const channel of [...this.channels.values(), ...this.idleChannelList()]) {
      channel.markClosed(closed, false);
    }
    this.channels.clear();
    this.idleChannels.clear();
    this.setState('dead');
    this.transport.setKeepAlive(false);
  }

  private setState(state: GatewayState): void {
    if (this.stateValue !== state) {
      this.stateValue = state;
      this.stateEmitter.fire(state);
    }
  }

  private execRequest(
    source: RemoteSource,
    kwargs: Readonly<Record<string, unknown>> | undefined,
  ): { request: Map<string, unknown>; origin: ChannelOrigin } {
    const request = new Map<string, unknown>();
    let origin: ChannelOrigin;
    if (typeof source === 'string') {
      request.set('source', source);
      origin = { kind: 'source', label: describeSource(source) };
    } else if ('file' in source) {
      const file = path.resolve(source.file);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (error) {
        throw new ExecnetError(`remoteExec: cannot read ${file}: ${(error as Error).message}`);
      }
      request.set('source', text).set('filename', file);
      origin = { kind: 'file', label: file };
    } else if ('module' in source) {
      request.set('module', source.module);
      origin = { kind: 'module', label: source.module };
    } else {
      request.set('source', source.source);
      if (source.filename) {
        request.set('filename', source.filename);
      }
      origin = { kind: 'source', label: source.filename ?? describeSource(source.source) };
    }
    if (typeof source !== 'string') {
      if (source.argv) {
        request.set('argv', [...source.argv]);
      }
      for (const [key, value] of [
        ['path0', source.sysPath0],
        ['main', source.main],
        ['cwd', source.cwd],
        ['aside', source.aside],
      ] as const) {
        if (value !== undefined) {
          request.set(key, value);
        }
      }
    }
    const call = typeof source === 'string' ? undefined : source.call;
    const callKwargs = kwargs ?? (typeof source === 'string' ? undefined : source.kwargs);
    if (call) {
      request.set('call', call).set('kwargs', callKwargs ?? {});
    } else if (callKwargs && Object.keys(callKwargs).length > 0) {
      // execnet: TypeError("can't pass kwargs to non-function remote_exec")
      throw new TypeError(
        "remoteExec: kwargs are passed to a function: name it, e.g. { source, call: 'main' }",
      );
    }
    return { request, origin };
  }
}

/** decodeFor's answer for a payload that could not be read. */
const UNREADABLE: unique symbol = Symbol('unreadable');

function describeSource(source: string): string {
  const first = source.split('\n').find((line) => line.trim()) ?? '';
  const trimmed = first.trim();
  return trimmed.length > 60 ? `${trimmed.slice(0, 57)}...` : trimmed || '(empty source)';
}

function startFailure(
  spec: GatewaySpec,
  exit: TransportExit,
  stderr: string,
  what: string,
): GatewayStartError {
  const python = (spec.python ?? defaultPythonCommand()).join(' ');
  if (exit.error && (exit.error as NodeJS.ErrnoException).code === 'ENOENT') {
    return new PythonNotFound(
      `cannot start ${python}: no such interpreter (spec '${spec.raw}'). Check python= or PATH.`,
      'local',
    );
  }
  if (exit.code === 127 || /not found|No such file/i.test(stderr)) {
    return new PythonNotFound(
      `cannot start ${python} (spec '${spec.raw}'): ${stderr || 'command not found'}`,
      'local',
    );
  }
  const status = exit.signal ? `killed by ${exit.signal}` : `exited with status ${exit.code}`;
  return new GatewayStartError(
    `${what} ${status} before the handshake (spec '${spec.raw}')${stderr ? `:\n${stderr}` : ''}`,
  );
}
