// The local codec on its own: every type of the mapping round-trips, the canonical bytes are
// the ones the spec implies, refusals name the offending part, and corrupt input is a
// DataFormatError that says what is wrong. codec-python.test.ts checks the same against Python.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Packr, Unpackr } from 'msgpackr';
import { DataFormatError, DumpError } from '../../src/core/errors';
import {
  ChannelReference,
  Codec,
  Complex,
  DUMPS_FORMAT_VERSION,
  FrozenSet,
  MAX_ENCODE_DEPTH,
  SEGMENT_MIN,
  Tuple,
  dumps,
  loads,
} from '../../src/core/serializer';

class FakeChannel extends ChannelReference {
  constructor(readonly id: number) {
    super();
  }
}

const channels = new Map<number, FakeChannel>();
const resolve = (id: number): FakeChannel => {
  let channel = channels.get(id);
  if (!channel) {
    channel = new FakeChannel(id);
    channels.set(id, channel);
  }
  return channel;
};
const codec = new Codec(resolve);

function roundTrip(value: unknown): unknown {
  return codec.decode(codec.encode(value));
}

function hex(value: unknown): string {
  return codec.encode(value).toString('hex');
}

describe('Tuple', () => {
  it('of() and new Tuple() take their arguments as elements, even a single number', () => {
    assert.deepEqual([...Tuple.of(3)], [3]);
    assert.deepEqual([...new Tuple(3)], [3]);
    assert.equal(new Tuple().length, 0);
    assert.ok(Tuple.of(1, 'x') instanceof Tuple);
    assert.ok(Array.isArray(Tuple.of()));
  });

  it('from() copies any iterable, with an optional map', () => {
    assert.deepEqual(Tuple.from(new Set([1, 2])), Tuple.of(1, 2));
    assert.deepEqual(
      Tuple.from([1, 2], (x) => x * 2),
      Tuple.of(2, 4),
    );
  });

  it('is distinct from an Array of the same items, and derived arrays are plain', () => {
    assert.notDeepStrictEqual(Tuple.of(1, 2), [1, 2]);
    const mapped = Tuple.of(1, 2).map((x) => x + 1);
    assert.equal(Object.getPrototypeOf(mapped), Array.prototype);
    assert.deepEqual(
      Tuple.of(1, 2, 3).filter((x) => x > 5),
      [],
    );
  });
});

