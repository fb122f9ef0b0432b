// Gateways and remote_exec against a real Python subprocess: what a user relies on first.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EOFError, GatewayStartError, RemoteError } from '../../src/core/errors';
import type { Gateway } from '../../src/core/gateway';
import { Tuple } from '../../src/core/serializer';
import { testGroup, type TestGroup } from '../helpers/gateways';
import { defaultPython } from '../helpers/pythons';

describe('a popen gateway', () => {
  let tg: TestGroup;
  let gw: Gateway;
  before(async () => {
    tg = testGroup();
    gw = await tg.gateway();
  });
  after(() => tg.close());

  it('an interrupt sent right after the exec, before its code has started, still lands', async () => {
    for (let i = 0; i < 10; i++) {
      // in the main thread
      const main = gw.remoteExec('import time\ntime.sleep(100)');
      main.interrupt();
      await assert.rejects(main.waitClose(10), /KeyboardInterrupt/, `main thread, round ${i}`);
      // in a worker thread, while the main one is taken
      const holder = gw.remoteExec('channel.send(1)\nchannel.receive()');
      await holder.receive(10);
      const worker = gw.remoteExec('import time\nwhile True:\n    time.sleep(0.01)');
      worker.interrupt();
      await assert.rejects(worker.waitClose(10), /KeyboardInterrupt/, `worker, round ${i}`);
      await holder.send(null);
      await holder.waitClose(10);
    }
  });

  it('reports the interpreter it runs', () => {
    assert.equal(gw.state, 'alive');
    assert.equal(gw.info.pid, gw.pid);
    assert.equal(gw.info.version[0], 3);
    assert.equal(gw.info.cwd, process.cwd());
    assert.equal(gw.info.hostname, os.hostname());
    assert.match(gw.id, /^gw\d+$/);
  });

  it('runs source with channel and __name__ == "__channelexec__"', async () => {
    const ch = gw.remoteExec('channel.send((__name__, type(channel).__name__))');
    assert.deepEqual(await ch.receive(), Tuple.of('__channelexec__', 'Channel'));
    await ch.waitClose();
  });

  it('echoes values sent from the local side', async () => {
    const ch = gw.remoteExec('for item in channel:\n    channel.send(item)');
    for (const value of [1, 'two', [3, 4], new Map([[5, 'five']]), null, true, 2.5]) {
      await ch.send(value);
      assert.deepEqual(await ch.receive(), value);
    }
    ch.close();
    await ch.waitClose();
  });

  it('receive() after the remote finishes raises EOFError', async () => {
    const ch = gw.remoteExec('channel.send(1)');
    assert.equal(await ch.receive(), 1);
    await assert.rejects(ch.receive(), EOFError);
    await assert.rejects(ch.receive(), EOFError);
  });

  it('runs a local file, and its traceback names that file and line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-test-'));
    const file = path.join(dir, 'job.py');
    fs.writeFileSync(file, 'channel.send(__file__)\nx = 1\nraise ValueError("bad %d" % x)\n');
    const ch = gw.remoteExec({ file });
    assert.equal(await ch.receive(), file);
    const error = await ch.waitClose().then(
      () => assert.fail('expected a RemoteError'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof RemoteError);
    assert.equal(error.type, 'ValueError');
    assert.equal(error.summary, 'ValueError: bad 1');
    assert.match(error.traceback, new RegExp(`File "${file}", line 3`));
    assert.match(error.traceback, /raise ValueError/, 'the source line shows in the traceback');
    assert.deepEqual(error.frames.at(-1), { file, line: 3, function: '<module>' });
  });

  it('runs a module found on the remote sys.path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-test-'));
    fs.writeFileSync(path.join(dir, 'remote_mod_x.py'), 'channel.send(("module", __name__))\n');
    const gw2 = await tg.gateway(`env:PYTHONPATH=${dir}`);
    const ch = gw2.remoteExec({ module: 'remote_mod_x' });
    assert.deepEqual(await ch.receive(), Tuple.of('module', '__channelexec__'));
    await ch.waitClose();
    const missing = gw2.remoteExec({ module: 'no_such_module_here' });
    await assert.rejects(missing.waitClose(), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.type, 'ImportError');
      assert.match(e.remoteMessage, /no_such_module_here/);
      return true;
    });
  });

  it('calls a function of the source with keyword arguments', async () => {
    const source = 'def work(channel, n, label="x"):\n    channel.send((label, sum(range(n))))\n';
    const ch = gw.remoteExec({ source, call: 'work' }, { n: 10, label: 'sum' });
    assert.deepEqual(await ch.receive(), Tuple.of('sum', 45));
    await ch.waitClose();
  });

  it('remoteStatus() counts channels and running execs', async () => {
    const idle = await gw.remoteStatus();
    assert.equal(idle.execmodel, 'thread');
    assert.equal(idle.pid, gw.info.pid);
    const ch1 = gw.remoteExec('channel.send("ready"); channel.receive()');
    const ch2 = gw.remoteExec('channel.send("ready"); channel.receive()');
    assert.equal(await ch1.receive(), 'ready');
    assert.equal(await ch2.receive(), 'ready');
    const busy = await gw.remoteStatus();
    assert.equal(busy.numexecuting, idle.numexecuting + 2);
    assert.ok(busy.numchannels >= idle.numchannels + 2);
    await ch1.send(null);
    await ch2.send(null);
    await ch1.waitClose();
    await ch2.waitClose();
    const after = await gw.remoteStatus();
    assert.equal(after.numexecuting, idle.numexecuting);
  });

  it('runs execs concurrently, the first in the main thread', async () => {
    const source =
      'import threading\nchannel.send(threading.current_thread() is threading.main_thread())\nchannel.send(channel.receive())';
    const a = gw.remoteExec(source);
    const b = gw.remoteExec(source);
    assert.equal(await a.receive(), true);
    assert.equal(await b.receive(), false);
    // b answers while a is still blocked: they really run at the same time
    await b.send('b');
    assert.equal(await b.receive(), 'b');
    await a.send('a');
    assert.equal(await a.receive(), 'a');
    await Promise.all([a.waitClose(), b.waitClose()]);
  });

  it('handles 1,000 channels on one gateway', async () => {
    const channels = Array.from({ length: 1000 }, (_, i) =>
      gw.remoteExec(`channel.send(channel.receive() * 2 + ${i})`),
    );
    await Promise.all(channels.map((ch, i) => ch.send(i)));
    const results = await Promise.all(channels.map((ch) => ch.receive()));
    assert.deepEqual(
      results,
      channels.map((_, i) => i * 3),
    );
    await Promise.all(channels.map((ch) => ch.waitClose()));
    const status = await gw.remoteStatus();
    assert.ok(status.numchannels <= 2, `channels left open: ${status.numchannels}`);
  });

  it('applies chdir (creating it), env and nice in the bootstrap', async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-test-')), 'new', 'dir');
    const gw2 = await tg.gateway(`chdir=${dir}//env:FOO=bar=baz//nice=5//env:PYTHONPATH=/opt/x`);
    assert.equal(gw2.info.cwd, dir);
    const ch = gw2.remoteExec(
      'import os, sys\nchannel.send((os.getcwd(), os.environ["FOO"], os.nice(0), "/opt/x" in sys.path))',
    );
    assert.deepEqual(await ch.receive(), Tuple.of(dir, 'bar=baz', 5, true));
  });
});

