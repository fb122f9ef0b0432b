// RSync: mirror a local directory to directories on one or many gateways — execnet's RSync,
// promise-based. One walk of the source feeds every target; each target's remote half
// (remote/rsync_remote.py) compares and asks only for what differs, and file data streams in
// bounded chunks under the channel's backpressure. docs/rsync.md describes the messages.
// Invariant: a failing file or target never stops the others; send() settles once every
// target has finished or failed.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Channel } from './channel';
import { ExecnetError } from './errors';
import type { Gateway } from './gateway';
import { RemoteModule } from './remoteModule';
import { describe, type Entry, SourceWalk, type WalkCounts, type WalkIssue } from './rsync-walk';
import { trace } from './trace';

export { EntryKind } from './rsync-walk';
export type { Entry, WalkCounts } from './rsync-walk';

/** Bytes per data item of a large file; files up to this size travel whole, in batches. */
const CHUNK = 1 << 20;
/**
 * Whole files travel in batches: their bytes back to back in one bin (read straight into a
 * reused buffer, so a batch costs one allocation, the encoded message) and a list of
 * (path, mode, mtime, length). A batch goes once it holds this many bytes or files.
 */
const BATCH_BYTES = 1 << 20;
const BATCH_FILES = 1000;
/** Must match HASH_NAME in rsync_remote.py. */
const HASH = 'sha256';
const ZEROS = Buffer.alloc(CHUNK);
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

export type RSyncCallback = (event: RSyncEvent) => void;

export interface RSyncOptions {
  /** Receives every event: the listing, each change, progress, skips, errors, each target's end. */
  readonly callback?: RSyncCallback;
  /** Log `gateway <= path` for every file sent and `gateway deleted path` (execnet's verbose). */
  readonly verbose?: boolean;
  /** Where verbose lines go; console.log by default. */
  readonly log?: (line: string) => void;
  /** Honour .gitignore files found in the source tree (default true). */
  readonly gitignore?: boolean;
  /** gitignore-style patterns, relative to the source root, left out of the sync. */
  readonly exclude?: readonly string[];
  /**
   * gitignore-style patterns: when given, only files matching one are synced (a file inside a
   * matching directory matches; directories are entered regardless). exclude and .gitignore
   * still apply to what include selects.
   */
  readonly include?: readonly string[];
  /** Called with each source path before it is looked at; false leaves it out. */
  readonly filter?: (absPath: string) => boolean;
  /** Compare and report, change nothing. */
  readonly dryRun?: boolean;
}

export interface RSyncTargetOptions {
  /** Remove what the destination has and the source does not (excluded paths are kept). */
  readonly delete?: boolean;
  /**
   * When the target sees the source directory itself (a gateway on this host: the same device
   * and inode at the same path), it copies the files in the kernel rather than receive them
   * over the channel. Default true; false always sends the data.
   */
  readonly copyLocally?: boolean;
}

export interface RSyncSendOptions {
  /** With no targets: throw (default, like execnet) or resolve with undefined. */
  readonly raises?: boolean;
  /** Overrides the RSync's own dryRun for this send. */
  readonly dryRun?: boolean;
  /**
   * Stops the send: the walk ends, nothing is deleted, files not yet under way are left out and a
   * large file in transfer is dropped on the target (no partial file); directories still get
   * their modes and times. send() then resolves with `cancelled: true` in the summary.
   */
  readonly signal?: AbortSignal;
}

export interface RSyncTarget {
  readonly gateway: Gateway;
  readonly destdir: string;
  readonly options: RSyncTargetOptions;
}

/**
 * What a target changed (or would change, in a dry run): `send` a file's content, `meta` its
 * mode and time only (same content), `mode` its mode only, `mkdir`, `link`, `delete`.
 */
export type RSyncAction = 'send' | 'meta' | 'mode' | 'mkdir' | 'link' | 'delete';

export type RSyncEvent =
  | {
      /** The walk is complete: what the source has (after ignore rules). */
      readonly type: 'listed';
      readonly counts: WalkCounts;
    }
  | {
      readonly type: 'change';
      readonly target: RSyncTarget;
      readonly path: string;
      readonly action: RSyncAction;
      /** Content bytes sent, for `send`. */
      readonly size: number;
      readonly dryRun: boolean;
    }
  | {
      /** After each file, and each chunk of a large one. Totals grow while the walk goes on. */
      readonly type: 'progress';
      readonly target: RSyncTarget;
      readonly path: string;
      readonly fileBytesDone: number;
      readonly fileSize: number;
      readonly filesDone: number;
      readonly filesTotal: number;
      readonly bytesDone: number;
      readonly bytesTotal: number;
    }
  | {
      /** Left out: vanished, changed while being read, or not a file, directory or link. */
      readonly type: 'skip';
      readonly target?: RSyncTarget;
      readonly path: string;
      readonly reason: string;
    }
  | {
      readonly type: 'error';
      readonly target?: RSyncTarget;
      readonly path: string;
      readonly message: string;
    }
  | {
      readonly type: 'done';
      readonly target: RSyncTarget;
      readonly summary: RSyncTargetSummary;
    };

