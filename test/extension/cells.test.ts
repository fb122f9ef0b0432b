// Where `# %%` cells start and end in a Python file.

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { cellAt, findCells } from '../../src/extension/cells/cells';

const FILE = [
  'import math', // 0: above the first marker
  '',
  '# %% load', // 2
  'x = 1',
  '#%% [markdown] notes', // 4
  '# text',
  '  # %%', // 6
  'x + 1',
];

test('a file without markers has no cells', () => {
  assert.deepEqual(findCells(['x = 1', '# %d not a marker']), []);
});

test('cells run from their marker to the next; code above the first marker is a cell too', () => {
  assert.deepEqual(findCells(FILE), [
    { marker: -1, start: 0, end: 2, title: '', markdown: false },
    { marker: 2, start: 3, end: 4, title: 'load', markdown: false },
    { marker: 4, start: 5, end: 6, title: '[markdown] notes', markdown: true },
    { marker: 6, start: 7, end: 8, title: '', markdown: false },
  ]);
});

test('the cell at a line: its marker and its code belong to it', () => {
  const cells = findCells(FILE);
  assert.equal(cellAt(cells, 0)?.marker, -1);
  assert.equal(cellAt(cells, 2)?.marker, 2);
  assert.equal(cellAt(cells, 3)?.marker, 2);
  assert.equal(cellAt(cells, 7)?.marker, 6);
  assert.equal(cellAt(findCells(['# %%', 'a']), 5), undefined);
});
