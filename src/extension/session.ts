// The extension's gateways and runs, in editor-free terms: groups of gateway entries (which outlive
// their gateway, so a dead one still shows why it died) and the runs of code on them. Views render
// it and listen to `onDidChange`; commands act on it. Gateway ids are unique across all groups.

import { StringDecoder } from 'node:string_decoder';
import { onTextOutput, type Channel, type OutputStream } from '../core/channel';
import { GatewayClosedError, RemoteError } from '../core/errors';
import { Emitter, type Event } from '../core/events';
import type {
  ExecOptions,
  Gateway,
  GatewayOptions,
  GatewayState,
  RemoteInfo,
} from '../core/gateway';
import type { Group } from '../core/group';
import type {
  Execution,
  ExecutionOutcome,
  InputRequest,
  MimeBundle,
  Session as InteractiveSession,
} from '../core/session';
import { describeBundle } from '../repl/console';
import { checkSpec, gatewayCount, onThisMachine, type GatewaySpec } from '../core/spec';
import type { SlurmAllocation } from '../core/transports/slurm';
import { Disposable, toDisposable } from '../core/lifecycle';
import { loadGroups } from './engine';
import { sessionDirectory } from './run/launch';
import type { SyncMapping } from './syncMapping';

export type SessionChange =
  | { readonly kind: 'groups' }
  | { readonly kind: 'group'; readonly group: GroupEntry }
  | { readonly kind: 'gateway'; readonly entry: GatewayEntry }
  | { readonly kind: 'run'; readonly run: Run }
  | { readonly kind: 'session'; readonly node: SessionNode }
  | { readonly kind: 'default' };

/** How a run ended. */
export type RunOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'exit'; readonly code: number; readonly message: string }
  | { readonly kind: 'error'; readonly error: RemoteError }
  | { readonly kind: 'interrupted'; readonly error: RemoteError }
  | { readonly kind: 'cancelled' }
  /** Stopped by force (it did not end when interrupted): the exec and what it started. */
  | { readonly kind: 'killed'; readonly error: RemoteError }
  | { readonly kind: 'gateway-closed'; readonly message: string };

/** Something a run shows, in order: remote output, received items, values sent by the user. */
export type RunEvent =
  | { readonly kind: 'output'; readonly stream: OutputStream; readonly text: string }
  | { readonly kind: 'item'; readonly value: unknown }
  | { readonly kind: 'sent'; readonly value: unknown }
  /** A value shown by a session run: its final expression (`result`) or display(). */
  | {
      readonly kind: 'result' | 'display';
      readonly text: string;
      /** The value's image, when it has one (a matplotlib figure, display() of a PNG). */
      readonly image?: RunImage;
    }
  | { readonly kind: 'end'; readonly outcome: RunOutcome };

export interface RunImage {
  readonly mime: 'image/png' | 'image/jpeg' | 'image/svg+xml';
  readonly data: Buffer;
  /** The value's text (`<Figure size 640x480 with 1 Axes>`). */
  readonly alt: string;
}

/** The image of a rich value, preferring what shows best. */
export function imageOf(data: MimeBundle): RunImage | undefined {
  for (const mime of ['image/png', 'image/svg+xml', 'image/jpeg'] as const) {
    const value = data[mime];
    if (value !== undefined) {
      const alt = data['text/plain'];
      return {
        mime,
        data: typeof value === 'string' ? Buffer.from(value) : value,
        alt: typeof alt === 'string' ? alt : mime,
      };
    }
  }
  return undefined;
}

export interface RunSource {
  /** The Python source to run. */
  readonly text: string;
  /** Local path of the file it comes from: tracebacks name it, and link back to it. */
  readonly file?: string;
  /** Shown in the tree and the output channel's name: `train.py`, `train.py:12-14`. */
  readonly label: string;
  readonly kind: 'file' | 'selection' | 'cell';
  /** 1-based line of `file` where `text` starts (selections and cells run in the session). */
  readonly firstLine?: number;
  /** What follows the file on a command line: sys.argv[1:]. */
  readonly args?: readonly string[];
}

