// Frames on the wire (docs/protocol.md): a 9-byte header — type u8, channel u32, length u32,
// big-endian — then the payload. FrameDecoder turns a byte stream into frames without copying
// small frames twice and without holding more than one large frame in memory.

import { DataFormatError } from './errors';

export const PROTOCOL_VERSION = 1;
export const HEADER_SIZE = 9;
/** The largest payload either side accepts; a bigger length field means a corrupt stream. */
export const MAX_PAYLOAD = 1 << 30;

export enum Msg {
  Hello = 0,
  Status = 1,
  Reconfigure = 2,
  GatewayTerminate = 3,
  ChannelExec = 4,
  ChannelData = 5,
  ChannelClose = 6,
  ChannelCloseError = 7,
  ChannelLastMessage = 8,
  Stdout = 9,
  Stderr = 10,
  Interrupt = 11,
  Trace = 12,
  Kill = 13,
}

const MAX_MSG = Msg.Kill;

/** Fill in a frame header in the first HEADER_SIZE bytes of `target`. */
export function writeHeader(target: Buffer, type: Msg, channel: number, length: number): void {
  target[0] = type;
  target.writeUInt32BE(channel, 1);
  target.writeUInt32BE(length, 5);
}

/** One frame as a single buffer (header and payload), for small payloads. */
export function encodeFrame(type: Msg, channel: number, payload?: Uint8Array): Buffer {
  const length = payload ? payload.length : 0;
  const frame = Buffer.allocUnsafe(HEADER_SIZE + length);
  frame[0] = type;
  frame.writeUInt32BE(channel, 1);
  frame.writeUInt32BE(length, 5);
  if (payload) {
    frame.set(payload, HEADER_SIZE);
  }
  return frame;
}

export type FrameHandler = (type: Msg, channel: number, payload: Buffer) => void;

/**
 * Incremental frame parser. `push()` each chunk as it arrives; complete frames go to the
 * handler in order. Throws DataFormatError on an unknown type or an oversized length: the
 * stream cannot be resynchronised after that, so the caller closes the gateway.
 */
export class FrameDecoder {
  private pending: Buffer | undefined;
  /** A large frame being filled in place: its buffer and how much of it has arrived. */
  private large: { type: Msg; channel: number; payload: Buffer; filled: number } | undefined;

  constructor(private readonly onFrame: FrameHandler) {}

  /** Bytes of an incomplete frame held back, so a caller can tell a clean end from a cut one. */
  get bufferedBytes(): number {
    return (this.pending?.length ?? 0) + (this.large?.filled ?? 0) + (this.large ? HEADER_SIZE : 0);
  }

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.large) {
      const large = this.large;
      const take = Math.min(large.payload.length - large.filled, data.length);
      data.copy(large.payload, large.filled, 0, take);
      large.filled += take;
      if (large.filled < large.payload.length) {
        return;
      }
      this.large = undefined;
      this.onFrame(large.type, large.channel, large.payload);
      data = data.subarray(take);
      if (data.length === 0) {
        return;
      }
    }
    if (this.pending) {
      data = Buffer.concat([this.pending, data]);
      this.pending = undefined;
    }
    let pos = 0;
    const end = data.length;
    while (end - pos >= HEADER_SIZE) {
      const type = data[pos];
      const channel = data.readUInt32BE(pos + 1);
      const length = data.readUInt32BE(pos + 5);
      if (type > MAX_MSG) {
        throw new DataFormatError(`corrupt frame: unknown message type ${type}`);
      }
      if (length > MAX_PAYLOAD) {
        throw new DataFormatError(
          `corrupt frame: payload length ${length} exceeds the ${MAX_PAYLOAD}-byte limit`,
        );
      }
      const start = pos + HEADER_SIZE;
      const stop = start + length;
      if (stop > end) {
        if (length >= 65536) {
          // Fill the frame's own buffer from here on instead of re-concatenating every chunk.
          const payload = Buffer.allocUnsafe(length);
          data.copy(payload, 0, start, end);
          this.large = { type, channel, payload, filled: end - start };
          return;
        }
        break;
      }
      this.onFrame(type, channel, data.subarray(start, stop));
      pos = stop;
    }
    if (pos < end) {
      this.pending = data.subarray(pos);
    }
  }
}
