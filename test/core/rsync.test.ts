// RSync against real popen gateways: what lands on the targets (content, modes, times, links),
// what is reported (events, summaries), and what the receiving side refuses.

import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Channel } from '../../src/core/channel';
import { ExecnetError } from '../../src/core/errors';
import type { Gateway } from '../../src/core/gateway';
import {
  RSync,
  RSyncError,
  type RSyncEvent,
  type RSyncSummary,
  type RSyncTargetSummary,
} from '../../src/core/rsync';
import { testGroup, type TestGroup } from '../helpers/gateways';
import { findPythons } from '../helpers/pythons';

const REMOTE_SOURCE = path.join(__dirname, '../../src/core/remote/rsync_remote.py');
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

let scratch: string;

function tmpdir(name: string): string {
  return fs.mkdtempSync(path.join(scratch, `${name}-`));
}

function write(root: string, rel: string, content: string | Buffer, mode?: number): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  if (mode !== undefined) {
    fs.chmodSync(file, mode);
  }
  return file;
}

/** Every entry under root: type, mode, mtime (ns), size, sha256 or link target. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const abs = path.join(dir, name);
      const sub = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(abs, { bigint: true });
      const mode = (st.mode & 0o7777n).toString(8);
      if (st.isSymbolicLink()) {
        out.set(sub, `link -> ${fs.readlinkSync(abs)}`);
      } else if (st.isDirectory()) {
        out.set(sub, `dir ${mode} ${st.mtimeNs}`);
        visit(abs, sub);
      } else {
        const digest = crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
        out.set(sub, `file ${mode} ${st.mtimeNs} ${st.size} ${digest.slice(0, 16)}`);
      }
    }
  };
  visit(root, '');
  return out;
}

/** A path's mode and mtime (ns), followed as the kernel would: what must not change. */
function modeAndTime(p: string): string {
  const st = fs.statSync(p, { bigint: true });
  return `${(st.mode & 0o7777n).toString(8)} ${st.mtimeNs}`;
}

function assertMirrors(dest: string, source: string): void {
  assert.deepEqual(Object.fromEntries(snapshot(dest)), Object.fromEntries(snapshot(source)));
}

function collect(): { events: RSyncEvent[]; callback: (event: RSyncEvent) => void } {
  const events: RSyncEvent[] = [];
  return { events, callback: (event) => events.push(event) };
}

function changes(events: RSyncEvent[], action?: string): string[] {
  return events
    .flatMap((e) => (e.type === 'change' && (!action || e.action === action) ? [e.path] : []))
    .sort();
}

/**
 * A gateway whose interpreter then runs as nobody, so that permissions apply to it. The system
 * interpreter, because nobody cannot read the standard library of one under /root.
 */
async function nobodyGateway(tg: TestGroup): Promise<Gateway> {
  const gw = await tg.gateway(undefined, '/usr/bin/python3');
  await gw
    .remoteExec(`import os\nos.setgroups([])\nos.setgid(${NOBODY})\nos.setuid(${NOBODY})`)
    .waitClose(10);
  return gw;
}

/** Talk to the remote half directly, as a hostile or broken sender would. */
function remoteHalf(gw: Gateway, destdir: string, options: Record<string, unknown> = {}): Channel {
  return gw.remoteExec({
    source: fs.readFileSync(REMOTE_SOURCE, 'utf8'),
    filename: 'rsync_remote.py',
    call: 'serve',
    kwargs: { destdir, options },
  });
}

async function replies(channel: Channel): Promise<unknown[][]> {
  const out: unknown[][] = [];
  for await (const item of channel) {
    out.push(item as unknown[]);
  }
  return out;
}

