// Builds the production bundles and packages them as a .vsix (checked against the 1 MB budget).
//
//   node scripts/package.mjs [--out FILE]

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = path.resolve(
  outIndex >= 0 ? args[outIndex + 1] : path.join(root, `${pkg.name}-${pkg.version}.vsix`),
);
const BUDGET = 1024 * 1024;

function step(command, argv) {
  const r = spawnSync(command, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.exit(r.status ?? 1);
  }
}

step(process.execPath, ['esbuild.mjs', '--production']);
// The bundles are self-contained: no node_modules in the package.
step(process.execPath, [
  path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce'),
  'package',
  '--no-dependencies',
  '--allow-missing-repository',
  '--skip-license',
  // the README's links point into the repository, which the package does not name
  '--no-rewrite-relative-links',
  '--out',
  out,
]);
const size = fs.statSync(out).size;
console.log(
  `package: ${path.relative(process.cwd(), out)} ${(size / 1024).toFixed(0)} KiB (budget ${BUDGET / 1024} KiB)`,
);
if (size > BUDGET) {
  console.error('package: the .vsix is over its 1 MB budget');
  process.exit(1);
}
