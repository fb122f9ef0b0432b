// A channel: one bidirectional pipe of values between the local side and remote code, with
// execnet's semantics (receive with timeout, callbacks with an endmarker, files, close with an
// error) as promises. Items that arrive before anyone asks are queued in order.
// Invariant: once `receiveClosed` is set no item is added, and every receive waiter has been
// settled; close waiters settle once the callback, if any, has also finished with every item.

import { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ChannelClosedError, EOFError, ExecnetError, TimeoutError } from './errors';
import { Emitter, type Event } from './events';
import { ChannelReference } from './serializer';
import { after, isForever, type Timeout, type Timer } from './timers';
import type { ExecStdin } from './stdin';

/** The part of a gateway a channel talks to. */
export interface ChannelHost {
  readonly id: string;
  /** Encode and send one value; throws DumpError or GatewayClosedError synchronously. */
  sendItem(channel: Channel, item: unknown): Promise<void>;
  sendClose(channel: Channel, error?: string): void;
  /** CHANNEL_LAST_MESSAGE: this side sends no more on the channel, but still receives. */
  sendLastMessage(channel: Channel): void;
  sendInterrupt(channel: Channel): void;
  /** KILL: end the exec running on the channel, and what it started. */
  sendKill(channel: Channel): void;
  /** Keep the Node process alive while someone waits on this gateway (or stop doing so). */
  hold(delta: 1 | -1): void;
  /**
   * Someone waits on or listens to this channel (true), or no longer does (false): a channel
   * user code may drop is kept while pinned, and otherwise closes once garbage-collected.
   */
  pin(channel: Channel, pinned: boolean): void;
  channelClosed(channel: Channel): void;
}

export type OutputStream = 'stdout' | 'stderr';

export interface ChannelOutput {
  readonly stream: OutputStream;
  readonly data: Buffer;
}

/** What a channel runs, for people looking at it (the tree view, logs). */
export interface ChannelOrigin {
  readonly kind: 'source' | 'file' | 'module' | 'status' | 'channel';
  /** File path, module name, or a short description of the source. */
  readonly label: string;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer?: Timer;
}

const NO_ENDMARKER: unique symbol = Symbol('no endmarker');
/** In the callback's queue: the place of the endmarker. */
const END: unique symbol = Symbol('end');

/** A receive callback; when it returns a promise, the next item waits until it settles. */
export type ReceiveCallback = (item: unknown) => void | PromiseLike<void>;

export type ChannelState = 'open' | 'sendonly' | 'closed';

export class Channel extends ChannelReference implements AsyncIterable<unknown> {
  private readonly queue: unknown[] = [];
  private head = 0;
  private readonly waiters: Waiter[] = [];
  private readonly closeWaiters: Waiter[] = [];
  private sendClosed = false;
  private receiveClosed = false;
  private closeError: Error | undefined;
  private callback: { fn: ReceiveCallback; endmarker: unknown } | undefined;
  /** Items (and the endmarker) waiting for the callback's previous promise to settle. */
  private readonly callbackQueue: unknown[] = [];
  /** The callback's last promise has not settled yet. */
  private callbackBusy = false;
  private holding = false;
  /** Waiters, callback and output listeners: while any, the gateway keeps this channel. */
  private pins = 0;

  private readonly outputEmitter = new Emitter<ChannelOutput>();
  private readonly closeEmitter = new Emitter<Channel>();
  private outputListeners = 0;
  /**
   * The remote's prints and stderr writes made while running this channel's code. Listening
   * keeps the Node process alive until the channel closes, like waiting on it would.
   */
  readonly onOutput: Event<ChannelOutput> = (listener) => {
    const subscription = this.outputEmitter.event(listener);
    let active = true;
    this.outputListeners++;
    this.updateHolding();
    return {
      dispose: () => {
        if (active) {
          active = false;
          subscription.dispose();
          this.outputListeners--;
          this.updateHolding();
        }
      },
    };
  };
  /** Fires once, when nothing more will arrive on this channel. */
  readonly onClose: Event<Channel> = this.closeEmitter.event;

  /** When remote code on this channel started (for execs). */
  readonly startedAt = new Date();
  /** When nothing more could arrive. */
  closedAt: Date | undefined;
  /** Set when the remote code ended with SystemExit: the status it asked for (0 included). */
  exitCode: number | undefined;
  /** What the remote code reads from sys.stdin, for an exec started with `stdin: true`. */
  stdin: ExecStdin | undefined;

