// formatValue() prints what Python's repr() prints for the same value (expected strings are
// Python 3.11's own output).

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatValue } from '../../src/core/repr';
import { Complex, FrozenSet, Tuple } from '../../src/core/serializer';

describe('formatValue', () => {
  it('prints None, booleans, ints and bigints like Python', () => {
    assert.equal(formatValue(null), 'None');
    assert.equal(formatValue(undefined), 'None');
    assert.equal(formatValue(true), 'True');
    assert.equal(formatValue(false), 'False');
    assert.equal(formatValue(42), '42');
    assert.equal(formatValue(-7), '-7');
    assert.equal(formatValue(2n ** 70n), '1180591620717411303424');
  });

  it("prints floats with float's repr: shortest digits, exponent below 1e-4 and from 1e16", () => {
    assert.equal(formatValue(1.5), '1.5');
    assert.equal(formatValue(123456789.125), '123456789.125');
    assert.equal(formatValue(0.0001), '0.0001');
    assert.equal(formatValue(1e-5), '1e-05');
    assert.equal(formatValue(1e300), '1e+300');
    assert.equal(formatValue(2 ** 53), '9007199254740992.0');
    assert.equal(formatValue(-0), '-0.0');
    assert.equal(formatValue(NaN), 'nan');
    assert.equal(formatValue(-Infinity), '-inf');
  });

  it('quotes strings as Python does, escaping what is not printable', () => {
    assert.equal(formatValue('x'), "'x'");
    assert.equal(formatValue("it's"), `"it's"`);
    assert.equal(formatValue('a"b'), `'a"b'`);
    assert.equal(formatValue(`'"`), `'\\'"'`);
    assert.equal(formatValue('tab\there\n'), `'tab\\there\\n'`);
    assert.equal(formatValue('\\'), `'\\\\'`);
    assert.equal(formatValue('\x00\x7f\x85\xa0 é\u2028😀'), `'\\x00\\x7f\\x85\\xa0 é\\u2028😀'`);
  });

  it("prints Buffers as bytes literals: b'..'", () => {
    assert.equal(formatValue(Buffer.from("it's")), `b"it's"`);
    assert.equal(
      formatValue(Buffer.from([0, 0xff, 0x5c, 0x6f, 0x6b, 0x27])),
      `b"\\x00\\xff\\\\ok'"`,
    );
    assert.equal(formatValue(new Uint8Array(0)), "b''");
  });

  it('prints tuples, lists, dicts, sets and frozensets', () => {
    assert.equal(formatValue(Tuple.of(1, 'x')), "(1, 'x')");
    assert.equal(formatValue(Tuple.of(1)), '(1,)');
    assert.equal(formatValue(new Tuple()), '()');
    assert.equal(formatValue([1, [2, null]]), '[1, [2, None]]');
    assert.equal(
      formatValue(
        new Map<unknown, unknown>([
          [1, 'a'],
          [Tuple.of(1, 2), null],
        ]),
      ),
      "{1: 'a', (1, 2): None}",
    );
    assert.equal(formatValue(new Map()), '{}');
    assert.equal(formatValue({ a: 1 }), "{'a': 1}");
    assert.equal(formatValue(new Set([1, 2])), '{1, 2}');
    assert.equal(formatValue(new Set()), 'set()');
    assert.equal(formatValue(new FrozenSet(['a'])), "frozenset({'a'})");
    assert.equal(formatValue(new FrozenSet()), 'frozenset()');
  });

  it('prints complex numbers as Python does', () => {
    assert.equal(formatValue(new Complex(1, 2)), '(1+2j)');
    assert.equal(formatValue(new Complex(0, 1)), '1j');
    assert.equal(formatValue(new Complex(0, -1)), '-1j');
    assert.equal(formatValue(new Complex(-0, 1)), '(-0+1j)');
    assert.equal(formatValue(new Complex(1.5, -0)), '(1.5-0j)');
    assert.equal(formatValue(new Complex(1e20, 1)), '(1e+20+1j)');
    assert.equal(formatValue(new Complex(NaN, Infinity)), '(nan+infj)');
  });

  it('prints a container that holds itself with an ellipsis', () => {
    const list: unknown[] = [1];
    list.push(list);
    assert.equal(formatValue(list), '[1, [...]]');
    const map = new Map<unknown, unknown>();
    map.set('self', map);
    assert.equal(formatValue(map), "{'self': {...}}");
  });
});
