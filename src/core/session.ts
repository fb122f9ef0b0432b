// An interactive session on a gateway: one persistent namespace where runs execute one after
// another (Run Selection, cells, the REPL, notebooks), like Python's interactive mode. The remote
// half (remote/session.py) is sent on first use and kept there; each run is an exec of its own,
// so its output, interrupt and end are those of a channel. Rich output arrives as MIME bundles
// whose images are bytes. Invariant: at most one run executes at a time; the others queue.

import { onTextOutput, type Channel, type OutputStream } from './channel';
import { ExecnetError, GatewayClosedError, RemoteError } from './errors';
import { Emitter, type Event } from './events';
import { Disposable } from './lifecycle';
import { RemoteModule, type RemoteModuleHost } from './remoteModule';

/** What a session needs of its gateway (a Gateway is one). */
export interface SessionHost extends RemoteModuleHost {
  readonly id: string;
  readonly state: string;
}

/** `{ mime: data }`: images are Buffers, text types strings. */
export type MimeBundle = Readonly<Record<string, Buffer | string>>;

export interface RunOptions {
  /** Named in tracebacks; a local file's path makes its frames link back. Default `<stdin>`. */
  readonly filename?: string;
  /** 1-based line of the file where the source starts, so tracebacks name the file's lines. */
  readonly firstLine?: number;
  /**
   * `exec` (cells, selections): the value of a final expression statement is shown.
   * `single` (the REPL): every expression statement at the top level is, as in Python's prompt.
   */
  readonly mode?: 'exec' | 'single';
}

/** How a session starts; counts when it is made, on the gateway's first `session()`. */
export interface SessionOptions {
  /**
   * The working directory the session starts in, and goes back to on restart (`~` is the remote
   * home), as a kernel starts in its notebook's folder. Default: the gateway's own.
   */
  readonly cwd?: string;
}

export interface InputRequest {
  readonly prompt: string;
  /** getpass(): do not echo. */
  readonly password: boolean;
  /** Answer the request; undefined raises EOFError in the code (Ctrl+D). Only the first counts. */
  answer(text: string | undefined): void;
}

/** Rich output: what display() shows, or the value of an expression statement (`result`). */
export interface DisplayData {
  readonly data: MimeBundle;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** What a run shows, in order. */
export type ExecutionEvent =
  | { readonly kind: 'stream'; readonly stream: OutputStream; readonly text: string }
  | ({ readonly kind: 'display' } & DisplayData)
  | ({ readonly kind: 'result' } & DisplayData)
  | { readonly kind: 'error'; readonly error: RemoteError }
  | { readonly kind: 'item'; readonly value: unknown }
  | { readonly kind: 'input'; readonly request: InputRequest };

/** How a run ended. */
export type ExecutionOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'error'; readonly error: RemoteError }
  | { readonly kind: 'interrupted'; readonly error?: RemoteError }
  | { readonly kind: 'exit'; readonly code: number; readonly message: string }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'gateway-closed'; readonly message: string };

export type SessionState = 'idle' | 'busy' | 'closed';

/** The filename of the session's own execs (its runs, questions and loading). */
const OWN_FILENAME = '<execnet-session>';
/** Seconds a completion or codeop question may take before it is given up. */
const QUESTION_TIMEOUT = 10;
/** Seconds restart() waits for an interrupted run to end before it resets anyway. */
const RESTART_WAIT = 5;

/** remote/session.py; its `load` installs the hooks and keeps it. */
const sessionModule = new RemoteModule('session.py', 'load', OWN_FILENAME);