/** How a run runs on its gateway (see run/launch.ts), and where it is shown. */
export interface RunOptions {
  /** The file's path as the gateway sees it (a mirror path): tracebacks and __file__ name it. */
  readonly filename?: string;
  /** argv, sys.path[0], __main__, cwd, stdin. */
  readonly exec?: ExecOptions;
  /** An output channel (no stdin), or a terminal where typed lines reach its sys.stdin. */
  readonly presentation?: 'output' | 'terminal';
}

const RUNS_KEPT_PER_GATEWAY = 10;

export class GroupEntry {
  readonly gateways: GatewayEntry[] = [];
  /** The Slurm allocation of a fan-out started in this group (its row shows the job). */
  allocation: SlurmAllocation | undefined;
  private groupValue: Group | undefined;

  constructor(
    readonly name: string,
    private readonly options: GatewayOptions = {},
  ) {}

  /** The engine's group (made on first use); gateways join it once they are alive. */
  get group(): Group {
    this.groupValue ??= new (loadGroups().Group)(this.name, this.options);
    return this.groupValue;
  }

  get alive(): GatewayEntry[] {
    return this.gateways.filter((e) => e.state === 'alive');
  }
}

export class GatewayEntry {
  state: GatewayState = 'connecting';
  /** Why the gateway is dead (a start failure or how the remote ended). */
  reason: string | undefined;
  gateway: Gateway | undefined;
  readonly runs: Run[] = [];
  readonly createdAt = new Date();
  /** Set by cancel() while connecting: the gateway is ended as soon as it is up. */
  cancelled = false;
  /** What the start waits for, while connecting: `job 12 pending: Resources`. */
  progress: string | undefined;
  /** Gives up the start (a fan-out's entries share one: they start as one). */
  startAbort = new AbortController();
  /** The spec as it was given, before `${workspaceFolder}` was replaced (saved to settings so). */
  template: string | undefined;
  /** Where its last completed sync put the workspace folder. */
  sync: SyncMapping | undefined;
  /** The gateway's interactive session, once something ran in it (its row in the tree). */
  interactive: SessionNode | undefined;

  constructor(
    readonly id: string,
    readonly spec: string,
    /** The group it shows in (Move to Group changes it). */
    public group: GroupEntry,
    /** The `execnet.gateways` entry it was made from, if any. */
    public configName: string | undefined,
  ) {}

  get info(): RemoteInfo | undefined {
    return this.gateway && this.state !== 'connecting' ? this.gateway.info : undefined;
  }

  get openRuns(): Run[] {
    return this.runs.filter((r) => r.outcome === undefined);
  }

  /** Its interpreter runs on this machine and sees its files (popen, not through via=). */
  get isLocal(): boolean {
    return this.gateway !== undefined && onThisMachine(this.gateway.spec);
  }

  toString(): string {
    return `${this.id} (${this.spec})`;
  }
}

let nextRunId = 1;

export class Run {
  readonly id = nextRunId++;
  readonly startedAt = new Date();
  endedAt: Date | undefined;
  outcome: RunOutcome | undefined;
  private readonly eventEmitter = new Emitter<RunEvent>();
  /** Output, items and the end, in the order they happened. */
  readonly onEvent: Event<RunEvent> = this.eventEmitter.event;
  /** Everything so far, for listeners that subscribe late (the output channel is made lazily). */
  readonly events: RunEvent[] = [];
  /** The channel of the run's code; a session run that waits for its turn has none yet. */
  channel: Channel | undefined;
  /** Set by Session.stop(): interrupted, and killed if it does not end in time. */
  stopping = false;

  constructor(
    readonly entry: GatewayEntry,
    channel: Channel | undefined,
    readonly source: RunSource,
    readonly options: RunOptions = {},
    /** Set for runs in the gateway's interactive session (selections, cells). */
    readonly execution?: Execution,
  ) {
    this.channel = channel;
  }