export interface RSyncCounts {
  /** Files whose content was sent (and, but in a dry run, written). */
  readonly filesSent: number;
  /** Their size in bytes (holes of sparse files count, though they do not travel). */
  readonly bytesSent: number;
  /** Files with the same content whose mode and time were set. */
  readonly metaUpdated: number;
  /** Files and directories whose mode alone changed. */
  readonly modesChanged: number;
  readonly dirsMade: number;
  readonly linksMade: number;
  readonly deleted: number;
  readonly skipped: number;
  readonly errors: number;
}

export interface RSyncIssue {
  readonly target?: RSyncTarget;
  readonly path: string;
  readonly message: string;
}

export interface RSyncTargetSummary extends RSyncCounts {
  readonly target: RSyncTarget;
  readonly dryRun: boolean;
  readonly cancelled: boolean;
  /** The target saw the source and copied the files itself (RSyncTargetOptions.copyLocally). */
  readonly copiedLocally: boolean;
  /** How many of filesSent it copied itself (the rest came over the channel). */
  readonly filesCopiedLocally: number;
  /** Temporary files that an earlier sync, killed mid-file, left there and this one removed. */
  readonly staleRemoved: number;
  readonly seconds: number;
  readonly errorList: readonly RSyncIssue[];
  /** Set when the target failed as a whole (its gateway died, its remote half broke). */
  readonly failure?: Error;
  /**
   * Where the time went, in ms: locally `read`, `hash`, `wait` (for the channel to drain); on
   * the remote `remote.compare`, `remote.hash`, `remote.write`, `remote.delete`, `remote.dirs`.
   */
  readonly timings: Readonly<Record<string, number>>;
}

export interface RSyncSummary extends RSyncCounts {
  readonly dryRun: boolean;
  /** The signal stopped the send (see RSyncSendOptions.signal). */
  readonly cancelled: boolean;
  readonly seconds: number;
  /** What the walk found. */
  readonly listed: WalkCounts;
  readonly targets: readonly RSyncTargetSummary[];
  /** Every error: the walk's, then each target's. */
  readonly errorList: readonly RSyncIssue[];
  /** ms spent in the walk itself. */
  readonly walkMs: number;
}

/** send() could not complete for some target; `summary` has what did happen. */
export class RSyncError extends ExecnetError {
  constructor(
    message: string,
    readonly summary: RSyncSummary,
  ) {
    super(message);
  }
}

/** The remote half, shipped to a gateway with its first sync. */
const rsyncRemote = new RemoteModule('rsync_remote.py', 'serve');

export class RSync {
  readonly sourcedir: string;
  private readonly options: RSyncOptions;
  private readonly targetList: {
    target: RSyncTarget;
    finished?: (summary: RSyncTargetSummary) => void;
  }[] = [];
  private sending = false;

  /** `new RSync(dir, callback?, verbose?)` as in execnet, or `new RSync(dir, options)`. */
  constructor(sourcedir: string, callback?: RSyncCallback | RSyncOptions, verbose?: boolean) {
    this.sourcedir = path.resolve(sourcedir);
    const options = typeof callback === 'function' ? { callback } : { ...callback };
    this.options = verbose === undefined ? options : { ...options, verbose };
  }

  /** The targets added so far. */
  get targets(): readonly RSyncTarget[] {
    return this.targetList.map((t) => t.target);
  }

  /**
   * execnet's filter hook: called with each source path before it is looked at; return false
   * to leave it out. Defaults to the `filter` option (or keeps everything).
   */
  filter(absPath: string): boolean {
    return this.options.filter ? this.options.filter(absPath) : true;
  }

