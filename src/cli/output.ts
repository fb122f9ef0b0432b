// Where one gateway's output goes in the terminal. Alone, a gateway's stdout/stderr pass through
// byte for byte as they arrive; in a fan-out every line is prefixed with `[id] ` (partial lines
// wait for their newline). With `grouped`, everything waits and is written when the gateway ends.
// Channel items are always labelled: `[gw0] channel: (1, 'x')`.

import type { OutputStream } from '../core';

export interface Streams {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const NEWLINE = 0x0a;

export class GatewaySink {
  private readonly partial: Record<OutputStream, Buffer> = {
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
  };
  /** Whether the last byte written to a stream (in pass-through mode) ended a line. */
  private readonly atLineStart: Record<OutputStream, boolean> = { stdout: true, stderr: true };
  private readonly held: Array<[OutputStream, Buffer]> = [];

  constructor(
    readonly id: string,
    private readonly streams: Streams,
    private readonly options: { readonly prefix: boolean; readonly grouped: boolean },
  ) {}

  /** Raw output of the remote. */
  write(stream: OutputStream, data: Buffer): void {
    if (data.length === 0) {
      return;
    }
    if (!this.options.prefix) {
      this.emit(stream, data);
      this.atLineStart[stream] = data[data.length - 1] === NEWLINE;
      return;
    }
    let rest = Buffer.concat([this.partial[stream], data]);
    for (let nl = rest.indexOf(NEWLINE); nl >= 0; nl = rest.indexOf(NEWLINE)) {
      this.emitLine(stream, rest.subarray(0, nl + 1));
      rest = rest.subarray(nl + 1);
    }
    this.partial[stream] = Buffer.from(rest);
  }

  /** A channel item, already formatted: always labelled with the gateway id, on stdout. */
  item(text: string): void {
    const line = `channel: ${text}\n`;
    this.message('stdout', this.options.prefix ? line : `[${this.id}] ${line}`);
  }

  /** Text of the CLI about this gateway (a traceback, an error): prefixed in a fan-out. */
  message(stream: OutputStream, text: string): void {
    if (text === '') {
      return;
    }
    if (!this.options.prefix) {
      // keep our text off the end of an unfinished line of the remote
      this.write(stream, Buffer.from(this.atLineStart[stream] ? text : `\n${text}`));
      return;
    }
    this.flushPartial(stream);
    for (const line of text.split(/(?<=\n)/)) {
      this.emitLine(stream, Buffer.from(line.endsWith('\n') ? line : `${line}\n`));
    }
  }

  /** The gateway is done: end unfinished lines and write what was held back. */
  close(): void {
    this.flushPartial('stdout');
    this.flushPartial('stderr');
    for (const [stream, data] of this.held.splice(0)) {
      this.streams[stream].write(data);
    }
  }

  private flushPartial(stream: OutputStream): void {
    const rest = this.partial[stream];
    if (rest.length > 0) {
      this.partial[stream] = Buffer.alloc(0);
      this.emitLine(stream, Buffer.concat([rest, Buffer.from('\n')]));
    }
  }

  private emitLine(stream: OutputStream, line: Buffer): void {
    this.emit(stream, Buffer.concat([Buffer.from(`[${this.id}] `), line]));
  }

  private emit(stream: OutputStream, data: Buffer): void {
    if (this.options.grouped) {
      this.held.push([stream, data]);
    } else {
      this.streams[stream].write(data);
    }
  }
}
