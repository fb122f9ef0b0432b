// `npm run test:vscode`: the editor tier. Installs the host if needed (code-server under
// .vscode-host/, cached), builds and packages the extension, then runs
//   1. the integration suites (test/vscode) in a trusted workspace,
//   2. the untrusted-workspace suite in a host with workspace trust on,
//   3. the UI end-to-end walks in the browser workbench against the installed .vsix (the main one,
//      e2e-interactive: cells, the REPL terminal, notebooks; e2e-run: run, stop, re-run, stdin,
//      arguments, imports, tracebacks, group output; e2e-debug: breakpoints, stepping and
//      variables on a local and an ssh gateway; e2e-slurm: a fan-out on a private Slurm cluster),
// and prints where the reports and screenshots are. Exit status 0 only if all passed.
//
//   node scripts/vscode-host/test.mjs [--only integration|untrusted|e2e|e2e-interactive|e2e-run|e2e-debug|e2e-slurm]...

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import {
  ensureCodeServer,
  chromiumPath,
  log,
  newRunDir,
  packageExtension,
  ROOT,
  HOST_DIR,
} from './host.mjs';
import { runIntegration } from './integration.mjs';
import { runE2E } from './e2e.mjs';
import { runInteractiveE2E } from './e2e-interactive.mjs';
import { runDebugE2E } from './e2e-debug.mjs';
import { runSlurmE2E } from './e2e-slurm.mjs';
import { runRunLoopE2E } from './e2e-run.mjs';

const args = process.argv.slice(2);
const only = args.flatMap((a, i) => (a === '--only' ? [args[i + 1]] : []));
const wanted = (name) => only.length === 0 || only.includes(name);

/** Bundles the integration suites (mocha included) for the extension host. */
export async function buildTests() {
  const outfile = path.join(ROOT, 'out', 'test', 'vscode', 'index.js');
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ['test/vscode/index.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    sourcemap: 'inline',
    logLevel: 'warning',
    // mocha's parallel mode (unused here) resolves worker files at run time
    logOverride: { 'require-resolve-not-external': 'silent' },
  });
  return outfile;
}

async function main() {
  const started = Date.now();
  chromiumPath();
  ensureCodeServer();
  const results = [];
  const dir = newRunDir('test');
  log(`run folder: ${path.relative(process.cwd(), dir)}`);

  if (wanted('integration') || wanted('untrusted')) {
    const tests = await buildTests();
    // the extension is loaded from this repository (extensionDevelopmentPath): build what ships
    const build = spawnSync(process.execPath, ['esbuild.mjs', '--production'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (build.status !== 0) {
      process.exit(1);
    }
    if (wanted('integration')) {
      results.push([
        'integration',
        await runIntegration({ dir: path.join(dir, 'integration'), tests }),
      ]);
    }
    if (wanted('untrusted')) {
      results.push([
        'untrusted',
        await runIntegration({ dir: path.join(dir, 'untrusted'), tests, untrusted: true }),
      ]);
    }
  }
  let vsix;
  const packaged = () => (vsix ??= packageExtension(path.join(dir, 'execnet-vscode.vsix')));
  if (wanted('e2e')) {
    results.push(['e2e', await runE2E({ dir: path.join(dir, 'e2e'), vsix: packaged() })]);
  }
  if (wanted('e2e-interactive')) {
    results.push([
      'e2e-interactive',
      await runInteractiveE2E({ dir: path.join(dir, 'e2e-interactive'), vsix: packaged() }),
    ]);
  }
  if (wanted('e2e-debug')) {
    results.push([
      'e2e-debug',
      await runDebugE2E({ dir: path.join(dir, 'e2e-debug'), vsix: packaged() }),
    ]);
  }
  if (wanted('e2e-run')) {
    results.push([
      'e2e-run',
      await runRunLoopE2E({ dir: path.join(dir, 'e2e-run'), vsix: packaged() }),
    ]);
  }
  if (wanted('e2e-slurm')) {
    results.push([
      'e2e-slurm',
      await runSlurmE2E({ dir: path.join(dir, 'e2e-slurm'), vsix: packaged() }),
    ]);
  }

  console.log('');
  for (const [name, ok] of results) {
    const outcome =
      ok === 'skipped' ? 'SKIPPED (its system could not start)' : ok ? 'passed' : 'FAILED';
    console.log(`vscode tier: ${name.padEnd(12)} ${outcome}`);
  }
  console.log(
    `vscode tier: reports and screenshots in ${path.relative(process.cwd(), dir) || dir}`,
  );
  console.log(
    `vscode tier: ${((Date.now() - started) / 1000).toFixed(0)} s in all (host cache: ${path.relative(ROOT, HOST_DIR)})`,
  );
  // the totals in the node test runner's words, for drivers that add up every tier
  let passed = 0;
  let failed = 0;
  for (const [name, ok] of results) {
    const report = path.join(dir, name, 'report.txt');
    const last = fs.existsSync(report)
      ? /(\d+) passed, (\d+) failed/.exec(fs.readFileSync(report, 'utf8'))
      : null;
    if (ok === 'skipped') {
      continue;
    }
    if (last) {
      passed += Number(last[1]);
      failed += Number(last[2]) + (ok || Number(last[2]) > 0 ? 0 : 1);
    } else if (ok) {
      passed++;
    } else {
      failed++;
    }
  }
  console.log(`# pass ${passed}`);
  console.log(`# fail ${failed}`);
  process.exit(results.every(([, ok]) => ok) ? 0 : 1);
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  fs.mkdirSync(HOST_DIR, { recursive: true });
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