  /**
   * Add a destination: `destdir` on `gateway` (relative to the remote's working directory).
   * `finishedCallback` runs when that target is done, with its summary.
   */
  addTarget(
    gateway: Gateway,
    destdir: string,
    finishedCallback?: (summary: RSyncTargetSummary) => void,
    options: RSyncTargetOptions = {},
  ): void {
    for (const name of Object.keys(options)) {
      if (name !== 'delete' && name !== 'copyLocally') {
        throw new ExecnetError(
          `RSync.addTarget: unknown option '${name}' (known: delete, copyLocally)`,
        );
      }
    }
    if (typeof destdir !== 'string' || destdir === '') {
      throw new ExecnetError('RSync.addTarget: destdir must be a non-empty path');
    }
    this.targetList.push({
      target: { gateway, destdir, options: { ...options } },
      finished: finishedCallback,
    });
  }

  /**
   * Mirror the source to every target at once. Resolves with the summary; rejects with
   * RSyncError (carrying the summary) if some target failed as a whole. Per-file problems do not
   * reject: they are events and are counted in the summary. May be called again.
   */
  async send(options: RSyncSendOptions = {}): Promise<RSyncSummary | undefined> {
    if (this.targetList.length === 0) {
      if (options.raises ?? true) {
        throw new ExecnetError(
          `RSync.send(): no targets for ${this.sourcedir}; add one with addTarget(gateway, destdir)`,
        );
      }
      return undefined;
    }
    if (this.sending) {
      throw new ExecnetError(`RSync.send(): a send of ${this.sourcedir} is already running`);
    }
    this.sending = true;
    try {
      return await this.run(options.dryRun ?? this.options.dryRun ?? false, options.signal);
    } finally {
      this.sending = false;
    }
  }

  private async run(dryRun: boolean, signal: AbortSignal | undefined): Promise<RSyncSummary> {
    const started = performance.now();
    let rootStat: fs.BigIntStats;
    try {
      rootStat = fs.statSync(this.sourcedir, { bigint: true });
    } catch (error) {
      throw new ExecnetError(`RSync: cannot read the source ${this.sourcedir}: ${describe(error)}`);
    }
    if (!rootStat.isDirectory()) {
      throw new ExecnetError(`RSync: the source ${this.sourcedir} is not a directory`);
    }
    const emitter = new EventSink(this.options);
    const walkIssues: RSyncIssue[] = [];
    let walkSkipped = 0;
    const walk = new SourceWalk(
      this.sourcedir,
      {
        gitignore: this.options.gitignore ?? true,
        exclude: this.options.exclude ?? [],
        include: this.options.include ?? [],
      },
      (absPath) => this.filter(absPath),
      (issue: WalkIssue) => {
        if (issue.error) {
          walkIssues.push({ path: issue.path, message: issue.reason });
          emitter.emit({ type: 'error', path: issue.path, message: issue.reason });
        } else {
          walkSkipped++;
          emitter.emit({ type: 'skip', path: issue.path, reason: issue.reason });
        }
      },
    );
    const source = { dev: rootStat.dev, ino: rootStat.ino };
    const runs = this.targetList.map(
      ({ target, finished }) => new TargetRun(target, walk, dryRun, emitter, finished, source),
    );
    const senders = runs.map((run) => run.run());
    const cancel = (): void => {
      for (const run of runs) {
        run.cancel();
      }
    };
    signal?.addEventListener('abort', cancel);
    if (signal?.aborted) {
      cancel();
    }
    try {
      let seq = 0;
      for await (const batch of walk.batches()) {
        if (signal?.aborted) {
          break;
        }
        // The walk goes at the pace of the fastest target: a slow one (busy sending data, or
        // far away) buffers its listing rather than holding the others back.
        await Promise.race(runs.map((run) => run.sendList(seq, batch)));
        seq++;
        await nextTurn();
      }
      emitter.emit({ type: 'listed', counts: { ...walk.counts } });
      const mode = Number(rootStat.mode & 0o7777n);
      await Promise.all(runs.map((run) => run.sendEnd(mode, rootStat.mtimeNs)));
    } catch (error) {
      for (const run of runs) {
        run.fail(error);
      }
    }
    await Promise.all(senders);
    signal?.removeEventListener('abort', cancel);

    const targets = runs.map((run) => run.summary());
    const sum = (key: keyof RSyncCounts): number => targets.reduce((total, t) => total + t[key], 0);
    const summary: RSyncSummary = {
      dryRun,
      cancelled: Boolean(signal?.aborted),
      seconds: (performance.now() - started) / 1000,
      listed: { ...walk.counts },
      targets,
      errorList: [...walkIssues, ...targets.flatMap((t) => t.errorList)],
      walkMs: walk.busyMs,
      filesSent: sum('filesSent'),
      bytesSent: sum('bytesSent'),
      metaUpdated: sum('metaUpdated'),
      modesChanged: sum('modesChanged'),
      dirsMade: sum('dirsMade'),
      linksMade: sum('linksMade'),
      deleted: sum('deleted'),
      skipped: walkSkipped + sum('skipped'),
      errors: walkIssues.length + sum('errors'),
    };
    const failed = targets.filter((t) => t.failure);
    if (failed.length > 0) {
      const what = failed
        .map((t) => `${t.target.gateway.id}:${t.target.destdir}: ${t.failure!.message}`)
        .join('; ');
      throw new RSyncError(
        `RSync of ${this.sourcedir}: ${failed.length} of ${targets.length} targets failed: ${what}`,
        summary,
      );
    }
    emitter.rethrow();
    return summary;
  }
}

