// serializer.ts against codec.py, on every Python found (3.6 to 3.13 here) and through both of
// codec.py's paths: pure Python, and the msgpack C extension where an interpreter has it
// (Debian's python3-msgpack for /usr/bin/python3). Each value crosses in both directions, and
// codec.py must re-encode what it decoded to exactly the bytes serializer.ts wrote.

import * as assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ChannelReference,
  Codec,
  Complex,
  Float,
  FrozenSet,
  MAX_ENCODE_DEPTH,
  Tuple,
  dumps,
  loads,
} from '../../src/core/serializer';
import { defaultPython, findPythons } from '../helpers/pythons';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'codec_echo.py');
const CODEC_PY = path.join(ROOT, 'src', 'core', 'remote', 'codec.py');

class FakeChannel extends ChannelReference {
  constructor(readonly id: number) {
    super();
  }
}

const channels = new Map<number, FakeChannel>();
function channel(id: number): FakeChannel {
  let found = channels.get(id);
  if (!found) {
    found = new FakeChannel(id);
    channels.set(id, found);
  }
  return found;
}
const codec = new Codec(channel);

interface Reply {
  readonly ok: boolean;
  /** repr() of the value, or "ExceptionType: message". */
  readonly text: string;
  readonly data: Buffer;
}

/** codec_echo.py in a child process; requests are answered in order. */
class EchoPeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private pending = Buffer.alloc(0);
  private readonly waiters: { resolve(reply: Reply): void; reject(error: Error): void }[] = [];
  private stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(
    readonly python: string,
    readonly mode: 'pure' | 'c',
  ) {
    // PYTHONHASHSEED pins set and dict-of-str orders, so reprs are stable.
    this.child = spawn(python, [FIXTURE, CODEC_PY, mode], {
      env: { ...process.env, PYTHONHASHSEED: '0' },
    });
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('close', resolve));
    void this.exited.then((code) => {
      const error = new Error(`${python} codec_echo.py ${mode} exited (${code}): ${this.stderr}`);
      for (const waiter of this.waiters.splice(0)) {
        waiter.reject(error);
      }
    });
  }

  private onData(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 4) {
      const size = this.pending.readUInt32BE(0);
      if (this.pending.length < 4 + size) {
        return;
      }
      const frame = this.pending.subarray(4, 4 + size);
      this.pending = this.pending.subarray(4 + size);
      const waiter = this.waiters.shift();
      try {
        const [status, text, data] = codec.decode(frame) as [string, string, Buffer];
        waiter?.resolve({ ok: status === 'ok', text, data });
      } catch (error) {
        waiter?.reject(error as Error);
      }
    }
  }

  request(command: 'e' | 'p' | 'D' | 'L', argument: Uint8Array | string): Promise<Reply> {
    const body = typeof argument === 'string' ? Buffer.from(argument, 'utf8') : argument;
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length + 1, 0);
    head.write(command, 4, 'latin1');
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.child.stdin.write(Buffer.concat([head, body]));
    });
  }

  /** Python's answer to a value sent from here: its repr and its re-encoding. */
  async echo(value: unknown): Promise<Reply> {
    const reply = await this.request('e', codec.encode(value));
    assert.ok(reply.ok, `Python could not decode ${show(value)}: ${reply.text}`);
    return reply;
  }

  async close(): Promise<void> {
    this.child.stdin.end(Buffer.alloc(4));
    const code = await this.exited;
    assert.equal(code, 0, `codec_echo.py exited with ${code}: ${this.stderr}`);
  }
}

