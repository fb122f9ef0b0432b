// The decoders under hostile input: values nested past the depth limit in every container and
// extension type, and a bounded fuzz of random and mutated payloads, frames and `loads` inputs
// (here, and on the remote's pure-Python and C-extension codecs). Every failure must be a
// DataFormatError, and no input may take long.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataFormatError } from '../../src/core/errors';
import { FrameDecoder, HEADER_SIZE } from '../../src/core/protocol';
import {
  ChannelReference,
  Codec,
  Complex,
  FrozenSet,
  MAX_DECODE_DEPTH,
  Tuple,
  dumps,
  loads,
} from '../../src/core/serializer';
import { testGroup } from '../helpers/gateways';
import { defaultPython } from '../helpers/pythons';

class FakeChannel extends ChannelReference {
  constructor(readonly id: number) {
    super();
  }
}
const codec = new Codec((id) => new FakeChannel(id));

/** msgpack ext header for `n` bytes of data of type `type`. */
function extHead(type: number, n: number): Buffer {
  if (n < 256) {
    return Buffer.from([0xc7, n, type]);
  }
  const head = Buffer.alloc(n < 65536 ? 4 : 6);
  if (n < 65536) {
    head[0] = 0xc8;
    head.writeUInt16BE(n, 1);
    head[3] = type;
  } else {
    head[0] = 0xc9;
    head.writeUInt32BE(n, 1);
    head[5] = type;
  }
  return head;
}

/**
 * One level of each container or extension type: the bytes before and after the inner value,
 * given the inner value's length.
 */
const WRAP: Record<string, (inner: number) => [Buffer, Buffer]> = {
  array: () => [Buffer.from([0x91]), Buffer.alloc(0)],
  'map value': () => [Buffer.from([0x81, 0x01]), Buffer.alloc(0)],
  'map key': () => [Buffer.from([0x81]), Buffer.from([0x01])],
  tuple: (inner) => [Buffer.concat([extHead(1, inner + 1), Buffer.from([0x91])]), Buffer.alloc(0)],
  set: (inner) => [Buffer.concat([extHead(2, inner + 1), Buffer.from([0x91])]), Buffer.alloc(0)],
  frozenset: (inner) => [
    Buffer.concat([extHead(3, inner + 1), Buffer.from([0x91])]),
    Buffer.alloc(0),
  ],
  complex: (inner) => [
    Buffer.concat([extHead(4, inner + 2), Buffer.from([0x92])]),
    Buffer.from([0x00]),
  ],
  channel: (inner) => [extHead(5, inner), Buffer.alloc(0)],
};

/** `levels` of one kind around a nil, built from the inside out in one pass. */
function nested(kind: string, levels: number): Buffer {
  const before: Buffer[] = [];
  const after: Buffer[] = [];
  let length = 1;
  for (let i = 0; i < levels; i++) {
    const [head, tail] = WRAP[kind](length);
    before.push(head);
    after.push(tail);
    length += head.length + tail.length;
  }
  return Buffer.concat([...before.reverse(), Buffer.from([0xc0]), ...after]);
}

/** Small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.EXECNET_FUZZ_SEED ?? 20261205);
/** No single input may take this long to decode (or refuse). */
const SLOW_MS = 100;

/** Valid payloads to mutate: every type of the mapping, nested extension types included. */
function corpus(): Buffer[] {
  const values: unknown[] = [
    null,
    true,
    0,
    -1,
    2 ** 40,
    -(2n ** 70n),
    1.5,
    'text',
    'ü'.repeat(40),
    Buffer.from([1, 2, 3]),
    Buffer.alloc(300, 7),
    [1, [2, [3, [4]]]],
    new Map<unknown, unknown>([
      ['a', 1],
      [Tuple.of(1, 'k'), [2]],
    ]),
    Tuple.of(1, Tuple.of(2, Tuple.of(3, new Set([4, Tuple.of(5)])))),
    new FrozenSet([1, Tuple.of('x', new FrozenSet([2]))]),
    new Complex(1, -2),
    [new FakeChannel(3), Tuple.of(new FakeChannel(4), new Complex(0, 1))],
    new Map([[new FrozenSet([Tuple.of(1, 2)]), new Set(['a', 'b'])]]),
    Array.from({ length: 40 }, (_, i) => Tuple.of(i, 'x'.repeat(i))),
  ];
  return values.map((value) => codec.encode(value));
}