/** Delivers events to the callback and the verbose log; a throwing callback fails send(). */
class EventSink {
  private callbackError: unknown;
  /** Whether anyone listens: events are not even made otherwise. */
  readonly active: boolean;

  constructor(private readonly options: RSyncOptions) {
    this.active = Boolean(options.callback || options.verbose);
  }

  emit(event: RSyncEvent): void {
    if (this.options.verbose && event.type === 'change') {
      const log = this.options.log ?? console.log;
      if (event.action === 'send') {
        log(`${event.target.gateway.id} <= ${event.path}`);
      } else if (event.action === 'delete') {
        log(`${event.target.gateway.id} deleted ${event.path}`);
      }
    }
    const callback = this.options.callback;
    if (callback && this.callbackError === undefined) {
      try {
        callback(event);
      } catch (error) {
        trace(`rsync: the event callback failed: ${String(error)}`);
        this.callbackError = error;
      }
    }
  }

  rethrow(): void {
    if (this.callbackError !== undefined) {
      throw this.callbackError;
    }
  }
}

interface Job {
  readonly entry: Entry;
  /** The destination's hash of a same-size file with another mtime: send only if it differs. */
  readonly digest?: Buffer;
  /** The target could not copy it itself: send the data. */
  readonly viaChannel?: boolean;
}

/** Files a same-host target copies itself go in batches of this many. */
const COPY_BATCH = 256;

type Counts = { -readonly [K in keyof RSyncCounts]: number };

const END_OF_CHANNEL = Symbol('end of channel');

/** One target during one send: its channel, what it asked for, and the loop that sends it. */
class TargetRun {
  private channel: Channel | undefined;
  private readonly counts: Counts = {
    filesSent: 0,
    bytesSent: 0,
    metaUpdated: 0,
    modesChanged: 0,
    dirsMade: 0,
    linksMade: 0,
    deleted: 0,
    skipped: 0,
    errors: 0,
  };
  private readonly issues: RSyncIssue[] = [];
  private readonly batches = new Map<number, Entry[]>();
  private readonly jobs: (Job | undefined)[] = [];
  private jobHead = 0;
  private pendingReplies = 0;
  private listingDone = false;
  private extrasPending = false;
  private deletes: string[] = [];
  private wakeUp: (() => void) | undefined;
  private ended = false;
  private closed: Promise<void> = Promise.resolve();
  private remoteSummary: Map<string, unknown> | undefined;
  private failure: Error | undefined;
  private cancelled = false;
  private readonly started = performance.now();
  private finishedAt = 0;
  private readonly timings = { read: 0, hash: 0, wait: 0 };
  private filesDone = 0;
  private filesTotal = 0;
  private bytesDone = 0;
  private bytesTotal = 0;
  private inline: [string, number, bigint, number][] = [];
  private inlineBytes = 0;
  private readonly blob = Buffer.allocUnsafe(BATCH_BYTES + CHUNK);
  private meta: [string, number, bigint][] = [];
  private readonly chunk = Buffer.allocUnsafe(CHUNK);
  /** Whether the target copies files itself (it said so before its first reply). */
  private copyLocally = false;
  private copies: Entry[] = [];
  private copySeq = 0;
  private readonly copyBatches = new Map<number, Entry[]>();

  constructor(
    readonly target: RSyncTarget,
    private readonly walk: SourceWalk,
    private readonly dryRun: boolean,
    private readonly events: EventSink,
    private readonly finished: ((summary: RSyncTargetSummary) => void) | undefined,
    source: { dev: bigint; ino: bigint },
  ) {
    try {
      const channel = rsyncRemote.exec(target.gateway, {
        destdir: target.destdir,
        options: {
          delete: Boolean(target.options.delete),
          dry_run: dryRun,
          // the target copies files itself if it finds this very directory
          source:
            target.options.copyLocally === false
              ? null
              : { root: walk.root, dev: source.dev, ino: source.ino },
        },
      });
      this.channel = channel;
      this.closed = new Promise((resolve) => {
        channel.setCallback((item) => {
          this.onItem(item);
          if (item === END_OF_CHANNEL) {
            resolve();
          }
        }, END_OF_CHANNEL);
      });
    } catch (error) {
      this.fail(error);
    }
  }

