// Values on the wire: msgpack with the extension types of docs/protocol.md ("Values"), and the
// versioned `dumps`/`loads` format. Invariant: `encode` accepts exactly the values of the mapping
// table (anything else is a DumpError naming where it sits in the value) and writes them in
// canonical form — smallest headers, non-integral numbers as float 64 — which is also what the
// remote's codec.py writes, so both sides produce the same bytes for the same value.
//
// This is a dedicated codec rather than msgpackr: msgpackr writes integral numbers beyond 32 bits
// as floats (the spec sends them as ints), its extension hook cannot write an ext whose data is
// itself msgpack without a nested encode per tuple, its extension table is global, and its decoder
// accepts its own extensions (Date, Error, records, ...) that Python never sends. The wire format
// stays readable by msgpackr with the options the spec lists; the tests check that.

import { DataFormatError, DumpError } from './errors';

/** The version byte that starts every `dumps` result. */
export const DUMPS_FORMAT_VERSION = 1;

/**
 * Deepest nesting of containers `encode` accepts. codec.py decodes with up to three Python
 * frames per level under a default recursion limit of 1000, so it must stay well below 333.
 */
export const MAX_ENCODE_DEPTH = 200;
/**
 * Deepest nesting of containers and extension types `decode` accepts: what any encoder on either
 * side produces (the msgpack C extension packs up to 511 levels of lists and dicts), and a
 * quarter of what Node's stack holds for a decode (about four frames per level).
 */
export const MAX_DECODE_DEPTH = 512;

const EXT_TUPLE = 1;
const EXT_SET = 2;
const EXT_FROZENSET = 3;
const EXT_COMPLEX = 4;
const EXT_CHANNEL = 5;
/** msgpackr's bigint extension: big-endian two's complement. */
const EXT_BIGINT = 0x42;

/**
 * Python's `tuple`. `Tuple.of(1, 2)` and `new Tuple(1, 2)` both make `(1, 2)`; unlike `Array`,
 * a single numeric argument is an element, so `new Tuple(3)` is `(3,)`, not three holes.
 * Prefer `Tuple.of` and `Tuple.from`: V8 constructs Array subclasses slowly (~300 ns), while they
 * re-badge a fresh plain array (~40 ns). Methods that build a new array (`map`, `filter`,
 * `slice`, `concat`) return plain Arrays.
 */
export class Tuple<T = unknown> extends Array<T> {
  constructor(...items: T[]) {
    super();
    for (let i = 0; i < items.length; i++) {
      this.push(items[i]);
    }
  }

  /** `Tuple.of(1, 'x')` is Python's `(1, 'x')`, typed `Tuple<number | string>`. */
  static override of<A extends unknown[]>(...items: A): Tuple<A[number]> {
    return asTuple(items);
  }

  static override from<T>(items: Iterable<T> | ArrayLike<T>): Tuple<T>;
  static override from<T, U>(
    items: Iterable<T> | ArrayLike<T>,
    mapfn: (v: T, k: number) => U,
    thisArg?: unknown,
  ): Tuple<U>;
  static override from<T, U>(
    items: Iterable<T> | ArrayLike<T>,
    mapfn?: (v: T, k: number) => U,
    thisArg?: unknown,
  ): Tuple<T | U> {
    return asTuple<T | U>(mapfn ? Array.from(items, mapfn, thisArg) : Array.from(items));
  }

  // Derived arrays are plain: Array's species protocol would call `new Tuple(length)`.
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

/** Makes a fresh plain array (owned by the caller, not shared) a Tuple, without copying. */
function asTuple<T>(items: T[]): Tuple<T> {
  return Object.setPrototypeOf(items, Tuple.prototype) as Tuple<T>;
}

/** Python's `frozenset`. A plain `Set` is Python's `set`. */
export class FrozenSet<T = unknown> extends Set<T> {}

/**
 * Python's `float`, for a value that must arrive as one: an integral JS number is sent as an
 * int, so `new Float(2)` is how to send `2.0` (non-integral numbers need no wrapper). Python's
 * floats arrive as plain numbers; `valueOf` lets a Float take part in arithmetic.
 */
export class Float {
  constructor(readonly value: number) {
    if (typeof value !== 'number') {
      throw new TypeError(`Float takes a number, not ${describeType(value)}`);
    }
  }

  valueOf(): number {
    return this.value;
  }

  toString(): string {
    return String(this.value);
  }
}

/** Python's `complex`. */
export class Complex {
  constructor(
    readonly real: number,
    readonly imag: number,
  ) {}