function mutate(input: Buffer, next: () => number): Buffer {
  const bytes: Buffer = Buffer.from(input);
  const at = (): number => Math.floor(next() * Math.max(1, bytes.length));
  switch (Math.floor(next() * 7)) {
    case 0: // flip bits
      for (let i = 0, n = 1 + Math.floor(next() * 4); i < n && bytes.length; i++) {
        bytes[at()] ^= 1 << Math.floor(next() * 8);
      }
      return bytes;
    case 1: // random bytes
      for (let i = 0, n = 1 + Math.floor(next() * 4); i < n && bytes.length; i++) {
        bytes[at()] = Math.floor(next() * 256);
      }
      return bytes;
    case 2: // truncate
      return bytes.subarray(0, at());
    case 3: {
      // insert random bytes
      const cut = at();
      const extra = Buffer.from(
        Array.from({ length: 1 + Math.floor(next() * 8) }, () => next() * 256),
      );
      return Buffer.concat([bytes.subarray(0, cut), extra, bytes.subarray(cut)]);
    }
    case 4: {
      // repeat a slice many times: deep or long structures out of a small one
      const start = at();
      const end = Math.min(bytes.length, start + 1 + Math.floor(next() * 6));
      const slice = bytes.subarray(start, end);
      const times = 1 + Math.floor(next() * 3000);
      return Buffer.concat([
        bytes.subarray(0, start),
        ...Array(times).fill(slice),
        bytes.subarray(end),
      ]);
    }
    case 5: {
      // a huge length field
      const out = Buffer.concat([bytes, Buffer.alloc(4)]);
      const pos = at();
      out[pos] = [0xdc, 0xdd, 0xde, 0xdf, 0xc6, 0xc9, 0xdb][Math.floor(next() * 7)];
      out.writeUInt32BE(Math.floor(next() * 2 ** 32), Math.min(pos + 1, out.length - 4));
      return out;
    }
    default: // noise
      return Buffer.from(Array.from({ length: Math.floor(next() * 64) }, () => next() * 256));
  }
}

interface FuzzResult {
  tried: number;
  refused: number;
  slowestMs: number;
  unexpected: string[];
}

function fuzz(decode: (input: Buffer) => unknown, inputs: Iterable<Buffer>): FuzzResult {
  const result: FuzzResult = { tried: 0, refused: 0, slowestMs: 0, unexpected: [] };
  for (const input of inputs) {
    let ms = Infinity;
    // an input over the bound is timed again: a pause of the whole process is not the input's
    for (let attempt = 0; attempt < 3 && ms >= SLOW_MS; attempt++) {
      const started = performance.now();
      let failure: unknown;
      try {
        decode(input);
      } catch (error) {
        failure = error;
      }
      ms = Math.min(ms, performance.now() - started);
      if (attempt === 0 && failure instanceof DataFormatError) {
        result.refused++;
      } else if (attempt === 0 && failure !== undefined && result.unexpected.length < 5) {
        result.unexpected.push(`${String(failure)} for ${input.subarray(0, 40).toString('hex')}`);
      }
    }
    result.slowestMs = Math.max(result.slowestMs, ms);
    result.tried++;
  }
  return result;
}

function* mutations(count: number, seed: number): Generator<Buffer> {
  const next = random(seed);
  const base = corpus();
  for (let i = 0; i < count; i++) {
    let input = base[Math.floor(next() * base.length)];
    for (let k = 0, n = 1 + Math.floor(next() * 3); k < n; k++) {
      input = mutate(input, next);
    }
    yield input;
  }
}

