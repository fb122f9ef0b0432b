// Python-style repr of the values a channel carries (docs/protocol.md, "Values"), for the CLI and
// the editor's output channel: `(1, 'x')`, `{1: b'\x00'}`, `frozenset({2})`, `(1+2j)`, `None`.
// Integral numbers print as ints: after the wire, `1.0` and `1` are the same JavaScript number.

import { ChannelReference, Complex, Float, FrozenSet, Tuple } from './serializer';

/** Python's repr() of a value received from (or to be sent to) the remote. */
export function formatValue(value: unknown): string {
  return repr(value, new Set());
}

function repr(value: unknown, active: Set<object>): string {
  if (value === null || value === undefined) {
    return 'None';
  }
  switch (typeof value) {
    case 'boolean':
      return value ? 'True' : 'False';
    case 'number':
      return formatNumber(value);
    case 'bigint':
      return value.toString();
    case 'string':
      return formatStr(value);
    case 'object':
      break;
    default:
      return String(value);
  }
  if (value instanceof Uint8Array) {
    return formatBytes(value);
  }
  if (value instanceof Float) {
    return formatFloat(value.value);
  }
  if (value instanceof Complex) {
    return formatComplex(value);
  }
  if (value instanceof ChannelReference) {
    return String(value);
  }
  // A container that contains itself prints as Python does: `[1, [...]]`.
  if (active.has(value)) {
    return value instanceof Map || value instanceof Set || !Array.isArray(value)
      ? '{...}'
      : '[...]';
  }
  active.add(value);
  try {
    return formatContainer(value, active);
  } finally {
    active.delete(value);
  }
}

function formatContainer(value: object, active: Set<object>): string {
  const items = (values: Iterable<unknown>): string =>
    Array.from(values, (v) => repr(v, active)).join(', ');
  if (value instanceof Tuple) {
    return value.length === 1 ? `(${repr(value[0], active)},)` : `(${items(value)})`;
  }
  if (Array.isArray(value)) {
    return `[${items(value)}]`;
  }
  if (value instanceof FrozenSet) {
    return value.size === 0 ? 'frozenset()' : `frozenset({${items(value)}})`;
  }
  if (value instanceof Set) {
    return value.size === 0 ? 'set()' : `{${items(value)}}`;
  }
  const entries: Iterable<[unknown, unknown]> | undefined =
    value instanceof Map
      ? value.entries()
      : Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null
        ? Object.entries(value)
        : undefined;
  if (entries === undefined) {
    return String(value);
  }
  const parts = Array.from(entries, ([k, v]) => `${repr(k, active)}: ${repr(v, active)}`);
  return `{${parts.join(', ')}}`;
}

/**
 * Integral numbers within the safe range came from Python ints (or integral floats, which the
 * wire cannot tell apart); anything else is a float and gets float's repr.
 */
function formatNumber(n: number): string {
  if (Number.isSafeInteger(n) && !Object.is(n, -0)) {
    return String(n);
  }
  return formatFloat(n);
}

/** Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
function formatFloat(n: number, forceDot = true): string {
  if (Number.isNaN(n)) {
    return 'nan';
  }
  if (!Number.isFinite(n)) {
    return n < 0 ? '-inf' : 'inf';
  }
  const sign = n < 0 || Object.is(n, -0) ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip, as repr does.
  const [mantissa, exp] = Math.abs(n).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const ee = Math.abs(e) < 10 ? `0${Math.abs(e)}` : String(Math.abs(e));
    return `${sign}${m}e${e < 0 ? '-' : '+'}${ee}`;
  }
  let text: string;
  if (e < 0) {
    text = `0.${'0'.repeat(-e - 1)}${digits}`;
  } else if (digits.length > e + 1) {
    text = `${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
  } else {
    text = digits + '0'.repeat(e + 1 - digits.length) + (forceDot ? '.0' : '');
  }
  return sign + text;
}

/** `(1+2j)`, `2j`, `(-0-1j)`: the parts without a forced `.0`, as Python's complex repr does. */
function formatComplex(c: Complex): string {
  const imag = `${formatFloat(c.imag, false)}j`;
  if (c.real === 0 && !Object.is(c.real, -0)) {
    return imag;
  }
  const imagSigned = /^[-]/.test(imag) ? imag : `+${imag}`;
  return `(${formatFloat(c.real, false)}${imagSigned})`;
}

/** Python picks single quotes unless the text holds a `'` and no `"`. */
function pickQuote(hasSingle: boolean, hasDouble: boolean): string {
  return hasSingle && !hasDouble ? '"' : "'";
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

// What str.isprintable() refuses: other (control, format, surrogate, private, unassigned) and
// separator characters, except the plain space.
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

function formatStr(text: string): string {
  const quote = pickQuote(text.includes("'"), text.includes('"'));
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (ch === quote) {
      out += `\\${ch}`;
    } else if (SIMPLE_ESCAPES[ch] !== undefined) {
      out += SIMPLE_ESCAPES[ch];
    } else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      out += hexEscape(code);
    } else {
      out += ch;
    }
  }
  return out + quote;
}

function hexEscape(code: number): string {
  if (code < 0x100) {
    return `\\x${code.toString(16).padStart(2, '0')}`;
  }
  if (code < 0x10000) {
    return `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return `\\U${code.toString(16).padStart(8, '0')}`;
}

function formatBytes(bytes: Uint8Array): string {
  const quote = pickQuote(bytes.includes(0x27), bytes.includes(0x22));
  const quoteCode = quote.charCodeAt(0);
  let out = `b${quote}`;
  for (const byte of bytes) {
    const ch = String.fromCharCode(byte);
    if (byte === quoteCode) {
      out += `\\${quote}`;
    } else if (SIMPLE_ESCAPES[ch] !== undefined) {
      out += SIMPLE_ESCAPES[ch];
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += hexEscape(byte);
    } else {
      out += ch;
    }
  }
  return out + quote;
}
