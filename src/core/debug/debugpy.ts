// The debugpy that is shipped to a gateway whose Python lacks one: found on this machine (a folder
// the user names, or the package a local Python imports), copied into a self-contained folder
// (symlinks resolved: Debian's debugpy links its vendored pydevd; with `bytecode` and
// `typing_extensions` when they sit beside it, which that pydevd and Python 3.8/3.9 need), named
// by version and content so that a gateway's cached copy is reused only while it is the same.
// Invariant: a staged folder holds its marker (the key) only once everything is in place.

import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExecnetError } from '../errors';
import { userCacheDir } from '../cache';

/** Written last into a complete copy; must match MARKER in remote/debug_relay.py. */
export const BUNDLE_MARKER = '.execnet-bundle';

/** Modules that a split debugpy (Debian's) needs from beside it; copied when they are there. */
const COMPANIONS = ['bytecode', 'typing_extensions.py'];

export interface DebugpyBundle {
  /** A folder to put on PYTHONPATH: `debugpy/` and its companions. */
  readonly dir: string;
  /** debugpy's version, e.g. `1.6.6+ds`. */
  readonly version: string;
  /** `debugpy-<version>-<content hash>`: the folder name of a shipped copy. */
  readonly key: string;
  /** Where it was found. */
  readonly source: string;
  /**
   * The oldest Python it runs on: 3.7 for debugpy 1.6 alone, 3.8 when it brings the system's
   * `bytecode` (Debian's split pydevd imports it; that `bytecode` needs 3.8).
   */
  readonly minimumPython: readonly number[];
}

export interface DebugpyOptions {
  /** A folder holding the `debugpy` package (or the package itself); else found with `pythons`. */
  readonly debugpyPath?: string;
  /** Local interpreters asked for their debugpy, in order (default `python3`, `/usr/bin/python3`). */
  readonly pythons?: readonly string[];
  /** Where staged copies live (default `$XDG_CACHE_HOME/execnet` or `~/.cache/execnet`). */
  readonly cacheDir?: string;
}

/** No debugpy here to ship: the message says what to install. */
export class DebugpyNotFound extends ExecnetError {}

export function defaultCacheDir(): string {
  return userCacheDir();
}

const FIND_DEBUGPY =
  'import importlib.util, os\n' +
  's = importlib.util.find_spec("debugpy")\n' +
  'print(os.path.dirname(os.path.dirname(s.origin)) if s and s.origin else "")';

function askPython(python: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(python, ['-c', FIND_DEBUGPY], { timeout: 15_000 }, (error, stdout) => {
      const dir = stdout?.trim();
      resolve(error || !dir ? undefined : dir);
    });
  });
}

/** The folder holding `debugpy/`: the one named, else the first local Python's. */
async function findSource(options: DebugpyOptions): Promise<string> {
  const named = options.debugpyPath;
  if (named) {
    const dir = path.resolve(named.replace(/^~(?=$|\/)/, os.homedir()));
    for (const candidate of [dir, path.dirname(dir)]) {
      if (fs.existsSync(path.join(candidate, 'debugpy', '__init__.py'))) {
        return candidate;
      }
    }
    throw new DebugpyNotFound(
      `no debugpy package in ${dir}: name a folder that holds debugpy/ (e.g. a site-packages, or \`pip install --target DIR debugpy\`)`,
    );
  }
  const pythons = options.pythons ?? ['python3', '/usr/bin/python3'];
  for (const python of pythons) {
    const dir = await askPython(python);
    if (dir) {
      return dir;
    }
  }
  throw new DebugpyNotFound(
    `none of ${pythons.join(', ')} here has debugpy: install it here ` +
      '(`pip install debugpy`, or `apt install python3-debugpy`) or on the gateway',
  );
}

function versionOf(source: string): string {
  try {
    const text = fs.readFileSync(path.join(source, 'debugpy', '_version.py'), 'utf8');
    return /"version":\s*"([^"]+)"/.exec(text)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Every file to copy (symlinks followed), relative to `source`, with its size. */
function listFiles(source: string): { rel: string; size: number }[] {
  const files: { rel: string; size: number }[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(source, rel);
    const stat = fs.statSync(abs);
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) {
        if (name !== '__pycache__' && !name.endsWith('.pyc')) {
          walk(path.join(rel, name));
        }
      }
    } else if (stat.isFile()) {
      files.push({ rel, size: stat.size });
    }
  };
  walk('debugpy');
  for (const name of COMPANIONS) {
    if (fs.existsSync(path.join(source, name))) {
      walk(name);
    }
  }
  return files;
}

const staged = new Map<string, Promise<DebugpyBundle>>();

/**
 * A self-contained copy of the local debugpy, staged once per content (later calls reuse it).
 * Rejects with DebugpyNotFound when there is none to ship.
 */
export function localDebugpy(options: DebugpyOptions = {}): Promise<DebugpyBundle> {
  const id = JSON.stringify([options.debugpyPath, options.pythons, options.cacheDir]);
  let bundle = staged.get(id);
  if (!bundle) {
    bundle = stage(options);
    staged.set(id, bundle);
    bundle.catch(() => staged.delete(id));
  }
  return bundle;
}

async function stage(options: DebugpyOptions): Promise<DebugpyBundle> {
  const source = await findSource(options);
  const version = versionOf(source);
  const files = listFiles(source);
  const hash = crypto.createHash('sha256');
  for (const file of files) {
    hash.update(`${file.rel}\0${file.size}\0`);
  }
  const key = `debugpy-${version}-${hash.digest('hex').slice(0, 12)}`;
  const dir = path.join(options.cacheDir ?? defaultCacheDir(), key);
  const marker = path.join(dir, BUNDLE_MARKER);
  if (readMarker(marker) !== key) {
    // copy beside, then move into place: a half-made copy never carries the marker
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const tmp = fs.mkdtempSync(`${dir}.tmp-`);
    try {
      for (const file of files) {
        const to = path.join(tmp, file.rel);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.copyFileSync(path.join(source, file.rel), to);
      }
      fs.writeFileSync(path.join(tmp, BUNDLE_MARKER), key);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(tmp, dir);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const minimumPython = files.some((f) => f.rel.startsWith(`bytecode${path.sep}`))
    ? [3, 8]
    : [3, 7];
  return { dir, version, key, source, minimumPython };
}

function readMarker(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
