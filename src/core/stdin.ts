// The stdin of one exec (`remoteExec({ ..., stdin: true })`): what is written here is what the
// remote code reads from sys.stdin (input(), sys.stdin.readline(), sys.stdin.buffer). It travels
// on a channel of its own: bytes items, None for one end of file, the channel's close for the last.

import type { Channel } from './channel';

export class ExecStdin {
  constructor(private readonly channel: Channel) {}

  /** Text (sent as UTF-8) or bytes for the code to read. Rejects once stdin has ended. */
  write(data: string | Uint8Array): Promise<void> {
    return this.channel.send(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  /**
   * One end of file, like Ctrl-D on a terminal: the read waiting returns what was written so far
   * (input() raises EOFError when that is nothing); later reads wait for more.
   */
  eof(): Promise<void> {
    return this.channel.send(null);
  }

  /** The last end of file: every read from now on returns at once with what is left. */
  end(): void {
    this.channel.close();
  }

  /** True once end() was called or the exec ended. */
  get ended(): boolean {
    return this.channel.isClosed();
  }
}