describe('Codec round trips', () => {
  const values: [string, unknown][] = [
    ['null', null],
    ['true', true],
    ['false', false],
    ['a small int', 7],
    ['a negative int', -33],
    ['a float', 1.5],
    ['-0', -0],
    ['NaN', NaN],
    ['Infinity', -Infinity],
    ['an empty string', ''],
    ['a non-ASCII string', 'ü日本😀'],
    ['a long string', 'x'.repeat(70000)],
    ['a Buffer', Buffer.from([0, 1, 255])],
    ['an empty Buffer', Buffer.alloc(0)],
    ['an Array', [1, 'a', null]],
    ['an empty Tuple', Tuple.of()],
    ['a Tuple', Tuple.of(1, 'x')],
    ['a Tuple of 300 items', Tuple.from(Array.from({ length: 300 }, (_, i) => i))],
    ['a Tuple over 64 KiB', Tuple.of('y'.repeat(70000))],
    ['a Map', new Map<unknown, unknown>([['a', 1]])],
    [
      'a Map with Tuple and int keys',
      new Map<unknown, unknown>([
        [Tuple.of(1, 2), 'p'],
        [3, 'q'],
      ]),
    ],
    ['a Set', new Set([1, 'a'])],
    ['an empty Set', new Set()],
    ['a FrozenSet', new FrozenSet([Tuple.of(1)])],
    ['a Complex', new Complex(1, -2.5)],
    ['a channel', resolve(7)],
    [
      'a nested mix',
      [
        Tuple.of(new Map([[1, new Set([2])]]), new FrozenSet()),
        [Tuple.of(Tuple.of(Tuple.of()))],
        new Map([[Tuple.of('k', 1), [new Complex(0, 1), Buffer.from('b')]]]),
      ],
    ],
  ];
  for (const [name, value] of values) {
    it(`${name} comes back equal and of the same type`, () => {
      assert.deepStrictEqual(roundTrip(value), value);
    });
  }

  it('a channel comes back as the resolver’s channel object', () => {
    assert.equal(roundTrip(resolve(9)), resolve(9));
  });

  it('undefined is sent as nil and comes back null', () => {
    assert.equal(hex(undefined), 'c0');
    assert.deepStrictEqual(roundTrip([undefined]), [null]);
  });

  it('plain objects are sent as maps with string keys and come back as Maps', () => {
    assert.deepStrictEqual(
      roundTrip({ a: 1, 'b c': [true], nested: { x: null } }),
      new Map<unknown, unknown>([
        ['a', 1],
        ['b c', [true]],
        ['nested', new Map([['x', null]])],
      ]),
    );
    assert.deepStrictEqual(roundTrip(Object.create(null)), new Map());
  });

  it('Uint8Arrays are sent as bin and come back as Buffers', () => {
    const back = roundTrip(new Uint8Array([1, 2]));
    assert.ok(Buffer.isBuffer(back));
    assert.deepEqual([...(back as Buffer)], [1, 2]);
  });

  it('subclasses of Array, Map and Set travel as their base type', () => {
    class MyArray extends Array<number> {}
    class MyMap extends Map<string, number> {}
    class MySet extends Set<number> {}
    assert.deepStrictEqual(roundTrip(MyArray.from([1, 2])), [1, 2]);
    assert.deepStrictEqual(roundTrip(new MyMap([['a', 1]])), new Map([['a', 1]]));
    assert.deepStrictEqual(roundTrip(new MySet([1])), new Set([1]));
  });
});

describe('numbers', () => {
  const exact: [number, string][] = [
    [0, '00'],
    [127, '7f'],
    [128, 'cc80'],
    [255, 'ccff'],
    [256, 'cd0100'],
    [65535, 'cdffff'],
    [65536, 'ce00010000'],
    [2 ** 32 - 1, 'ceffffffff'],
    [2 ** 32, 'cf0000000100000000'],
    [Number.MAX_SAFE_INTEGER, 'cf001fffffffffffff'],
    [-1, 'ff'],
    [-32, 'e0'],
    [-33, 'd0df'],
    [-128, 'd080'],
    [-129, 'd1ff7f'],
    [-(2 ** 31), 'd280000000'],
    [-(2 ** 31) - 1, 'd3ffffffff7fffffff'],
    [Number.MIN_SAFE_INTEGER, 'd3ffe0000000000001'],
    [1.5, 'cb3ff8000000000000'],
    [-0, 'cb8000000000000000'],
  ];
  for (const [value, bytes] of exact) {
    it(`${Object.is(value, -0) ? '-0' : value} is ${bytes} and comes back as the same number`, () => {
      assert.equal(hex(value), bytes);
      assert.ok(Object.is(roundTrip(value), value));
    });
  }

  it('integral numbers beyond 2**53 are sent as ints and come back as bigints', () => {
    assert.equal(hex(2 ** 53), 'cf0020000000000000');
    assert.equal(roundTrip(2 ** 53), 2n ** 53n);
    assert.equal(roundTrip(-(2 ** 53)), -(2n ** 53n));
    assert.equal(roundTrip(2 ** 63), 2n ** 63n);
    assert.equal(hex(-(2 ** 63)), 'd38000000000000000');
    assert.equal(roundTrip(2 ** 64 - 2048), 2n ** 64n - 2048n);
  });

  it('integral numbers beyond the int64/uint64 range stay floats', () => {
    assert.equal(hex(2 ** 64), 'cb43f0000000000000');
    assert.equal(roundTrip(2 ** 64), 2 ** 64);
    assert.equal(roundTrip(-(2 ** 64)), -(2 ** 64));
  });

  it('bigints in the safe range are sent like numbers and come back as numbers', () => {
    assert.equal(hex(5n), '05');
    assert.equal(hex(-300n), 'd1fed4');
    assert.equal(roundTrip(5n), 5);
  });

  it('bigints at the int64/uint64 edges use the 64-bit forms', () => {
    assert.equal(hex(2n ** 64n - 1n), 'cfffffffffffffffff');
    assert.equal(hex(-(2n ** 63n)), 'd38000000000000000');
    assert.equal(roundTrip(2n ** 64n - 1n), 2n ** 64n - 1n);
    assert.equal(roundTrip(-(2n ** 63n)), -(2n ** 63n));
    assert.equal(roundTrip(2n ** 53n + 1n), 2n ** 53n + 1n);
  });

  it('bigints beyond 64 bits use ext 0x42, shortest two’s complement', () => {
    assert.equal(hex(2n ** 64n), 'c70942010000000000000000');
    assert.equal(hex(-(2n ** 63n) - 1n), 'c70942ff7fffffffffffffff');
    for (const value of [2n ** 64n, -(2n ** 63n) - 1n, 2n ** 200n, -(2n ** 200n), -(2n ** 64n)]) {
      assert.equal(roundTrip(value), value);
    }
  });
});