  // -- the listing -------------------------------------------------------------------------

  async sendList(seq: number, batch: Entry[]): Promise<void> {
    if (this.failure) {
      return;
    }
    this.batches.set(seq, batch);
    this.pendingReplies++;
    const wire = batch.map((e) => [e.path, e.kind, e.size, e.mtime, e.mode, e.target ?? null]);
    try {
      await this.post(['list', seq, wire]);
    } catch (error) {
      this.fail(error);
    }
  }

  async sendEnd(rootMode: number, rootMtime: bigint): Promise<void> {
    if (this.failure) {
      return;
    }
    this.extrasPending = Boolean(this.target.options.delete);
    this.listingDone = true;
    this.wake();
    try {
      await this.post(['end', rootMode, rootMtime]);
    } catch (error) {
      this.fail(error);
    }
  }

  // -- what the remote says ----------------------------------------------------------------

  private onItem(item: unknown): void {
    if (item === END_OF_CHANNEL) {
      this.ended = true;
      if (!this.remoteSummary) {
        this.fail(
          this.channel?.error ??
            new ExecnetError(
              `the remote half on ${this.target.gateway.id} ended before the sync was done`,
            ),
        );
      }
      this.wake();
      return;
    }
    if (!Array.isArray(item) || typeof item[0] !== 'string') {
      this.fail(new ExecnetError(`rsync: unexpected message from ${this.target.gateway.id}`));
      return;
    }
    switch (item[0]) {
      case 'want':
        this.onWant(
          item[1] as number,
          item[2] as number[],
          item[3] as [number, Buffer][],
          item[4] as [number, string][],
        );
        break;
      case 'extra':
        this.onExtra(item[1] as [string, boolean][]);
        break;
      case 'error':
        this.addError(String(item[1]), String(item[2]));
        break;
      case 'summary':
        this.remoteSummary = item[1] as Map<string, unknown>;
        rsyncRemote.kept(this.target.gateway);
        break;
      case 'local':
        this.copyLocally = item[1] === true;
        break;
      case 'copied':
        this.onCopied(item[1] as number, item[2] as number[]);
        break;
      default:
        this.fail(
          new ExecnetError(`rsync: unknown message '${item[0]}' from ${this.target.gateway.id}`),
        );
    }
  }

  private onWant(
    seq: number,
    want: number[],
    check: [number, Buffer][],
    changed: [number, string][],
  ): void {
    const batch = this.batches.get(seq);
    if (!batch) {
      this.fail(new ExecnetError(`rsync: reply for an unknown listing batch ${seq}`));
      return;
    }
    this.batches.delete(seq);
    this.pendingReplies--;
    if (this.cancelled) {
      return;
    }
    for (const index of want) {
      const entry = batch[index];
      this.jobs.push({ entry });
      this.filesTotal++;
      this.bytesTotal += entry.size;
    }
    for (const [index, digest] of check) {
      const entry = batch[index];
      this.jobs.push({ entry, digest });
      this.filesTotal++;
      this.bytesTotal += entry.size;
    }
    for (const [index, action] of changed) {
      const entry = batch[index];
      if (action === 'mode') {
        this.counts.modesChanged++;
      } else if (action === 'mkdir') {
        this.counts.dirsMade++;
      } else if (action === 'link') {
        this.counts.linksMade++;
      }
      this.change(entry.path, action as RSyncAction, 0);
    }
    this.wake();
  }

  /** A batch of copies is done; the target could not read `fallback` (by index): send those. */
  private onCopied(seq: number, fallback: number[]): void {
    const batch = this.copyBatches.get(seq);
    if (!batch) {
      this.fail(new ExecnetError(`rsync: reply for an unknown copy batch ${seq}`));
      return;
    }
    this.copyBatches.delete(seq);
    const back = new Set(fallback);
    batch.forEach((entry, index) => {
      if (back.has(index)) {
        if (!this.cancelled) {
          this.jobs.push({ entry, viaChannel: true });
        } else {
          this.dropFromTotals(entry.size);
        }
      } else {
        this.sent(entry.path, entry.size);
      }
    });
    this.wake();
  }