describe('decoders and hostile input', () => {
  for (const kind of Object.keys(WRAP)) {
    it(`${kind} nested past ${MAX_DECODE_DEPTH} levels is a DataFormatError naming the limit, never a RangeError`, () => {
      // (a channel id must be an int: a channel inside one is refused at the first level)
      const expected = kind === 'channel' ? /not a channel id/ : /nested deeper than 512 levels/;
      for (const levels of [MAX_DECODE_DEPTH + 1, 1500, 20_000]) {
        const bytes = nested(kind, levels);
        assert.throws(
          () => codec.decode(bytes),
          (error: unknown) => {
            assert.ok(error instanceof DataFormatError, `${levels} levels: ${String(error)}`);
            assert.match(error.message, expected);
            return true;
          },
        );
        assert.throws(() => loads(Buffer.concat([Buffer.from([1]), bytes])), DataFormatError);
      }
    });
  }

  it(`${MAX_DECODE_DEPTH} levels decode, and a decode whose stack runs out is a DataFormatError`, () => {
    assert.doesNotThrow(() => codec.decode(nested('tuple', MAX_DECODE_DEPTH - 1)));
    assert.doesNotThrow(() => codec.decode(nested('array', MAX_DECODE_DEPTH)));
    // call loads with almost no stack left: the RangeError inside becomes a DataFormatError
    const deep = Buffer.concat([Buffer.from([1]), nested('tuple', MAX_DECODE_DEPTH - 1)]);
    let outcome: unknown;
    const descend = (n: number): void => {
      if (n > 0) {
        try {
          descend(n - 1);
        } catch (error) {
          outcome ??= error;
        }
        return;
      }
      try {
        loads(deep);
      } catch (error) {
        outcome = error;
        return;
      }
      outcome = 'decoded';
    };
    for (let frames = 1000; frames < 200_000 && outcome === undefined; frames *= 2) {
      descend(frames);
      if (outcome === 'decoded') {
        outcome = undefined;
      }
    }
    assert.ok(
      outcome instanceof DataFormatError,
      `decoding with the stack nearly exhausted: ${String(outcome)}`,
    );
    assert.match(outcome.message, /nested too deeply to decode here/);
  });

  it('a bounded fuzz of payloads and loads inputs: every failure a DataFormatError, none slow', (t) => {
    const payloads = fuzz((input) => codec.decode(input), mutations(20_000, SEED));
    const withVersion = fuzz(
      (input) => loads(input),
      (function* () {
        for (const input of mutations(5_000, SEED + 1)) {
          yield Buffer.concat([Buffer.from([1]), input]);
        }
        for (const kind of Object.keys(WRAP)) {
          yield Buffer.concat([Buffer.from([1]), nested(kind, 1500)]);
        }
        yield dumps(Tuple.of(1, new Complex(1, 2), new Set([Tuple.of(1)])));
      })(),
    );
    for (const [label, result] of [
      ['payloads', payloads],
      ['loads', withVersion],
    ] as const) {
      t.diagnostic(
        `${label}: ${result.tried} inputs tried (seed ${SEED}), ${result.refused} refused, slowest ${result.slowestMs.toFixed(1)} ms`,
      );
      assert.deepEqual(result.unexpected, [], `${label}: failures other than DataFormatError`);
      assert.ok(
        result.slowestMs < SLOW_MS,
        `${label}: the slowest input took ${result.slowestMs} ms`,
      );
    }
  });

  it('a bounded fuzz of the frame stream: every failure a DataFormatError', (t) => {
    const next = random(SEED + 2);
    const valid = corpus().map((payload, i) => {
      const frame = Buffer.alloc(HEADER_SIZE + payload.length);
      frame[0] = 5;
      frame.writeUInt32BE(i, 1);
      frame.writeUInt32BE(payload.length, 5);
      payload.copy(frame, HEADER_SIZE);
      return frame;
    });
    let tried = 0;
    let refused = 0;
    const unexpected: string[] = [];
    for (let run = 0; run < 2000; run++) {
      const decoder = new FrameDecoder((_type, _cid, payload) => {
        try {
          codec.decode(payload);
        } catch (error) {
          if (!(error instanceof DataFormatError)) {
            throw error;
          }
        }
      });
      let stream: Buffer = Buffer.concat(
        Array.from({ length: 4 }, () => valid[Math.floor(next() * valid.length)]),
      );
      stream = mutate(stream, next);
      try {
        // in chunks of random sizes, as a pipe delivers them
        for (let pos = 0; pos < stream.length;) {
          const size = 1 + Math.floor(next() * 64);
          decoder.push(stream.subarray(pos, pos + size));
          pos += size;
        }
      } catch (error) {
        if (error instanceof DataFormatError) {
          refused++;
        } else if (unexpected.length < 5) {
          unexpected.push(String(error));
        }
      }
      tried++;
    }
    t.diagnostic(`frame streams: ${tried} tried (seed ${SEED + 2}), ${refused} refused`);
    assert.deepEqual(unexpected, []);
  });

  for (const [label, python] of [
    ['pure-Python codec', defaultPython()],
    ['msgpack C extension', '/usr/bin/python3'],
  ]) {
    it(`a bounded fuzz of the remote's ${label}: every failure a DataFormatError, none slow`, async (t) => {
      const tg = testGroup();
      try {
        const gw = await tg.gateway(undefined, python);
        // the inputs are made here and sent over; the remote decodes each with its own codec
        const inputs = [...mutations(3_000, SEED + 3)];
        for (const kind of Object.keys(WRAP)) {
          inputs.push(nested(kind, 1500), nested(kind, 20_000));
        }
        const ch = gw.remoteExec(
          [
            'import time',
            'g = type(channel.gateway).__init__.__globals__',
            'make_codec, DataFormatError = g["make_codec"], g["DataFormatError"]',
            'loads = make_codec(get_channel=lambda cid: cid)[1]',
            'tried = refused = 0',
            'slowest = 0.0',
            'unexpected = []',
            `SLOW = ${SLOW_MS / 1000}`,
            'for data in channel.receive():',
            '    took = None',
            "    for attempt in range(3):  # timed again if slow: a pause of the process is not the input's",
            '        started = time.perf_counter()',
            '        try:',
            '            loads(data)',
            '        except DataFormatError:',
            '            refused += attempt == 0',
            '        except Exception as exc:',
            '            if attempt == 0 and len(unexpected) < 5:',
            '                unexpected.append("%s: %s for %s" % (type(exc).__name__, exc, bytes(data[:40]).hex()))',
            '        took = min(took or 1e9, time.perf_counter() - started)',
            '        if took < SLOW:',
            '            break',
            '    slowest = max(slowest, took)',
            '    tried += 1',
            'channel.send((tried, refused, slowest * 1000, unexpected, loads.__qualname__))',
          ].join('\n'),
        );
        await ch.send(inputs);
        const [tried, refused, slowestMs, unexpected] = (await ch.receive(120)) as [
          number,
          number,
          number,
          string[],
        ];
        t.diagnostic(
          `${label}: ${tried} inputs tried (seed ${SEED + 3}), ${refused} refused, slowest ${slowestMs.toFixed(1)} ms`,
        );
        assert.equal(tried, inputs.length);
        assert.deepEqual(unexpected, [], 'failures other than DataFormatError');
        assert.ok(slowestMs < SLOW_MS, `the slowest input took ${slowestMs} ms`);
      } finally {
        await tg.close();
      }
    });
  }
});