describe('canonical form', () => {
  it('a small tuple is a fixext or ext 8 around a msgpack array', () => {
    assert.equal(hex(Tuple.of()), 'd40190');
    assert.equal(hex(Tuple.of(1)), 'd5019101');
    assert.equal(hex(Tuple.of(1, 'x')), 'd6019201a178');
    assert.equal(hex(Tuple.of(5, 'x'.repeat(16))), `c713019205b0${'78'.repeat(16)}`);
  });

  it('a large tuple moves its data behind an ext 16 or ext 32 header', () => {
    const t300 = Tuple.from(Array.from({ length: 300 }, () => 1));
    // ext 16 (length 303, type 1), then array 16 of 300
    assert.equal(hex(t300).slice(0, 14), 'c8012f01dc012c');
    const big = Tuple.of('z'.repeat(70000));
    // ext 32 (length 70006, type 1), then fixarray 1, then str 32 of 70000
    assert.equal(hex(big).slice(0, 24), 'c9000111760191db00011170');
    assert.deepStrictEqual(roundTrip(big), big);
  });

  it('sets, frozensets, complex numbers and channels have ext types 2, 3, 4 and 5', () => {
    assert.equal(hex(new Set([1])), 'd5029101');
    assert.equal(hex(new FrozenSet()), 'd40390');
    assert.equal(hex(new Complex(1, 2)), 'c7130492cb3ff0000000000000cb4000000000000000');
    assert.equal(hex(resolve(3)), 'd40503');
  });

  it('strings use the shortest header for their UTF-8 length', () => {
    assert.equal(hex('a'.repeat(31)).slice(0, 2), 'bf');
    assert.equal(hex('a'.repeat(32)).slice(0, 4), 'd920');
    assert.equal(hex('ü'.repeat(16)).slice(0, 4), 'd920');
    assert.equal(hex('a'.repeat(256)).slice(0, 6), 'da0100');
  });
});