  private onExtra(extras: [string, boolean][]): void {
    this.extrasPending = false;
    if (this.cancelled) {
      // the listing may be incomplete: nothing is deleted
      this.wake();
      return;
    }
    for (const [rel, isDir] of extras) {
      if (this.walk.keeps(rel, isDir)) {
        continue;
      }
      if (this.dryRun) {
        this.counts.deleted++;
        this.change(rel, 'delete', 0);
      } else {
        this.deletes.push(rel);
      }
    }
    this.wake();
  }

  private addError(rel: string, message: string): void {
    this.counts.errors++;
    this.issues.push({ target: this.target, path: rel, message });
    this.events.emit({ type: 'error', target: this.target, path: rel, message });
  }

  private skip(rel: string, reason: string): void {
    this.counts.skipped++;
    this.events.emit({ type: 'skip', target: this.target, path: rel, reason });
  }

  private change(rel: string, action: RSyncAction, size: number): void {
    if (!this.events.active) {
      return;
    }
    this.events.emit({
      type: 'change',
      target: this.target,
      path: rel,
      action,
      size,
      dryRun: this.dryRun,
    });
  }

  private progress(rel: string, fileBytesDone: number, fileSize: number): void {
    if (!this.events.active) {
      return;
    }
    this.events.emit({
      type: 'progress',
      target: this.target,
      path: rel,
      fileBytesDone,
      fileSize,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
    });
  }

  // -- the sender loop ---------------------------------------------------------------------

