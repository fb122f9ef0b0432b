// Lines piped into the CLI become items on the remote code's channel (`printf '1\n2\n' |
// execnet run examples/echo.py`); the end of the input ends the remote's `for item in channel`.
// Only piped input is read: a terminal stays free for the prompts of ssh logins.

import * as readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { Channel } from '../core/channel';

export class StdinFeed {
  private readonly lines: string[] = [];
  private ended = false;
  private readonly channels = new Set<Channel>();

  constructor(input: Readable) {
    const reader = readline.createInterface({ input, crlfDelay: Infinity });
    reader.on('line', (line) => {
      this.lines.push(line);
      for (const channel of this.channels) {
        void channel.send(line);
      }
    });
    reader.on('close', () => {
      this.ended = true;
      for (const channel of this.channels) {
        channel.endSending();
      }
    });
  }

  /** Feed a channel: the lines read so far, then the rest as they come, then the end. */
  attach(channel: Channel): void {
    for (const line of this.lines) {
      void channel.send(line);
    }
    if (this.ended) {
      channel.endSending();
    } else {
      this.channels.add(channel);
      channel.onClose(() => this.channels.delete(channel));
    }
  }
}
