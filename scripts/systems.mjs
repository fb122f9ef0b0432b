// Systems the tests need (a Slurm cluster, podman with its image), each started by a `system.ts`
// that speaks test/helpers/system.ts's protocol: one JSON line on stdout with its environment (or
// why it cannot run here), then it runs until its stdin ends. Used by scripts/run-tests.mjs for a
// tier's folder and by the editor tier for the suites that need a cluster.

import { spawn } from 'node:child_process';
import readline from 'node:readline';

/**
 * Starts a tier's system; resolves with its process and environment, or with why it cannot run.
 * @param {string} file
 * @returns {Promise<{ child?: import('node:child_process').ChildProcess, env?: Record<string,string>, unavailable?: string }>}
 */
export function startSystem(file) {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      lines.close();
      child.stdout.resume();
      const message = JSON.parse(line);
      resolve(
        message.unavailable !== undefined
          ? { unavailable: message.unavailable }
          : { child, env: message.env },
      );
    });
    child.once('exit', (code) =>
      reject(new Error(`${file} exited with ${code} before the system was up`)),
    );
  });
}

/** @param {import('node:child_process').ChildProcess} child */
export function stopSystem(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve(undefined);
      return;
    }
    child.once('exit', resolve);
    child.stdin?.end();
  });
}