describe('starting a gateway', () => {
  it("files in the working directory named like the gateway's own modules do not break it", async () => {
    // a workspace with its own traceback.py, threading.py...: remote code may import them,
    // but the gateway and its error reports keep using the standard library's
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-test-'));
    // (not linecache: Python 3.13 itself imports it for `-c` before any code of ours runs)
    for (const name of ['traceback', 'threading', 'collections', 'struct', 'tempfile']) {
      fs.writeFileSync(path.join(dir, `${name}.py`), `raise SystemExit('shadowed ${name}')\n`);
    }
    fs.writeFileSync(path.join(dir, 'helper_mod.py'), 'VALUE = 3\n');
    const tg = testGroup();
    const before = process.cwd();
    process.chdir(dir);
    let gw: Gateway;
    try {
      gw = await tg.gateway();
    } finally {
      process.chdir(before);
    }
    const ch = gw.remoteExec('import helper_mod\nchannel.send(helper_mod.VALUE)\n1/0');
    assert.equal(await ch.receive(), 3, 'the working directory is importable for remote code');
    await assert.rejects(ch.waitClose(), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.type, 'ZeroDivisionError');
      return true;
    });
    await tg.close();
  });

  it('a missing interpreter is a clear error at makeGateway', async () => {
    const tg = testGroup();
    await assert.rejects(tg.gateway(undefined, '/nonexistent/python3'), (e: unknown) => {
      assert.ok(e instanceof GatewayStartError);
      assert.match(e.message, /\/nonexistent\/python3/);
      assert.match(e.message, /no such interpreter/);
      return true;
    });
    assert.equal(tg.group.size, 0);
    await tg.close();
  });

  it('an interpreter that is not Python is a clear error', async () => {
    const tg = testGroup();
    await assert.rejects(tg.gateway(undefined, 'false'), (e: unknown) => {
      assert.ok(e instanceof GatewayStartError);
      assert.match(e.message, /exited with status 1 before the handshake/);
      return true;
    });
    await tg.close();
  });

  it('a chdir that cannot be created names the problem', async () => {
    const tg = testGroup();
    await assert.rejects(tg.gateway('chdir=/proc/forbidden/x'), (e: unknown) => {
      assert.ok(e instanceof GatewayStartError);
      assert.match(e.message, /could not apply the spec/);
      assert.match(e.message, /\/proc\/forbidden/);
      return true;
    });
    await tg.close();
  });

  it('group ids are gw0, gw1... or the spec id, and must be unique', async () => {
    const tg = testGroup();
    const a = await tg.gateway();
    const b = await tg.gateway('id=worker');
    assert.equal(a.id, 'gw0');
    assert.equal(b.id, 'worker');
    assert.equal(tg.group.get('worker'), b);
    assert.deepEqual(
      [...tg.group].map((g) => g.id),
      ['gw0', 'worker'],
    );
    await assert.rejects(tg.gateway('id=worker'), /already exists/);
    await tg.close();
    assert.equal(tg.group.size, 0);
  });

  it('uses the python= interpreter', async () => {
    const tg = testGroup();
    const gw = await tg.gateway(undefined, defaultPython());
    const ch = gw.remoteExec('import sys; channel.send(sys.executable)');
    assert.equal(fs.realpathSync(String(await ch.receive())), fs.realpathSync(defaultPython()));
    await tg.close();
  });
});
