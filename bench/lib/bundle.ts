// Benchmarks run our side from an esbuild bundle, built the way `npm run build:production`
// builds the extension: one minified CJS file for node20, the optional native add-ons left
// outside, and the remote's Python sources in `remote/` beside it, as in `dist/`.

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
