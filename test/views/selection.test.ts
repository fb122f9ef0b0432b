// Run Selection sends the selected lines without their shared indentation, at their own line
// numbers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dedent } from '../../src/views/selection';

test('dedent removes the indentation all non-blank lines share', () => {
  assert.equal(dedent('    x = 1\n    if x:\n        y = 2\n'), 'x = 1\nif x:\n    y = 2\n');
  assert.equal(dedent('  a\n\n    b'), 'a\n\n  b');
  assert.equal(dedent('\ta\n\t\tb'), 'a\n\tb');
});

test('dedent leaves text alone when a line is not indented', () => {
  assert.equal(dedent('a\n  b'), 'a\n  b');
});

test('dedent compares tabs and spaces literally', () => {
  assert.equal(dedent('\ta\n    b'), '\ta\n    b');
});

test('blank lines do not count, and lose their whitespace', () => {
  assert.equal(dedent('    a\n  \n    b'), 'a\n\nb');
});