export class Execution {
  /** The session's execution count for this run (Jupyter's `In [n]`); set when it starts. */
  count: number | undefined;
  state: 'queued' | 'running' | 'done' = 'queued';
  outcome: ExecutionOutcome | undefined;
  startedAt: Date | undefined;
  endedAt: Date | undefined;
  /** The run's channel, once it started: what the code sends with `channel.send()` arrives as items. */
  channel: Channel | undefined;
  /** Everything so far, for listeners that subscribe late. */
  readonly events: ExecutionEvent[] = [];
  private readonly eventEmitter = new Emitter<ExecutionEvent>();
  readonly onEvent: Event<ExecutionEvent> = this.eventEmitter.event;
  private readonly startEmitter = new Emitter<Execution>();
  readonly onDidStart: Event<Execution> = this.startEmitter.event;
  private settle!: (outcome: ExecutionOutcome) => void;
  /** Resolves when the run ended (never rejects). */
  readonly done: Promise<ExecutionOutcome> = new Promise((resolve) => (this.settle = resolve));
  private reported: ExecutionOutcome | undefined;
  private pendingInputs: InputRequest[] = [];

  constructor(
    readonly source: string,
    readonly options: RunOptions,
    private readonly cancelQueued: (execution: Execution) => void,
  ) {}

  /** Stop it: KeyboardInterrupt in a running run (the namespace stays); a queued one never runs. */
  interrupt(): void {
    if (this.state === 'running') {
      // an open input() would wait for ever: Ctrl+C answers it with EOF
      for (const request of this.pendingInputs.splice(0)) {
        request.answer(undefined);
      }
      this.channel?.interrupt();
    } else if (this.state === 'queued') {
      this.cancelQueued(this);
    }
  }

  /** Send a value to the running code (it reads it with `channel.receive()`). */
  send(value: unknown): Promise<void> {
    if (!this.channel || this.state !== 'running') {
      return Promise.reject(new ExecnetError('the run is not running: nothing can receive'));
    }
    return this.channel.send(value);
  }

  /** @internal */
  start(channel: Channel, count: number): void {
    this.channel = channel;
    this.count = count;
    this.state = 'running';
    this.startedAt = new Date();
    this.startEmitter.fire(this);
    this.startEmitter.dispose();
  }

  /** @internal */
  emit(event: ExecutionEvent): void {
    if (event.kind === 'input') {
      this.pendingInputs.push(event.request);
    }
    this.events.push(event);
    this.eventEmitter.fire(event);
  }

  /** @internal the remote said how the run ended (an error, SystemExit). */
  report(outcome: ExecutionOutcome): void {
    this.reported ??= outcome;
  }

  /** @internal */
  finish(closeError?: unknown): void {
    if (this.state === 'done') {
      return;
    }
    this.pendingInputs = [];
    this.state = 'done';
    this.endedAt = new Date();
    this.outcome = this.reported ?? outcomeOfClose(closeError);
    this.eventEmitter.dispose();
    this.startEmitter.dispose();
    this.settle(this.outcome);
  }
}

/**
 * A gateway's interactive session: `gateway.session()`. Runs queue and execute one at a time in
 * one namespace; completions and codeop questions run beside a run.
 */
export class Session extends Disposable {
  private readonly queue: Execution[] = [];
  private current: Execution | undefined;
  private loaded: Promise<void> | undefined;
  private count = 0;
  private lastRunValue: Date | undefined;
  private closed = false;
  private readonly changeEmitter = this.register(new Emitter<Session>());
  /** Busy, idle, a run started or ended, a restart. */
  readonly onDidChange: Event<Session> = this.changeEmitter.event;

  constructor(
    private readonly host: SessionHost,
    readonly name = 'default',
    private readonly options: SessionOptions = {},
  ) {
    super();
  }

  get gatewayId(): string {
    return this.host.id;
  }

  get state(): SessionState {
    if (this.closed || this.host.state === 'dead' || this.host.state === 'closing') {
      return 'closed';
    }
    return this.current ? 'busy' : 'idle';
  }

  /** The runs so far since the last restart (the next run is `executionCount + 1`). */
  get executionCount(): number {
    return this.count;
  }

  /** When the last run started. */
  get lastRun(): Date | undefined {
    return this.lastRunValue;
  }

  /** The run executing now, if any. */
  get running(): Execution | undefined {
    return this.current;
  }

  /** Queued runs, not yet started. */
  get pending(): readonly Execution[] {
    return this.queue;
  }

  /** Whether a channel is one of the session's own execs (a run, a question), not user code's. */
  owns(channel: Channel): boolean {
    return channel.origin.label === OWN_FILENAME;
  }

