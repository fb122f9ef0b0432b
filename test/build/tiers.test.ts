// scripts/run-tests.mjs with a tier that needs a system (its folder's system.ts): the system is up
// before the tests and its environment reaches them, it is stopped after; a system that cannot
// start here skips the tier with status 77 and a `SKIPPED:` line saying why.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

const ROOT = path.join(__dirname, '..', '..');
const SYSTEM = JSON.stringify(path.join(ROOT, 'test', 'helpers', 'system.ts'));
const dirs: string[] = [];
after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A tier's folder: `system(dir)` is its system.ts, `testFile` its one test. */
function tier(system: (dir: string) => string, testFile: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-tier-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'system.ts'), system(dir));
  fs.writeFileSync(path.join(dir, 'one.test.ts'), testFile);
  return dir;
}

function runTier(dir: string) {
  // a test runner inside a test runner reports to it instead of printing TAP, unless told apart
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'run-tests.mjs'), dir], {
    cwd: ROOT,
    encoding: 'utf8',
    env,
    timeout: 60_000,
  });
}

test("a tier's system is up for its tests, with its environment, and stopped after", () => {
  const dir = tier(
    (dir) => `import * as fs from 'node:fs';
     import { serveSystem } from ${SYSTEM};
     serveSystem(async () => ({
       env: { TIER_SYSTEM: 'up' },
       stop: async () => fs.writeFileSync(${JSON.stringify(path.join(dir, 'stopped'))}, ''),
     }));`,
    `import { test } from 'node:test';
     import assert from 'node:assert/strict';
     test('sees the system', () => assert.equal(process.env.TIER_SYSTEM, 'up'));`,
  );
  const result = runTier(dir);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /# pass 1/);
  assert.match(result.stdout, /system\.ts: up in/);
  assert.ok(fs.existsSync(path.join(dir, 'stopped')), 'the system was stopped');
});

test('a system that cannot start skips the tier with status 77, saying why', () => {
  const dir = tier(
    () => `import { serveSystem, SystemUnavailable } from ${SYSTEM};
     serveSystem(async () => { throw new SystemUnavailable('no frobnicator on this machine'); });`,
    `import { test } from 'node:test';
     test('never runs', () => { throw new Error('ran'); });`,
  );
  const result = runTier(dir);
  assert.equal(result.status, 77, result.stdout + result.stderr);
  assert.match(result.stdout, /^SKIPPED: .*: no frobnicator on this machine$/m);
  assert.doesNotMatch(result.stdout, /never runs/);
});
