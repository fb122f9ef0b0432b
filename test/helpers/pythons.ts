// The Python interpreters tests run against: every CPython 3.x that pyenv installed, oldest first.
// Found from directory names alone (no interpreter is started), so listing them costs nothing.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface PythonInstall {
  /** Major.minor, e.g. `3.12`. */
  readonly version: string;
  /** The interpreter, e.g. `/root/.pyenv/versions/3.12.1/bin/python`. */
  readonly path: string;
}

function pyenvRoot(): string {
  if (process.env.PYENV_ROOT) {
    return process.env.PYENV_ROOT;
  }
  try {
    const root = execFileSync('pyenv', ['root'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
    if (root) {
      return root;
    }
  } catch {
    // pyenv is not on PATH: fall back to its default location
  }
  return path.join(os.homedir(), '.pyenv');
}

let found: PythonInstall[] | undefined;

/**
 * Every CPython 3.x under `$(pyenv root)/versions/<name>/bin/python`, sorted by version. A
 * version directory counts when its name starts with `3.<minor>` (pyenv names CPython builds
 * `3.12.1`, `3.13-dev`, `3.13.0t`; PyPy, conda and 2.x builds are named otherwise).
 */
export function findPythons(): PythonInstall[] {
  if (found) {
    return found.slice();
  }
  const versions = path.join(pyenvRoot(), 'versions');
  let names: string[];
  try {
    names = fs.readdirSync(versions);
  } catch {
    names = [];
  }
  const pythons: { install: PythonInstall; key: number[] }[] = [];
  for (const name of names) {
    const match = /^3\.(\d+)(?:\.(\d+))?/.exec(name);
    const exe = path.join(versions, name, 'bin', 'python');
    if (!match || !isExecutable(exe)) {
      continue;
    }
    const minor = Number(match[1]);
    const micro = match[2] === undefined ? -1 : Number(match[2]);
    pythons.push({ install: { version: `3.${minor}`, path: exe }, key: [minor, micro] });
  }
  pythons.sort(
    (a, b) =>
      a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.install.path.localeCompare(b.install.path),
  );
  found = pythons.map((p) => p.install);
  return found.slice();
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `$EXECNET_TEST_PYTHON`, else the newest Python found, else `python3` from PATH. */
export function defaultPython(): string {
  const fromEnv = process.env.EXECNET_TEST_PYTHON;
  if (fromEnv) {
    return fromEnv;
  }
  const pythons = findPythons();
  return pythons.length > 0 ? pythons[pythons.length - 1].path : 'python3';
}