  /** Queue source to run in the session; events stream from the returned run. */
  run(source: string, options: RunOptions = {}): Execution {
    const execution = new Execution(source, options, (e) => this.cancel(e));
    if (this.state === 'closed') {
      execution.finish(new GatewayClosedError(`gateway ${this.host.id} is ${this.host.state}`));
      return execution;
    }
    this.queue.push(execution);
    this.next();
    return execution;
  }

  /** Completions of `text` (the word before the cursor) in the namespace, as rlcompleter gives them. */
  async complete(text: string, timeout = QUESTION_TIMEOUT): Promise<string[]> {
    const reply = await this.ask('complete', { name: this.name, text }, timeout);
    return Array.isArray(reply) ? reply.map(String) : [];
  }

  /** Whether `source` is a whole statement for the interactive prompt (codeop), or needs more lines. */
  async isComplete(
    source: string,
    timeout = QUESTION_TIMEOUT,
  ): Promise<'complete' | 'incomplete' | 'invalid'> {
    const reply = await this.ask('is_complete', { source }, timeout);
    return reply === 'incomplete' || reply === 'invalid' ? reply : 'complete';
  }

  /** KeyboardInterrupt in the running run; the namespace and queued runs stay. */
  interrupt(): void {
    this.current?.interrupt();
  }

  /**
   * A fresh namespace: queued runs are cancelled, the running one is interrupted (and waited
   * for, briefly), then the remote namespace and the execution count start again.
   */
  async restart(): Promise<void> {
    for (const queued of this.queue.splice(0)) {
      queued.report({ kind: 'cancelled' });
      queued.finish();
    }
    const running = this.current;
    if (running) {
      running.interrupt();
      await Promise.race([
        running.done,
        new Promise((resolve) => setTimeout(resolve, RESTART_WAIT * 1000).unref()),
      ]);
    }
    await this.ensureLoaded();
    await this.call('restart', { name: this.name, ...this.where() }).waitClose(QUESTION_TIMEOUT);
    this.count = 0;
    this.changeEmitter.fire(this);
  }

  /** Cancel what is queued; the gateway's end closes the session for good. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const queued of this.queue.splice(0)) {
      queued.report({ kind: 'cancelled' });
      queued.finish();
    }
    this.changeEmitter.fire(this);
  }

  override dispose(): void {
    this.close();
    super.dispose();
  }

  // -- internals -------------------------------------------------------------------------------

  private cancel(execution: Execution): void {
    const index = this.queue.indexOf(execution);
    if (index >= 0) {
      this.queue.splice(index, 1);
      execution.report({ kind: 'cancelled' });
      execution.finish();
    }
  }

  private next(): void {
    if (this.current || this.queue.length === 0) {
      return;
    }
    const execution = this.queue.shift()!;
    this.current = execution;
    this.changeEmitter.fire(this);
    void this.execute(execution);
  }

  /** The run is over: the session is idle before anyone awaiting the run hears of it. */
  private ended(execution: Execution, error?: unknown): void {
    this.current = undefined;
    execution.finish(error);
    this.changeEmitter.fire(this);
    this.next();
  }

  private async execute(execution: Execution): Promise<void> {
    let channel: Channel;
    try {
      await this.ensureLoaded();
      channel = this.call('run', {
        name: this.name,
        source: execution.source,
        filename: execution.options.filename ?? '<stdin>',
        first_line: execution.options.firstLine ?? 1,
        mode: execution.options.mode ?? 'exec',
      });
    } catch (error) {
      this.ended(execution, error);
      return;
    }
    this.count++;
    this.lastRunValue = new Date();
    execution.start(channel, this.count);
    this.changeEmitter.fire(this);
    const output = onTextOutput(channel, (stream, text) =>
      execution.emit({ kind: 'stream', stream, text }),
    );
    const END = Symbol('end');
    channel.setCallback((message) => {
      if (message !== END) {
        this.onMessage(execution, message);
      }
    }, END);
    let closeError: unknown;
    try {
      await channel.waitClose();
    } catch (error) {
      closeError = error;
    } finally {
      output.dispose();
    }
    this.ended(execution, closeError);
  }