function show(value: unknown): string {
  const text = String(
    typeof value === 'bigint'
      ? `${value}n`
      : Array.isArray(value)
        ? `[${value.length} items]`
        : value,
  );
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

interface Case {
  readonly name: string;
  readonly value: unknown;
  /** Python's repr of the decoded value; a RegExp where the repr is long. */
  readonly repr: string | RegExp;
  /** What the echo decodes to here, when not the value itself. */
  readonly back?: unknown;
}

function nested(levels: number, wrap: (inner: unknown) => unknown, innermost: unknown): unknown {
  let value = innermost;
  for (let i = 1; i < levels; i++) {
    value = wrap(value);
  }
  return value;
}

const D = MAX_ENCODE_DEPTH;
const sixteen = Array.from({ length: 15 }, () => 0);

const CASES: Case[] = [
  { name: 'null', value: null, repr: 'None' },
  { name: 'undefined', value: undefined, repr: 'None', back: null },
  { name: 'true', value: true, repr: 'True' },
  { name: 'false', value: false, repr: 'False' },
  ...[0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128]
    .concat([-129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53) + 1])
    .map((n) => ({ name: `the int ${n}`, value: n, repr: String(n) })),
  { name: 'the integral number 2**53', value: 2 ** 53, repr: '9007199254740992', back: 2n ** 53n },
  { name: 'the integral number 2**63', value: 2 ** 63, repr: String(2n ** 63n), back: 2n ** 63n },
  { name: 'the number 2**64 (a float)', value: 2 ** 64, repr: '1.8446744073709552e+19' },
  { name: 'a small bigint', value: 5n, repr: '5', back: 5 },
  { name: '2n**64n - 1n', value: 2n ** 64n - 1n, repr: String(2n ** 64n - 1n) },
  { name: '-(2n**63n)', value: -(2n ** 63n), repr: String(-(2n ** 63n)) },
  { name: '2n**64n', value: 2n ** 64n, repr: '18446744073709551616' },
  { name: '-(2n**63n) - 1n', value: -(2n ** 63n) - 1n, repr: '-9223372036854775809' },
  { name: '2n**200n', value: 2n ** 200n, repr: String(2n ** 200n) },
  { name: '-(2n**200n)', value: -(2n ** 200n), repr: String(-(2n ** 200n)) },
  { name: '1.5', value: 1.5, repr: '1.5' },
  { name: '-0', value: -0, repr: '-0.0' },
  { name: 'Float(2)', value: new Float(2), repr: '2.0', back: 2 },
  { name: 'Float(2**63)', value: new Float(2 ** 63), repr: '9.223372036854776e+18', back: 2 ** 63 },
  { name: 'NaN', value: NaN, repr: 'nan' },
  { name: '-Infinity', value: -Infinity, repr: '-inf' },
  { name: 'a tiny float', value: 5e-324, repr: '5e-324' },
  { name: 'an empty string', value: '', repr: "''" },
  { name: 'a non-ASCII string', value: 'ü日本😀', repr: "'ü日本😀'" },
  { name: 'a 40-char string', value: 'x'.repeat(40), repr: `'${'x'.repeat(40)}'` },
  { name: 'a 70000-char string', value: 'y'.repeat(70000), repr: /^'y{70000}'$/ },
  { name: 'a Buffer', value: Buffer.from('ab'), repr: "b'ab'" },
  {
    name: 'a Uint8Array',
    value: new Uint8Array([0, 255]),
    repr: "b'\\x00\\xff'",
    back: Buffer.from([0, 255]),
  },
  { name: 'a 70000-byte Buffer', value: Buffer.alloc(70000, 0x61), repr: /^b'a{70000}'$/ },
  { name: 'an empty Array', value: [], repr: '[]' },
  { name: 'an Array', value: [1, 'a', null, [true]], repr: "[1, 'a', None, [True]]" },
  {
    name: 'a 20-item Array',
    value: Array.from({ length: 20 }, (_, i) => i),
    repr: `[${Array.from({ length: 20 }, (_, i) => i).join(', ')}]`,
  },
  { name: 'an empty Tuple', value: Tuple.of(), repr: '()' },
  { name: 'a 1-Tuple', value: Tuple.of(1), repr: '(1,)' },
  { name: 'a Tuple', value: Tuple.of(1, 'x'), repr: "(1, 'x')" },
  {
    name: 'the hot-path Tuple',
    value: Tuple.of(70000, 'x'.repeat(16)),
    repr: `(70000, '${'x'.repeat(16)}')`,
  },
  {
    name: 'a 300-item Tuple (ext 16)',
    value: Tuple.from(Array.from({ length: 300 }, () => 7)),
    repr: `(${Array(300).fill('7').join(', ')})`,
  },
  {
    name: 'a Tuple over 64 KiB (ext 32)',
    value: Tuple.of('z'.repeat(70000)),
    repr: /^\('z{70000}',\)$/,
  },
  { name: 'nested Tuples', value: Tuple.of(Tuple.of(1), [Tuple.of()]), repr: '((1,), [()])' },
  {
    name: 'a Map with Tuple keys',
    value: new Map([[Tuple.of(1, 2), Buffer.from('ab')]]),
    repr: "{(1, 2): b'ab'}",
  },
  {
    name: 'a Map with int and bigint keys',
    value: new Map<unknown, unknown>([
      [1, 'a'],
      [2n ** 70n, null],
    ]),
    repr: "{1: 'a', 1180591620717411303424: None}",
  },
  {
    name: 'a Map with a FrozenSet key',
    value: new Map([[new FrozenSet([1]), 0]]),
    repr: '{frozenset({1}): 0}',
  },
  {
    name: 'a plain object',
    value: { a: 1, 'b c': [true] },
    repr: "{'a': 1, 'b c': [True]}",
    back: new Map<unknown, unknown>([
      ['a', 1],
      ['b c', [true]],
    ]),
  },
  {
    name: 'a 20-entry Map',
    value: new Map(Array.from({ length: 20 }, (_, i) => [i, i])),
    repr: `{${Array.from({ length: 20 }, (_, i) => `${i}: ${i}`).join(', ')}}`,
  },
  { name: 'an empty Set', value: new Set(), repr: 'set()' },
  { name: 'a Set', value: new Set([1]), repr: '{1}' },
  { name: 'an empty FrozenSet', value: new FrozenSet(), repr: 'frozenset()' },
  { name: 'a FrozenSet', value: new FrozenSet([1]), repr: 'frozenset({1})' },
  { name: 'a Complex', value: new Complex(1, 2), repr: '(1+2j)' },
  { name: 'an imaginary Complex', value: new Complex(0, -1.5), repr: '-1.5j' },
  { name: 'a channel', value: channel(7), repr: '<Channel 7>' },
  {
    name: 'a channel inside a Tuple',
    value: Tuple.of('ch', channel(9)),
    repr: "('ch', <Channel 9>)",
  },
  {
    name: 'a list of 1000 hot-path Tuples',
    value: Array.from({ length: 1000 }, (_, i) => Tuple.of(i, 'x'.repeat(16))),
    repr: /^\[\(0, 'x{16}'\), \(1, 'x{16}'\), .*\(999, 'x{16}'\)\]$/,
  },
  {
    name: `${D} nested Arrays`,
    value: nested(D, (v) => [v], []),
    repr: '['.repeat(D) + ']'.repeat(D),
  },
  {
    name: `${D} nested Tuples`,
    value: nested(D, (v) => Tuple.of(v), Tuple.of()),
    repr: /^\({200}\)(,\)){199}$/,
  },
  {
    name: `${D} nested 16-item Tuples`,
    value: nested(D, (v) => Tuple.of(v, ...sixteen), Tuple.of()),
    repr: /^\(\(\(/,
  },
  {
    name: `${D} nested Maps`,
    value: nested(D, (v) => new Map([[1, v]]), new Map()),
    repr: /^(\{1: ){199}\{\}\}/,
  },
  {
    name: `${D} nested FrozenSets`,
    value: nested(D, (v) => new FrozenSet([v]), new FrozenSet()),
    repr: /^(frozenset\(\{){199}frozenset\(\)/,
  },
];

/** Python sources and what they must decode to here. */
const FROM_PYTHON: [string, unknown][] = [
  ['{1: (2, 3)}', new Map([[1, Tuple.of(2, 3)]])],
  ['2**100', 2n ** 100n],
  ['-2**100', -(2n ** 100n)],
  ['2**64', 2n ** 64n],
  ['2**64 - 1', 2n ** 64n - 1n],
  ['2**63', 2n ** 63n],
  ['-2**63', -(2n ** 63n)],
  ['-2**63 - 1', -(2n ** 63n) - 1n],
  ['2**53', 2n ** 53n],
  ['2**53 - 1', 2 ** 53 - 1],
  ['-2**53 + 1', -(2 ** 53) + 1],
  ['-2**53', -(2n ** 53n)],
  ["b'\\x00'", Buffer.from([0])],
  ['bytearray(b"ab")', Buffer.from('ab')],
  ['memoryview(b"ab")', Buffer.from('ab')],
  ['frozenset()', new FrozenSet()],
  ['frozenset([(1, 2)])', new FrozenSet([Tuple.of(1, 2)])],
  ['set()', new Set()],
  ['{1}', new Set([1])],
  ['1.5', 1.5],
  ['1.0', 1],
  ['-0.0', -0],
  ['float("nan")', NaN],
  ['float("inf")', Infinity],
  ['-1', -1],
  ['True', true],
  ['False', false],
  ['None', null],
  ["'ü'", 'ü'],
  ["'x' * 100000", 'x'.repeat(100000)],
  ['1+2j', new Complex(1, 2)],
  ['()', Tuple.of()],
  ['[(), [], {}]', [Tuple.of(), [], new Map()]],
  [
    "{'a': [1, 'b'], (1,): None}",
    new Map<unknown, unknown>([
      ['a', [1, 'b']],
      [Tuple.of(1), null],
    ]),
  ],
  ['(70000, "x" * 16)', Tuple.of(70000, 'x'.repeat(16))],
  ['tuple(range(300))', Tuple.from(Array.from({ length: 300 }, (_, i) => i))],
  ['b"q" * 70000', Buffer.alloc(70000, 'q')],
  // subclasses travel as their base type
  ['__import__("collections").namedtuple("P", "x y")(1, 2)', Tuple.of(1, 2)],
  ['__import__("enum").IntEnum("E", "A", module="m")(1)', 1],
  ['type("D", (dict,), {})(a=1)', new Map([['a', 1]])],
  ['type("S", (str,), {"__str__": lambda s: "other"})("s")', 's'],
  ['type("L", (list,), {})([1])', [1]],
  ['__import__("collections").OrderedDict([(2, 1)])', new Map([[2, 1]])],
];

const PYTHON_REFUSES: [string, RegExp][] = [
  ['object()', /^DumpError: cannot serialize value: object is not supported/],
  [
    '[1, {"x": lambda: 1}]',
    /^DumpError: cannot serialize value\[1\]\['x'\]: function is not supported/,
  ],
  [
    '"a\\udc80"',
    /^DumpError: cannot serialize value: a str with a lone surrogate \('\\udc80' at index 1\)/,
  ],
  [
    '[1, ("x", "\\ud800")]',
    /^DumpError: cannot serialize value\[1\]\[1\]: a str with a lone surrogate/,
  ],
  ['__import__("datetime").date(2020, 1, 1)', /^DumpError: .*datetime\.date is not supported/],
];

const CORRUPT_FOR_PYTHON: [string, string, RegExp][] = [
  ['an unknown ext type', 'd40900', /^DataFormatError: unknown extension type 9/],
  ['truncated data', '9201', /^DataFormatError: truncated data/],
  ['trailing bytes', '0102', /^DataFormatError: trailing bytes/],
  ['the byte 0xc1', '91c1', /^DataFormatError: invalid msgpack/],
  [
    'a list as a dict key',
    '819101c0',
    /^DataFormatError: a dict key or set member is not hashable/,
  ],
];

function interpretersWithMsgpack(candidates: string[]): string[] {
  return candidates.filter(
    (python) =>
      spawnSync(
        python,
        ['-c', 'import msgpack, msgpack._cmsgpack; assert msgpack.version >= (1,)'],
        {
          stdio: 'ignore',
          timeout: 10000,
        },
      ).status === 0,
  );
}

const found = findPythons();
const purePythons =
  found.length > 0
    ? found.map((p) => ({ label: p.version, path: p.path }))
    : [{ label: 'python3', path: defaultPython() }];
const cPythons = interpretersWithMsgpack([
  ...new Set([...found.map((p) => p.path), '/usr/bin/python3']),
]).map((p) => ({ label: p, path: p }));

const runs: { label: string; path: string; mode: 'pure' | 'c' }[] = [
  ...purePythons.map((p) => ({ ...p, mode: 'pure' as const })),
  ...cPythons.map((p) => ({ ...p, mode: 'c' as const })),
];

describe('codec.py', () => {
  it('runs on at least one Python, and the C path on at least one where msgpack is installed', (t) => {
    t.diagnostic(
      `pure: ${purePythons.map((p) => p.label).join(' ')}; C: ${cPythons.map((p) => p.label).join(' ') || 'none'}`,
    );
    assert.ok(purePythons.length > 0);
    if (cPythons.length === 0) {
      t.skip('no interpreter has the msgpack C extension (apt-get install python3-msgpack)');
    }
  });

  for (const run of runs) {
    describe(`Python ${run.label} (${run.mode})`, () => {
      let peer: EchoPeer;
      before(() => {
        peer = new EchoPeer(run.path, run.mode);
      });
      after(async () => {
        await peer.close();
      });

      it('decodes every value of the mapping to the expected Python value', async () => {
        for (const c of CASES) {
          const reply = await peer.echo(c.value);
          if (typeof c.repr === 'string') {
            assert.equal(reply.text, c.repr, `repr of ${c.name}`);
          } else {
            assert.match(reply.text, c.repr, `repr of ${c.name}`);
          }
        }
      });

      it('re-encodes each value to the same bytes, which decode to what was sent', async () => {
        for (const c of CASES) {
          const sent = codec.encode(c.value);
          const reply = await peer.echo(c.value);
          assert.ok(
            reply.data.equals(sent),
            `bytes of ${c.name}: sent ${hexOf(sent)}, got ${hexOf(reply.data)}`,
          );
          assert.deepStrictEqual(codec.decode(reply.data), 'back' in c ? c.back : c.value, c.name);
        }
      });

      it('encodes Python values to the expected values and types here', async () => {
        for (const [source, expected] of FROM_PYTHON) {
          const reply = await peer.request('p', source);
          assert.ok(reply.ok, `${source}: ${reply.text}`);
          assert.deepStrictEqual(codec.decode(reply.data), expected, source);
        }
      });

      it('refuses values outside the mapping with DumpError naming them', async () => {
        for (const [source, message] of PYTHON_REFUSES) {
          const reply = await peer.request('p', source);
          assert.equal(reply.ok, false, source);
          assert.match(reply.text, message, source);
        }
      });

      it('rejects corrupt bytes with DataFormatError saying what is wrong', async () => {
        for (const [name, bytes, message] of CORRUPT_FOR_PYTHON) {
          const reply = await peer.request('e', Buffer.from(bytes, 'hex'));
          assert.equal(reply.ok, false, name);
          assert.match(reply.text, message, name);
        }
      });

      it('versioned dumps/loads interoperate in both directions', async () => {
        const fromPython = await peer.request('D', "(1, {'k': frozenset([2**70])}, b'\\x00')");
        assert.ok(fromPython.ok, fromPython.text);
        assert.equal(fromPython.data[0], 1);
        assert.deepStrictEqual(
          loads(fromPython.data),
          Tuple.of(1, new Map([['k', new FrozenSet([2n ** 70n])]]), Buffer.from([0])),
        );
        const toPython = await peer.request(
          'L',
          dumps(Tuple.of(1.5, [new Complex(0, 1)], 2n ** 64n)),
        );
        assert.equal(toPython.text, '(1.5, [1j], 18446744073709551616)');
        const badVersion = await peer.request('L', Buffer.from([2, 0xc0]));
        assert.match(badVersion.text, /^DataFormatError: loads: format version 2 is not supported/);
        const channelDump = await peer.request('D', '[1]');
        assert.deepStrictEqual(loads(channelDump.data), [1]);
      });
    });
  }
});

function hexOf(bytes: Buffer): string {
  const text = bytes.toString('hex');
  return text.length > 80 ? `${text.slice(0, 80)}…(${bytes.length} bytes)` : text;
}