  constructor(
    private readonly host: ChannelHost,
    override readonly id: number,
    readonly origin: ChannelOrigin = { kind: 'channel', label: `channel ${id}` },
  ) {
    super();
  }

  /** The id of the gateway this channel belongs to. */
  get gatewayId(): string {
    return this.host.id;
  }

  override toString(): string {
    return `<Channel id=${this.id} ${this.isClosed() ? 'closed' : 'open'}>`;
  }

  get state(): ChannelState {
    if (this.receiveClosed && this.sendClosed) {
      return 'closed';
    }
    return this.receiveClosed ? 'sendonly' : 'open';
  }

  /** The error the channel closed with (a RemoteError, GatewayClosedError...), if any. */
  get error(): Error | undefined {
    return this.closeError;
  }

  /** True once the channel is closed for sending (locally or by the other side). */
  isClosed(): boolean {
    return this.sendClosed;
  }

  /**
   * Send a value to the other side. Resolves when it is handed to the transport (or buffered
   * below the high-water mark); rejects if the channel or the gateway is closed or the value
   * cannot be serialized. A caller that does not await it never sees an unhandled rejection.
   * Binaries of 64 KiB or more (a Buffer or Uint8Array, also inside a value) are written from
   * their own memory rather than copied: change them only after the promise resolves.
   */
  send(item: unknown): Promise<void> {
    let result: Promise<void>;
    if (this.sendClosed) {
      result = Promise.reject(new ChannelClosedError(`cannot send to ${this}: it is closed`));
    } else {
      try {
        result = this.host.sendItem(this, item);
      } catch (error) {
        result = Promise.reject(error);
      }
    }
    result.catch(() => undefined);
    return result;
  }