  private onMessage(execution: Execution, message: unknown): void {
    if (!(message instanceof Map)) {
      return;
    }
    switch (message.get('kind')) {
      case 'item':
        execution.emit({ kind: 'item', value: message.get('value') });
        return;
      case 'display':
      case 'result':
        execution.emit({
          kind: message.get('kind') === 'result' ? 'result' : 'display',
          data: bundleOf(message.get('data')),
          metadata: plainObject(message.get('metadata')),
        });
        return;
      case 'error': {
        const error = RemoteError.fromWire(message);
        execution.emit({ kind: 'error', error });
        execution.report(
          error.type === 'KeyboardInterrupt'
            ? { kind: 'interrupted', error }
            : { kind: 'error', error },
        );
        return;
      }
      case 'exit':
        execution.report({
          kind: 'exit',
          code: Number(message.get('code') ?? 0),
          message: String(message.get('message') ?? ''),
        });
        return;
      case 'input': {
        const reply = message.get('reply') as Channel;
        let answered = false;
        execution.emit({
          kind: 'input',
          request: {
            prompt: String(message.get('prompt') ?? ''),
            password: message.get('password') === true,
            answer: (text) => {
              if (answered) {
                return;
              }
              answered = true;
              if (reply.isClosed()) {
                return;
              }
              if (text !== undefined) {
                void reply.send(text).catch(() => undefined);
              }
              reply.close();
            },
          },
        });
        return;
      }
    }
  }

  private ensureLoaded(): Promise<void> {
    if (!this.loaded) {
      const loading = (async () => {
        await sessionModule.exec(this.host, this.where()).waitClose(60);
        sessionModule.kept(this.host);
      })();
      // a failed load is tried again by the next call
      loading.catch(() => (this.loaded = undefined));
      this.loaded = loading;
    }
    return this.loaded;
  }

  /** The load's and restart's `cwd` argument, when the session has a directory of its own. */
  private where(): { cwd?: string } {
    return this.options.cwd ? { cwd: this.options.cwd } : {};
  }

  /** A function of the loaded module (ensureLoaded() first). */
  private call(
    fn: string,
    kwargs: Record<string, unknown>,
    options: { readonly aside?: boolean } = {},
  ): Channel {
    return sessionModule.exec(this.host, kwargs, fn, options);
  }

  private async ask(
    fn: string,
    kwargs: Record<string, unknown>,
    timeout: number,
  ): Promise<unknown> {
    await this.ensureLoaded();
    // beside the runs: the answer comes before the exec has ended, and the run that may follow
    // at once must find the main thread free (there a Ctrl+C ends a sleep)
    const channel = this.call(fn, kwargs, { aside: true });
    try {
      return await channel.receive(timeout);
    } finally {
      channel.close();
    }
  }
}

function outcomeOfClose(error: unknown): ExecutionOutcome {
  if (error === undefined) {
    return { kind: 'ok' };
  }
  if (error instanceof RemoteError) {
    // an interrupt that landed as the run was ending
    return error.type === 'KeyboardInterrupt'
      ? { kind: 'interrupted', error }
      : { kind: 'error', error };
  }
  return {
    kind: 'gateway-closed',
    message: error instanceof Error ? error.message : String(error),
  };
}

function bundleOf(value: unknown): MimeBundle {
  const bundle: Record<string, Buffer | string> = {};
  if (value instanceof Map) {
    for (const [mime, data] of value) {
      bundle[String(mime)] =
        typeof data === 'string'
          ? data
          : Buffer.isBuffer(data)
            ? data
            : data instanceof Uint8Array
              ? Buffer.from(data)
              : String(data);
    }
  }
  return bundle;
}

function plainObject(value: unknown): Record<string, unknown> {
  if (!(value instanceof Map)) {
    return {};
  }
  const result: Record<string, unknown> = {};
  for (const [key, item] of value) {
    result[String(key)] = item instanceof Map ? plainObject(item) : item;
  }
  return result;
}
