// Python literals typed by a user become the values a channel sends, or a LiteralError that says
// where the text went wrong.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiteralError, parsePythonLiteral, validatePythonLiteral } from '../../src/core/literal';
import { formatValue } from '../../src/core/repr';
import { Complex, Float, FrozenSet, Tuple } from '../../src/core/serializer';

/** Parse, then print the way Python would: a round trip through repr shows what was understood. */
const roundTrip = (text: string): string => formatValue(parsePythonLiteral(text));

test('an integral float literal stays a float: 2.0, -2.0 and 1e19 are Floats, and print as floats', () => {
  assert.deepEqual(parsePythonLiteral('2.0'), new Float(2));
  assert.deepEqual(parsePythonLiteral('-2.0'), new Float(-2));
  assert.deepEqual(parsePythonLiteral('1e19'), new Float(1e19));
  assert.equal(roundTrip('[2.0, -0.0, 1e19, 2.5, 2]'), '[2.0, -0.0, 1e+19, 2.5, 2]');
  assert.deepEqual(parsePythonLiteral('2.0+1j'), new Complex(2, 1));
});

test('constants, numbers and strings parse to their Python values', () => {
  assert.equal(parsePythonLiteral('None'), null);
  assert.equal(parsePythonLiteral('True'), true);
  assert.equal(parsePythonLiteral('False'), false);
  assert.equal(parsePythonLiteral('42'), 42);
  assert.equal(parsePythonLiteral('-1_000'), -1000);
  assert.equal(parsePythonLiteral('0x_ff'), 255);
  assert.equal(parsePythonLiteral('0o17'), 15);
  assert.equal(parsePythonLiteral('0b101'), 5);
  assert.deepEqual(parsePythonLiteral('1.5e3'), new Float(1500));
  assert.equal(parsePythonLiteral('.25'), 0.25);
  assert.equal(parsePythonLiteral('--3'), 3);
  assert.equal(
    parsePythonLiteral('2**64'.replace('2**64', '18446744073709551616')),
    18446744073709551616n,
  );
  assert.equal(parsePythonLiteral("'it''s'"), 'its');
  assert.equal(parsePythonLiteral('"a" \'b\''), 'ab');
  assert.equal(parsePythonLiteral('"tab\\there"'), 'tab\there');
  assert.equal(parsePythonLiteral('r"a\\nb"'), 'a\\nb');
  assert.equal(parsePythonLiteral('"\\u00e9\\U0001F600\\x41\\101"'), 'é😀AA');
  assert.equal(parsePythonLiteral('"""two\nlines"""'), 'two\nlines');
  assert.equal(parsePythonLiteral('"\\q"'), '\\q');
});

test('bytes become Buffers, complex numbers Complex', () => {
  assert.deepEqual(parsePythonLiteral("b'\\x00\\xffA'"), Buffer.from([0, 255, 65]));
  assert.deepEqual(parsePythonLiteral("rb'\\x'"), Buffer.from('\\x'));
  assert.deepEqual(parsePythonLiteral('1+2j'), new Complex(1, 2));
  assert.deepEqual(parsePythonLiteral('-1.5 - 0.5j'), new Complex(-1.5, -0.5));
  assert.deepEqual(parsePythonLiteral('3j'), new Complex(0, 3));
});

test('containers keep their Python types', () => {
  assert.equal(roundTrip("(1, 'x')"), "(1, 'x')");
  assert.equal(roundTrip('1, 2'), '(1, 2)');
  assert.equal(roundTrip('(1,)'), '(1,)');
  assert.equal(roundTrip('()'), '()');
  assert.equal(roundTrip('(1)'), '1');
  assert.equal(roundTrip('[1, [2, 3], ]'), '[1, [2, 3]]');
  assert.equal(
    roundTrip("{'a': [1.5, None], 2: (b'', True)}"),
    "{'a': [1.5, None], 2: (b'', True)}",
  );
  assert.equal(roundTrip('{1, 2, 2}'), '{1, 2}');
  assert.equal(roundTrip('{}'), '{}');
  assert.equal(roundTrip('set()'), 'set()');
  assert.equal(roundTrip('frozenset()'), 'frozenset()');
  assert.ok(parsePythonLiteral('(1, 2)') instanceof Tuple);
  assert.ok(parsePythonLiteral('frozenset()') instanceof FrozenSet);
  assert.equal(roundTrip('[\n  1,  # one\n  2,\n]'), '[1, 2]');
});

test('errors name what is wrong and the column', () => {
  const cases: Array<[string, RegExp, number]> = [
    ['', /expected a Python value/, 1],
    ['(1, 2', /'\(' at column 1 is never closed/, 6],
    ["'abc", /unterminated string/, 1],
    ['[1 2]', /expected ',' or '\]', found '2'/, 4],
    ['foo', /'foo' is not a literal/, 1],
    ['1 + 2', /only a complex number may follow/, 5],
    ['{[1]: 2}', /a dict key must be hashable, not list/, 2],
    ['{(1, [2])}', /a set member must be hashable, not a tuple holding/, 2],
    ['007', /leading zeros/, 1],
    ['f"{x}"', /f-strings are not literals/, 1],
    ["b'é'", /ASCII/, 3],
    ["'a' b'b'", /cannot mix bytes and str/, 5],
    ['"\\x4"', /truncated \\x escape/, 2],
    ['1 2', /unexpected '2' after the value/, 3],
  ];
  for (const [text, message, column] of cases) {
    assert.throws(
      () => parsePythonLiteral(text),
      (error: unknown) => {
        assert.ok(error instanceof LiteralError, `${text}: ${String(error)}`);
        assert.match(error.message, message, text);
        assert.equal(error.column, column, `${text}: ${error.message}`);
        return true;
      },
    );
  }
});

test('validatePythonLiteral returns the message or undefined, for as-you-type checks', () => {
  assert.equal(validatePythonLiteral("('ok', 1)"), undefined);
  assert.match(validatePythonLiteral('(') ?? '', /never closed/);
});
