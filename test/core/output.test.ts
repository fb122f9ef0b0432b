// The remote's stdout and stderr come back live, attributed to the exec that wrote them, and
// never corrupt the protocol.

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Channel, ChannelOutput } from '../../src/core/channel';
import type { Gateway, GatewayOutput } from '../../src/core/gateway';
import { testGroup, type TestGroup } from '../helpers/gateways';

function collect(ch: Channel): { text: (stream?: 'stdout' | 'stderr') => string } {
  const seen: ChannelOutput[] = [];
  ch.onOutput((o) => seen.push(o));
  return {
    text: (stream) =>
      Buffer.concat(
        seen.filter((o) => !stream || o.stream === stream).map((o) => o.data),
      ).toString(),
  };
}

describe('remote output', () => {
  let tg: TestGroup;
  let gw: Gateway;
  before(async () => {
    tg = testGroup();
    gw = await tg.gateway();
  });
  after(() => tg.close());

  it('print() and sys.stderr come back on the exec channel', async () => {
    const ch = gw.remoteExec(
      'import sys\nprint("hello", 42)\nsys.stderr.write("oops\\n")\nprint("ü", end="")\nsys.stdout.buffer.write(b"raw\\n")\nchannel.send("done")',
    );
    const out = collect(ch);
    assert.equal(await ch.receive(), 'done');
    await ch.waitClose();
    assert.equal(out.text('stdout'), 'hello 42\nüraw\n');
    assert.equal(out.text('stderr'), 'oops\n');
  });

  it('os.write(1, ...) and subprocess output are captured, not lost', async () => {
    const ch = gw.remoteExec(
      'import os, subprocess, sys\nos.write(1, b"from fd 1\\n")\nos.write(2, b"from fd 2\\n")\n' +
        'subprocess.check_call([sys.executable, "-c", "print(\\"from a child\\")"])\n' +
        'import time; time.sleep(0.2)',
    );
    const out = collect(ch);
    await ch.waitClose();
    assert.match(out.text('stdout'), /from fd 1\n/);
    assert.match(out.text('stdout'), /from a child\n/);
    assert.equal(out.text('stderr'), 'from fd 2\n');
  });

  it('output is streamed while the code runs, not at the end', async () => {
    const ch = gw.remoteExec('print("first", flush=True)\nchannel.receive()\nprint("second")');
    const chunks: string[] = [];
    // output comes in chunks of any size: wait for the whole first line
    const first = new Promise<void>((resolve) =>
      ch.onOutput((o) => {
        chunks.push(o.data.toString());
        if (chunks.join('').includes('\n')) {
          resolve();
        }
      }),
    );
    await first;
    assert.equal(chunks.join(''), 'first\n');
    await ch.send(null);
    await ch.waitClose();
    assert.equal(chunks.join(''), 'first\nsecond\n');
  });

  it('concurrent execs each get their own prints', async () => {
    const source =
      'import time\nfor i in range(5):\n    print(channel.receive())\n    channel.send(i)';
    const a = gw.remoteExec(source);
    const b = gw.remoteExec(source);
    const outA = collect(a);
    const outB = collect(b);
    for (let i = 0; i < 5; i++) {
      await a.send(`a${i}`);
      await b.send(`b${i}`);
      await a.receive();
      await b.receive();
    }
    await Promise.all([a.waitClose(), b.waitClose()]);
    assert.equal(outA.text(), 'a0\na1\na2\na3\na4\n');
    assert.equal(outB.text(), 'b0\nb1\nb2\nb3\nb4\n');
  });

  it('prints of the threads an exec starts are its output, even with another exec running', async () => {
    // the pool's two threads write whole lines: print() writes its text and its end separately,
    // so two threads printing at once may interleave them, in CPython's own stdout too
    const source = [
      'import sys, threading',
      'from concurrent.futures import ThreadPoolExecutor',
      'tag = channel.receive()',
      't = threading.Thread(target=lambda: print(tag, "thread"))',
      't.start(); t.join()',
      'with ThreadPoolExecutor(2) as pool:',
      '    list(pool.map(lambda i: sys.stdout.write("%s pool %d\\n" % (tag, i)), range(2)))',
    ].join('\n');
    const a = gw.remoteExec(source);
    const b = gw.remoteExec(source);
    const outA = collect(a);
    const outB = collect(b);
    await a.send('a');
    await b.send('b');
    await Promise.all([a.waitClose(), b.waitClose()]);
    assert.deepEqual(outA.text().split('\n').sort(), ['', 'a pool 0', 'a pool 1', 'a thread']);
    assert.deepEqual(outB.text().split('\n').sort(), ['', 'b pool 0', 'b pool 1', 'b thread']);
  });

  it('the gateway sees all output, each piece with its channel', async () => {
    const seen: GatewayOutput[] = [];
    const sub = gw.onOutput((o) => seen.push(o));
    const ch = gw.remoteExec('print("tagged")');
    await ch.waitClose();
    sub.dispose();
    const mine = seen.filter((o) => o.channel === ch);
    assert.equal(Buffer.concat(mine.map((o) => o.data)).toString(), 'tagged\n');
  });

  it('huge output does not corrupt data on the same channel', async () => {
    const ch = gw.remoteExec('for i in range(2000):\n    print("x" * 100)\n    channel.send(i)\n');
    const out = collect(ch);
    for (let i = 0; i < 2000; i++) {
      assert.equal(await ch.receive(), i);
    }
    await ch.waitClose();
    assert.equal(out.text().length, 2000 * 101);
  });
});
