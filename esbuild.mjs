// Bundles the extension and the CLI into dist/ and copies the Python remote sources beside them.
// The bundles are self-contained: only `vscode` and optional native add-ons stay outside.
//
//   node esbuild.mjs [--production] [--watch] [--outdir DIR]

import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const remoteSrc = path.join(root, 'src', 'core', 'remote');

const args = process.argv.slice(2);
const production = args.includes('--production');
const watch = args.includes('--watch');
const outdirArg = args.indexOf('--outdir');
const outdir = path.resolve(root, outdirArg >= 0 ? args[outdirArg + 1] : 'dist');

// Native parts that their packages load inside try/catch and can do without: bundling them would
// fail (esbuild has no loader for .node) or pin a binary for one platform.
const optionalNative = [
  'msgpackr-extract',
  'cpu-features',
  './crypto/build/Release/sshcrypto.node',
];

/** Leaves every `require('….node')` as it is, so a missing add-on fails at run time inside its try. */
const nativeAddonsExternal = {
  name: 'native-addons-external',
  setup(build) {
    build.onResolve({ filter: /\.node$/ }, (a) => ({ path: a.path, external: true }));
  },
};

/** Mirrors src/core/remote/*.py into <outdir>/remote, which the engine reads at run time. */
function copyRemoteSources() {
  const dest = path.join(outdir, 'remote');
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  if (!fs.existsSync(remoteSrc)) {
    return;
  }
  for (const name of fs.readdirSync(remoteSrc)) {
    if (name.endsWith('.py')) {
      fs.copyFileSync(path.join(remoteSrc, name), path.join(dest, name));
    }
  }
}

/** Prints one line per build, like `tsc --watch`, so a watcher's output stays readable. */
const reporter = {
  name: 'reporter',
  setup(build) {
    const label = path.basename(build.initialOptions.outfile);
    build.onStart(() => {
      if (watch) {
        console.log(`[watch] building ${label}`);
      }
    });
    build.onEnd((result) => {
      if (label === 'cli.js' && result.errors.length === 0) {
        fs.chmodSync(build.initialOptions.outfile, 0o755);
      }
      if (watch) {
        console.log(`[watch] ${label}: ${result.errors.length} error(s)`);
      }
    });
  },
};

/** @type {import('esbuild').BuildOptions} */
const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['vscode', ...optionalNative],
  sourcemap: !production,
  minify: production,
  // Error classes name themselves from `new.target.name`; minified names would be useless.
  keepNames: true,
  logLevel: 'warning',
  plugins: [nativeAddonsExternal, reporter],
};

const targets = [
  {
    ...common,
    entryPoints: ['src/extension/index.ts'],
    outfile: path.join(outdir, 'extension.js'),
  },
  {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: path.join(outdir, 'cli.js'),
    banner: { js: '#!/usr/bin/env node' },
  },
];

// Source maps of an earlier dev build must not survive into a production one.
for (const t of targets) {
  fs.rmSync(`${t.outfile}.map`, { force: true });
}

if (watch) {
  const contexts = await Promise.all(targets.map((t) => esbuild.context(t)));
  await Promise.all(contexts.map((c) => c.watch()));
  copyRemoteSources();
  if (fs.existsSync(remoteSrc)) {
    fs.watch(remoteSrc, () => copyRemoteSources());
  }
  console.log('[watch] watching for changes (Ctrl+C to stop)');
} else {
  const results = await Promise.allSettled(targets.map((t) => esbuild.build(t)));
  // esbuild has already printed the errors of a failed build.
  if (results.some((r) => r.status === 'rejected')) {
    process.exit(1);
  }
  copyRemoteSources();
}
