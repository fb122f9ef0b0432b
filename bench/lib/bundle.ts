// Benchmarks run our side from an esbuild bundle, built the way `npm run build:production`
// builds the extension: one minified CJS file for node20, the optional native add-ons left
// outside, and the remote's Python sources in `remote/` beside it, as in `dist/`.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Bundle `entry` into `outDir` with `remoteDir`'s *.py beside it; resolves the bundle's path. */
export async function buildBenchBundle(
  root: string,
  entry: string,
  outDir: string,
  remoteDir: string,
): Promise<string> {
  const esbuild = await import('esbuild');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(outDir, 'remote'), { recursive: true });
  const outfile = path.join(outDir, `${path.basename(entry, '.ts')}.js`);
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: true,
    keepNames: true,
    sourcemap: false,
    logLevel: 'warning',
    // As in esbuild.mjs: optional native add-ons stay outside the bundle.
    external: [
      'vscode',
      'esbuild',
      'msgpackr-extract',
      'cpu-features',
      './crypto/build/Release/sshcrypto.node',
    ],
    plugins: [
      {
        name: 'native-addons-external',
        setup(build) {
          build.onResolve({ filter: /\.node$/ }, (a) => ({ path: a.path, external: true }));
        },
      },
    ],
  });
  for (const name of fs.readdirSync(remoteDir).filter((n) => n.endsWith('.py'))) {
    fs.copyFileSync(path.join(remoteDir, name), path.join(outDir, 'remote', name));
  }
  return outfile;
}

/**
 * Run `script` (a bench/*.ts that measures our side in its own process) from a bundle of itself
 * with the same arguments, as users run the engine; resolves the bundle's exit code. The bundle
 * finds bench/ through `<flag>_BENCH_DIR` and knows it is bundled through `<flag>_BUNDLED`.
 */
export async function runSelfBundled(
  benchDir: string,
  script: string,
  flag: string,
): Promise<number> {
  const root = path.dirname(benchDir);
  const bundle = await buildBenchBundle(
    root,
    path.join(benchDir, script),
    path.join(benchDir, 'results', `bundle-${path.basename(script, '.ts')}`),
    path.join(root, 'src', 'core', 'remote'),
  );
  const child = spawn(process.execPath, [bundle, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [`${flag}_BUNDLED`]: '1', [`${flag}_BENCH_DIR`]: benchDir },
  });
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}
