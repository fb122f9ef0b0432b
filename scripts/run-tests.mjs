// Runs every *.test.ts under the given folders with node's test runner, TypeScript through tsx.
// Node 20 does not expand globs for --test, so the files are listed here.
//
//   node scripts/run-tests.mjs DIR... [node test flags, e.g. --test-name-pattern=receive]
//
// TEST_CONCURRENCY (default 2, one per core here) and TEST_TIMEOUT_MS (default 60000, per test)
// override the defaults.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));

if (dirs.length === 0) {
  console.error('usage: node scripts/run-tests.mjs DIR... [node test flags]');
  process.exit(2);
}

/** @param {string} dir @returns {string[]} */
function findTests(dir) {
  if (!fs.existsSync(dir)) {
    return [];
  }
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

const files = dirs.flatMap(findTests).sort();
if (files.length === 0) {
  console.error(`no *.test.ts files under ${dirs.join(', ')}`);
  process.exit(1);
}

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const timeout = process.env.TEST_TIMEOUT_MS ?? '60000';
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${timeout}`,
    ...flags,
    ...files,
  ],
  { stdio: 'inherit' },
);
if (result.error) {
  throw result.error;
}
process.exit(result.status ?? 1);
