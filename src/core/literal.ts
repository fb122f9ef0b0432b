// Python literals typed by a user (`(1, 'x')`, `{'a': [1.5, None]}`, `b'\x00'`, `1+2j`), parsed
// into the values a channel sends (docs/protocol.md, "Values"): what `ast.literal_eval` accepts,
// minus operators other than a sign and real±imaginary. Errors name the column where it went wrong.

import { ExecnetError } from './errors';
import { Complex, Float, FrozenSet, Tuple } from './serializer';

/** Text that is not a Python literal; `column` is 1-based, as an editor shows it. */
export class LiteralError extends ExecnetError {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(`${message} (column ${column})`);
  }
}

/** Parse one Python literal; a bare `1, 2` is a tuple, as in Python. Throws LiteralError. */
export function parsePythonLiteral(text: string): unknown {
  const parser = new Parser(text);
  parser.skipSpace();
  if (parser.atEnd()) {
    throw new LiteralError('expected a Python value such as 42, "text", (1, 2) or None', 1);
  }
  const value = parser.expression(true);
  parser.skipSpace();
  if (!parser.atEnd()) {
    throw parser.error(`unexpected '${parser.peekToken()}' after the value`);
  }
  return value;
}

/** The LiteralError message for text that is not a literal, or undefined: for as-you-type checks. */
export function validatePythonLiteral(text: string): string | undefined {
  try {
    parsePythonLiteral(text);
    return undefined;
  } catch (error) {
    if (error instanceof LiteralError) {
      return error.message;
    }
    throw error;
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER =
  /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?)[jJ]?/y;

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  error(message: string, at = this.pos): LiteralError {
    return new LiteralError(message, at + 1);
  }

  peekToken(): string {
    const rest = this.text.slice(this.pos);
    NAME.lastIndex = 0;
    const name = NAME.exec(rest);
    return name ? name[0] : rest.charAt(0);
  }

  /** Spaces, newlines (the user may paste several lines) and comments. */
  skipSpace(): void {
    for (;;) {
      const c = this.text.charAt(this.pos);
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
        this.pos++;
      } else if (c === '\\' && /^\\\r?\n/.test(this.text.slice(this.pos, this.pos + 3))) {
        this.pos += this.text.charAt(this.pos + 1) === '\r' ? 3 : 2;
      } else if (c === '#') {
        const nl = this.text.indexOf('\n', this.pos);
        this.pos = nl < 0 ? this.text.length : nl;
      } else {
        return;
      }
    }
  }

  /** A value, or (where `bareTuple`) values separated by commas: a tuple without parentheses. */
  expression(bareTuple: boolean): unknown {
    const first = this.value();
    if (!bareTuple) {
      return first;
    }
    this.skipSpace();
    if (this.text.charAt(this.pos) !== ',') {
      return first;
    }
    const items = [first];
    while (this.text.charAt(this.pos) === ',') {
      this.pos++;
      this.skipSpace();
      if (this.atEnd() || this.text.charAt(this.pos) === ')') {
        break;
      }
      items.push(this.value());
      this.skipSpace();
    }
    return Tuple.from(items);
  }

  private value(): unknown {
    this.skipSpace();
    const start = this.pos;
    const c = this.text.charAt(this.pos);
    if (c === '') {
      throw this.error('the value ends too early: expected a value');
    }
    if (c === '+' || c === '-' || /[0-9.]/.test(c)) {
      return this.numberExpression();
    }
    if (c === '(') {
      return this.parenthesized();
    }
    if (c === '[') {
      this.pos++;
      return this.sequence(']', start);
    }
    if (c === '{') {
      return this.braces();
    }
    if (c === '"' || c === "'") {
      return this.strings();
    }
    NAME.lastIndex = this.pos;
    const name = NAME.exec(this.text);
    if (name) {
      const word = name[0];
      if (
        /^(?:[rRuUbB]|[bB][rR]|[rR][bB])$/.test(word) &&
        /["']/.test(this.text.charAt(NAME.lastIndex))
      ) {
        return this.strings();
      }
      if (/^(?:[fF][rR]?|[rR][fF])$/.test(word) && /["']/.test(this.text.charAt(NAME.lastIndex))) {
        throw this.error('f-strings are not literals: write the value itself', start);
      }
      this.pos = NAME.lastIndex;
      switch (word) {
        case 'None':
          return null;
        case 'True':
          return true;
        case 'False':
          return false;
        case 'set':
        case 'frozenset':
        case 'tuple':
        case 'list':
        case 'dict': {
          this.skipSpace();
          if (this.text.startsWith('()', this.pos)) {
            this.pos += 2;
            return emptyOf(word);
          }
          break;
        }
        default:
          break;
      }
      throw this.error(
        `'${word}' is not a literal: use None, True, False, numbers, strings, bytes, tuples, lists, dicts or sets`,
        start,
      );
    }
    throw this.error(`unexpected '${c}': expected a value`);
  }

  /** A number with an optional sign, or a complex `real ± imag j`. */
  private numberExpression(): number | bigint | Float | Complex {
    const first = this.signedNumber();
    // `1+2j` and `-1.5-0.5j` (ast.literal_eval allows exactly this operator form)
    const save = this.pos;
    this.skipSpace();
    const op = this.text.charAt(this.pos);
    if ((op === '+' || op === '-') && !(first instanceof Complex)) {
      this.pos++;
      this.skipSpace();
      const opAt = this.pos;
      const second = this.unsignedNumber();
      if (!(second instanceof Complex)) {
        throw this.error('only a complex number may follow + or - (as in 1+2j)', opAt);
      }
      const real = Number(first);
      return new Complex(real, op === '-' ? -second.imag : second.imag);
    }
    this.pos = save;
    return first;
  }

  private signedNumber(): number | bigint | Float | Complex {
    let negative = false;
    for (;;) {
      const c = this.text.charAt(this.pos);
      if (c === '-') {
        negative = !negative;
      } else if (c !== '+') {
        break;
      }
      this.pos++;
      this.skipSpace();
    }
    const n = this.unsignedNumber();
    if (!negative) {
      return n;
    }
    if (n instanceof Complex) {
      return new Complex(-n.real, -n.imag);
    }
    if (n instanceof Float) {
      return new Float(-n.value);
    }
    return typeof n === 'bigint' ? -n : -n;
  }

  private unsignedNumber(): number | bigint | Float | Complex {
    const start = this.pos;
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match || match[0] === '' || match[0] === '.') {
      throw this.error('expected a number', start);
    }
    this.pos = NUMBER.lastIndex;
    if (/[A-Za-z0-9_]/.test(this.text.charAt(this.pos))) {
      throw this.error(`invalid number '${match[0]}${this.peekToken()}'`, start);
    }
    let literal = match[0].replace(/_/g, '');
    const imaginary = /[jJ]$/.test(literal);
    if (imaginary) {
      literal = literal.slice(0, -1);
      return new Complex(0, Number(literal));
    }
    if (/^0[xXoObB]/.test(literal)) {
      return integer(BigInt(literal));
    }
    if (/[.eE]/.test(literal)) {
      // 2.0 stays a float in Python: a bare integral number would be sent as an int
      const n = Number(literal);
      return Number.isInteger(n) ? new Float(n) : n;
    }
    if (/^0+[1-9]/.test(literal)) {
      throw this.error(
        `leading zeros are not allowed in '${match[0]}' (for octal write 0o…)`,
        start,
      );
    }
    return integer(BigInt(literal));
  }

  private parenthesized(): unknown {
    const open = this.pos;
    this.pos++;
    this.skipSpace();
    if (this.atEnd()) {
      throw this.unclosed('(', open, ')');
    }
    if (this.text.charAt(this.pos) === ')') {
      this.pos++;
      return Tuple.of();
    }
    const first = this.value();
    this.skipSpace();
    const c = this.text.charAt(this.pos);
    if (c === ')') {
      this.pos++;
      return first;
    }
    if (c !== ',') {
      throw this.unclosed('(', open, ')');
    }
    this.pos++; // ','
    const rest = this.sequence(')', open);
    return Tuple.of(first, ...rest);
  }

  /** Items up to `close`: after the opening bracket at `open` (or after a tuple's first item). */
  private sequence(close: string, open: number): unknown[] {
    const items: unknown[] = [];
    this.skipSpace();
    while (this.text.charAt(this.pos) !== close) {
      if (this.atEnd()) {
        throw this.unclosed(close === ']' ? '[' : '(', open, close);
      }
      items.push(this.value());
      this.skipSpace();
      const c = this.text.charAt(this.pos);
      if (c === ',') {
        this.pos++;
        this.skipSpace();
      } else if (c !== close) {
        throw this.unclosed(close === ']' ? '[' : '(', open, close);
      }
    }
    this.pos++;
    return items;
  }

  private braces(): Map<unknown, unknown> | Set<unknown> {
    const open = this.pos;
    this.pos++;
    this.skipSpace();
    if (this.atEnd()) {
      throw this.unclosed('{', open, '}');
    }
    if (this.text.charAt(this.pos) === '}') {
      this.pos++;
      return new Map();
    }
    const firstAt = this.pos;
    const first = this.value();
    this.skipSpace();
    if (this.text.charAt(this.pos) === ':') {
      const map = new Map<unknown, unknown>();
      let key = first;
      let keyAt = firstAt;
      for (;;) {
        this.pos++; // ':'
        checkHashable(key, keyAt, 'a dict key');
        map.set(key, this.value());
        if (this.endOfItem('{', open, '}')) {
          return map;
        }
        keyAt = this.pos;
        key = this.value();
        this.skipSpace();
        if (this.text.charAt(this.pos) !== ':') {
          throw this.error("expected ':' after the dict key");
        }
      }
    }
    const set = new Set<unknown>();
    let item = first;
    let itemAt = firstAt;
    for (;;) {
      checkHashable(item, itemAt, 'a set member');
      set.add(item);
      if (this.endOfItem('{', open, '}')) {
        return set;
      }
      itemAt = this.pos;
      item = this.value();
    }
  }

  /** After an item: a ',' (a trailing one too) or the close. True once the close is taken. */
  private endOfItem(openChar: string, open: number, close: string): boolean {
    this.skipSpace();
    const c = this.text.charAt(this.pos);
    if (c === ',') {
      this.pos++;
      this.skipSpace();
    }
    if (this.text.charAt(this.pos) === close) {
      this.pos++;
      return true;
    }
    if (c !== ',') {
      throw this.unclosed(openChar, open, close);
    }
    return false;
  }

  private unclosed(open: string, at: number, close: string): LiteralError {
    if (this.atEnd()) {
      return this.error(`'${open}' at column ${at + 1} is never closed: add '${close}'`);
    }
    return this.error(`expected ',' or '${close}', found '${this.peekToken()}'`);
  }

  /** Adjacent string literals concatenate, as in Python; str and bytes cannot mix. */
  private strings(): string | Buffer {
    const start = this.pos;
    const parts: Array<string | Buffer> = [];
    let bytes: boolean | undefined;
    for (;;) {
      const partAt = this.pos;
      const part = this.stringLiteral();
      const isBytes = Buffer.isBuffer(part);
      if (bytes !== undefined && bytes !== isBytes) {
        throw this.error('cannot mix bytes and str literals', partAt);
      }
      bytes = isBytes;
      parts.push(part);
      const save = this.pos;
      this.skipSpace();
      NAME.lastIndex = this.pos;
      const prefix = NAME.exec(this.text);
      const next = prefix ? NAME.lastIndex : this.pos;
      const quote = this.text.charAt(next);
      if (
        (quote === '"' || quote === "'") &&
        (!prefix || /^(?:[rRuUbB]|[bB][rR]|[rR][bB])$/.test(prefix[0]))
      ) {
        continue;
      }
      this.pos = save;
      break;
    }
    if (this.pos === start) {
      throw this.error('expected a string');
    }
    return bytes ? Buffer.concat(parts as Buffer[]) : (parts as string[]).join('');
  }

  private stringLiteral(): string | Buffer {
    const start = this.pos;
    NAME.lastIndex = this.pos;
    const prefixMatch = NAME.exec(this.text);
    let prefix = '';
    if (prefixMatch && /["']/.test(this.text.charAt(NAME.lastIndex))) {
      prefix = prefixMatch[0].toLowerCase();
      this.pos = NAME.lastIndex;
    }
    const raw = prefix.includes('r');
    const bytes = prefix.includes('b');
    const q = this.text.charAt(this.pos);
    const triple = this.text.startsWith(q.repeat(3), this.pos);
    const quote = triple ? q.repeat(3) : q;
    this.pos += quote.length;
    let out = '';
    for (;;) {
      if (this.atEnd()) {
        throw this.error('unterminated string: add the closing quote', start);
      }
      if (this.text.startsWith(quote, this.pos)) {
        this.pos += quote.length;
        break;
      }
      const c = this.text.charAt(this.pos);
      if (!triple && (c === '\n' || c === '\r')) {
        throw this.error('unterminated string: a line break inside quotes needs """…"""', start);
      }
      if (c !== '\\') {
        if (bytes && c.charCodeAt(0) > 0x7f) {
          throw this.error('bytes literals can only contain ASCII characters');
        }
        out += c;
        this.pos++;
        continue;
      }
      const next = this.text.charAt(this.pos + 1);
      if (next === '') {
        throw this.error('unterminated string: add the closing quote', start);
      }
      if (raw) {
        // a raw string keeps the backslash; it only stops the quote from ending the string
        out += c + next;
        this.pos += 2;
        continue;
      }
      out += this.escape(bytes);
    }
    if (bytes) {
      return Buffer.from(out, 'latin1');
    }
    return out;
  }

  /** One escape sequence at `pos` (the backslash), as a character (a byte value for bytes). */
  private escape(bytes: boolean): string {
    const at = this.pos;
    const next = this.text.charAt(this.pos + 1);
    this.pos += 2;
    if (next in SIMPLE_ESCAPES) {
      return SIMPLE_ESCAPES[next];
    }
    if (next === '\n') {
      return '';
    }
    if (next === '\r') {
      if (this.text.charAt(this.pos) === '\n') {
        this.pos++;
      }
      return '';
    }
    if (/[0-7]/.test(next)) {
      let digits = next;
      while (digits.length < 3 && /[0-7]/.test(this.text.charAt(this.pos))) {
        digits += this.text.charAt(this.pos++);
      }
      const code = parseInt(digits, 8);
      return String.fromCharCode(bytes ? code & 0xff : code);
    }
    const hexLength =
      next === 'x' ? 2 : !bytes && next === 'u' ? 4 : !bytes && next === 'U' ? 8 : 0;
    if (hexLength > 0) {
      const digits = this.text.slice(this.pos, this.pos + hexLength);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLength}}$`).test(digits)) {
        throw this.error(`truncated \\${next} escape: it needs ${hexLength} hex digits`, at);
      }
      this.pos += hexLength;
      const code = parseInt(digits, 16);
      if (code > 0x10ffff) {
        throw this.error(`\\${next}${digits} is beyond the last Unicode character`, at);
      }
      return String.fromCodePoint(code);
    }
    if (next === 'N' && !bytes) {
      throw this.error('\\N{…} escapes are not supported here: write the character itself', at);
    }
    // Python keeps unknown escapes as they are
    return '\\' + next;
  }
}

/** A safe integer as a number, a larger one as a bigint (as the codec does). */
function integer(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n)
    : n;
}

function emptyOf(word: string): unknown {
  switch (word) {
    case 'set':
      return new Set();
    case 'frozenset':
      return new FrozenSet();
    case 'tuple':
      return Tuple.of();
    case 'list':
      return [];
    default:
      return new Map();
  }
}

function pythonType(value: unknown): string {
  if (Array.isArray(value)) {
    return 'list';
  }
  if (value instanceof Map) {
    return 'dict';
  }
  return 'set';
}

/** Python refuses lists, dicts and sets as dict keys and set members (also inside a tuple). */
function checkHashable(value: unknown, at: number, what: string): void {
  const unhashable = (v: unknown): boolean =>
    v instanceof Tuple
      ? v.some(unhashable)
      : Array.isArray(v) || v instanceof Map || (v instanceof Set && !(v instanceof FrozenSet));
  if (unhashable(value)) {
    const found =
      value instanceof Tuple ? 'a tuple holding a list, dict or set' : pythonType(value);
    throw new LiteralError(`${what} must be hashable, not ${found}`, at + 1);
  }
}