  /** Send what the remote asks for, as it asks; then finish and wait for its summary. */
  async run(): Promise<void> {
    try {
      for (;;) {
        if (this.failure) {
          break;
        }
        if (this.deletes.length > 0) {
          await this.flush();
          await this.sendDeletes();
          continue;
        }
        if (this.jobHead < this.jobs.length) {
          const job = this.jobs[this.jobHead]!;
          this.jobs[this.jobHead++] = undefined;
          if (this.jobHead > 4096 && this.jobHead * 2 > this.jobs.length) {
            this.jobs.splice(0, this.jobHead);
            this.jobHead = 0;
          }
          await this.transfer(job);
          continue;
        }
        if (this.inline.length > 0 || this.meta.length > 0) {
          await this.flush();
          continue;
        }
        if (this.copies.length > 0) {
          await this.flush();
          continue;
        }
        if (
          this.copyBatches.size === 0 &&
          (this.cancelled || (this.listingDone && this.pendingReplies === 0 && !this.extrasPending))
        ) {
          break;
        }
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        });
      }
      if (!this.failure) {
        // cancelled or not, the remote finishes what it has: directory modes and times
        await this.post(['done']);
        await this.closed;
      }
    } catch (error) {
      this.fail(error);
    }
    if (this.failure && this.channel && !this.ended) {
      // the remote drops its temporary file when the channel closes under it
      this.channel.close();
    }
    this.finishedAt = performance.now();
    const summary = this.summary();
    this.events.emit({ type: 'done', target: this.target, summary });
    try {
      this.finished?.(summary);
    } catch (error) {
      trace(`rsync: finishedCallback for ${this.target.gateway.id} failed: ${String(error)}`);
    }
  }

  /** Stop queueing: what is under way ends (a large file is dropped), the rest is left out. */
  cancel(): void {
    if (this.cancelled) {
      return;
    }
    this.cancelled = true;
    for (let i = this.jobHead; i < this.jobs.length; i++) {
      const job = this.jobs[i];
      if (job) {
        this.dropFromTotals(job.entry.size);
      }
    }
    this.jobs.length = 0;
    this.jobHead = 0;
    this.deletes = [];
    // whole files read but not sent stay behind
    for (const [, , , length] of this.inline) {
      this.dropFromTotals(length);
    }
    this.inline = [];
    this.inlineBytes = 0;
    this.meta = [];
    for (const entry of this.copies) {
      this.dropFromTotals(entry.size);
    }
    this.copies = [];
    this.wake();
  }

  fail(error: unknown): void {
    if (!this.failure) {
      this.failure = error instanceof Error ? error : new ExecnetError(String(error));
      trace(
        `rsync: target ${this.target.gateway.id}:${this.target.destdir} failed: ${this.failure.message}`,
      );
    }
    this.wake();
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private async post(item: unknown): Promise<void> {
    if (!this.channel || this.failure) {
      return;
    }
    const started = performance.now();
    await this.channel.send(item);
    this.timings.wait += performance.now() - started;
  }

  private async sendDeletes(): Promise<void> {
    const paths = this.deletes;
    this.deletes = [];
    await this.post(['delete', paths]);
    for (const rel of paths) {
      this.counts.deleted++;
      this.change(rel, 'delete', 0);
    }
  }

  /** Send the batched whole files and meta updates. */
  private async flush(): Promise<void> {
    if (this.copies.length > 0) {
      const copies = this.copies;
      this.copies = [];
      const seq = this.copySeq++;
      this.copyBatches.set(seq, copies);
      // the listing's size and mtime: the target copies only a file that still has them
      await this.post(['copy', seq, copies.map((e) => [e.path, e.size, e.mtime])]);
    }
    if (this.meta.length > 0) {
      const meta = this.meta;
      this.meta = [];
      if (!this.dryRun) {
        await this.post(['meta', meta]);
      }
      for (const [rel] of meta) {
        this.counts.metaUpdated++;
        this.change(rel, 'meta', 0);
      }
    }
    if (this.inline.length > 0) {
      const files = this.inline;
      const bytes = this.inlineBytes;
      this.inline = [];
      this.inlineBytes = 0;
      if (!this.dryRun) {
        // send() encodes at once: the blob is free again when it returns
        await this.post(['files', files, this.blob.subarray(0, bytes)]);
      }
      for (const [rel, , , length] of files) {
        this.sent(rel, length);
      }
    }
  }

  private sent(rel: string, size: number): void {
    this.filesDone++;
    this.bytesDone += size;
    this.counts.filesSent++;
    this.counts.bytesSent += size;
    this.change(rel, 'send', size);
    this.progress(rel, size, size);
  }

  private dropFromTotals(size: number): void {
    this.filesTotal--;
    this.bytesTotal -= size;
  }

  private async transfer(job: Job): Promise<void> {
    const { entry, digest } = job;
    if (this.dryRun && !digest) {
      // nothing to read: only a hash check needs the content
      this.sent(entry.path, entry.size);
      return;
    }
    if (this.copyLocally && !digest && !job.viaChannel) {
      this.copies.push(entry);
      if (this.copies.length >= COPY_BATCH) {
        await this.flush();
      }
      return;
    }
    const abs = path.join(this.walk.root, entry.path);
    let fd: number;
    try {
      fd = fs.openSync(abs, fs.constants.O_RDONLY | O_NOFOLLOW);
    } catch (error) {
      this.dropFromTotals(entry.size);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        this.skip(entry.path, 'vanished before it was sent');
      } else if (code === 'ELOOP') {
        this.skip(entry.path, 'became a symlink before it was sent');
      } else {
        this.addError(entry.path, describe(error));
      }
      return;
    }
    try {
      const st = localRead(() => fs.fstatSync(fd, { bigint: true }));
      if (!st.isFile()) {
        this.dropFromTotals(entry.size);
        this.skip(entry.path, 'no longer a regular file');
        return;
      }
      const size = Number(st.size);
      const mode = Number(st.mode & 0o7777n);
      this.bytesTotal += size - entry.size;
      if (size <= CHUNK) {
        if (this.inlineBytes + size > this.blob.length) {
          await this.flush();
          if (this.cancelled) {
            this.dropFromTotals(size);
            return;
          }
        }
        const started = performance.now();
        const at = this.inlineBytes;
        const length = localRead(() => readInto(fd, this.blob, at, size));
        this.timings.read += performance.now() - started;
        if (digest && this.sameContent(this.blob.subarray(at, at + length), digest)) {
          this.dropFromTotals(length);
          this.meta.push([entry.path, mode, st.mtimeNs]);
          return;
        }
        this.bytesTotal += length - size;
        this.inline.push([entry.path, mode, st.mtimeNs, length]);
        this.inlineBytes += length;
        if (this.inlineBytes >= BATCH_BYTES || this.inline.length >= BATCH_FILES) {
          await this.flush();
        }
        return;
      }
      if (digest && (await this.hashMatches(fd, size, digest))) {
        this.dropFromTotals(size);
        this.meta.push([entry.path, mode, st.mtimeNs]);
        return;
      }
      await this.flush();
      if (this.dryRun) {
        this.sent(entry.path, size);
        return;
      }
      await this.stream(fd, entry.path, size, mode, st.mtimeNs);
    } catch (error) {
      if (!(error instanceof LocalReadError)) {
        throw error;
      }
      this.dropFromTotals(entry.size);
      this.addError(entry.path, describe(error.cause));
    } finally {
      fs.closeSync(fd);
    }
  }

  private sameContent(data: Buffer, digest: Buffer): boolean {
    const started = performance.now();
    const same = crypto.createHash(HASH).update(data).digest().equals(digest);
    this.timings.hash += performance.now() - started;
    return same;
  }

  private async hashMatches(fd: number, size: number, digest: Buffer): Promise<boolean> {
    const started = performance.now();
    const hash = crypto.createHash(HASH);
    let position = 0;
    while (position < size) {
      const n = await localRead(() =>
        readAt(fd, this.chunk, Math.min(CHUNK, size - position), position),
      );
      if (n === 0) {
        break;
      }
      hash.update(this.chunk.subarray(0, n));
      position += n;
    }
    this.timings.hash += performance.now() - started;
    return position === size && hash.digest().equals(digest);
  }

  /** A large file: open, chunks (runs of zeros as holes), close — or abort if it shrank. */
  private async stream(
    fd: number,
    rel: string,
    size: number,
    mode: number,
    mtime: bigint,
  ): Promise<void> {
    if (this.cancelled) {
      this.dropFromTotals(size);
      return;
    }
    await this.post(['open', rel, size, mode, mtime]);
    let position = 0;
    while (position < size) {
      if (this.failure) {
        return;
      }
      if (this.cancelled) {
        await this.post(['abort', rel, 'cancelled']);
        this.bytesDone -= position;
        this.dropFromTotals(size);
        return;
      }
      const started = performance.now();
      let n: number;
      try {
        n = await readAt(fd, this.chunk, Math.min(CHUNK, size - position), position);
      } catch (error) {
        await this.post(['abort', rel, describe(error)]);
        this.bytesDone -= position;
        throw new LocalReadError(error);
      }
      this.timings.read += performance.now() - started;
      if (n === 0) {
        await this.post(['abort', rel, 'the file shrank while it was sent']);
        this.bytesDone -= position;
        this.dropFromTotals(size);
        this.skip(rel, 'changed while it was sent (it shrank)');
        return;
      }
      const data = this.chunk.subarray(0, n);
      // send() encodes at once, so the buffer is free again when it returns
      await this.post(data.equals(ZEROS.subarray(0, n)) ? ['hole', n] : data);
      position += n;
      this.bytesDone += n;
      if (position < size) {
        this.progress(rel, position, size);
      }
    }
    await this.post(['close', rel]);
    this.bytesDone -= size;
    this.sent(rel, size);
  }

  // -- the end -----------------------------------------------------------------------------

  summary(): RSyncTargetSummary {
    const remote = this.remoteSummary;
    const counts: Counts = { ...this.counts };
    const timings: Record<string, number> = { ...this.timings };
    if (remote && !this.dryRun) {
      // what landed, rather than what was sent: a file that failed to write is an error only
      counts.filesSent = Number(remote.get('files') ?? counts.filesSent);
      counts.bytesSent = Number(remote.get('bytes') ?? counts.bytesSent);
      counts.deleted = Number(remote.get('deleted') ?? counts.deleted);
    }
    const remoteTimings = remote?.get('timings');
    if (remoteTimings instanceof Map) {
      for (const [key, value] of remoteTimings) {
        timings[`remote.${String(key)}`] = Number(value) * 1000;
      }
    }
    return {
      target: this.target,
      dryRun: this.dryRun,
      cancelled: this.cancelled,
      copiedLocally: this.copyLocally,
      filesCopiedLocally: Number(remote?.get('copied') ?? 0),
      staleRemoved: Number(remote?.get('stale') ?? 0),
      seconds: ((this.finishedAt || performance.now()) - this.started) / 1000,
      errorList: [...this.issues],
      failure: this.failure,
      timings,
      ...counts,
    };
  }
}

/** A source file could not be read: an error of that file, not of the target. */
class LocalReadError extends Error {
  constructor(cause: unknown) {
    super(describe(cause), { cause });
  }
}

function localRead<T>(read: () => T): T {
  try {
    const result = read();
    if (result instanceof Promise) {
      return result.catch((error: unknown) => {
        throw new LocalReadError(error);
      }) as T;
    }
    return result;
  } catch (error) {
    throw new LocalReadError(error);
  }
}

/** Read up to `size` bytes of a file into `buffer` at `offset`; returns how many there were. */
function readInto(fd: number, buffer: Buffer, offset: number, size: number): number {
  let have = 0;
  while (have < size) {
    const n = fs.readSync(fd, buffer, offset + have, size - have, have);
    if (n === 0) {
      break;
    }
    have += n;
  }
  return have;
}

function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buffer, 0, length, position, (error, n) => (error ? reject(error) : resolve(n)));
  });
}
