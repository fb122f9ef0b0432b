// The CLI's standard input, for the code it runs. By default piped lines become items on the
// code's channel (`printf '1\n2\n' | execnet run examples/echo.py`), and the end of the input ends
// the remote's `for item in channel`; a terminal is not read, so it stays free for the prompts of
// ssh logins. With --stdin the bytes, typed or piped, go to the code's sys.stdin instead.

import * as readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { Channel } from '../core/channel';

/** Where standard input goes for each channel a run starts. */
export interface StdinFeed {
  /** Whether the code must be started with a sys.stdin of its own (`stdin: true`). */
  readonly forwards: boolean;
  attach(channel: Channel): void;
}

/** Fans one input out to every channel attached: what was read so far, the rest as it comes. */
abstract class Fanout<T> implements StdinFeed {
  abstract readonly forwards: boolean;
  private readonly seen: T[] = [];
  private ended = false;
  private readonly channels = new Set<Channel>();

  protected push(piece: T): void {
    this.seen.push(piece);
    for (const channel of this.channels) {
      this.deliver(channel, piece);
    }
  }

  protected end(): void {
    this.ended = true;
    for (const channel of this.channels) {
      this.finish(channel);
    }
  }

  attach(channel: Channel): void {
    for (const piece of this.seen) {
      this.deliver(channel, piece);
    }
    if (this.ended) {
      this.finish(channel);
    } else {
      this.channels.add(channel);
      channel.onClose(() => this.channels.delete(channel));
    }
  }

  protected abstract deliver(channel: Channel, piece: T): void;
  protected abstract finish(channel: Channel): void;
}

/** Lines of piped input as str items on the channel; the end of input half-closes it. */
export class LineFeed extends Fanout<string> {
  readonly forwards = false;

  constructor(input: Readable) {
    super();
    const reader = readline.createInterface({ input, crlfDelay: Infinity });
    reader.on('line', (line) => this.push(line));
    reader.on('close', () => this.end());
  }

  protected deliver(channel: Channel, line: string): void {
    void channel.send(line);
  }

  protected finish(channel: Channel): void {
    channel.endSending();
  }
}

/** Bytes of standard input to the code's sys.stdin; the end of input is its end of file. */
export class StdinForward extends Fanout<Buffer> {
  readonly forwards = true;

  constructor(input: Readable) {
    super();
    input.on('data', (chunk: Buffer) => this.push(chunk));
    input.on('end', () => this.end());
  }

  protected deliver(channel: Channel, chunk: Buffer): void {
    void channel.stdin?.write(chunk).catch(() => undefined);
  }

  protected finish(channel: Channel): void {
    channel.stdin?.end();
  }
}