  /**
   * The next item. Rejects with EOFError once the channel is closed and drained, with the
   * RemoteError if the remote code failed, with GatewayClosedError if the gateway died, and with
   * TimeoutError after `timeout` seconds (the channel stays usable; none, null or Infinity:
   * wait for ever).
   */
  receive(timeout?: Timeout): Promise<unknown> {
    if (this.callback) {
      return Promise.reject(
        new ExecnetError(`cannot receive() on ${this}: it has a receive callback`),
      );
    }
    if (this.head < this.queue.length) {
      return Promise.resolve(this.shift());
    }
    if (this.receiveClosed) {
      return Promise.reject(this.endError());
    }
    return this.wait(this.waiters, timeout, () => `no item after ${timeout} seconds on ${this}`);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<unknown> {
    for (;;) {
      let item: unknown;
      try {
        item = await this.receive();
      } catch (error) {
        if (error instanceof EOFError && !this.closeError) {
          return;
        }
        throw error;
      }
      yield item;
    }
  }

  /**
   * Deliver every item to `callback` instead of receive(): the queued ones now, the rest as
   * they arrive, one after another (a callback that returns a promise gets the next item once
   * it settles). When the channel closes (normally or with an error) the callback gets
   * `endmarker`, if one was given, and waitClose() resolves only after the callback is done
   * with everything. A callback that throws or rejects closes the channel with that error:
   * the other side hears of it, waitClose() rejects with it, and later items are dropped.
   */
  setCallback(callback: ReceiveCallback, ...endmarker: [] | [unknown]): void {
    if (this.callback) {
      throw new ExecnetError(`${this} has a callback already`);
    }
    const marker = endmarker.length > 0 ? endmarker[0] : NO_ENDMARKER;
    this.callback = { fn: callback, endmarker: marker };
    while (this.head < this.queue.length) {
      this.toCallback(this.shift());
    }
    if (this.receiveClosed && marker !== NO_ENDMARKER) {
      this.toCallback(END);
    }
    this.updateHolding();
  }

  /**
   * Wait until nothing more will arrive. Rejects with the remote's error if it failed, and with
   * TimeoutError after `timeout` seconds (the channel stays usable; none, null or Infinity:
   * wait for ever).
   */
  waitClose(timeout?: Timeout): Promise<void> {
    if (this.receiveClosed && !this.callbackBusy) {
      return this.closeError ? Promise.reject(this.closeError) : Promise.resolve();
    }
    return this.wait(
      this.closeWaiters,
      timeout,
      () => `${this} not closed after ${timeout} seconds`,
    ) as Promise<void>;
  }

  /**
   * Close the channel, with an optional error message the other side receives as a
   * RemoteError. Items already queued here can still be received.
   */
  close(error?: string | Error): void {
    if (this.sendClosed) {
      return;
    }
    const message = error instanceof Error ? error.message : error;
    this.host.sendClose(this, message);
    this.markClosed(undefined, false);
  }

  /**
   * Tell the other side that nothing more will be sent from here: there, `receive()` raises
   * EOFError (and `for item in channel` ends) once the items already sent are taken, while its
   * items can still arrive here. A half-close: `close()` ends both directions.
   */
  endSending(): void {
    if (this.sendClosed) {
      return;
    }
    this.host.sendLastMessage(this);
    this.sendClosed = true;
  }

  /** Raise KeyboardInterrupt in the remote thread running this channel's code. */
  interrupt(): void {
    if (!this.receiveClosed) {
      this.host.sendInterrupt(this);
    }
  }

  /**
   * End the exec running this channel's code without ending the gateway, for code that does not
   * stop when interrupted: the remote ends the processes the code started (and theirs), raises
   * ExecKilled in its thread until it ends, and closes the channel with a RemoteError of type
   * ExecKilled — a second later at the latest, even if the thread will not end. Resolves true
   * once the channel is closed, false if it is still open after `timeout` seconds.
   */
  async kill(timeout = 10): Promise<boolean> {
    if (this.receiveClosed) {
      return true;
    }
    this.host.sendKill(this);
    try {
      await this.waitClose(timeout);
    } catch (error) {
      if (error instanceof TimeoutError) {
        return false;
      }
    }
    return true;
  }

  /**
   * A stream on the channel: 'w' sends each chunk written (strings as str, buffers as bytes),
   * 'r' yields received str/bytes items as bytes. With `proxyClose`, ending the stream closes
   * the channel.
   */
  makeFile(mode: 'r', options?: { proxyClose?: boolean }): Readable;
  makeFile(mode: 'w', options?: { proxyClose?: boolean }): Writable;
  makeFile(mode: 'r' | 'w', options: { proxyClose?: boolean } = {}): Readable | Writable {
    if (mode === 'w') {
      return new Writable({
        decodeStrings: false,
        write: (chunk: string | Buffer, _encoding, done) => {
          this.send(chunk).then(() => done(), done);
        },
        final: (done) => {
          if (options.proxyClose) {
            this.close();
          }
          done();
        },
      });
    }
    if (mode === 'r') {
      const readable: Readable = new Readable({
        read: () => {
          this.receive().then(
            (item) => {
              if (typeof item === 'string') {
                readable.push(Buffer.from(item, 'utf8'));
              } else if (item instanceof Uint8Array) {
                readable.push(item);
              } else {
                readable.destroy(
                  new ExecnetError(`makeFile('r') received a ${typeof item}, not str or bytes`),
                );
              }
            },
            (error: unknown) => {
              if (error instanceof EOFError && !this.closeError) {
                readable.push(null);
              } else {
                readable.destroy(error as Error);
              }
            },
          );
        },
        destroy: (error, done) => {
          if (options.proxyClose) {
            this.close();
          }
          done(error);
        },
      });
      return readable;
    }
    throw new ExecnetError(`makeFile: mode ${String(mode)} is not 'r' or 'w'`);
  }

  // -- called by the gateway -----------------------------------------------------------------

  /** @internal An item arrived from the other side. */
  deliver(item: unknown): void {
    if (this.receiveClosed) {
      return;
    }
    if (this.callback) {
      this.toCallback(item);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.settle(waiter);
      waiter.resolve(item);
    } else {
      this.queue.push(item);
    }
  }

  /** @internal Output of the remote code running on this channel. */
  output(stream: OutputStream, data: Buffer): void {
    this.outputEmitter.fire({ stream, data });
  }

  /**
   * @internal Nothing more will arrive (the other side closed, the gateway died, or we closed).
   * `sendonly`: the other side only said it will send no more; we may still send.
   */
  markClosed(error: Error | undefined, sendonly: boolean): void {
    if (error && !this.closeError) {
      this.closeError = error;
    }
    if (!sendonly) {
      this.sendClosed = true;
    }
    if (this.receiveClosed) {
      if (this.sendClosed) {
        this.host.channelClosed(this);
      }
      return;
    }
    this.receiveClosed = true;
    this.closedAt = new Date();
    const endError = this.endError();
    for (const waiter of this.waiters.splice(0)) {
      this.settle(waiter);
      waiter.reject(endError);
    }
    const callback = this.callback;
    if (callback && callback.endmarker !== NO_ENDMARKER) {
      this.toCallback(END);
    }
    if (!this.callbackBusy) {
      this.settleCloseWaiters();
    }
    this.updateHolding();
    if (this.sendClosed) {
      this.host.channelClosed(this);
    }
    this.closeEmitter.fire(this);
    this.outputEmitter.dispose();
    this.closeEmitter.dispose();
  }

  // -- internals -----------------------------------------------------------------------------

  /** Hands an item to the callback now, or after the items its pending promise holds back. */
  private toCallback(item: unknown): void {
    if (this.callbackBusy) {
      this.callbackQueue.push(item);
      return;
    }
    const callback = this.callback;
    if (!callback) {
      return;
    }
    let result: unknown;
    try {
      result = callback.fn(item === END ? callback.endmarker : item);
    } catch (error) {
      this.callbackFailed(error, item === END);
      return;
    }
    if (isPromiseLike(result)) {
      this.callbackBusy = true;
      result.then(
        () => {
          this.callbackBusy = false;
          this.callbackDone();
        },
        (error: unknown) => {
          this.callbackBusy = false;
          this.callbackFailed(error, item === END);
        },
      );
    }
  }

  /** The callback settled: on to the next item, or to whoever waits for the close. */
  private callbackDone(): void {
    while (!this.callbackBusy && this.callbackQueue.length > 0) {
      this.toCallback(this.callbackQueue.shift());
    }
    if (!this.callbackBusy && this.receiveClosed) {
      this.settleCloseWaiters();
    }
  }

  /**
   * execnet: a failing callback closes the channel, and the other side learns why. Items it
   * held back are dropped; the endmarker still comes, unless it was what failed.
   */
  private callbackFailed(error: unknown, inEndmarker: boolean): void {
    const failure =
      error instanceof Error
        ? error
        : new ExecnetError(`receive callback failed: ${String(error)}`);
    const endmarkerQueued = this.callbackQueue.includes(END);
    this.callbackQueue.length = 0;
    if (!this.sendClosed) {
      this.host.sendClose(this, `local callback failed: ${failure.stack ?? failure.message}`);
    }
    const wasClosed = this.receiveClosed;
    this.markClosed(failure, false); // delivers the endmarker unless the channel was closed
    if (wasClosed && endmarkerQueued && !inEndmarker) {
      this.toCallback(END);
    }
    this.callbackDone();
  }

  private settleCloseWaiters(): void {
    for (const waiter of this.closeWaiters.splice(0)) {
      this.settle(waiter);
      if (this.closeError) {
        waiter.reject(this.closeError);
      } else {
        waiter.resolve(undefined);
      }
    }
  }

  private shift(): unknown {
    const item = this.queue[this.head];
    this.queue[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  private endError(): Error {
    return this.closeError ?? new EOFError(`${this} is closed: no more items`);
  }

  private wait(list: Waiter[], timeout: Timeout, what: () => string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (!isForever(timeout)) {
        waiter.timer = after(timeout, () => {
          const index = list.indexOf(waiter);
          if (index >= 0) {
            list.splice(index, 1);
          }
          this.hold(-1);
          reject(new TimeoutError(what()));
        });
      }
      this.hold(1);
      list.push(waiter);
    });
  }

  private settle(waiter: Waiter): void {
    waiter.timer?.clear();
    this.hold(-1);
  }

  private hold(delta: 1 | -1): void {
    this.host.hold(delta);
    this.pins += delta;
    if (this.pins === (delta === 1 ? 1 : 0)) {
      this.host.pin(this, this.pins > 0);
    }
  }

  /** Hold the gateway open while this channel is open and someone listens for what it brings. */
  private updateHolding(): void {
    const holding =
      !this.receiveClosed && (this.callback !== undefined || this.outputListeners > 0);
    if (this.holding !== holding) {
      this.holding = holding;
      this.hold(holding ? 1 : -1);
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * A channel's output as text, decoded per stream (a UTF-8 character may be split between two
 * writes). Disposing stops listening, like `onOutput`.
 */
export function onTextOutput(
  channel: Channel,
  listener: (stream: OutputStream, text: string) => void,
): { dispose(): void } {
  const decoders: Record<OutputStream, StringDecoder> = {
    stdout: new StringDecoder('utf8'),
    stderr: new StringDecoder('utf8'),
  };
  return channel.onOutput(({ stream, data }) => {
    const text = decoders[stream].write(data);
    if (text) {
      listener(stream, text);
    }
  });
}
