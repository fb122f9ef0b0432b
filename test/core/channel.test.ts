// Channel semantics (execnet's, as promises) against a real remote.

import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import {
  ChannelClosedError,
  EOFError,
  ExecnetError,
  RemoteError,
  TimeoutError,
} from '../../src/core/errors';
import type { Channel } from '../../src/core/channel';
import type { Gateway } from '../../src/core/gateway';
import { Tuple } from '../../src/core/serializer';
import { testGroup, type TestGroup } from '../helpers/gateways';

describe('channels', () => {
  let tg: TestGroup;
  let gw: Gateway;
  before(async () => {
    tg = testGroup();
    gw = await tg.gateway();
  });
  after(() => tg.close());

  it('100 sends waiting for the pipe at once: all arrive, and no listener warning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(`${warning.name}: ${warning.message}`);
    };
    process.on('warning', onWarning);
    try {
      const ch = gw.remoteExec(
        'total = 0\nfor _ in range(100):\n    total += len(channel.receive())\nchannel.send(total)',
      );
      // strings wait for 'drain'; binaries of 64 KiB or more for their own write
      const sends = Array.from({ length: 100 }, (_, i) =>
        ch.send(i % 2 ? 'x'.repeat(50_000) : Buffer.alloc(100_000, i)),
      );
      await Promise.all(sends);
      assert.equal(await ch.receive(10), 50 * 50_000 + 50 * 100_000);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => /MaxListeners/.test(w)),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });
  it('receive(timeout) raises TimeoutError and the channel stays usable', async () => {
    const ch = gw.remoteExec('channel.send(channel.receive() + 1)');
    await assert.rejects(ch.receive(0.05), TimeoutError);
    await ch.send(41);
    assert.equal(await ch.receive(5), 42);
    await ch.waitClose(5);
  });

  it('waitClose(timeout) raises TimeoutError and the channel stays usable', async () => {
    const ch = gw.remoteExec('channel.receive()');
    await assert.rejects(ch.waitClose(0.05), TimeoutError);
    await ch.send(null);
    await ch.waitClose(5);
    assert.equal(ch.isClosed(), true);
  });

  it('the remote side has receive(timeout) raising channel.TimeoutError', async () => {
    const ch = gw.remoteExec(
      'try:\n    channel.receive(0.05)\nexcept channel.TimeoutError as e:\n    channel.send(("timeout", isinstance(e, TimeoutError)))\nchannel.send(channel.receive(5))',
    );
    assert.deepEqual(await ch.receive(), Tuple.of('timeout', true));
    await ch.send('late');
    assert.equal(await ch.receive(), 'late');
  });

  it('setCallback gets queued items first, then new ones, then the endmarker', async () => {
    const ch = gw.remoteExec(
      'channel.send(1); channel.send(2)\nchannel.receive()\nchannel.send(3)',
    );
    // let 1 and 2 arrive and queue up before the callback is set
    assert.equal((await gw.remoteStatus()).numexecuting >= 0, true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const seen: unknown[] = [];
    const done = new Promise<void>((resolve) =>
      ch.setCallback((item) => {
        seen.push(item);
        if (item === 'END') {
          resolve();
        }
      }, 'END'),
    );
    assert.deepEqual(seen, [1, 2]);
    await ch.send('go');
    await done;
    assert.deepEqual(seen, [1, 2, 3, 'END']);
  });

  it('setCallback delivers the endmarker when the remote fails too', async () => {
    const ch = gw.remoteExec('channel.send("x"); raise KeyError("k")');
    const seen: unknown[] = [];
    const done = new Promise<void>((resolve) =>
      ch.setCallback((item) => {
        seen.push(item);
        if (item === null) {
          resolve();
        }
      }, null),
    );
    await done;
    assert.deepEqual(seen, ['x', null]);
    await assert.rejects(ch.waitClose(), RemoteError);
  });

  it('receive() is refused while a callback is set', async () => {
    const ch = gw.remoteExec('channel.receive()');
    ch.setCallback(() => undefined);
    await assert.rejects(ch.receive(), (e: unknown) => {
      assert.ok(e instanceof ExecnetError);
      assert.match(e.message, /callback/);
      return true;
    });
    assert.throws(() => ch.setCallback(() => undefined), /callback already/);
    await ch.send(null);
    await ch.waitClose();
  });

  it('the remote side setcallback sees items in the receiver thread, with an endmarker', async () => {
    const ch = gw.remoteExec(
      [
        'import threading',
        'got = []',
        'done = threading.Event()',
        'def cb(item):',
        '    got.append(item)',
        '    if item is None:',
        '        done.set()',
        'inner = channel.gateway.newchannel()',
        'inner.setcallback(cb, endmarker=None)',
        'channel.send(inner)',
        'done.wait(5)',
        'channel.send(got)',
      ].join('\n'),
    );
    const inner = (await ch.receive()) as Channel;
    await inner.send('a');
    await inner.send('b');
    inner.close();
    assert.deepEqual(await ch.receive(), ['a', 'b', null]);
  });

  it('channels travel inside values, both directions', async () => {
    const ch = gw.remoteExec(
      [
        'mine = channel.gateway.newchannel()',
        'theirs = channel.receive()[1]',
        'channel.send(("here", mine))',
        'theirs.send("via local channel")',
        'mine.send(mine.receive() * 2)',
      ].join('\n'),
    );
    const local = gw.newChannel();
    await ch.send(Tuple.of('chan', local));
    const [tag, remote] = (await ch.receive()) as [string, Channel];
    assert.equal(tag, 'here');
    assert.equal(remote.id % 2, 0, 'remote-made channels have even ids');
    assert.equal(await local.receive(), 'via local channel');
    await remote.send(21);
    assert.equal(await remote.receive(), 42);
    await ch.waitClose();
  });

  it('makeFile("w") on the local side feeds a remote makefile("r") with readline', async () => {
    const ch = gw.remoteExec(
      [
        'f = channel.makefile("r")',
        'channel.send(f.readline())',
        'channel.send(f.read(3))',
        'channel.send(f.readline())',
      ].join('\n'),
    );
    const w = ch.makeFile('w');
    w.write('first line\nabc');
    w.write('rest\n');
    assert.equal(await ch.receive(), 'first line\n');
    assert.equal(await ch.receive(), 'abc');
    assert.equal(await ch.receive(), 'rest\n');
    await ch.waitClose();
  });

  it('a remote makefile("w") streams into a local makeFile("r")', async () => {
    const ch = gw.remoteExec(
      'f = channel.makefile("w")\nf.write("hello ")\nf.write(b"world")\nf.write("\\n")',
    );
    const r = ch.makeFile('r');
    const chunks: Buffer[] = [];
    r.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(r, 'end');
    assert.equal(Buffer.concat(chunks).toString(), 'hello world\n');
  });

  it('send() after close() fails, and receive() drains then raises EOFError', async () => {
    const ch = gw.remoteExec('channel.send(1)\nchannel.receive()');
    assert.equal(await ch.receive(), 1);
    ch.close();
    assert.equal(ch.isClosed(), true);
    await assert.rejects(ch.send(2), ChannelClosedError);
    await assert.rejects(ch.receive(), EOFError);
  });

  it('endSending() ends the remote loop over the channel while its replies still arrive', async () => {
    const ch = gw.remoteExec(
      'for item in channel:\n    channel.send(item * 2)\nchannel.send("done")',
    );
    await ch.send(1);
    await ch.send(2);
    ch.endSending();
    assert.equal(ch.isClosed(), true);
    await assert.rejects(ch.send(3), ChannelClosedError);
    const items: unknown[] = [];
    for await (const item of ch) {
      items.push(item);
    }
    assert.deepEqual(items, [2, 4, 'done']);
  });

  it('close() inside remote_exec code is an error', async () => {
    const ch = gw.remoteExec('channel.close()');
    await assert.rejects(ch.waitClose(), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.type, 'OSError');
      assert.match(e.remoteMessage, /cannot explicitly close channel within remote_exec/);
      return true;
    });
  });

  it('close(error) from the local side raises RemoteError in the remote receive', async () => {
    const ch = gw.remoteExec(
      'inner = channel.gateway.newchannel()\nchannel.send(inner)\ntry:\n    inner.receive()\nexcept inner.RemoteError as e:\n    channel.send(str(e))',
    );
    const inner = (await ch.receive()) as Channel;
    inner.close('stop now');
    assert.equal(await ch.receive(), 'stop now');
  });

  it('for await iterates until the remote closes', async () => {
    const ch = gw.remoteExec('for i in range(5):\n    channel.send(i)');
    const items: unknown[] = [];
    for await (const item of ch) {
      items.push(item);
    }
    assert.deepEqual(items, [0, 1, 2, 3, 4]);
  });

  it('values that cannot be serialized are refused on the sending side', async () => {
    const ch = gw.remoteExec('channel.receive()');
    await assert.rejects(
      ch.send(() => 1),
      /function/,
    );
    await ch.send(null);
    await ch.waitClose();
    const remote = gw.remoteExec('channel.send(object())');
    await assert.rejects(remote.waitClose(), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.type, 'DumpError');
      return true;
    });
  });
});