describe('refusals (DumpError)', () => {
  const refused: [string, unknown, RegExp][] = [
    ['a function', () => 1, /^cannot serialize: value is a function/],
    ['a symbol', Symbol('s'), /value is a symbol/],
    ['a Date', new Date(0), /value is a Date, which cannot be sent to Python/],
    ['a RegExp', /x/, /value is a RegExp/],
    ['an Error', new Error('e'), /value is an Error/],
    ['a Float64Array', new Float64Array(1), /value is a Float64Array/],
    ['an ArrayBuffer', new ArrayBuffer(1), /value is an ArrayBuffer/],
    ['a class instance', new (class Point {})(), /value is a Point/],
    ['a boxed number', Object(1), /value is a Number/],
    ['a Promise', Promise.resolve(), /value is a Promise/],
    ['a WeakMap', new WeakMap(), /value is a WeakMap/],
  ];
  for (const [name, value, message] of refused) {
    it(`${name} is refused`, () => {
      assert.throws(
        () => codec.encode(value),
        (error: Error) => {
          assert.ok(error instanceof DumpError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  it('the message names the path to the offending part', () => {
    const cases: [unknown, string][] = [
      [[0, 1, { foo: new Date() }], 'value[2].foo is a Date'],
      [{ 'a b': [() => 1] }, 'value["a b"][0] is a function'],
      [new Map([['k', Tuple.of(1, Symbol())]]), 'value.get("k")[1] is a symbol'],
      [new Set([1, new Date()]), 'value.values()[1] is a Date'],
      [new Map([[new Date(), 1]]), 'value.keys()[0] is a Date'],
    ];
    for (const [value, text] of cases) {
      assert.throws(() => codec.encode(value), {
        name: 'DumpError',
        message: new RegExp(escape(text)),
      });
    }
  });

  it('unhashable dict keys and set members are refused here, not on the remote', () => {
    assert.throws(() => codec.encode(new Map([[[1], 2]])), {
      name: 'DumpError',
      message:
        /value.keys\(\)\[0\] is an Array, which Python cannot use as a dict key.*use a Tuple/,
    });
    assert.throws(() => codec.encode(new Set([new Set()])), /cannot use as a set member/);
    assert.throws(() => codec.encode(new Map([[Tuple.of(1, [2]), 0]])), /contains an Array/);
    assert.doesNotThrow(() => codec.encode(new Map([[Tuple.of(1, new FrozenSet([2])), 0]])));
  });

  it(`nesting deeper than ${MAX_ENCODE_DEPTH} levels is refused, and so is a cycle`, () => {
    assert.doesNotThrow(() => codec.encode(nest(MAX_ENCODE_DEPTH)));
    assert.throws(() => codec.encode(nest(MAX_ENCODE_DEPTH + 1)), {
      name: 'DumpError',
      message: /nested deeper than 200 levels/,
    });
    const cycle: unknown[] = [];
    cycle.push(cycle);
    assert.throws(() => codec.encode(cycle), /does the value contain itself/);
  });

  it('a codec without a resolver (and dumps) refuses channels', () => {
    assert.throws(() => new Codec().encode([resolve(1)]), {
      name: 'DumpError',
      message: /value\[0\] is a channel, which can only be sent over its gateway/,
    });
    assert.throws(() => dumps(resolve(1)), DumpError);
  });

  it('a failed encode leaves the codec usable and earlier results intact', () => {
    const first = codec.encode('first');
    assert.throws(() => codec.encode(['x'.repeat(100), new Date()]));
    const second = codec.encode('second');
    assert.equal(codec.decode(first), 'first');
    assert.equal(codec.decode(second), 'second');
  });
});

describe('encoder buffers', () => {
  it('results never overwrite each other, also across a buffer that had to grow', () => {
    const results = [];
    for (let i = 0; i < 2000; i++) {
      results.push([
        i,
        codec.encode(i % 100 === 0 ? Buffer.alloc(100000, i % 256) : Tuple.of(i, 'v')),
      ]);
    }
    for (const [i, bytes] of results as [number, Buffer][]) {
      const back = codec.decode(bytes);
      assert.deepStrictEqual(
        back,
        i % 100 === 0 ? Buffer.alloc(100000, i % 256) : Tuple.of(i, 'v'),
      );
    }
  });

  it('headroom leaves bytes before the value for a caller’s header', () => {
    const out = codec.encode('abc', 9);
    assert.equal(out.length, 13);
    assert.equal(codec.decode(out.subarray(9)), 'abc');
  });

  it('segmented: large binaries are pieces of their own, the bytes are those of encode()', () => {
    const big = Buffer.alloc(SEGMENT_MIN, 7);
    const huge = new Uint8Array(300_000).fill(9);
    // each value with the binaries that must be pieces of their own
    const cases: Array<[unknown, Uint8Array[]]> = [
      [big, [big]],
      [huge, [huge]],
      [Tuple.of('name', big), [big]],
      [
        [Tuple.of(1, Tuple.of(big, 'x'.repeat(300)), huge), new Set([2, 3])],
        [big, huge],
      ],
      [
        new Map<unknown, unknown>([
          ['a', huge],
          [Tuple.of(1, 2), big],
        ]),
        [huge, big],
      ],
      [Buffer.alloc(SEGMENT_MIN - 1, 5), []],
      ['no binary at all', []],
    ];
    for (const [i, [value, outside]] of cases.entries()) {
      const parts = codec.encodeSegments(value, 9);
      assert.ok(
        Buffer.concat(parts).subarray(9).equals(codec.encode(value)),
        `case ${i}: the bytes of encode()`,
      );
      const own = parts.filter((p) => outside.some((b) => b.buffer === p.buffer));
      assert.equal(own.length, outside.length, `case ${i}: large binaries are not copied`);
    }
    assert.equal(codec.encodeSegments(Tuple.of(huge, big)).length, 4);
  });

  it('segmented: a refusal after a large binary leaves nothing behind for the next encode', () => {
    const big = Buffer.alloc(SEGMENT_MIN, 1);
    assert.throws(() => codec.encodeSegments([big, () => 1]), DumpError);
    assert.deepStrictEqual(codec.encodeSegments('after'), [codec.encode('after')]);
  });

  it('a getter that encodes during an encode does not disturb it', () => {
    const value = {
      get inner() {
        return codec.decode(codec.encode(Tuple.of('inner', 1)));
      },
      after: 'x'.repeat(40),
    };
    assert.deepStrictEqual(
      roundTrip(value),
      new Map<unknown, unknown>([
        ['inner', Tuple.of('inner', 1)],
        ['after', 'x'.repeat(40)],
      ]),
    );
  });
});

describe('decoding', () => {
  it('big bins are views of the input, small ones copies', () => {
    const small = codec.encode(Buffer.alloc(10, 1));
    const big = codec.encode(Buffer.alloc(8192, 1));
    const smallBack = codec.decode(small) as Buffer;
    const bigBack = codec.decode(big) as Buffer;
    assert.notEqual(smallBack.buffer, small.buffer);
    assert.equal(bigBack.buffer, big.buffer);
  });

  it('accepts a plain Uint8Array and non-canonical forms', () => {
    assert.equal(codec.decode(new Uint8Array([0xd9, 1, 0x61])), 'a');
    assert.equal(codec.decode(Buffer.from('d3ffffffffffffffff', 'hex')), -1);
    assert.equal(codec.decode(Buffer.from('ca3fc00000', 'hex')), 1.5);
    assert.deepStrictEqual(codec.decode(Buffer.from('c7020191c0', 'hex')), Tuple.of(null));
    assert.deepStrictEqual(codec.decode(Buffer.from('c800010190', 'hex')), Tuple.of());
  });

  const corrupt: [string, string, RegExp][] = [
    ['an empty input', '', /truncated data: the value ends where a value should start/],
    ['a truncated array', '9201', /truncated data/],
    ['a truncated string', 'a36162', /truncated data: the value needs 1 more byte/],
    ['a huge count in a short input', 'dd7fffffff', /truncated data/],
    ['trailing bytes', '0102', /trailing bytes: the value ends at byte 1 of 2/],
    ['the never-used byte 0xc1', '91c1', /invalid msgpack byte 0xc1 at byte 1/],
    ['an unknown ext type', 'd40900', /unknown extension type 9 \(1 bytes of data\) at byte 0/],
    ['msgpackr’s Date ext', 'd6ff00000000', /unknown extension type 255/],
    ['msgpackr’s record ext', 'd47240', /unknown extension type 114/],
    [
      'a tuple whose data is not an array',
      'd40101',
      /extension type 1: data is not a msgpack array/,
    ],
    [
      'a tuple whose array is shorter than its data',
      'd5019000',
      /its array ends at byte 3, its data at byte 4/,
    ],
    ['a complex that is not a pair', 'd5049101', /not \[real, imag\]/],
    ['an empty bigint ext', 'c70042', /extension type 66 with no data/],
  ];
  for (const [name, bytes, message] of corrupt) {
    it(`${name} is a DataFormatError`, () => {
      assert.throws(
        () => codec.decode(Buffer.from(bytes, 'hex')),
        (error: Error) => {
          assert.ok(error instanceof DataFormatError, `${error.name}: ${error.message}`);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  it('a channel reference without a resolver is a DataFormatError', () => {
    assert.throws(() => new Codec().decode(Buffer.from('d40503', 'hex')), {
      name: 'DataFormatError',
      message: /channel reference \(id 3\) where no channels can be received/,
    });
  });

  it('nesting beyond any encoder’s is a DataFormatError, not a stack overflow', () => {
    const deep = Buffer.concat([Buffer.alloc(5000, 0x91), Buffer.from([0x90])]);
    assert.throws(() => codec.decode(deep), { name: 'DataFormatError', message: /nested deeper/ });
  });
});

describe('dumps / loads', () => {
  it('dumps is the version byte and the msgpack encoding', () => {
    assert.equal(DUMPS_FORMAT_VERSION, 1);
    assert.equal(dumps(Tuple.of(1, 'x')).toString('hex'), '01d6019201a178');
    assert.deepStrictEqual(loads(dumps(Tuple.of(1, 'x'))), Tuple.of(1, 'x'));
    assert.deepStrictEqual(
      loads(dumps(new Map([[2n ** 70n, new FrozenSet([1])]]))),
      new Map([[2n ** 70n, new FrozenSet([1])]]),
    );
  });

  const bad: [string, number[], RegExp][] = [
    ['empty input', [], /^loads: empty input/],
    [
      'another version',
      [2, 0xc0],
      /^loads: format version 2 is not supported \(this side reads version 1\)/,
    ],
    ['a version byte alone', [1], /^loads: truncated data/],
    ['truncated data', [1, 0x92, 1], /^loads: truncated data/],
    ['trailing bytes', [1, 1, 2], /^loads: trailing bytes: the value ends at byte 2 of 3/],
    ['an unknown ext', [1, 0xd4, 9, 0], /^loads: unknown extension type 9/],
    ['a channel', [1, 0xd4, 5, 1], /^loads: channel reference/],
  ];
  for (const [name, bytes, message] of bad) {
    it(`loads of ${name} is a DataFormatError`, () => {
      assert.throws(() => loads(Buffer.from(bytes)), { name: 'DataFormatError', message });
    });
  }
});

describe('msgpackr interop (the options docs/protocol.md names)', () => {
  const packr = new Packr({ useRecords: false, useBigIntExtension: true });
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false });

  it('msgpackr reads what we write for plain msgpack types and big ints', () => {
    const value = [
      1,
      -1,
      1.5,
      'ü',
      Buffer.from('b'),
      [null, true],
      new Map([[1, 'a']]),
      2n ** 100n,
      -(2n ** 70n),
    ];
    assert.deepStrictEqual(unpackr.unpack(codec.encode(value)), value);
  });

  it('we read what msgpackr writes for them', () => {
    const value = [1, -1, 1.5, 'ü', [null, true], new Map([[1, 'a']]), 2n ** 100n, -(2n ** 70n)];
    assert.deepStrictEqual(codec.decode(packr.pack(value)), value);
  });
});

function nest(levels: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < levels; i++) {
    value = [value];
  }
  return value;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
