// Runs every *.test.ts under the given folders with node's test runner, TypeScript through tsx.
// Node 20 does not expand globs for --test, so the files are listed here.
//
//   node scripts/run-tests.mjs DIR... [node test flags, e.g. --test-name-pattern=receive]
//
// A folder with a `system.ts` needs a system started first (a Slurm cluster, podman's image):
// it is started once for the run (see test/helpers/system.ts), its environment is given to the
// tests, and it is stopped at the end. A system that cannot start on this machine skips the run:
// exit status 77 and a line `SKIPPED: <why>` that scripts/test-all.mjs puts in its summary.
//
// TEST_CONCURRENCY (default 2, one per core here) and TEST_TIMEOUT_MS (default 180000) override
// the defaults. Node 20 applies the timeout to each test file as a whole as well as to each test,
// so it is sized for the longest file on a busy 2-core machine; waits inside tests have their own.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startSystem, stopSystem } from './systems.mjs';

const SKIPPED = 77;

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

const systems = [];
const env = { ...process.env };
for (const dir of dirs) {
  const file = path.join(dir, 'system.ts');
  if (!fs.existsSync(file)) {
    continue;
  }
  const started = Date.now();
  const system = await startSystem(file);
  if (system.unavailable !== undefined) {
    await Promise.all(systems.map(stopSystem));
    console.log(`\nSKIPPED: ${dir}: ${system.unavailable}`);
    process.exit(SKIPPED);
  }
  console.log(`# ${file}: up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  systems.push(system.child);
  Object.assign(env, system.env);
}

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const timeout = process.env.TEST_TIMEOUT_MS ?? '180000';
const tests = spawn(
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
  { stdio: 'inherit', env },
);
const status = await new Promise((resolve) =>
  tests.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
);
await Promise.all(systems.map(stopSystem));
process.exit(status);
