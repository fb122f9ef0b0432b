// Groups create gateways, name them (gw0, gw1... or the spec's id) and end them together.
// Every gateway belongs to exactly one group; `makeGateway()` at top level uses the default group.
// A gateway leaves its group when it starts closing (as execnet's exit() unregisters it), and
// the group's terminate() still waits for it to be gone. terminate() also cancels the starts in
// flight (a gateway, a Slurm allocation), so nothing started before it outlives it.

import type { Channel } from './channel';
import { ExecnetError, GatewayStartError } from './errors';
import { Emitter, type Event } from './events';
import { Gateway, type GatewayOptions, type GatewayState, type RemoteSource } from './gateway';
import { checkSpec, gatewayCount, withId, type GatewaySpec, type ParsedSpec } from './spec';
import type { Timeout } from './timers';
import { SlurmAllocation } from './transports/slurm';

export type GroupChange =
  | { readonly kind: 'added'; readonly gateway: Gateway }
  | { readonly kind: 'removed'; readonly gateway: Gateway }
  | { readonly kind: 'state'; readonly gateway: Gateway; readonly state: GatewayState };

export class Group implements Iterable<Gateway> {
  private readonly gateways = new Map<string, Gateway>();
  /** Ids taken by gateways still starting, so two concurrent starts cannot pick the same. */
  private readonly reserved = new Set<string>();
  /** Gateways that left the group by closing and are not gone yet: terminate() ends them too. */
  private readonly windingDown = new Set<Gateway>();
  private nextIndex = 0;
  /** Slurm allocations of this group's fan-outs, until they end. */
  private readonly allocations = new Set<SlurmAllocation>();
  /** Starts in flight (gateways, allocations), with what cancels each: terminate() does. */
  private readonly starting = new Map<Promise<unknown>, AbortController>();
  private readonly changeEmitter = new Emitter<GroupChange>();
  /** Gateways added, removed, or changing state. */
  readonly onDidChange: Event<GroupChange> = this.changeEmitter.event;

  /** The spec `makeGateway()` uses when given none. */
  defaultSpec = 'popen';

  constructor(
    readonly name = 'default',
    private readonly options: GatewayOptions = {},
  ) {}

  /**
   * Start a gateway from a spec (a string or a parsed spec) and add it to this group. A spec
   * checkSpec refuses rejects with its SpecError before anything starts.
   */
  async makeGateway(
    spec: string | ParsedSpec = this.defaultSpec,
    options: Pick<GatewayOptions, 'allocation' | 'onProgress' | 'signal'> = {},
  ): Promise<Gateway> {
    let parsed = checkSpec(spec);
    const id = parsed.id ?? this.allocateId();
    if (parsed.id !== undefined && (this.gateways.has(id) || this.reserved.has(id))) {
      throw new ExecnetError(`a gateway with id '${id}' already exists in group '${this.name}'`);
    }
    parsed = withId(parsed, id);
    this.reserved.add(id);
    let gateway: Gateway;
    try {
      gateway = await this.cancellable(
        `gateway ${id}`,
        options.signal,
        (signal) =>
          Gateway.start(parsed, id, {
            ...this.options,
            ...options,
            signal,
            lookup: (other) => this.gateways.get(other),
          }),
        (late) => late.terminate(0),
      );
    } finally {
      this.reserved.delete(id);
    }
    this.gateways.set(id, gateway);
    gateway.onDidChangeState((state) => {
      this.changeEmitter.fire({ kind: 'state', gateway, state });
      if (state === 'closing' || state === 'dead') {
        this.remove(gateway);
      }
      if (state === 'dead') {
        this.windingDown.delete(gateway);
      }
    });
    this.changeEmitter.fire({ kind: 'added', gateway });
    return gateway;
  }