describe('rsync', () => {
  let tg: TestGroup;
  let gw: Gateway;
  let gw2: Gateway;
  before(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-rsync-test-'));
    tg = testGroup();
    [gw, gw2] = await Promise.all([tg.gateway(), tg.gateway()]);
  });
  after(async () => {
    await tg.close();
    fs.rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
  });

  it('mirrors a tree to two targets; updates and delete on one of them', async () => {
    const source = tmpdir('src');
    const [d1, d2] = [tmpdir('dst1'), tmpdir('dst2')];
    write(source, 'a.txt', 'alpha');
    write(source, 'sub/b.txt', 'beta');
    write(source, 'sub/deeper/c.bin', crypto.randomBytes(3 * 1024 * 1024 + 17));
    fs.mkdirSync(path.join(source, 'empty'));
    write(d1, 'stale.txt', 'old');
    write(d1, 'sub/stale/x.txt', 'old');
    write(d2, 'stale.txt', 'old');

    const finished: RSyncTargetSummary[] = [];
    const rsync = new RSync(source);
    rsync.addTarget(gw, d1, (summary) => finished.push(summary), { delete: true });
    rsync.addTarget(gw2, d2, (summary) => finished.push(summary), { copyLocally: false });
    const first = (await rsync.send())!;
    assert.equal(first.targets[0].copiedLocally, true, 'a gateway on this host copies itself');
    assert.equal(first.targets[1].copiedLocally, false);
    assert.equal(first.listed.files, 3);
    assert.equal(first.filesSent, 6);
    assert.equal(first.targets[0].deleted, 2, 'stale.txt and sub/stale on the deleting target');
    assert.equal(first.targets[1].deleted, 0);
    assert.equal(finished.length, 2);
    assert.equal(fs.existsSync(path.join(d1, 'stale.txt')), false);
    assert.equal(fs.existsSync(path.join(d2, 'stale.txt')), true);
    fs.rmSync(path.join(d2, 'stale.txt'));
    assertMirrors(d1, source);
    assertMirrors(d2, source);

    // an update: one file changes size, one is added, one removed
    write(source, 'a.txt', 'alpha, longer now');
    write(source, 'sub/new.txt', 'new');
    fs.rmSync(path.join(source, 'sub/b.txt'));
    const { events, callback } = collect();
    const again = new RSync(source, callback);
    again.addTarget(gw, d1, undefined, { delete: true });
    again.addTarget(gw2, d2, undefined, { copyLocally: false });
    const second = (await again.send())!;
    assert.equal(second.targets[0].filesSent, 2);
    assert.equal(second.targets[1].filesSent, 2);
    assert.deepEqual(changes(events, 'delete'), ['sub/b.txt']);
    assertMirrors(d1, source);
    assert.equal(
      fs.readFileSync(path.join(d2, 'sub/b.txt'), 'utf8'),
      'beta',
      'kept without delete',
    );
  });

  it('send() with no targets raises, or returns undefined with raises: false', async () => {
    const rsync = new RSync(tmpdir('src'));
    await assert.rejects(rsync.send(), (error: Error) => {
      assert.ok(error instanceof ExecnetError);
      assert.match(error.message, /no targets/);
      return true;
    });
    assert.equal(await rsync.send({ raises: false }), undefined);
  });

  it('a second send() works, and events come even when nothing needs sending', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    write(source, 'f.txt', 'x');
    const { events, callback } = collect();
    const rsync = new RSync(source, callback);
    rsync.addTarget(gw, dest);
    assert.equal((await rsync.send())!.filesSent, 1);
    events.length = 0;
    const second = (await rsync.send())!;
    assert.equal(second.filesSent, 0);
    assert.deepEqual(
      events.map((e) => e.type),
      ['listed', 'done'],
    );
  });

  it("verbose logs 'gateway <= path' per file sent, as execnet prints it", async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    write(source, 'one.txt', '1');
    write(source, 'sub/two.txt', '2');
    write(dest, 'gone.txt', 'x');
    const lines: string[] = [];
    const rsync = new RSync(source, { verbose: true, log: (line) => lines.push(line) });
    rsync.addTarget(gw, dest, undefined, { delete: true });
    await rsync.send();
    assert.deepEqual(lines.sort(), [
      `${gw.id} <= one.txt`,
      `${gw.id} <= sub/two.txt`,
      `${gw.id} deleted gone.txt`,
    ]);
  });

  it('preserves modes and mtimes; a mode change at the same mtime travels without data', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    write(source, 'run.sh', '#!/bin/sh\n', 0o755);
    write(source, 'secret', 's', 0o600);
    write(source, 'odd', 'o', 0o4711);
    fs.mkdirSync(path.join(source, 'private'), { mode: 0o700 });
    fs.chmodSync(path.join(source, 'private'), 0o700);
    write(source, 'private/data', 'd', 0o640);
    const old = new Date('2001-02-03T04:05:06.789Z');
    fs.utimesSync(path.join(source, 'secret'), old, old);
    const rsync = new RSync(source);
    rsync.addTarget(gw, dest);
    await rsync.send();
    assertMirrors(dest, source);

    fs.chmodSync(path.join(source, 'secret'), 0o644);
    const { events, callback } = collect();
    const again = new RSync(source, callback);
    again.addTarget(gw, dest);
    const summary = (await again.send())!;
    assert.equal(summary.filesSent, 0);
    assert.equal(summary.modesChanged, 1);
    assert.deepEqual(changes(events), ['secret']);
    assert.deepEqual(changes(events, 'mode'), ['secret']);
    assertMirrors(dest, source);
  });

  it('same size and a new mtime: sends only when the content hash differs', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    const big = crypto.randomBytes(2 * 1024 * 1024 + 5);
    write(source, 'same.txt', 'unchanged');
    write(source, 'same.bin', big);
    write(source, 'differs.txt', 'version 1');
    const rsync = new RSync(source);
    rsync.addTarget(gw, dest);
    await rsync.send();

    const later = new Date(Date.now() + 60_000);
    for (const name of ['same.txt', 'same.bin']) {
      fs.utimesSync(path.join(source, name), later, later);
    }
    write(source, 'differs.txt', 'version 2');
    fs.utimesSync(path.join(source, 'differs.txt'), later, later);
    const { events, callback } = collect();
    const again = new RSync(source, callback);
    again.addTarget(gw, dest);
    const summary = (await again.send())!;
    assert.equal(summary.filesSent, 1);
    assert.equal(summary.metaUpdated, 2);
    assert.deepEqual(changes(events, 'send'), ['differs.txt']);
    assert.deepEqual(changes(events, 'meta'), ['same.bin', 'same.txt']);
    assertMirrors(dest, source);
  });

  it(
    'read-only directories are written into, kept read-only, and deleted from',
    {
      skip: !isRoot && 'needs root to start a gateway as another user',
    },
    async () => {
      const source = tmpdir('src');
      const dest = tmpdir('dst');
      fs.chmodSync(scratch, 0o755);
      fs.chownSync(dest, NOBODY, NOBODY);
      write(source, 'ro/f.txt', 'one', 0o444);
      write(source, 'ro/inner/g.txt', 'two', 0o644);
      fs.chmodSync(path.join(source, 'ro/inner'), 0o555);
      fs.chmodSync(path.join(source, 'ro'), 0o555);
      const nobody = await nobodyGateway(tg);
      const sync = async (): Promise<RSyncSummary> => {
        const rsync = new RSync(source);
        rsync.addTarget(nobody, dest, undefined, { delete: true });
        return (await rsync.send())!;
      };
      try {
        assert.equal((await sync()).errors, 0);
        assertMirrors(dest, source);
        assert.equal(fs.statSync(path.join(dest, 'ro')).mode & 0o777, 0o555);

        // change a file and add one inside the read-only directories
        fs.chmodSync(path.join(source, 'ro'), 0o755);
        fs.chmodSync(path.join(source, 'ro/inner'), 0o755);
        fs.chmodSync(path.join(source, 'ro/f.txt'), 0o644);
        write(source, 'ro/f.txt', 'one, changed', 0o444);
        write(source, 'ro/inner/new.txt', 'new');
        fs.chmodSync(path.join(source, 'ro/inner'), 0o555);
        fs.chmodSync(path.join(source, 'ro'), 0o555);
        let summary = await sync();
        assert.equal(summary.errors, 0, JSON.stringify(summary.errorList));
        assert.equal(summary.filesSent, 2);
        assertMirrors(dest, source);

        // and delete from them
        fs.chmodSync(path.join(source, 'ro/inner'), 0o755);
        fs.rmSync(path.join(source, 'ro/inner/g.txt'));
        fs.chmodSync(path.join(source, 'ro/inner'), 0o555);
        summary = await sync();
        assert.equal(summary.errors, 0, JSON.stringify(summary.errorList));
        assert.equal(summary.deleted, 1);
        assertMirrors(dest, source);

        // and delete a whole read-only directory with its files
        fs.chmodSync(path.join(source, 'ro'), 0o755);
        fs.chmodSync(path.join(source, 'ro/inner'), 0o755);
        fs.rmSync(path.join(source, 'ro/inner'), { recursive: true });
        fs.chmodSync(path.join(source, 'ro'), 0o555);
        summary = await sync();
        assert.equal(summary.errors, 0, JSON.stringify(summary.errorList));
        assert.equal(summary.deleted, 1);
        assertMirrors(dest, source);
      } finally {
        for (const dir of ['ro', 'ro/inner']) {
          if (fs.existsSync(path.join(source, dir))) {
            fs.chmodSync(path.join(source, dir), 0o755);
          }
        }
      }
    },
  );

  it(
    'a file the target cannot write is an error with its path; the others still land',
    {
      skip: !isRoot && 'needs root to start a gateway as another user',
    },
    async () => {
      const source = tmpdir('src');
      const dest = tmpdir('dst');
      fs.chmodSync(scratch, 0o755);
      fs.chownSync(dest, NOBODY, NOBODY);
      write(source, 'locked/f.txt', 'cannot land');
      write(source, 'open/g.txt', 'lands');
      write(source, 'h.txt', 'lands too');
      fs.mkdirSync(path.join(dest, 'locked'), { mode: 0o755 }); // owned by root: nobody cannot write
      const nobody = await nobodyGateway(tg);
      const { events, callback } = collect();
      const rsync = new RSync(source, callback);
      rsync.addTarget(nobody, dest);
      const summary = (await rsync.send())!;
      assert.ok(summary.errors >= 1);
      assert.ok(
        summary.errorList.some((e) => e.path === 'locked/f.txt' && /EACCES|EPERM/.test(e.message)),
      );
      assert.ok(events.some((e) => e.type === 'error' && e.path === 'locked/f.txt'));
      assert.equal(fs.readFileSync(path.join(dest, 'open/g.txt'), 'utf8'), 'lands');
      assert.equal(fs.readFileSync(path.join(dest, 'h.txt'), 'utf8'), 'lands too');
      assert.equal(summary.filesSent, 2);
    },
  );

  for (const copyLocally of [false, true]) {
    it(`a write that fails (file size limit, like a full disk) is an error with its path; the rest lands (${copyLocally ? 'copied on the target' : 'over the channel'})`, async () => {
      const tgLimited = testGroup();
      try {
        const limited = await tgLimited.gateway();
        // files may not grow beyond 512 KiB there: writes past it fail with EFBIG
        await limited
          .remoteExec(
            'import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n' +
              'resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 19, 1 << 19))',
          )
          .waitClose(10);
        const source = tmpdir('src');
        const dest = tmpdir('dst');
        write(source, 'big-whole.bin', crypto.randomBytes(700 * 1024)); // sent whole, in a batch
        write(source, 'big-streamed.bin', crypto.randomBytes(3 * 1024 * 1024));
        write(source, 'small.txt', 'fits');
        const { events, callback } = collect();
        const rsync = new RSync(source, callback);
        rsync.addTarget(limited, dest, undefined, { copyLocally });
        const summary = (await rsync.send())!;
        assert.equal(summary.errors, 2, JSON.stringify(summary.errorList));
        for (const name of ['big-whole.bin', 'big-streamed.bin']) {
          assert.ok(
            summary.errorList.some((e) => e.path === name && /EFBIG/.test(e.message)),
            `${name} reported: ${JSON.stringify(summary.errorList)}`,
          );
          assert.ok(events.some((e) => e.type === 'error' && e.path === name));
        }
        assert.equal(summary.filesSent, 1);
        assert.deepEqual(fs.readdirSync(dest), ['small.txt'], 'no partial or temporary file');
      } finally {
        await tgLimited.close();
      }
    });
  }

  it('symlinks: relative and external ones as they are, absolute ones into the tree re-pointed', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    const outside = tmpdir('outside');
    write(outside, 'secret.txt', 'outside the tree');
    write(source, 'dir/file.txt', 'inside');
    fs.symlinkSync('file.txt', path.join(source, 'dir/relative'));
    fs.symlinkSync('../dir', path.join(source, 'updir'));
    fs.symlinkSync(path.join(source, 'dir/file.txt'), path.join(source, 'absolute-in'));
    fs.symlinkSync(source, path.join(source, 'root-link'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(source, 'external'));
    fs.symlinkSync(outside, path.join(source, 'external-dir'));
    fs.symlinkSync('/nonexistent/target', path.join(source, 'dangling'));
    const rsync = new RSync(source);
    rsync.addTarget(gw, dest);
    const summary = (await rsync.send())!;
    assert.equal(summary.linksMade, 7);
    const link = (name: string): string => fs.readlinkSync(path.join(dest, name));
    assert.equal(link('dir/relative'), 'file.txt');
    assert.equal(link('updir'), '../dir');
    assert.equal(link('absolute-in'), path.join(dest, 'dir/file.txt'));
    assert.equal(link('root-link'), dest);
    assert.equal(link('external'), path.join(outside, 'secret.txt'));
    assert.equal(link('external-dir'), outside);
    assert.equal(link('dangling'), '/nonexistent/target');
    // never followed: nothing of the outside directory was copied
    assert.deepEqual(fs.readdirSync(outside), ['secret.txt']);
    assert.equal(fs.lstatSync(path.join(dest, 'external-dir')).isSymbolicLink(), true);
    // a second sync changes nothing; a re-pointed link is replaced
    fs.rmSync(path.join(source, 'dir/relative'));
    fs.symlinkSync('../external', path.join(source, 'dir/relative'));
    const { events, callback } = collect();
    const again = new RSync(source, callback);
    again.addTarget(gw, dest);
    await again.send();
    assert.deepEqual(changes(events), ['dir/relative']);
    assert.equal(link('dir/relative'), '../external');
  });

  it('a file that vanishes during the walk is skipped and reported', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    for (let i = 0; i < 20; i++) {
      write(source, `f${String(i).padStart(2, '0')}.txt`, `file ${i}`);
    }
    const victim = path.join(source, 'f10.txt');
    const { events, callback } = collect();
    // execnet's filter hook runs just before each path is looked at: pull one away right there
    class Vanishing extends RSync {
      override filter(absPath: string): boolean {
        if (absPath === victim) {
          fs.rmSync(victim);
        }
        return true;
      }
    }
    const rsync = new Vanishing(source, callback);
    rsync.addTarget(gw, dest);
    const summary = (await rsync.send())!;
    assert.equal(summary.skipped, 1);
    assert.equal(summary.filesSent, 19);
    assert.equal(summary.errors, 0);
    const skips = events.filter((e) => e.type === 'skip');
    assert.equal(skips.length, 1);
    assert.equal(skips[0].type === 'skip' && skips[0].path, 'f10.txt');
    assertMirrors(dest, source);
  });

  it('a large file that shrinks while it is sent is dropped, reported, and sent whole next time', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    const file = write(source, 'shrinking.bin', crypto.randomBytes(8 * 1024 * 1024));
    write(source, 'other.txt', 'other');
    let truncated = false;
    const { events, callback } = collect();
    const rsync = new RSync(source, (event) => {
      callback(event);
      if (
        !truncated &&
        event.type === 'progress' &&
        event.path === 'shrinking.bin' &&
        event.fileBytesDone >= 2 * 1024 * 1024
      ) {
        truncated = true;
        fs.truncateSync(file, 3 * 1024 * 1024 + 5);
      }
    });
    rsync.addTarget(gw, dest, undefined, { copyLocally: false });
    const summary = (await rsync.send())!;
    assert.equal(truncated, true);
    assert.equal(summary.skipped, 1);
    assert.equal(summary.filesSent, 1);
    assert.ok(
      events.some(
        (e) => e.type === 'skip' && e.path === 'shrinking.bin' && /shrank/.test(e.reason),
      ),
    );
    assert.deepEqual(
      fs.readdirSync(dest),
      ['other.txt'],
      'nothing under its name, no temporary file',
    );
    const again = (await rsync.send())!;
    assert.equal(again.filesSent, 1);
    assertMirrors(dest, source);
  });

  it('a signal cancels: the file in transfer is dropped on the target, the summary says so', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    write(source, 'a-first.txt', 'first');
    write(source, 'b-big.bin', crypto.randomBytes(16 * 1024 * 1024));
    for (let i = 0; i < 50; i++) {
      write(source, `c-later/f${i}.txt`, `later ${i}`);
    }
    const controller = new AbortController();
    const rsync = new RSync(source, (event) => {
      if (
        event.type === 'progress' &&
        event.path === 'b-big.bin' &&
        event.fileBytesDone >= 2 * 1024 * 1024
      ) {
        controller.abort();
      }
    });
    rsync.addTarget(gw, dest, undefined, { copyLocally: false });
    const summary = (await rsync.send({ signal: controller.signal }))!;
    assert.equal(summary.cancelled, true);
    assert.equal(summary.targets[0].cancelled, true);
    assert.equal(fs.existsSync(path.join(dest, 'b-big.bin')), false);
    assert.ok(
      !fs.readdirSync(dest).some((name) => name.includes('rsync-tmp')),
      'no temporary file',
    );
    assert.ok(summary.filesSent < 52, `only part was sent (${summary.filesSent})`);
    // a later send completes the job
    const again = (await rsync.send())!;
    assert.equal(again.cancelled, false);
    assertMirrors(dest, source);
  });

  it('a signal during the walk: the rest is left out and nothing is deleted', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    write(source, 'a.txt', 'a');
    write(source, 'b/inside.txt', 'b');
    write(dest, 'b/old.txt', 'kept: the listing of b was cut short');
    write(dest, 'extra.txt', 'kept as well');
    const controller = new AbortController();
    const rsync = new RSync(source, {
      filter: (absPath) => {
        if (absPath === path.join(source, 'b', 'inside.txt')) {
          controller.abort();
        }
        return true;
      },
    });
    rsync.addTarget(gw, dest, undefined, { delete: true });
    const summary = (await rsync.send({ signal: controller.signal }))!;
    assert.equal(summary.cancelled, true);
    assert.equal(summary.deleted, 0);
    assert.deepEqual([...snapshot(dest).keys()].sort(), ['b', 'b/old.txt', 'extra.txt']);
  });

  it('a target on this host copies files itself; one changed since the listing comes over the channel', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    const early = write(source, 'a-early.txt', 'listed like this');
    write(source, 'b-big.bin', crypto.randomBytes(3 * 1024 * 1024 + 1));
    write(source, 'z-late.txt', 'late');
    const rsync = new RSync(source, {
      filter: (absPath) => {
        // a-early.txt is listed by now, and its batch not sent: change it behind the listing
        if (absPath.endsWith('z-late.txt')) {
          fs.writeFileSync(early, 'changed after the listing, and longer');
        }
        return true;
      },
    });
    rsync.addTarget(gw, dest);
    const summary = (await rsync.send())!;
    assert.equal(summary.targets[0].copiedLocally, true);
    assert.equal(
      summary.targets[0].filesCopiedLocally,
      2,
      'the changed file came over the channel',
    );
    assert.equal(summary.filesSent, 3);
    assert.equal(summary.errors, 0);
    assertMirrors(dest, source);
  });

  it('ignore rules: .gitignore files in the tree and exclude patterns; delete keeps what they leave out', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    write(source, '.gitignore', '*.log\nbuild/\n');
    write(source, 'keep.txt', 'k');
    write(source, 'debug.log', 'ignored');
    write(source, 'build/out.o', 'ignored dir');
    write(source, 'pkg/.gitignore', '*.tmp\n!keep.tmp\n');
    write(source, 'pkg/a.tmp', 'ignored by the nested file');
    write(source, 'pkg/keep.tmp', 'negated');
    write(source, 'pkg/mod.py', 'm');
    write(source, 'secret/key', 'excluded');
    write(dest, 'old.log', 'ignored on the target too: delete keeps it');
    write(dest, 'gone.txt', 'deleted');
    const rsync = new RSync(source, { exclude: ['secret/'] });
    rsync.addTarget(gw, dest, undefined, { delete: true });
    const summary = (await rsync.send())!;
    assert.equal(summary.deleted, 1);
    assert.deepEqual([...snapshot(dest).keys()].sort(), [
      '.gitignore',
      'keep.txt',
      'old.log',
      'pkg',
      'pkg/.gitignore',
      'pkg/keep.tmp',
      'pkg/mod.py',
    ]);
    // gitignore: false syncs everything but the explicit excludes
    const all = new RSync(source, { gitignore: false, exclude: ['secret/'] });
    all.addTarget(gw, dest);
    await all.send();
    assert.equal(fs.existsSync(path.join(dest, 'build/out.o')), true);
    assert.equal(fs.existsSync(path.join(dest, 'secret')), false);
  });

  it('include selects files (those in a matching directory too); exclude still applies', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    write(source, 'top.py', 't');
    write(source, 'notes.md', 'left out');
    write(source, 'pkg/mod.py', 'm');
    write(source, 'pkg/data.bin', 'left out');
    write(source, 'docs/guide.md', 'in a matching directory');
    write(source, 'docs/private/draft.md', 'excluded');
    write(dest, 'extra.txt', 'not selected by include: kept, even with delete');
    write(dest, 'stale.py', 'selected and not in the source: deleted');
    const rsync = new RSync(source, { include: ['*.py', 'docs/'], exclude: ['docs/private/'] });
    rsync.addTarget(gw, dest, undefined, { delete: true });
    const summary = (await rsync.send())!;
    assert.equal(summary.filesSent, 3);
    assert.deepEqual([...snapshot(dest).keys()].sort(), [
      'docs',
      'docs/guide.md',
      'extra.txt',
      'pkg',
      'pkg/mod.py',
      'top.py',
    ]);
  });

  it('dry run reports what would change and changes nothing', async () => {
    const source = tmpdir('src');
    const dest = tmpdir('dst');
    write(source, 'new.txt', 'n');
    write(source, 'dir/changed.txt', 'changed content');
    write(source, 'mode.txt', 'm', 0o644);
    fs.symlinkSync('new.txt', path.join(source, 'link'));
    write(dest, 'dir/changed.txt', 'old');
    const mtime = fs.statSync(path.join(source, 'mode.txt')).mtime;
    write(dest, 'mode.txt', 'm', 0o600);
    fs.utimesSync(path.join(dest, 'mode.txt'), mtime, mtime);
    write(dest, 'extra.txt', 'would be deleted');
    const before = snapshot(dest);
    const { events, callback } = collect();
    const rsync = new RSync(source, { callback, dryRun: true });
    rsync.addTarget(gw, dest, undefined, { delete: true });
    const summary = (await rsync.send())!;
    assert.equal(summary.dryRun, true);
    assert.deepEqual(snapshot(dest), before);
    assert.deepEqual(changes(events, 'send'), ['dir/changed.txt', 'new.txt']);
    assert.deepEqual(changes(events, 'link'), ['link']);
    assert.deepEqual(changes(events, 'delete'), ['extra.txt']);
    assert.equal(summary.filesSent, 2);
    assert.equal(summary.bytesSent, 'n'.length + 'changed content'.length);
    assert.equal(summary.deleted, 1);
    // the same without dryRun does what was announced
    const real = await rsync.send({ dryRun: false });
    assert.equal(real!.filesSent, 2);
    assert.equal(real!.deleted, 1);
  });

  for (const copyLocally of [false, true]) {
    it(`progress events add up to the summary (${copyLocally ? 'copied on the target' : 'over the channel'})`, async () => {
      const source = tmpdir('src');
      const dest = tmpdir('dst');
      let expectedBytes = 0;
      for (let i = 0; i < 300; i++) {
        const size = (i * 7919) % 20000;
        expectedBytes += size;
        write(source, `d${i % 7}/f${i}.bin`, crypto.randomBytes(size));
      }
      const large = crypto.randomBytes(5 * 1024 * 1024 + 3);
      expectedBytes += large.length;
      write(source, 'large.bin', large);
      const { events, callback } = collect();
      const rsync = new RSync(source, callback);
      rsync.addTarget(gw, dest, undefined, { copyLocally });
      const summary = (await rsync.send())!;
      assert.equal(summary.filesSent, 301);
      assert.equal(summary.bytesSent, expectedBytes);
      const sends = events.filter((e) => e.type === 'change' && e.action === 'send');
      assert.equal(sends.length, summary.filesSent);
      assert.equal(
        sends.reduce((total, e) => total + (e.type === 'change' ? e.size : 0), 0),
        summary.bytesSent,
      );
      const progress = events.filter((e) => e.type === 'progress');
      const last = progress[progress.length - 1];
      assert.ok(last.type === 'progress');
      assert.equal(last.filesDone, summary.filesSent);
      assert.equal(last.filesTotal, summary.filesSent);
      assert.equal(last.bytesDone, summary.bytesSent);
      assert.equal(last.bytesTotal, summary.bytesSent);
      let previous = 0;
      for (const e of progress) {
        assert.ok(e.type === 'progress' && e.bytesDone >= previous && e.bytesDone <= e.bytesTotal);
        previous = e.type === 'progress' ? e.bytesDone : 0;
      }
      assert.ok(
        copyLocally ||
          progress.some(
            (e) => e.type === 'progress' && e.path === 'large.bin' && e.fileBytesDone < e.fileSize,
          ),
        'progress within a large file',
      );
      const done = events.filter((e) => e.type === 'done');
      assert.equal(done.length, 1);
    });
  }

  describe('the receiving side', () => {
    it('refuses paths with .., absolute paths, and writes through symlinks out of the destination', async () => {
      const dest = tmpdir('dst');
      const outside = tmpdir('outside');
      fs.symlinkSync(outside, path.join(dest, 'escape'));
      fs.mkdirSync(path.join(dest, 'real'));
      const channel = remoteHalf(gw, dest, { delete: true });
      const mtime = 1_600_000_000_000_000_000n;
      const hostile = [
        '../evil',
        'a/../../evil',
        '/tmp/evil-absolute',
        'escape/evil',
        'escape/sub/evil',
        './evil',
        'real//evil',
        '',
      ];
      await channel.send([
        'list',
        0,
        [
          ...hostile.map((p) => [p, 0, 5, mtime, 0o644, null]),
          ['real/fine', 0, 5, mtime, 0o644, null],
          ['real/in-tree-link', 3, 0, mtime, 0o777, '../../etc'],
        ],
      ]);
      await channel.send(['end', 0o755, mtime]);
      const data = Buffer.from('evil!');
      const files = [...hostile, 'real/fine'].map((p) => [p, 0o644, mtime, 5]);
      await channel.send(['files', files, Buffer.concat(files.map(() => data))]);
      await channel.send(['open', 'escape/streamed', 5, 0o644, mtime]);
      await channel.send(data);
      await channel.send(['close', 'escape/streamed']);
      await channel.send(['meta', [['escape/x', 0o777, mtime]]]);
      await channel.send(['delete', ['../outside-victim', 'escape/secret.txt', '/etc/passwd']]);
      await channel.send(['done']);
      const out = await replies(channel);
      const errors = out.filter((m) => m[0] === 'error').map((m) => `${m[1]}: ${m[2]}`);
      const refused = (p: string): boolean =>
        errors.some((e) => e.startsWith(`${p}: `) && /refused/.test(e));
      for (const p of [
        ...hostile,
        'escape/streamed',
        'escape/x',
        '../outside-victim',
        'escape/secret.txt',
        '/etc/passwd',
        'real/in-tree-link',
      ]) {
        assert.ok(refused(p), `${JSON.stringify(p)} refused; errors: ${errors.join(' | ')}`);
      }
      assert.deepEqual(fs.readdirSync(outside), [], 'nothing written outside');
      assert.equal(fs.existsSync(path.join(scratch, 'evil')), false);
      assert.equal(fs.existsSync('/tmp/evil-absolute'), false);
      assert.equal(fs.readFileSync(path.join(dest, 'real/fine'), 'utf8'), 'evil!');
      const summary = out.find((m) => m[0] === 'summary')?.[1] as Map<string, unknown>;
      assert.equal(summary.get('files'), 1);
    });

    it('a path listed as a directory and then as a symlink out of the destination: nothing outside changes', async () => {
      const dest = tmpdir('dst');
      const outside = tmpdir('outside');
      const outsideFile = write(outside, 'victim.txt', 'keep me', 0o600);
      fs.mkdirSync(path.join(dest, 'old'));
      const then = new Date('2001-02-03T04:05:06Z');
      fs.utimesSync(outsideFile, then, then);
      fs.chmodSync(outside, 0o750);
      fs.utimesSync(outside, then, then);
      const before = snapshot(outside);
      const metaBefore = modeAndTime(outside);
      const mtime = 1_600_000_000_000_000_000n;
      const channel = remoteHalf(gw, dest, { delete: true });
      // a new directory and an existing one, each listed again later as a link to `outside`
      // (and a file of the same name as a link to the outside file)
      await channel.send([
        'list',
        0,
        [
          ['new', 1, 0, mtime, 0o777, null],
          ['new/f', 0, 5, mtime, 0o666, null],
          ['old', 1, 0, mtime, 0o777, null],
          ['plain', 0, 5, mtime, 0o666, null],
        ],
      ]);
      await channel.send([
        'list',
        1,
        [
          ['new', 2, 0, mtime, 0o777, outside],
          ['old', 2, 0, mtime, 0o777, outside],
          ['plain', 2, 0, mtime, 0o777, outsideFile],
        ],
      ]);
      const files = [
        ['new/f', 0o666, mtime, 5],
        ['plain', 0o666, mtime, 5],
      ];
      await channel.send(['files', files, Buffer.from('evil!evil!')]);
      await channel.send(['meta', [['plain', 0o777, mtime]]]);
      await channel.send(['end', 0o755, mtime]);
      await channel.send(['done']);
      const out = await replies(channel);
      const errors = out.filter((m) => m[0] === 'error').map((m) => `${m[1]}: ${m[2]}`);
      assert.deepEqual(snapshot(outside), before, 'nothing outside written or re-dated');
      assert.equal(
        modeAndTime(outside),
        metaBefore,
        'the outside directory is not chmod-ed or re-dated',
      );
      for (const p of ['new', 'old', 'plain']) {
        assert.ok(
          errors.some((e) => e.startsWith(`${p}: `) && /refused: .* listed twice/.test(e)),
          `second listing of ${p} refused; errors: ${errors.join(' | ')}`,
        );
      }
      assert.ok(fs.lstatSync(path.join(dest, 'new')).isDirectory());
      assert.ok(fs.lstatSync(path.join(dest, 'old')).isDirectory());
      assert.equal(fs.readFileSync(path.join(dest, 'plain'), 'utf8'), 'evil!');
    });

    it('a directory swapped for a symlink between write and the final chmod: nothing outside changes', async () => {
      // the swap happens on the target itself (another process there), after the receiver
      // created and filled the directory and before it gives it its mode and time
      const dest = tmpdir('dst');
      const outside = tmpdir('outside');
      write(outside, 'deep/victim.txt', 'keep me', 0o600);
      const then = new Date('2001-02-03T04:05:06Z');
      for (const p of ['deep/victim.txt', 'deep', '.']) {
        fs.utimesSync(path.join(outside, p), then, then);
      }
      fs.chmodSync(outside, 0o750);
      const before = [
        outside,
        path.join(outside, 'deep'),
        path.join(outside, 'deep/victim.txt'),
      ].map(modeAndTime);
      const mtime = 1_600_000_000_000_000_000n;
      const channel = remoteHalf(gw, dest);
      await channel.send([
        'list',
        0,
        [
          ['d', 1, 0, mtime, 0o777, null],
          ['d/deep', 1, 0, mtime, 0o777, null],
          ['d/deep/victim.txt', 0, 5, mtime, 0o666, null],
          ['e', 1, 0, mtime, 0o777, null],
          ['e/f', 0, 5, mtime, 0o666, null],
        ],
      ]);
      const files = [
        ['d/deep/victim.txt', 0o666, mtime, 5],
        ['e/f', 0o666, mtime, 5],
      ];
      await channel.send(['files', files, Buffer.from('data!data!')]);
      // an empty listing: its answer says everything before it was handled
      await channel.send(['list', 1, []]);
      const answered = (await channel.receive()) as unknown[];
      assert.equal(answered[0], 'local');
      for (;;) {
        const reply = (await channel.receive()) as unknown[];
        if (reply[0] === 'want' && reply[1] === 1) {
          break;
        }
      }
      fs.renameSync(path.join(dest, 'd'), path.join(dest, 'd-moved'));
      fs.symlinkSync(outside, path.join(dest, 'd'));
      fs.renameSync(path.join(dest, 'e/f'), path.join(dest, 'e/f-moved'));
      fs.symlinkSync(path.join(outside, 'deep/victim.txt'), path.join(dest, 'e/f'));
      await channel.send(['meta', [['e/f', 0o777, mtime]]]);
      await channel.send(['end', 0o755, mtime]);
      await channel.send(['done']);
      const out = await replies(channel);
      const errors = out.filter((m) => m[0] === 'error').map((m) => `${m[1]}: ${m[2]}`);
      assert.deepEqual(
        [outside, path.join(outside, 'deep'), path.join(outside, 'deep/victim.txt')].map(
          modeAndTime,
        ),
        before,
        'nothing outside chmod-ed or re-dated',
      );
      assert.ok(
        errors.some((e) => e.startsWith('d: ') && /symlink/.test(e)),
        `the swapped directory is reported; errors: ${errors.join(' | ')}`,
      );
      assert.equal(fs.readFileSync(path.join(outside, 'deep/victim.txt'), 'utf8'), 'keep me');
    });

    it('a malformed message ends the sync with the error, and leaves no temporary file', async () => {
      const dest = tmpdir('dst');
      const channel = remoteHalf(gw, dest);
      await channel.send(['open', 'partial.bin', 10, 0o644, 0]);
      await channel.send(Buffer.from('12345'));
      await channel.send(['no-such-message']);
      await assert.rejects(replies(channel), /unknown message 'no-such-message'/);
      assert.deepEqual(fs.readdirSync(dest), []);
    });

    it('a killed remote leaves no partial file under the final name; the other target completes', async () => {
      const tgKill = testGroup();
      try {
        const victim = await tgKill.gateway();
        const source = tmpdir('src');
        const dest = tmpdir('dst');
        const healthy = tmpdir('dst-healthy');
        const size = 64 * 1024 * 1024;
        const file = path.join(source, 'big.bin');
        const fd = fs.openSync(file, 'w');
        const block = crypto.randomBytes(1024 * 1024);
        for (let i = 0; i < size / block.length; i++) {
          fs.writeSync(fd, block);
        }
        fs.closeSync(fd);
        write(source, 'small.txt', 'small');
        let killed = false;
        const rsync = new RSync(source, (event) => {
          if (
            !killed &&
            event.type === 'progress' &&
            event.target.gateway === victim &&
            event.path === 'big.bin' &&
            event.fileBytesDone >= 8 * 1024 * 1024
          ) {
            killed = true;
            process.kill(victim.pid!, 'SIGKILL');
          }
        });
        rsync.addTarget(victim, dest, undefined, { copyLocally: false });
        rsync.addTarget(gw, healthy);
        await assert.rejects(rsync.send(), (error: Error) => {
          assert.ok(error instanceof RSyncError, String(error));
          assert.match(error.message, /1 of 2 targets failed/);
          const [dead, alive] = error.summary.targets;
          assert.ok(dead.failure, 'the killed target failed');
          // the gateway died, and how: not that it "is alive", nor a broken pipe
          assert.match(dead.failure.message, /was killed by SIGKILL/);
          assert.equal(alive.failure, undefined);
          assert.equal(alive.filesSent, 2);
          return true;
        });
        assertMirrors(healthy, source);
        assert.equal(killed, true);
        assert.equal(fs.existsSync(path.join(dest, 'big.bin')), false);
        const left = fs.readdirSync(dest).filter((n) => n.includes('big.bin'));
        for (const name of left) {
          assert.match(name, /^\.big\.bin\..*rsync-tmp$/);
        }
        assert.equal(left.length, 1, 'the killed remote left its temporary file');
        // the next sync to that destination (no delete) removes the killed one's temporary
        const again = new RSync(source);
        again.addTarget(gw, dest, undefined, { copyLocally: false });
        const summary = (await again.send())!;
        assert.equal(summary.targets[0].staleRemoved, left.length);
        assertMirrors(dest, source);
      } finally {
        await tgKill.close();
      }
    });
  });

  for (const copyLocally of [false, true]) {
    it(`a 3 GiB sparse file ${copyLocally ? 'is copied on the target' : 'streams'} in bounded memory and lands sparse`, async (t) => {
      const source = tmpdir('src');
      const dest = tmpdir('dst');
      const size = 3 * 1024 * 1024 * 1024 + 12345;
      const free = fs.statfsSync(scratch);
      if (free.bavail * free.bsize < 2 * 1024 * 1024 * 1024) {
        t.skip('less than 2 GiB free');
        return;
      }
      const file = path.join(source, 'sparse.img');
      const fd = fs.openSync(file, 'w');
      const marks: [number, Buffer][] = [
        [0, Buffer.from('head')],
        [1536 * 1024 * 1024 + 77, crypto.randomBytes(3 * 1024 * 1024)],
        [size - 4, Buffer.from('tail')],
      ];
      for (const [at, data] of marks) {
        fs.writeSync(fd, data, 0, data.length, at);
      }
      fs.closeSync(fd);
      const remoteRss = async (): Promise<number> => {
        const status = fs.readFileSync(`/proc/${gw.pid}/status`, 'utf8');
        return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
      };
      const rsync = new RSync(source);
      rsync.addTarget(gw, dest, undefined, { copyLocally });
      const summary = (await rsync.send())!;
      assert.equal(summary.bytesSent, size);
      assert.equal(summary.targets[0].copiedLocally, copyLocally);
      const copy = path.join(dest, 'sparse.img');
      const st = fs.statSync(copy);
      assert.equal(st.size, size);
      assert.ok(
        st.blocks * 512 < 64 * 1024 * 1024,
        `sparse on the target (${st.blocks * 512} bytes used)`,
      );
      const rfd = fs.openSync(copy, 'r');
      try {
        for (const [at, data] of marks) {
          const back = Buffer.alloc(data.length);
          fs.readSync(rfd, back, 0, back.length, at);
          assert.ok(back.equals(data), `content at ${at}`);
        }
      } finally {
        fs.closeSync(rfd);
      }
      assert.ok((await remoteRss()) < 256 * 1024 * 1024, 'the remote never held the file');
    });
  }

  it('runs on the oldest Python available', async (t) => {
    const oldest = findPythons()[0];
    if (!oldest) {
      t.skip('no pyenv interpreters');
      return;
    }
    const tgOld = testGroup();
    try {
      const old = await tgOld.gateway(undefined, oldest.path);
      const source = tmpdir('src');
      const dest = tmpdir('dst');
      write(source, 'a/b.txt', 'b', 0o640);
      write(source, 'c.bin', crypto.randomBytes(1024 * 1024 * 2 + 1));
      fs.symlinkSync('a/b.txt', path.join(source, 'link'));
      const rsync = new RSync(source);
      rsync.addTarget(old, dest, undefined, { delete: true });
      await rsync.send();
      await rsync.send();
      assertMirrors(dest, source);
    } finally {
      await tgOld.close();
    }
  });
});
