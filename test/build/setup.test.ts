// scripts/npm-ci.sh (run by scripts/setup.sh): npm ci once, then skipped while node_modules came
// from the very same package-lock.json, and run again when the lockfile changes. Tried on a
// small project of its own whose dependency is a local folder, so npm needs no registry.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
let project = '';

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Points the project at these local packages and writes its lockfile as npm would. */
function dependOn(...names: string[]): void {
  for (const name of names) {
    writeJson(path.join(project, name, 'package.json'), { name, version: '1.0.0' });
  }
  writeJson(path.join(project, 'package.json'), {
    name: 'setup-test',
    version: '1.0.0',
    private: true,
    dependencies: Object.fromEntries(names.map((name) => [name, `file:${name}`])),
  });
  const lock = spawnSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], {
    cwd: project,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(lock.status, 0, lock.stderr);
}

function install(): string {
  const run = spawnSync('bash', [path.join(project, 'scripts', 'npm-ci.sh')], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
  return run.stdout;
}

before(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-setup-'));
  fs.mkdirSync(path.join(project, 'scripts'));
  fs.copyFileSync(
    path.join(root, 'scripts', 'npm-ci.sh'),
    path.join(project, 'scripts', 'npm-ci.sh'),
  );
});

after(() => fs.rmSync(project, { recursive: true, force: true }));

test('npm ci runs once, is skipped while node_modules matches the lockfile, and runs when it changes', () => {
  dependOn('first');
  assert.match(install(), /installing npm dependencies \(npm ci\)/);
  assert.ok(fs.existsSync(path.join(project, 'node_modules', 'first')));

  // what npm ci would wipe stays: nothing was reinstalled
  const marker = path.join(project, 'node_modules', 'marker');
  fs.writeFileSync(marker, '');
  assert.equal(install(), 'setup: node_modules matches package-lock.json (npm ci skipped)\n');
  assert.ok(fs.existsSync(marker));

  dependOn('first', 'second');
  assert.match(install(), /installing npm dependencies \(npm ci\)/);
  assert.ok(fs.existsSync(path.join(project, 'node_modules', 'second')));
  assert.ok(!fs.existsSync(marker), 'a changed lockfile reinstalls from scratch');

  fs.rmSync(path.join(project, 'node_modules'), { recursive: true });
  assert.match(install(), /installing npm dependencies/, 'no node_modules, no stamp: installs');
});