  get label(): string {
    return this.source.label;
  }

  get presentation(): 'output' | 'terminal' {
    return this.options.presentation ?? 'output';
  }

  /**
   * Resolves true when the run has ended, false if it is still running after `timeout` seconds
   * (without a timeout, when it ends).
   */
  ended(timeout?: number): Promise<boolean> {
    if (!this.isOpen) {
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer =
        timeout === undefined
          ? undefined
          : setTimeout(() => {
              subscription.dispose();
              resolve(false);
            }, timeout * 1000);
      const subscription = this.onEvent((event) => {
        if (event.kind === 'end') {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
  }

  get isOpen(): boolean {
    return this.outcome === undefined;
  }

  /** Send a value to the running code (it reads it with `channel.receive()`). */
  async send(value: unknown): Promise<void> {
    await (this.execution ? this.execution.send(value) : this.channel?.send(value));
    this.emit({ kind: 'sent', value });
  }

  /** Raise KeyboardInterrupt in the running code (a session run still queued never runs). */
  interrupt(): void {
    if (this.execution) {
      this.execution.interrupt();
    } else {
      this.channel?.interrupt();
    }
  }

  /** @internal */
  emit(event: RunEvent): void {
    this.events.push(event);
    this.eventEmitter.fire(event);
    if (event.kind === 'end') {
      this.eventEmitter.dispose();
    }
  }
}

/** A gateway's interactive session as the tree shows it. */
export class SessionNode {
  constructor(
    readonly entry: GatewayEntry,
    readonly session: InteractiveSession,
  ) {}
}

export interface SessionOptions {
  /** Seconds a gateway gets to exit before it is killed. */
  readonly terminateTimeout: () => number;
  /** What every gateway starts with: the prompts that answer connection questions, ssh settings. */
  readonly gatewayOptions?: GatewayOptions;
  /** Output of no run (threads the code left behind, the interpreter itself). */
  readonly onStrayOutput?: (entry: GatewayEntry, stream: OutputStream, text: string) => void;
  /** Answers input() of session runs (an input box); undefined is end of input. */
  readonly onInput?: (run: Run, request: InputRequest) => Promise<string | undefined>;
  /** The local workspace folder: where an interactive session on a local gateway works. */
  readonly workspaceRoot?: () => string | undefined;
}

export class Session extends Disposable {
  readonly groups: GroupEntry[] = [];
  private readonly changeEmitter = this.register(new Emitter<SessionChange>());
  readonly onDidChange: Event<SessionChange> = this.changeEmitter.event;
  private readonly runEmitter = this.register(new Emitter<Run>());
  /** A run started (after `onDidChange` told the tree). */
  readonly onDidStartRun: Event<Run> = this.runEmitter.event;
  private nextIndex = 0;
  private defaultValue: GatewayEntry | undefined;
  private shuttingDown: Promise<void> | undefined;

  constructor(private readonly options: SessionOptions) {
    super();
    this.register(toDisposable(() => void this.shutdown()));
  }

  get entries(): GatewayEntry[] {
    return this.groups.flatMap((g) => g.gateways);
  }

  get aliveEntries(): GatewayEntry[] {
    return this.entries.filter((e) => e.state === 'alive');
  }

  get runs(): Run[] {
    return this.entries.flatMap((e) => e.runs);
  }

  /** The gateway Run File uses when none is named; the status bar shows it. */
  get defaultEntry(): GatewayEntry | undefined {
    return this.defaultValue;
  }

  set defaultEntry(entry: GatewayEntry | undefined) {
    if (this.defaultValue !== entry) {
      this.defaultValue = entry;
      this.fire({ kind: 'default' });
    }
  }

  findEntry(id: string): GatewayEntry | undefined {
    return this.entries.find((e) => e.id === id);
  }

  findGroup(name: string): GroupEntry | undefined {
    return this.groups.find((g) => g.name === name);
  }

  /**
   * Start a gateway. The entry shows up at once (connecting); `ready` resolves when the remote
   * answered, or rejects with why it could not start (the entry is then dead with that reason).
   * Throws SpecError for a bad spec before anything starts.
   */
  startGateway(
    spec: string,
    options: { group?: string; name?: string; template?: string } = {},
  ): { entry: GatewayEntry; entries: GatewayEntry[]; ready: Promise<GatewayEntry> } {
    if (this.shuttingDown) {
      throw new GatewayClosedError('the extension is shutting down: no new gateways');
    }
    const parsed = checkSpec(spec);
    const tasks = gatewayCount(parsed);
    if (tasks > 1) {
      return this.startFanOut(spec, parsed, tasks, options);
    }
    const id = parsed.id ?? this.allocateId(options.name);
    if (parsed.id !== undefined && this.isTaken(parsed.id)) {
      throw new GatewayClosedError(
        `a gateway with id '${parsed.id}' is already running: terminate it, or change id= in the spec`,
      );
    }
    const group = this.groupEntry(options.group ?? 'default');
    const entry = new GatewayEntry(id, spec, group, options.name);
    entry.template = options.template;
    group.gateways.push(entry);
    this.fire({ kind: 'group', group });
    const ready = this.connect(entry, { ...parsed, id });
    return { entry, entries: [entry], ready };
  }

  /**
   * A Slurm fan-out (slurm_tasks=N): N entries ID-0 … ID-(N-1) in a group of their own (unless
   * one is named), on one allocation. `ready` resolves with the first entry when all are alive,
   * or rejects with the first failure (the others keep running; the tree shows which failed).
   */
  private startFanOut(
    spec: string,
    parsed: GatewaySpec,
    tasks: number,
    options: { group?: string; name?: string; template?: string },
  ): { entry: GatewayEntry; entries: GatewayEntry[]; ready: Promise<GatewayEntry> } {
    const idsOf = (base: string): string[] =>
      Array.from({ length: tasks }, (_, i) => `${base}-${i}`);
    // named after the entry while those ids are free (a second start gets gwN-0 …, as a single
    // gateway gets gwN); an id= of the spec is kept, and must be free
    const named =
      options.name !== undefined && idsOf(options.name).every((id) => !this.isTaken(id))
        ? options.name
        : undefined;
    const base = parsed.id ?? this.allocateId(named);
    const ids = idsOf(base);
    const taken = ids.find((id) => this.isTaken(id));
    if (taken !== undefined) {
      throw new GatewayClosedError(
        `a gateway with id '${taken}' is already running: terminate it, or change id= in the spec`,
      );
    }
    ids.forEach((id) => this.forgetDead(id));
    const group = this.groupEntry(options.group ?? base);
    const abort = new AbortController();
    const entries = ids.map((id) => {
      const entry = new GatewayEntry(id, spec, group, options.name);
      entry.startAbort = abort;
      entry.template = options.template;
      return entry;
    });
    group.gateways.push(...entries);
    this.fire({ kind: 'group', group });
    return { entry: entries[0], entries, ready: this.connectFanOut(entries, parsed, tasks) };
  }

  private async connectFanOut(
    entries: GatewayEntry[],
    spec: GatewaySpec,
    tasks: number,
  ): Promise<GatewayEntry> {
    const group = entries[0].group;
    let allocation: SlurmAllocation;
    try {
      allocation = await group.group.openAllocation(spec, tasks, {
        onProgress: (message) => entries.forEach((entry) => this.progress(entry, message)),
        signal: entries[0].startAbort.signal,
      });
    } catch (error) {
      for (const entry of entries) {
        this.failed(entry, error);
      }
      throw error;
    }
    group.allocation = allocation;
    allocation.onDidChangeState(() => this.fire({ kind: 'group', group }));
    this.fire({ kind: 'group', group });
    const results = await Promise.allSettled(
      entries.map((entry) => this.connect(entry, { ...spec, id: entry.id }, allocation)),
    );
    allocation.unhold();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
    return entries[0];
  }

  /** Run code on a gateway; the run is in the tree and streams its events until it ends. */
  run(entry: GatewayEntry, source: RunSource, options: RunOptions = {}): Run {
    const gateway = entry.gateway;
    if (!gateway || entry.state !== 'alive') {
      throw new GatewayClosedError(
        `gateway ${entry.id} is ${entry.state}: start it again to run code`,
      );
    }
    const filename = options.filename ?? source.file;
    const channel = gateway.remoteExec({
      source: source.text,
      ...(filename ? { filename } : {}),
      ...options.exec,
    });
    const run = new Run(entry, channel, source, options);
    entry.runs.push(run);
    this.trimRuns(entry);
    const output = onTextOutput(channel, (stream, text) =>
      run.emit({ kind: 'output', stream, text }),
    );
    const CLOSED = Symbol('closed');
    channel.setCallback((item) => {
      if (item !== CLOSED) {
        run.emit({ kind: 'item', value: item });
      }
    }, CLOSED);
    channel.waitClose().then(
      () => this.finish(run, { kind: 'ok' }, output),
      (error: unknown) => this.finish(run, outcomeOf(error), output),
    );
    this.fire({ kind: 'gateway', entry });
    this.runEmitter.fire(run);
    return run;
  }

  /**
   * Run code in the gateway's interactive session (Run Selection, cells): names carry over from
   * one run to the next, and the value of a final expression is shown. The run waits for its
   * turn behind the session's other runs (the REPL's, a notebook's).
   */
  runInSession(entry: GatewayEntry, source: RunSource): Run {
    const node = this.interactive(entry);
    const execution = node.session.run(source.text, {
      filename: source.file ?? `<${source.label}>`,
      firstLine: source.firstLine ?? 1,
    });
    const run = new Run(entry, execution.channel, source, {}, execution);
    entry.runs.push(run);
    this.trimRuns(entry);
    execution.onDidStart(() => {
      run.channel = execution.channel;
      this.fire({ kind: 'run', run });
    });
    const follow = (event: Execution['events'][number]): void => {
      switch (event.kind) {
        case 'stream':
          run.emit({ kind: 'output', stream: event.stream, text: event.text });
          return;
        case 'result':
        case 'display':
          run.emit({
            kind: event.kind,
            text: describeBundle(event.data),
            image: imageOf(event.data),
          });
          return;
        case 'item':
          run.emit({ kind: 'item', value: event.value });
          return;
        case 'input': {
          const ask = this.options.onInput;
          if (!ask) {
            event.request.answer(undefined);
            return;
          }
          ask(run, event.request).then(
            (text) => event.request.answer(text),
            () => event.request.answer(undefined),
          );
          return;
        }
        case 'error':
          // the traceback comes with the end
          return;
      }
    };
    execution.onEvent(follow);
    void execution.done.then((outcome) => {
      run.endedAt = execution.endedAt ?? new Date();
      run.outcome = runOutcomeOf(outcome);
      run.emit({ kind: 'end', outcome: run.outcome });
      this.fire({ kind: 'run', run });
    });
    this.fire({ kind: 'gateway', entry });
    this.runEmitter.fire(run);
    return run;
  }

  /** The gateway's interactive session (its tree row appears from now on). */
  interactive(entry: GatewayEntry): SessionNode {
    const gateway = entry.gateway;
    if (!gateway || entry.state !== 'alive') {
      throw new GatewayClosedError(
        `gateway ${entry.id} is ${entry.state}: start it again to run code`,
      );
    }
    if (!entry.interactive) {
      const cwd = sessionDirectory(entry, this.options.workspaceRoot?.());
      const node = new SessionNode(entry, gateway.session({ cwd }));
      entry.interactive = node;
      node.session.onDidChange(() => this.fire({ kind: 'session', node }));
      this.fire({ kind: 'gateway', entry });
    }
    return entry.interactive;
  }

  /**
   * Stop a run: interrupt it, and if it has not ended after `timeout` seconds end its exec (and
   * the processes it started) without ending the gateway. A run in the interactive session is
   * only interrupted: ending its exec would end the session. Resolves once it has ended (or, for
   * a session run, when the timeout is over).
   */
  async stop(run: Run, timeout: number): Promise<void> {
    if (!run.isOpen) {
      return;
    }
    if (!run.stopping) {
      run.stopping = true;
      this.fire({ kind: 'run', run });
      run.interrupt();
    }
    if (!(await run.ended(timeout)) && run.channel && !run.execution) {
      await run.channel.kill(10);
    }
  }

  /** End a gateway: politely, then by force after the terminate timeout. */
  async terminate(entry: GatewayEntry): Promise<void> {
    if (entry.state === 'connecting') {
      entry.cancelled = true;
      // a start still waiting (a job in the queue) is given up at once
      entry.startAbort.abort();
      return;
    }
    await entry.gateway?.terminate(this.options.terminateTimeout());
  }

  async terminateGroup(group: GroupEntry): Promise<void> {
    await Promise.all(group.gateways.map((e) => this.terminate(e)));
  }

  /** A group of its own, empty until gateways join it (New Group). */
  createGroup(name: string): GroupEntry {
    return this.groupEntry(name);
  }

  /**
   * Show a gateway in another group (made if need be): Run File on Group runs there from now on.
   * A group left empty goes. The gateway stays what it is (its `via=` peers are its first group's).
   */
  moveEntry(entry: GatewayEntry, groupName: string): void {
    const from = entry.group;
    const to = this.groupEntry(groupName);
    if (from === to) {
      return;
    }
    from.gateways.splice(from.gateways.indexOf(entry), 1);
    to.gateways.push(entry);
    entry.group = to;
    if (from.gateways.length === 0) {
      this.groups.splice(this.groups.indexOf(from), 1);
    }
    this.fire({ kind: 'groups' });
  }

  /** Remove a dead gateway (and its runs) from view. */
  dismiss(entry: GatewayEntry): void {
    if (entry.state !== 'dead') {
      return;
    }
    if (this.defaultValue === entry) {
      this.defaultEntry = undefined;
    }
    const group = entry.group;
    group.gateways.splice(group.gateways.indexOf(entry), 1);
    if (group.gateways.length === 0) {
      this.groups.splice(this.groups.indexOf(group), 1);
      this.fire({ kind: 'groups' });
    } else {
      this.fire({ kind: 'group', group });
    }
  }

  /** Terminate every gateway (the ones still starting as soon as they are up); resolves when all are gone. */
  shutdown(timeout = this.options.terminateTimeout()): Promise<void> {
    this.shuttingDown ??= (async () => {
      const pending = this.entries.map(async (entry) => {
        entry.cancelled = true;
        entry.startAbort.abort();
        await entry.gateway?.terminate(timeout);
      });
      await Promise.all(pending);
    })();
    return this.shuttingDown;
  }

  // -- internals -------------------------------------------------------------------------------

  private async connect(
    entry: GatewayEntry,
    spec: GatewaySpec,
    allocation?: SlurmAllocation,
  ): Promise<GatewayEntry> {
    let gateway: Gateway;
    try {
      gateway = await entry.group.group.makeGateway(spec, {
        allocation,
        onProgress: (message) => this.progress(entry, message),
        signal: entry.startAbort.signal,
      });
    } catch (error) {
      this.failed(entry, error);
      throw error;
    }
    entry.progress = undefined;
    entry.gateway = gateway;
    gateway.onDidChangeState((state) => {
      entry.state = state;
      if (state === 'dead') {
        entry.reason = gateway.closeReason?.message;
      }
      this.fire({ kind: 'gateway', entry });
    });
    const decoder = new StringDecoder('utf8');
    gateway.onOutput(({ channel, stream, data }) => {
      // a session's runs and questions (completion, codeop) print nothing of their own
      if (
        channel === undefined ||
        (!entry.runs.some((r) => r.channel === channel) &&
          !entry.interactive?.session.owns(channel))
      ) {
        this.options.onStrayOutput?.(entry, stream, decoder.write(data));
      }
    });
    entry.state = gateway.state;
    this.fire({ kind: 'gateway', entry });
    if (entry.cancelled || this.shuttingDown) {
      await gateway.terminate(0);
      throw new GatewayClosedError(`gateway ${entry.id} was cancelled while it started`);
    }
    return entry;
  }

  private progress(entry: GatewayEntry, message: string): void {
    entry.progress = message;
    this.fire({ kind: 'gateway', entry });
  }

  private failed(entry: GatewayEntry, error: unknown): void {
    entry.state = 'dead';
    entry.progress = undefined;
    // a fan-out's entries share one start: cancelling one cancels them all
    entry.reason =
      entry.cancelled || entry.startAbort.signal.aborted
        ? 'cancelled while it started'
        : error instanceof Error
          ? error.message
          : String(error);
    this.fire({ kind: 'gateway', entry });
  }

  private finish(run: Run, outcome: RunOutcome, output: { dispose(): void }): void {
    output.dispose();
    run.endedAt = run.channel?.closedAt ?? new Date();
    run.outcome = outcome;
    run.emit({ kind: 'end', outcome });
    this.fire({ kind: 'run', run });
  }

  private trimRuns(entry: GatewayEntry): void {
    let excess = entry.runs.length - RUNS_KEPT_PER_GATEWAY;
    for (let i = 0; i < entry.runs.length && excess > 0;) {
      if (entry.runs[i].isOpen) {
        i++;
      } else {
        entry.runs.splice(i, 1);
        excess--;
      }
    }
  }

  private groupEntry(name: string): GroupEntry {
    let group = this.findGroup(name);
    if (!group) {
      group = new GroupEntry(name, this.options.gatewayOptions);
      this.groups.push(group);
      this.fire({ kind: 'groups' });
    }
    return group;
  }

  private isTaken(id: string): boolean {
    return this.entries.some((e) => e.id === id && e.state !== 'dead');
  }

  /** The configured name when it is a free id, else the next free gwN. */
  private allocateId(name: string | undefined): string {
    if (name && /^[A-Za-z0-9_.-]+$/.test(name) && !this.isTaken(name)) {
      this.forgetDead(name);
      return name;
    }
    for (;;) {
      const id = `gw${this.nextIndex++}`;
      if (!this.entries.some((e) => e.id === id)) {
        return id;
      }
    }
  }

  /** A dead entry whose id is reused leaves: two rows with one id would confuse everyone. */
  private forgetDead(id: string): void {
    const dead = this.entries.find((e) => e.id === id && e.state === 'dead');
    if (dead) {
      this.dismiss(dead);
    }
  }

  private fire(change: SessionChange): void {
    this.changeEmitter.fire(change);
  }
}

/** How a session run's end reads in the tree and its output. */
function runOutcomeOf(outcome: ExecutionOutcome): RunOutcome {
  switch (outcome.kind) {
    case 'interrupted':
      return {
        kind: 'interrupted',
        error:
          outcome.error ??
          new RemoteError({
            type: 'KeyboardInterrupt',
            message: '',
            traceback: 'KeyboardInterrupt\n',
            frames: [],
          }),
      };
    default:
      return outcome;
  }
}

/** What a failed waitClose() means for the user. */
function outcomeOf(error: unknown): RunOutcome {
  if (error instanceof RemoteError) {
    if (error.type === 'SystemExit' && error.exitCode !== undefined) {
      return { kind: 'exit', code: error.exitCode, message: error.remoteMessage };
    }
    if (error.type === 'KeyboardInterrupt') {
      return { kind: 'interrupted', error };
    }
    if (error.type === 'ExecKilled') {
      return { kind: 'killed', error };
    }
    return { kind: 'error', error };
  }
  return {
    kind: 'gateway-closed',
    message: error instanceof Error ? error.message : String(error),
  };
}