  toString(): string {
    return `(${this.real}${this.imag < 0 || Object.is(this.imag, -0) ? '-' : '+'}${Math.abs(this.imag)}j)`;
  }
}

/**
 * Objects that travel as channel references (ext 5, the channel id). The Channel class extends
 * it: detection is `instanceof`, so implementing the shape without extending is not enough.
 */
export abstract class ChannelReference {
  abstract readonly id: number;
}

/** Turns an incoming channel reference (ext 5) into a channel of this gateway. */
export interface ChannelResolver {
  (id: number): ChannelReference;
}

const SUPPORTED =
  'supported: null, undefined, boolean, number, Float, bigint, string, Uint8Array/Buffer, Array, ' +
  'Tuple, plain object, Map, Set, FrozenSet, Complex, Channel';

/** Why a value cannot be encoded; the path is collected while the failure unwinds. */
class Unencodable extends Error {
  /** Path segments, innermost first. */
  readonly segments: string[] = [];
}

function describeType(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  const type = typeof value;
  if (type === 'function') {
    const name = (value as { name?: unknown }).name;
    return typeof name === 'string' && name ? `a function (${name})` : 'a function';
  }
  if (type !== 'object') {
    return `a ${type}`;
  }
  const article = (name: string) => (/^[AEIOU]/.test(name) ? 'an' : 'a');
  const proto: unknown = Object.getPrototypeOf(value);
  const ctor =
    proto && typeof proto === 'object'
      ? (proto as { constructor?: unknown }).constructor
      : undefined;
  const name = typeof ctor === 'function' ? ctor.name : '';
  return name ? `${article(name)} ${name}` : 'an object with an unusual prototype';
}

function unencodable(value: unknown): Unencodable {
  return new Unencodable(
    `is ${describeType(value)}, which cannot be sent to Python (${SUPPORTED})`,
  );
}

function loneSurrogate(s: string): Unencodable {
  const index = s.search(/\p{Surrogate}/u);
  const code = s.charCodeAt(index).toString(16).toUpperCase();
  return new Unencodable(
    `is a string with a lone surrogate (U+${code} at index ${index}), which UTF-8 cannot carry ` +
      '(execnet refuses it too): send the text as valid UTF-16, or its bytes as a Buffer',
  );
}

function keySegment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function mapKeyLabel(key: unknown): string {
  if (typeof key === 'string') {
    return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
  }
  if (typeof key === 'number' || typeof key === 'boolean' || key == null) {
    return String(key);
  }
  if (typeof key === 'bigint') {
    return `${key}n`;
  }
  return `<${describeType(key).replace(/^an? /, '')}>`;
}

function formatPath(segments: readonly string[]): string {
  const outer = segments.slice().reverse();
  return outer.length > 12
    ? `value${outer.slice(0, 8).join('')}…(${outer.length} levels)`
    : `value${outer.join('')}`;
}

/**
 * Python can only use hashable values as dict keys and set members: no list, dict or set, also
 * not inside a tuple. Refusing them here beats a failure on the remote that closes the gateway.
 */
function checkHashable(value: unknown, role: string, nested = false): void {
  if (typeof value !== 'object' || value === null) {
    return;
  }
  if (value instanceof Tuple || value instanceof FrozenSet) {
    for (const item of value) {
      checkHashable(item, role, true);
    }
    return;
  }
  if (
    value instanceof Uint8Array ||
    value instanceof Float ||
    value instanceof Complex ||
    value instanceof ChannelReference
  ) {
    return;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (
    Array.isArray(value) ||
    value instanceof Map ||
    value instanceof Set ||
    proto === Object.prototype ||
    proto === null
  ) {
    throw new Unencodable(
      `${nested ? 'contains' : 'is'} ${describeType(value)}, which Python cannot use as a ${role} ` +
        '(it must be hashable: use a Tuple instead of an Array, a FrozenSet instead of a Set)',
    );
  }
  // Anything else is refused by the encoder itself, with a better message.
}

const FIXEXT_HEAD: Record<number, number> = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 };
const SLAB_SIZE = 64 * 1024;
const TWO_32 = 0x100000000;
/** Binaries at least this long are not copied into a segmented encoding (see `encodeSegments`). */
export const SEGMENT_MIN = 64 * 1024;

/**
 * The encoder's output buffer. Results are views of a slab that later encodes continue after and
 * never overwrite, so one small message costs no allocation; a slab that had to grow for a big
 * message is left to that message. With `segmented`, large binaries stay where they are: the
 * slab holds everything else and `segments` says where, relative to `start`, each one goes.
 */
class Writer {
  buf: Buffer = Buffer.allocUnsafeSlow(SLAB_SIZE);
  pos = 0;
  /** Where the message being written starts in `buf`. */
  start = 0;
  busy = false;
  allowChannels = false;
  segmented = false;
  /** Large binaries left out of the slab: [offset from `start`, data], in order. */
  segments: Array<[number, Buffer]> = [];

  begin(headroom: number): void {
    if (this.buf.length - this.pos < 4096 || this.buf.length > 4 * SLAB_SIZE) {
      this.buf = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.pos = 0;
    }
    this.start = this.pos;
    this.ensure(headroom);
    this.pos += headroom;
  }

  finish(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    // Keep later messages 8-byte aligned, which makes copying them faster.
    this.pos = Math.min(Math.ceil(this.pos / 8) * 8, this.buf.length);
    return out;
  }

