// The source side of RSync: one walk of a directory tree, in batches of entries (path, kind,
// size, mtime in ns, mode, link target), with .gitignore files and include/exclude patterns.
// Invariant: a directory's entry comes before anything inside it, and symlinks are never
// followed: a link is an entry of its own.

import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** What an entry is; the numbers are what travels (docs/rsync.md). */
export const EntryKind = {
  File: 0,
  Dir: 1,
  /** A symlink, recreated with the same target. */
  Link: 2,
  /** An absolute symlink into the source tree: recreated pointing into the destination. */
  LinkInTree: 3,
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export interface Entry {
  /** Relative to the source root, `/`-separated. */
  readonly path: string;
  readonly kind: EntryKind;
  readonly size: number;
  /**
   * Files: `mtimeMs` as Node computes it (sec * 1e3 + nsec / 1e6, a double; the remote computes
   * the same double from its ns to compare, and the exact ns travel with the data). Directories
   * and links: the exact ns, which the destination gets.
   */
  readonly mtime: number | bigint;
  /** Permission bits (`mode & 0o7777`). */
  readonly mode: number;
  /** For links: the target as read, or (LinkInTree) relative to the source root. */
  readonly target?: string;
}

export interface WalkRules {
  /** Honour `.gitignore` files found in the tree. */
  readonly gitignore: boolean;
  /** gitignore-style patterns, relative to the source root, left out of the sync. */
  readonly exclude: readonly string[];
  /**
   * gitignore-style patterns: when given, only files (and links) matching one are synced; a file
   * inside a matching directory matches. Directories are entered regardless.
   */
  readonly include: readonly string[];
}

export interface WalkIssue {
  readonly path: string;
  readonly reason: string;
  /** A vanished or special file is skipped; an unreadable one is an error. */
  readonly error: boolean;
}

interface Rules {
  /** Directory the rules belong to ('' for the root), with a trailing '/' unless root. */
  readonly base: string;
  readonly matcher: Ignore;
}

interface PendingDir {
  readonly rel: string;
  readonly abs: string;
  readonly rules: readonly Rules[];
}

export interface WalkCounts {
  files: number;
  dirs: number;
  links: number;
  bytes: number;
}

export class SourceWalk {
  readonly root: string;
  readonly counts: WalkCounts = { files: 0, dirs: 0, links: 0, bytes: 0 };
  /** Directories whose listing failed: nothing under them may be deleted on the targets. */
  readonly unreadDirs = new Set<string>();
  /** The .gitignore rules in force in each listed directory. */
  private readonly rulesByDir = new Map<string, readonly Rules[]>();
  private readonly exclude: Ignore | undefined;
  private readonly include: Ignore | undefined;
  /** Milliseconds spent in the walk itself (readdir, lstat, readlink, rule matching). */
  busyMs = 0;

  constructor(
    root: string,
    private readonly rules: WalkRules,
    private readonly filter: (absPath: string) => boolean,
    private readonly onIssue: (issue: WalkIssue) => void,
  ) {
    this.root = path.resolve(root);
    this.exclude = rules.exclude.length > 0 ? ignore().add(rules.exclude) : undefined;
    this.include = rules.include.length > 0 ? ignore().add(rules.include) : undefined;
  }

  /** The root's own mode and mtime (a destination root gets them too). */
  rootStat(): fs.BigIntStats {
    return fs.statSync(this.root, { bigint: true });
  }

  /**
   * The tree in batches, parents before children, names sorted within a directory. The first
   * batch is small so that targets can start comparing while the walk goes on.
   */
  async *batches(firstBatch = 64, batchSize = 512): AsyncGenerator<Entry[]> {
    const stack: PendingDir[] = [{ rel: '', abs: this.root, rules: [] }];
    let batch: Entry[] = [];
    let limit = firstBatch;
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const started = performance.now();
      const subdirs = this.readDir(dir, batch);
      this.busyMs += performance.now() - started;
      for (let i = subdirs.length - 1; i >= 0; i--) {
        stack.push(subdirs[i]);
      }
      if (batch.length >= limit) {
        yield batch;
        batch = [];
        limit = batchSize;
      }
    }
    if (batch.length > 0) {
      yield batch;
    }
  }

  /**
   * Whether a path the destination has and the source does not must be kept (not deleted):
   * it is excluded or git-ignored, or it lies under a directory the walk could not read.
   */
  keeps(rel: string, isDir: boolean): boolean {
    for (const unread of this.unreadDirs) {
      if (unread === '' || rel === unread || rel.startsWith(`${unread}/`)) {
        return true;
      }
    }
    const slash = rel.lastIndexOf('/');
    const parent = slash >= 0 ? rel.slice(0, slash) : '';
    const rules = this.rulesByDir.get(parent) ?? [];
    if (this.excluded(rel, isDir, rules)) {
      return true;
    }
    if (isDir && this.include) {
      // it may hold files include does not select, which are not this sync's to delete
      return true;
    }
    return !this.filter(path.join(this.root, rel));
  }

  private readDir(dir: PendingDir, out: Entry[]): PendingDir[] {
    let names: string[];
    try {
      names = fs.readdirSync(dir.abs);
    } catch (error) {
      this.unreadDirs.add(dir.rel);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dir.rel !== '') {
        this.onIssue({ path: dir.rel, reason: 'vanished during the walk', error: false });
      } else {
        this.onIssue({ path: dir.rel || '.', reason: describe(error), error: true });
      }
      return [];
    }
    names.sort();
    let rules = dir.rules;
    if (this.rules.gitignore && names.includes('.gitignore')) {
      rules = this.readGitignore(dir, rules);
    }
    this.rulesByDir.set(dir.rel, rules);
    const prefix = dir.rel ? `${dir.rel}/` : '';
    const absPrefix = dir.abs.endsWith(path.sep) ? dir.abs : dir.abs + path.sep;
    const subdirs: PendingDir[] = [];
    for (const name of names) {
      const rel = prefix + name;
      const abs = absPrefix + name;
      if (!this.filter(abs)) {
        continue;
      }
      // plain stats for files (no BigInts, no Dates: most of the walk's cost beyond the
      // syscall); exact ones for what is not a file
      let st: fs.Stats | fs.BigIntStats | undefined;
      try {
        st = fs.lstatSync(abs, { throwIfNoEntry: false });
        if (st && !st.isFile()) {
          st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
        }
      } catch (error) {
        this.onIssue({ path: rel, reason: describe(error), error: true });
        continue;
      }
      if (!st) {
        this.onIssue({ path: rel, reason: 'vanished during the walk', error: false });
        continue;
      }
      const isDir = st.isDirectory();
      if ((rules.length > 0 || this.exclude || this.include) && this.excluded(rel, isDir, rules)) {
        continue;
      }
      const mode = Number(st.mode) & 0o7777;
      if (st.isFile()) {
        const size = Number(st.size);
        out.push({ path: rel, kind: EntryKind.File, size, mtime: Number(st.mtimeMs), mode });
        this.counts.files++;
        this.counts.bytes += size;
      } else if (!('mtimeNs' in st)) {
        // it was a file a moment ago: changed under the walk
        this.onIssue({ path: rel, reason: 'changed during the walk', error: false });
      } else if (isDir) {
        out.push({ path: rel, kind: EntryKind.Dir, size: 0, mtime: st.mtimeNs, mode });
        this.counts.dirs++;
        subdirs.push({ rel, abs, rules });
      } else if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = fs.readlinkSync(abs);
        } catch (error) {
          const vanished = (error as NodeJS.ErrnoException).code === 'ENOENT';
          this.onIssue({
            path: rel,
            reason: vanished ? 'vanished during the walk' : describe(error),
            error: !vanished,
          });
          continue;
        }
        out.push(this.linkEntry(rel, target, st.mtimeNs, mode));
        this.counts.links++;
      } else {
        this.onIssue({ path: rel, reason: 'not a file, directory or symlink', error: false });
      }
    }
    return subdirs;
  }

  /** execnet's rule: an absolute link into the source tree points into the destination. */
  private linkEntry(rel: string, target: string, mtime: bigint, mode: number): Entry {
    if (path.isAbsolute(target)) {
      const normal = path.normalize(target);
      if (normal === this.root || normal.startsWith(this.root + path.sep)) {
        const inTree = path.relative(this.root, normal).split(path.sep).join('/') || '.';
        return { path: rel, kind: EntryKind.LinkInTree, size: 0, mtime, mode, target: inTree };
      }
    }
    return { path: rel, kind: EntryKind.Link, size: 0, mtime, mode, target };
  }

  private readGitignore(dir: PendingDir, inherited: readonly Rules[]): readonly Rules[] {
    const file = path.join(dir.abs, '.gitignore');
    let text: string;
    try {
      if (!fs.lstatSync(file).isFile()) {
        return inherited;
      }
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      this.onIssue({
        path: dir.rel ? `${dir.rel}/.gitignore` : '.gitignore',
        reason: describe(error),
        error: true,
      });
      return inherited;
    }
    const base = dir.rel ? `${dir.rel}/` : '';
    return [...inherited, { base, matcher: ignore().add(text) }];
  }

  /**
   * Left out: not selected by `include` (files only), matched by `exclude`, or git-ignored (git's
   * rule: the deepest .gitignore with a matching pattern decides).
   */
  private excluded(rel: string, isDir: boolean, rules: readonly Rules[]): boolean {
    const asTested = isDir ? `${rel}/` : rel;
    if (this.include && !isDir && !this.include.ignores(rel)) {
      return true;
    }
    if (this.exclude?.ignores(asTested)) {
      return true;
    }
    let out = false;
    for (const { base, matcher } of rules) {
      const result = matcher.test(asTested.slice(base.length));
      if (result.ignored) {
        out = true;
      } else if (result.unignored) {
        out = false;
      }
    }
    return out;
  }
}

export function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') {
    const detail = e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    return `${e.code}: ${detail}`;
  }
  return error instanceof Error ? error.message : String(error);
}