  /**
   * Start `count` gateways of one spec (default: its slurm_tasks=, else 1), all or none: if one
   * fails the others are ended and the first error is thrown. A slurm spec makes one allocation
   * for them all (or joins slurm_job=) and runs each gateway as a step of it; the allocation is
   * given back when the last of them ends (one slurm gateway is a job of its own, as with
   * makeGateway). With id=X they are ...
   */
  async makeGateways(spec: string | ParsedSpec, count?: number): Promise<Gateway[]> {
    const parsed = checkSpec(spec);
    const n = count ?? gatewayCount(parsed);
    if (!(Number.isInteger(n) && n >= 1)) {
      throw new ExecnetError(`makeGateways: count must be a whole number from 1, not ${n}`);
    }
    if (n === 1) {
      // one gateway: a slurm spec is a job of its own, as with makeGateway
      return [await this.makeGateway(parsed)];
    }
    const ids = Array.from({ length: n }, (_, i) =>
      parsed.id === undefined ? undefined : `${parsed.id}-${i}`,
    );
    const allocation = parsed.type === 'slurm' ? await this.openAllocation(parsed, n) : undefined;
    const results = await Promise.allSettled(
      ids.map((id) => this.makeGateway({ ...parsed, id }, { allocation })),
    );
    allocation?.unhold();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed) {
      await Promise.all(started.map((gateway) => gateway.terminate(0)));
      await allocation?.end();
      throw failed.reason;
    }
    return started;
  }

  /**
   * A Slurm allocation for `count` gateways of a slurm spec (or the job its slurm_job= names),
   * given back when the group terminates if not before. Start the gateways with
   * `makeGateway(spec, { allocation })`, then call `allocation.unhold()`: it goes when the last
   * of them has. makeGateways does all of this.
   */
  async openAllocation(
    spec: GatewaySpec,
    count: number,
    options: Pick<GatewayOptions, 'onProgress' | 'signal'> = {},
  ): Promise<SlurmAllocation> {
    const allocation = await this.cancellable(
      `the allocation for ${count} tasks`,
      options.signal,
      (signal) =>
        SlurmAllocation.open(spec, count, {
          lookup: (other) => this.gateways.get(other),
          onProgress: options.onProgress ?? this.options.onProgress,
          signal,
        }),
      (late) => late.end(),
    );
    this.allocations.add(allocation);
    allocation.onDidChangeState((state) => {
      if (state === 'ended') {
        this.allocations.delete(allocation);
      }
    });
    return allocation;
  }

  /** The gateway with this id, if it is in the group. */
  get(id: string): Gateway | undefined {
    return this.gateways.get(id);
  }

  has(id: string): boolean {
    return this.gateways.has(id);
  }

  get size(): number {
    return this.gateways.size;
  }

  [Symbol.iterator](): Iterator<Gateway> {
    return [...this.gateways.values()][Symbol.iterator]();
  }

  toString(): string {
    return `<Group ${this.name} [${[...this.gateways.keys()].join(', ')}]>`;
  }

  /** Run the same code on every gateway of the group. */
  remoteExec(source: RemoteSource, kwargs?: Readonly<Record<string, unknown>>): MultiChannel {
    return new MultiChannel([...this].map((gateway) => gateway.remoteExec(source, kwargs)));
  }

  /**
   * End every gateway, those that already left by exiting included: ask each to exit, then kill
   * those still running after `timeout` seconds. With no timeout (or null, Infinity) wait for
   * them and kill nothing, as execnet's `terminate(timeout=None)`; `DEFAULT_TERMINATE_TIMEOUT`
   * is the usual bound. Resolves when all are gone.
   */
  async terminate(timeout?: Timeout): Promise<void> {
    // starts in flight are cancelled: each ends what it started before it settles
    const starting = [...this.starting];
    for (const [, controller] of starting) {
      controller.abort();
    }
    await Promise.allSettled(starting.map(([start]) => start));
    const all = [...this, ...this.windingDown];
    await Promise.all(all.map((gateway) => gateway.terminate(timeout)));
    for (const gateway of all) {
      this.remove(gateway);
    }
    // each goes with its last step; make sure, and wait until the jobs are given back
    await Promise.all([...this.allocations].map((allocation) => allocation.end()));
  }

  /**
   * Runs a start that terminate() can cancel: its signal aborts (with the caller's), and what
   * it made anyway (a transport that cannot be interrupted) is ended before it rejects.
   */
  private cancellable<T>(
    what: string,
    callerSignal: AbortSignal | undefined,
    start: (signal: AbortSignal) => Promise<T>,
    end: (late: T) => Promise<unknown>,
  ): Promise<T> {
    const controller = new AbortController();
    const signal = callerSignal
      ? AbortSignal.any([callerSignal, controller.signal])
      : controller.signal;
    const cancelled = (cause?: unknown) =>
      new GatewayStartError(`${what} was still starting when group '${this.name}' was terminated`, {
        cause,
      });
    const run = (async () => {
      let made: T;
      try {
        made = await start(signal);
      } catch (error) {
        throw controller.signal.aborted && !callerSignal?.aborted ? cancelled(error) : error;
      }
      if (controller.signal.aborted) {
        await end(made).catch(() => undefined);
        throw cancelled();
      }
      return made;
    })();
    this.starting.set(run, controller);
    void run.then(
      () => this.starting.delete(run),
      () => this.starting.delete(run),
    );
    return run;
  }

  private remove(gateway: Gateway): void {
    if (this.gateways.get(gateway.id) === gateway) {
      this.gateways.delete(gateway.id);
      if (gateway.state !== 'dead') {
        this.windingDown.add(gateway);
      }
      this.changeEmitter.fire({ kind: 'removed', gateway });
    }
  }

  private allocateId(): string {
    for (;;) {
      const id = `gw${this.nextIndex++}`;
      if (!this.gateways.has(id) && !this.reserved.has(id)) {
        return id;
      }
    }
  }
}

/** Channels of one remoteExec on many gateways, handled together. */
export class MultiChannel implements Iterable<Channel> {
  constructor(readonly channels: readonly Channel[]) {}

  [Symbol.iterator](): Iterator<Channel> {
    return this.channels[Symbol.iterator]();
  }

  get length(): number {
    return this.channels.length;
  }

  /** Send the same value on every channel. */
  async send(item: unknown): Promise<void> {
    await Promise.all(this.channels.map((channel) => channel.send(item)));
  }

  /** One item from each channel, in channel order. */
  receiveEach(timeout?: Timeout): Promise<unknown[]> {
    return Promise.all(this.channels.map((channel) => channel.receive(timeout)));
  }

  /** Wait until every channel is closed; rejects with the first remote error. */
  async waitClose(timeout?: Timeout): Promise<void> {
    const results = await Promise.allSettled(
      this.channels.map((channel) => channel.waitClose(timeout)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
  }

  /**
   * Items of all channels as they arrive, each as `[channel, item]`; a channel that closes
   * yields `[channel, endmarker]` once if an endmarker is given. Ends when all are closed.
   */
  async *receiveQueue(...endmarker: [] | [unknown]): AsyncGenerator<[Channel, unknown]> {
    const pending: Array<[Channel, unknown]> = [];
    let wake: (() => void) | undefined;
    let open = this.channels.length;
    for (const channel of this.channels) {
      channel.setCallback((item) => {
        if (item === CLOSED) {
          open--;
          if (endmarker.length > 0) {
            pending.push([channel, endmarker[0]]);
          }
        } else {
          pending.push([channel, item]);
        }
        wake?.();
      }, CLOSED);
    }
    while (open > 0 || pending.length > 0) {
      if (pending.length === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      yield pending.shift() as [Channel, unknown];
    }
  }
}

const CLOSED = Symbol('closed');