  /** The message as slab pieces with the large binaries between them (none left out: one piece). */
  finishSegments(): Buffer[] {
    const slab = this.finish();
    const parts: Buffer[] = [];
    let from = 0;
    for (const [offset, data] of this.segments) {
      if (offset > from) {
        parts.push(slab.subarray(from, offset));
      }
      parts.push(data);
      from = offset;
    }
    if (from < slab.length || parts.length === 0) {
      parts.push(slab.subarray(from));
    }
    this.segments = [];
    return parts;
  }

  abort(): void {
    this.pos = this.start;
    this.segments = [];
  }

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) {
      this.grow(n);
    }
  }

  private grow(n: number): void {
    const used = this.pos - this.start;
    const next = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, 2 * used + n));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = used;
  }

  write(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        this.writeString(value);
        return;
      case 'number':
        this.writeNumber(value);
        return;
      case 'object':
        if (value === null) {
          this.ensure(1);
          this.buf[this.pos++] = 0xc0;
        } else {
          this.writeObject(value, depth);
        }
        return;
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = value ? 0xc3 : 0xc2;
        return;
      case 'bigint':
        this.writeBigInt(value);
        return;
      case 'undefined':
        this.ensure(1);
        this.buf[this.pos++] = 0xc0;
        return;
      default:
        throw unencodable(value);
    }
  }

  private writeObject(value: object, depth: number): void {
    if (depth >= MAX_ENCODE_DEPTH) {
      throw new Unencodable(
        `is nested deeper than ${MAX_ENCODE_DEPTH} levels (does the value contain itself?)`,
      );
    }
    // Dispatch on the exact prototype first: it is one load and compare per common type.
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Array.prototype) {
      this.writeArray(value as unknown[], depth + 1);
    } else if (proto === Object.prototype || proto === null) {
      this.writeRecord(value as Record<string, unknown>, depth + 1);
    } else if (proto === Tuple.prototype) {
      this.writeTuple(value as Tuple, depth + 1);
    } else if (proto === Map.prototype) {
      this.writeMap(value as Map<unknown, unknown>, depth + 1);
    } else if (proto === Buffer.prototype || proto === Uint8Array.prototype) {
      this.writeBin(value as Uint8Array);
    } else if (proto === Set.prototype) {
      this.writeSet(EXT_SET, value as Set<unknown>, depth + 1);
    } else if (proto === FrozenSet.prototype) {
      this.writeSet(EXT_FROZENSET, value as Set<unknown>, depth + 1);
    } else {
      this.writeSubclassed(value, depth + 1);
    }
  }

  /** Subclasses of the mapped types, channels and complex numbers; everything else is refused. */
  private writeSubclassed(value: object, depth: number): void {
    if (value instanceof ChannelReference) {
      if (!this.allowChannels) {
        throw new Unencodable(
          'is a channel, which can only be sent over its gateway (not through dumps)',
        );
      }
      const begin = this.beginExt();
      this.writeNumber(value.id);
      this.endExt(begin, EXT_CHANNEL);
    } else if (value instanceof Float) {
      this.writeDouble(value.value);
    } else if (value instanceof Complex) {
      this.writeComplex(value);
    } else if (value instanceof Tuple) {
      this.writeTuple(value, depth);
    } else if (value instanceof Set) {
      this.writeSet(value instanceof FrozenSet ? EXT_FROZENSET : EXT_SET, value, depth);
    } else if (value instanceof Map) {
      this.writeMap(value, depth);
    } else if (Array.isArray(value)) {
      this.writeArray(value, depth);
    } else if (value instanceof Uint8Array) {
      this.writeBin(value);
    } else {
      throw unencodable(value);
    }
  }

  private writeString(s: string): void {
    const n = s.length;
    if (n < 64) {
      // Most strings are short ASCII: copy the char codes and bail out on the first other one.
      this.ensure(n + 2);
      const buf = this.buf;
      const head = n < 32 ? 1 : 2;
      let p = this.pos + head;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          this.writeStringUtf8(s);
          return;
        }
        buf[p++] = c;
      }
      if (head === 1) {
        buf[this.pos] = 0xa0 | n;
      } else {
        buf[this.pos] = 0xd9;
        buf[this.pos + 1] = n;
      }
      this.pos = p;
      return;
    }
    this.writeStringUtf8(s);
  }

  private writeStringUtf8(s: string): void {
    if (!s.isWellFormed()) {
      // UTF-8 encoders replace it with U+FFFD; Python's str could hold it, but not as UTF-8
      throw loneSurrogate(s);
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.ensure(len + 5);
    this.writeLength(len, 0xa0, 32, 0xd9);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  /** A str/bin/array/map header: fix form below `fixLimit` (if any), else the 8/16/32-bit form. */
  private writeLength(n: number, fix: number, fixLimit: number, head8: number): void {
    const buf = this.buf;
    if (n < fixLimit) {
      buf[this.pos++] = fix | n;
    } else if (n < 0x100 && head8 !== 0) {
      buf[this.pos++] = head8;
      buf[this.pos++] = n;
    } else if (n < 0x10000) {
      buf[this.pos++] = head8 === 0 ? fix + 0x4c : head8 + 1;
      buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      buf[this.pos++] = head8 === 0 ? fix + 0x4d : head8 + 2;
      buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  private writeArrayHeader(n: number): void {
    this.ensure(5);
    // fixarray 0x90, array 16 0xdc, array 32 0xdd (no 8-bit form)
    this.writeLength(n, 0x90, 16, 0);
  }

  private writeMapHeader(n: number): void {
    this.ensure(5);
    const buf = this.buf;
    if (n < 16) {
      buf[this.pos++] = 0x80 | n;
    } else if (n < 0x10000) {
      buf[this.pos++] = 0xde;
      buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      buf[this.pos++] = 0xdf;
      buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  private writeNumber(v: number): void {
    // Integral values go as ints (Python gets an int), except -0, which only a float can carry.
    if (Number.isInteger(v) && (v !== 0 || 1 / v > 0)) {
      this.writeInteger(v);
      return;
    }
    this.writeDouble(v);
  }

  private writeDouble(v: number): void {
    this.ensure(9);
    this.buf[this.pos] = 0xcb;
    this.buf.writeDoubleBE(v, this.pos + 1);
    this.pos += 9;
  }

  /** `v` is integral; beyond the int64/uint64 range it can only be a float. */
  private writeInteger(v: number): void {
    this.ensure(9);
    const buf = this.buf;
    let p = this.pos;
    if (v >= 0) {
      if (v < 0x80) {
        buf[p++] = v;
      } else if (v < 0x100) {
        buf[p++] = 0xcc;
        buf[p++] = v;
      } else if (v < 0x10000) {
        buf[p++] = 0xcd;
        buf.writeUInt16BE(v, p);
        p += 2;
      } else if (v < TWO_32) {
        buf[p++] = 0xce;
        buf.writeUInt32BE(v, p);
        p += 4;
      } else if (v < 2 ** 64) {
        // Exact: an integral float splits into two 32-bit halves without rounding.
        buf[p++] = 0xcf;
        const hi = Math.floor(v / TWO_32);
        buf.writeUInt32BE(hi, p);
        buf.writeUInt32BE(v - hi * TWO_32, p + 4);
        p += 8;
      } else {
        buf[p++] = 0xcb;
        buf.writeDoubleBE(v, p);
        p += 8;
      }
    } else if (v >= -0x20) {
      buf[p++] = v + 0x100;
    } else if (v >= -0x80) {
      buf[p++] = 0xd0;
      buf[p++] = v + 0x100;
    } else if (v >= -0x8000) {
      buf[p++] = 0xd1;
      buf.writeInt16BE(v, p);
      p += 2;
    } else if (v >= -0x80000000) {
      buf[p++] = 0xd2;
      buf.writeInt32BE(v, p);
      p += 4;
    } else if (v >= -(2 ** 63)) {
      buf[p++] = 0xd3;
      const hi = Math.floor(v / TWO_32);
      buf.writeInt32BE(hi, p);
      buf.writeUInt32BE(v - hi * TWO_32, p + 4);
      p += 8;
    } else {
      buf[p++] = 0xcb;
      buf.writeDoubleBE(v, p);
      p += 8;
    }
    this.pos = p;
  }

  private writeBigInt(v: bigint): void {
    if (v >= MIN_SAFE_BIG && v <= MAX_SAFE_BIG) {
      // Python has one int type: 5n and 5 must be the same bytes.
      this.writeInteger(Number(v));
      return;
    }
    if (v >= MIN_INT64 && v <= MAX_UINT64) {
      this.ensure(9);
      if (v >= 0n) {
        this.buf[this.pos] = 0xcf;
        this.buf.writeBigUInt64BE(v, this.pos + 1);
      } else {
        this.buf[this.pos] = 0xd3;
        this.buf.writeBigInt64BE(v, this.pos + 1);
      }
      this.pos += 9;
      return;
    }
    // Shortest big-endian two's complement: the top bit of the first byte is the sign.
    const negative = v < 0n;
    let hex = (negative ? ~v : v).toString(16);
    if (hex.length % 2 === 1) {
      hex = `0${hex}`;
    }
    if (parseInt(hex[0], 16) >= 8) {
      hex = `00${hex}`;
    }
    const bytes = Buffer.from(hex, 'hex');
    if (negative) {
      for (let i = 0; i < bytes.length; i++) {
        bytes[i] = ~bytes[i];
      }
    }
    this.writeExtHeader(EXT_BIGINT, bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }

  private writeBin(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n >= SEGMENT_MIN && this.segmented) {
      this.ensure(5);
      this.writeLength(n, 0, 0, 0xc4);
      this.segments.push([this.pos - this.start, asBuffer(bytes)]);
      return;
    }
    this.ensure(n + 5);
    this.writeLength(n, 0, 0, 0xc4);
    this.buf.set(bytes, this.pos);
    this.pos += n;
  }

  /** Bytes of the binaries left out of the slab after `offset` (from `start`). */
  private segmentBytesAfter(offset: number): number {
    let n = 0;
    for (let i = this.segments.length - 1; i >= 0 && this.segments[i][0] > offset; i--) {
      n += this.segments[i][1].length;
    }
    return n;
  }

  /** The slab's bytes after `offset` moved by `delta`: so do the binaries that go there. */
  private shiftSegmentsAfter(offset: number, delta: number): void {
    for (let i = this.segments.length - 1; i >= 0 && this.segments[i][0] > offset; i--) {
      this.segments[i][0] += delta;
    }
  }

  private writeArray(items: unknown[], depth: number): void {
    const n = items.length;
    this.writeArrayHeader(n);
    let i = 0;
    try {
      for (; i < n; i++) {
        this.write(items[i], depth);
      }
    } catch (error) {
      throw at(error, `[${i}]`);
    }
  }

  private writeTuple(items: Tuple, depth: number): void {
    const begin = this.beginExt();
    this.writeArray(items, depth);
    this.endExt(begin, EXT_TUPLE);
  }

  private writeSet(type: number, items: Set<unknown>, depth: number): void {
    const begin = this.beginExt();
    this.writeArrayHeader(items.size);
    let i = 0;
    try {
      for (const item of items) {
        if (typeof item === 'object') {
          checkHashable(item, 'set member');
        }
        this.write(item, depth);
        i++;
      }
    } catch (error) {
      throw at(error, `.values()[${i}]`);
    }
    this.endExt(begin, type);
  }

  private writeMap(map: Map<unknown, unknown>, depth: number): void {
    this.writeMapHeader(map.size);
    let key: unknown;
    let i = 0;
    let inKey = false;
    try {
      for (const entry of map) {
        key = entry[0];
        inKey = true;
        if (typeof key === 'object') {
          checkHashable(key, 'dict key');
        }
        this.write(key, depth);
        inKey = false;
        this.write(entry[1], depth);
        i++;
      }
    } catch (error) {
      throw at(error, inKey ? `.keys()[${i}]` : `.get(${mapKeyLabel(key)})`);
    }
  }

  private writeRecord(record: Record<string, unknown>, depth: number): void {
    // Own enumerable string keys, like JSON; symbol keys are not data.
    const keys = Object.keys(record);
    const n = keys.length;
    this.writeMapHeader(n);
    let i = 0;
    try {
      for (; i < n; i++) {
        const key = keys[i];
        this.writeString(key);
        this.write(record[key], depth);
      }
    } catch (error) {
      throw at(error, keySegment(keys[i]));
    }
  }

  private writeComplex(value: Complex): void {
    // Always two float 64s: Python's complex parts are floats, and codec.py writes the same.
    this.ensure(22);
    const buf = this.buf;
    buf[this.pos] = 0xc7;
    buf[this.pos + 1] = 19;
    buf[this.pos + 2] = EXT_COMPLEX;
    buf[this.pos + 3] = 0x92;
    buf[this.pos + 4] = 0xcb;
    buf.writeDoubleBE(value.real, this.pos + 5);
    buf[this.pos + 13] = 0xcb;
    buf.writeDoubleBE(value.imag, this.pos + 14);
    this.pos += 22;
  }

  private writeExtHeader(type: number, len: number): void {
    this.ensure(6);
    const buf = this.buf;
    const fix = FIXEXT_HEAD[len];
    if (fix !== undefined) {
      buf[this.pos++] = fix;
    } else if (len < 0x100) {
      buf[this.pos++] = 0xc7;
      buf[this.pos++] = len;
    } else if (len < 0x10000) {
      buf[this.pos++] = 0xc8;
      buf.writeUInt16BE(len, this.pos);
      this.pos += 2;
    } else {
      buf[this.pos++] = 0xc9;
      buf.writeUInt32BE(len, this.pos);
      this.pos += 4;
    }
    buf[this.pos++] = type;
  }

  /**
   * Reserve an ext 8 header before data of unknown length. Returns its offset from `start`
   * (the buffer may be replaced while the data is written).
   */
  private beginExt(): number {
    this.ensure(3);
    const begin = this.pos - this.start;
    this.pos += 3;
    return begin;
  }

  /** Fill in the header reserved by `beginExt`, moving the data if another form is shorter or needed. */
  private endExt(begin: number, type: number): void {
    const outside = this.segments.length ? this.segmentBytesAfter(begin + 2) : 0;
    const len = this.pos - this.start - begin - 3 + outside;
    const fix = FIXEXT_HEAD[len];
    if (fix !== undefined) {
      const h = this.start + begin;
      this.buf.copyWithin(h + 2, h + 3, this.pos);
      this.pos -= 1;
      this.buf[h] = fix;
      this.buf[h + 1] = type;
    } else if (len < 0x100) {
      const h = this.start + begin;
      this.buf[h] = 0xc7;
      this.buf[h + 1] = len;
      this.buf[h + 2] = type;
    } else {
      const extra = len < 0x10000 ? 1 : 3;
      this.ensure(extra);
      const h = this.start + begin;
      this.buf.copyWithin(h + 3 + extra, h + 3, this.pos);
      this.pos += extra;
      if (outside) {
        this.shiftSegmentsAfter(begin + 2, extra);
      }
      if (extra === 1) {
        this.buf[h] = 0xc8;
        this.buf.writeUInt16BE(len, h + 1);
      } else {
        this.buf[h] = 0xc9;
        this.buf.writeUInt32BE(len, h + 1);
      }
      this.buf[h + 2 + extra] = type;
    }
  }
}

const MIN_SAFE_BIG = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;

/** Adds one path segment to an encoding failure on its way out. */
function at(error: unknown, segment: string): unknown {
  if (error instanceof Unencodable) {
    error.segments.push(segment);
  }
  return error;
}

const sharedWriter = new Writer();

function encodeWith(value: unknown, allowChannels: boolean, headroom: number): Buffer;
function encodeWith(
  value: unknown,
  allowChannels: boolean,
  headroom: number,
  segmented: true,
): Buffer[];
function encodeWith(
  value: unknown,
  allowChannels: boolean,
  headroom: number,
  segmented = false,
): Buffer | Buffer[] {
  // A getter inside the value may encode something itself: give it its own writer.
  const writer = sharedWriter.busy ? new Writer() : sharedWriter;
  writer.busy = true;
  writer.allowChannels = allowChannels;
  writer.segmented = segmented;
  writer.begin(headroom);
  try {
    writer.write(value, 0);
    return segmented ? writer.finishSegments() : writer.finish();
  } catch (error) {
    writer.abort();
    if (error instanceof Unencodable) {
      throw new DumpError(`cannot serialize: ${formatPath(error.segments)} ${error.message}`);
    }
    throw error;
  } finally {
    writer.busy = false;
  }
}

/** A failure to decode, with the offset it was found at. */
function corrupt(what: string, offset: number): DataFormatError {
  return new DataFormatError(`${what} at byte ${offset}`);
}

class Truncated extends Error {}

/**
 * One decode: a cursor over the input. Strings and small bins are copied out; bins of
 * `BIN_VIEW_MIN` bytes or more are views of the input (see `Codec.decode`).
 */
class Reader {
  pos: number;

  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly end: number,
    private readonly resolveChannel: ChannelResolver | undefined,
  ) {
    this.pos = start;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new Truncated(`needs ${this.pos + n - this.end} more byte(s) at byte ${this.pos}`);
    }
  }

  read(depth: number): unknown {
    if (this.pos >= this.end) {
      throw new Truncated(`ends where a value should start (byte ${this.pos})`);
    }
    const buf = this.buf;
    const b = buf[this.pos++];
    if (b < 0x80) {
      return b;
    }
    if (b >= 0xe0) {
      return b - 0x100;
    }
    if (b >= 0xa0 && b < 0xc0) {
      return this.readString(b & 0x1f);
    }
    if (b < 0x90) {
      return this.readMap(b & 0x0f, depth);
    }
    if (b < 0xa0) {
      return this.readArray(b & 0x0f, depth);
    }
    let v: number;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        this.need(1);
        return this.readBin(buf[this.pos++]);
      case 0xc5:
        this.need(2);
        v = buf.readUInt16BE(this.pos);
        this.pos += 2;
        return this.readBin(v);
      case 0xc6:
        this.need(4);
        v = buf.readUInt32BE(this.pos);
        this.pos += 4;
        return this.readBin(v);
      case 0xc7:
        this.need(1);
        return this.readExt(buf[this.pos++], depth);
      case 0xc8:
        this.need(2);
        v = buf.readUInt16BE(this.pos);
        this.pos += 2;
        return this.readExt(v, depth);
      case 0xc9:
        this.need(4);
        v = buf.readUInt32BE(this.pos);
        this.pos += 4;
        return this.readExt(v, depth);
      case 0xca:
        this.need(4);
        this.pos += 4;
        return buf.readFloatBE(this.pos - 4);
      case 0xcb:
        this.need(8);
        this.pos += 8;
        return buf.readDoubleBE(this.pos - 8);
      case 0xcc:
        this.need(1);
        return buf[this.pos++];
      case 0xcd:
        this.need(2);
        this.pos += 2;
        return buf.readUInt16BE(this.pos - 2);
      case 0xce:
        this.need(4);
        this.pos += 4;
        return buf.readUInt32BE(this.pos - 4);
      case 0xcf: {
        this.need(8);
        const hi = buf.readUInt32BE(this.pos);
        const lo = buf.readUInt32BE(this.pos + 4);
        this.pos += 8;
        // Below 2**53 the number is exact (a safe integer); above, a bigint keeps every digit.
        return hi < 0x200000 ? hi * TWO_32 + lo : buf.readBigUInt64BE(this.pos - 8);
      }
      case 0xd0:
        this.need(1);
        return buf.readInt8(this.pos++);
      case 0xd1:
        this.need(2);
        this.pos += 2;
        return buf.readInt16BE(this.pos - 2);
      case 0xd2:
        this.need(4);
        this.pos += 4;
        return buf.readInt32BE(this.pos - 4);
      case 0xd3: {
        this.need(8);
        const hi = buf.readInt32BE(this.pos);
        const lo = buf.readUInt32BE(this.pos + 4);
        this.pos += 8;
        // Safe integers are those with |n| < 2**53: -2**53 itself is not one.
        return hi >= -0x200000 && hi < 0x200000 && !(hi === -0x200000 && lo === 0)
          ? hi * TWO_32 + lo
          : buf.readBigInt64BE(this.pos - 8);
      }
      case 0xd4:
        return this.readExt(1, depth);
      case 0xd5:
        return this.readExt(2, depth);
      case 0xd6:
        return this.readExt(4, depth);
      case 0xd7:
        return this.readExt(8, depth);
      case 0xd8:
        return this.readExt(16, depth);
      case 0xd9:
        this.need(1);
        return this.readString(buf[this.pos++]);
      case 0xda:
        this.need(2);
        this.pos += 2;
        return this.readString(buf.readUInt16BE(this.pos - 2));
      case 0xdb:
        this.need(4);
        this.pos += 4;
        return this.readString(buf.readUInt32BE(this.pos - 4));
      case 0xdc:
        this.need(2);
        this.pos += 2;
        return this.readArray(buf.readUInt16BE(this.pos - 2), depth);
      case 0xdd:
        this.need(4);
        this.pos += 4;
        return this.readArray(buf.readUInt32BE(this.pos - 4), depth);
      case 0xde:
        this.need(2);
        this.pos += 2;
        return this.readMap(buf.readUInt16BE(this.pos - 2), depth);
      case 0xdf:
        this.need(4);
        this.pos += 4;
        return this.readMap(buf.readUInt32BE(this.pos - 4), depth);
      default:
        // 0xc1 is the one byte msgpack never uses.
        throw corrupt(`invalid msgpack byte 0x${b.toString(16)}`, this.pos - 1);
    }
  }

  private readString(n: number): string {
    this.need(n);
    const buf = this.buf;
    const start = this.pos;
    this.pos += n;
    if (n < 16) {
      // Short ASCII strings are cheaper to build here than through a native call.
      let s = '';
      for (let i = start; i < start + n; i++) {
        const c = buf[i];
        if (c >= 0x80) {
          return buf.toString('utf8', start, start + n);
        }
        s += String.fromCharCode(c);
      }
      return s;
    }
    return buf.toString('utf8', start, start + n);
  }

  private readBin(n: number): Buffer {
    this.need(n);
    const start = this.pos;
    this.pos += n;
    const view = this.buf.subarray(start, start + n);
    return n >= BIN_VIEW_MIN ? view : Buffer.from(view);
  }

  private enter(depth: number): number {
    if (depth >= MAX_DECODE_DEPTH) {
      throw corrupt(`containers nested deeper than ${MAX_DECODE_DEPTH} levels`, this.pos - 1);
    }
    return depth + 1;
  }

  private readArray(n: number, depth: number): unknown[] {
    const inner = this.enter(depth);
    // Each element takes at least a byte: a huge count in a short input is a truncation, and
    // must not allocate first.
    this.need(n);
    const items = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      items[i] = this.read(inner);
    }
    return items;
  }

  private readMap(n: number, depth: number): Map<unknown, unknown> {
    const inner = this.enter(depth);
    this.need(2 * n);
    const map = new Map<unknown, unknown>();
    for (let i = 0; i < n; i++) {
      const key = this.read(inner);
      map.set(key, this.read(inner));
    }
    return map;
  }

  /** The array inside a tuple/set/frozenset/complex ext, which must fill the ext's data exactly. */
  private readExtArray(type: number, dataEnd: number, depth: number, tuple = false): unknown[] {
    const at = this.pos;
    const b = this.buf[this.pos++];
    let n: number;
    if (b >= 0x90 && b < 0xa0) {
      n = b & 0x0f;
    } else if (b === 0xdc && this.pos + 2 <= dataEnd) {
      n = this.buf.readUInt16BE(this.pos);
      this.pos += 2;
    } else if (b === 0xdd && this.pos + 4 <= dataEnd) {
      n = this.buf.readUInt32BE(this.pos);
      this.pos += 4;
    } else {
      throw corrupt(`extension type ${type}: data is not a msgpack array`, at);
    }
    const items = this.readArray(n, depth);
    if (this.pos !== dataEnd) {
      throw corrupt(
        `extension type ${type}: its array ends at byte ${this.pos}, its data at byte ${dataEnd}`,
        at,
      );
    }
    return tuple ? asTuple(items) : items;
  }

  private readExt(len: number, depth: number): unknown {
    this.need(len + 1);
    const at = this.pos - 1;
    const type = this.buf[this.pos++];
    const dataEnd = this.pos + len;
    switch (type) {
      case EXT_TUPLE:
        return len > 0 ? this.readExtArray(type, dataEnd, depth, true) : this.badExt(type, at);
      case EXT_SET:
        return len > 0 ? new Set(this.readExtArray(type, dataEnd, depth)) : this.badExt(type, at);
      case EXT_FROZENSET:
        return len > 0
          ? new FrozenSet(this.readExtArray(type, dataEnd, depth))
          : this.badExt(type, at);
      case EXT_COMPLEX: {
        const parts = len > 0 ? this.readExtArray(type, dataEnd, depth) : [];
        if (parts.length !== 2 || typeof parts[0] !== 'number' || typeof parts[1] !== 'number') {
          throw corrupt('extension type 4 (complex): data is not [real, imag]', at);
        }
        return new Complex(parts[0], parts[1]);
      }
      case EXT_CHANNEL: {
        // an id is an int: anything else is refused before it is read (and could nest)
        const first = len > 0 ? this.buf[this.pos] : 0xc1;
        const id = first < 0x80 || (first >= 0xcc && first <= 0xd3) ? this.read(depth) : undefined;
        if (this.pos !== dataEnd || typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
          throw corrupt('extension type 5 (channel): data is not a channel id', at);
        }
        if (!this.resolveChannel) {
          throw corrupt(`channel reference (id ${id}) where no channels can be received`, at);
        }
        return this.resolveChannel(id);
      }
      case EXT_BIGINT:
        this.pos = dataEnd;
        return len > 0 ? readBigInt(this.buf, dataEnd - len, dataEnd) : this.badExt(type, at);
      default:
        throw corrupt(`unknown extension type ${type} (${len} bytes of data)`, at);
    }
  }

  private badExt(type: number, at: number): never {
    throw corrupt(`extension type ${type} with no data`, at);
  }
}

/** Bins at least this long decode as views of the input instead of copies. */
const BIN_VIEW_MIN = 4096;

function readBigInt(buf: Buffer, start: number, end: number): bigint {
  let v = BigInt(`0x${buf.toString('hex', start, end)}`);
  if (buf[start] & 0x80) {
    v -= 1n << BigInt(8 * (end - start));
  }
  return v;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function decodeWith(
  bytes: Uint8Array,
  start: number,
  resolveChannel: ChannelResolver | undefined,
  context: string,
): unknown {
  const buf = asBuffer(bytes);
  const reader = new Reader(buf, start, buf.length, resolveChannel);
  let value: unknown;
  try {
    value = reader.read(0);
  } catch (error) {
    if (error instanceof Truncated) {
      throw new DataFormatError(`${context}truncated data: the value ${error.message}`);
    }
    if (error instanceof DataFormatError) {
      throw new DataFormatError(`${context}${error.message}`);
    }
    if (error instanceof RangeError) {
      // the stack ran out below MAX_DECODE_DEPTH: the caller was deep in its own stack already
      throw new DataFormatError(
        `${context}containers nested too deeply to decode here (${error.message})`,
      );
    }
    throw error;
  }
  if (reader.pos !== buf.length) {
    throw new DataFormatError(
      `${context}trailing bytes: the value ends at byte ${reader.pos} of ${buf.length}`,
    );
  }
  return value;
}

/**
 * The codec of one gateway. `resolveChannel` turns incoming channel references into channels of
 * that gateway; without it, channels can be neither sent nor received.
 */
export class Codec {
  constructor(private readonly resolveChannel?: ChannelResolver) {}

  /**
   * The msgpack bytes of `value`; throws DumpError for anything outside the mapping.
   * `headroom` bytes of unspecified content come first, for a caller to fill with a header
   * without copying the payload. The result may share its ArrayBuffer with other results:
   * do not write to it beyond the headroom.
   */
  encode(value: unknown, headroom = 0): Buffer {
    return encodeWith(value, this.resolveChannel !== undefined, headroom);
  }

  /**
   * As `encode`, as the pieces to write one after the other: binaries of `SEGMENT_MIN` bytes or
   * more are pieces of their own, the caller's memory itself rather than a copy, so they must
   * not change until the pieces are written. `headroom` is at the start of the first piece.
   */
  encodeSegments(value: unknown, headroom = 0): Buffer[] {
    return encodeWith(value, this.resolveChannel !== undefined, headroom, true);
  }

  /**
   * The value in `bytes`, which must hold exactly one msgpack value; DataFormatError otherwise.
   * Bins of 4 KiB or more come back as views of `bytes`, so `bytes` must not change afterwards.
   */
  decode(bytes: Uint8Array): unknown {
    return decodeWith(bytes, 0, this.resolveChannel, '');
  }
}

/** Serialize a value for storage or another process: a version byte, then msgpack. */
export function dumps(value: unknown): Buffer {
  const out = encodeWith(value, false, 1);
  out[0] = DUMPS_FORMAT_VERSION;
  return out;
}

/** The inverse of `dumps` (and of codec.py's `dumps`); DataFormatError names what is wrong. */
export function loads(bytes: Uint8Array): unknown {
  if (bytes.length === 0) {
    throw new DataFormatError('loads: empty input (expected a version byte and a value)');
  }
  if (bytes[0] !== DUMPS_FORMAT_VERSION) {
    throw new DataFormatError(
      `loads: format version ${bytes[0]} is not supported (this side reads version ${DUMPS_FORMAT_VERSION})`,
    );
  }
  return decodeWith(bytes, 1, undefined, 'loads: ');
}
