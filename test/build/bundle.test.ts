// The production bundles load on a machine that has neither node_modules nor the optional native
// add-ons (msgpackr-extract, cpu-features, sshcrypto), and ship the Python remote sources.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
const optionalNative = [
  'msgpackr-extract',
  'cpu-features',
  './crypto/build/Release/sshcrypto.node',
];

// Outside the repository, so that no node_modules folder is on the bundles' resolution path.
let tmp = '';
let dist = '';

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-bundle-'));
  dist = path.join(tmp, 'dist');
  const build = spawnSync(process.execPath, ['esbuild.mjs', '--production', '--outdir', dist], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(build.status, 0, `esbuild.mjs failed:\n${build.stdout}${build.stderr}`);
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs `node ARGS` in the temporary folder; the child gets a stand-in for the `vscode` module. */
function runNode(args: string[]) {
  const stub = path.join(tmp, 'vscode-stub.cjs');
  fs.writeFileSync(
    stub,
    `// Every property of the stand-in is the stand-in: enough for top-level extends and new.
const Module = require('node:module');
const stub = new Proxy(function () {}, { get: (_t, key) => (key === 'prototype' ? {} : stub) });
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === 'vscode' ? stub : load.call(this, request, ...rest);
};
`,
  );
  return spawnSync(process.execPath, ['--require', stub, ...args], {
    cwd: tmp,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

for (const bundle of ['extension.js', 'cli.js']) {
  test(`${bundle} requires nothing but node built-ins, vscode and optional native add-ons`, () => {
    const text = fs.readFileSync(path.join(dist, bundle), 'utf8');
    const required = new Set([...text.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]));
    const allowed = new Set([
      ...builtinModules,
      ...builtinModules.map((m) => `node:${m}`),
      'vscode',
      ...optionalNative,
    ]);
    assert.deepEqual(
      [...required].filter((r) => !allowed.has(r)),
      [],
    );
  });

  test(`${bundle} ships without a source map in production`, () => {
    assert.equal(fs.existsSync(path.join(dist, `${bundle}.map`)), false);
  });
}

test('extension.js loads without node_modules and exports activate and deactivate', () => {
  const probe = `const ext = require(${JSON.stringify(path.join(dist, 'extension.js'))});
process.stdout.write(JSON.stringify([typeof ext.activate, typeof ext.deactivate]));`;
  const run = runNode(['-e', probe]);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), ['function', 'function']);
});

test('cli.js is an executable node script that answers --help', () => {
  const cli = path.join(dist, 'cli.js');
  assert.match(fs.readFileSync(cli, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  assert.ok((fs.statSync(cli).mode & 0o111) !== 0, 'cli.js is not executable');
  const run = runNode([cli, '--help']);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /usage/i);
});

test('the Python remote sources are copied to dist/remote', () => {
  const src = path.join(root, 'src', 'core', 'remote');
  const expected = fs.existsSync(src) ? fs.readdirSync(src).filter((f) => f.endsWith('.py')) : [];
  assert.deepEqual(fs.readdirSync(path.join(dist, 'remote')).sort(), expected.sort());
});
