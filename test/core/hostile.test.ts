// What remote code may not do to this side: speak for the bootstrap, plant code that a later
// gateway runs, or make this side hold on to channels nobody opened.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { Channel } from '../../src/core/channel';
import { DataFormatError } from '../../src/core/errors';
import { testGroup } from '../helpers/gateways';
import { forgeHello } from '../helpers/hostile';
import { leftoverProcesses, newMark } from '../helpers/processes';
import { defaultPython } from '../helpers/pythons';
import { runScript } from '../helpers/scripts';

const CORE = JSON.stringify(path.resolve('src/core/index.ts'));

describe('a hostile remote', () => {
  it('a forged handshake frame is refused, and a later gateway with another chdir= does not run its code', async () => {
    const mark = newMark();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-hostile-'));
    const marker = path.join(dir, 'planted');
    const base = `popen//python=${defaultPython()}//env:EXECNET_TEST_MARK=${mark}`;
    // warm start off: a forked gateway never runs cached code, the attack is on ordinary starts
    const script = `
      const { Group } = require(${CORE});
      (async () => {
        const group = new Group();
        const first = await group.makeGateway(${JSON.stringify(`${base}//chdir=${dir}/a`)});
        const ch = first.remoteExec(${JSON.stringify(forgeHello(marker))});
        const sent = await ch.receive().then(String, (e) => 'error: ' + e.message);
        await new Promise((resolve) => setTimeout(resolve, 200));
        const later = await group.makeGateway(${JSON.stringify(`${base}//chdir=${dir}/b`)}).then(
          (gw) => gw.remoteExec('import os\\nchannel.send(os.getcwd())').receive(),
          (e) => 'did not start: ' + e.message,
        );
        console.log(JSON.stringify({
          sent,
          first: first.state,
          reason: first.closeReason ? first.closeReason.constructor.name + ': ' + first.closeReason.message : null,
          later,
        }));
        await group.terminate(5);
      })();`;
    const { stdout, stderr } = await runScript(script, { EXECNET_WARM_START: '0' });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}', (_k, v) => v) as Record<
      string,
      string
    >;
    assert.ok(result.later, `script failed: ${stderr}`);
    assert.equal(fs.existsSync(marker), false, 'the planted code never ran');
    assert.equal(result.later, path.join(dir, 'b'), 'the later gateway started normally');
    assert.equal(result.first, 'dead', 'the gateway whose code forged the frame is closed');
    assert.match(result.reason, /DataFormatError: .*handshake frame after the handshake/);
    assert.match(result.sent, /error: .*handshake frame after the handshake/);
    assert.deepEqual(await leftoverProcesses(mark), []);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('compiled code handed back in a handshake is reused only by starts of the same kind', async () => {
    const mark = newMark();
    const base = `popen//python=${defaultPython()}//env:EXECNET_TEST_MARK=${mark}`;
    const cached = 'channel.send(type(channel.gateway).__init__.__globals__["_boot_cached"])';
    const script = `
      const { Group } = require(${CORE});
      (async () => {
        const group = new Group();
        const out = [];
        for (const spec of ${JSON.stringify([base, base, `${base}//chdir=/tmp`, base])}) {
          const gw = await group.makeGateway(spec);
          out.push(await gw.remoteExec(${JSON.stringify(cached)}).receive());
        }
        console.log(JSON.stringify(out));
        await group.terminate(5);
      })();`;
    const { stdout, stderr } = await runScript(script, { EXECNET_WARM_START: '0' });
    assert.deepEqual(
      JSON.parse(stdout.trim().split('\n').at(-1) ?? 'null'),
      [false, true, false, true],
      `first start compiles, a second one (another id) reuses; another chdir= compiles: ${stderr}`,
    );
    assert.deepEqual(await leftoverProcesses(mark), []);
  });

  it('data for channels nobody opened, or closed here, is dropped: the channel count returns to its baseline', async (t) => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const opened: Channel[] = [];
    gw.onDidOpenChannel((channel) => opened.push(channel));
    const baseline = gw.openChannels.length;
    // 10,000 frames to ids nobody opened, odd (ours) and even (the remote's)
    const flood = gw.remoteExec(
      'gw = channel.gateway\nfor i in range(10000):\n    gw._send(5, 1001 + i, gw._dumps(i))\nchannel.send("done")',
    );
    assert.equal(await flood.receive(), 'done');
    await flood.waitClose(10);
    // a channel closed here while the remote keeps sending on it (past its own close check)
    const stream = gw.remoteExec(
      'gw = channel.gateway\nchannel.send(0)\nchannel.receive()\n' +
        'for i in range(1, 1001):\n    gw._send(5, channel.id, gw._dumps(i))\n',
    );
    assert.equal(await stream.receive(), 0);
    await stream.send('go');
    stream.close();
    // a round trip that ends closed: everything sent before has arrived
    const roundTrip = gw.remoteExec('pass');
    await roundTrip.waitClose(10);
    t.diagnostic(`channels after the flood: ${gw.openChannels.length} (baseline ${baseline})`);
    assert.equal(gw.openChannels.length, baseline, 'no ghost channel');
    assert.deepEqual(
      opened.filter((ch) => ![flood, stream, roundTrip].includes(ch)).map((ch) => ch.id),
      [],
      'no channel was opened for the dropped frames',
    );
    assert.ok(gw.droppedFrames >= 10000, `dropped ${gw.droppedFrames} frames`);
    assert.equal(stream.state, 'closed');
    await tg.close();
  });

  it('a value nested too deeply to read fails its channel alone; the gateway goes on', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    // 1,500 tuples inside each other, written straight onto the wire
    const ch = gw.remoteExec(
      [
        'b = b"\\xc0"',
        'for _ in range(1500):',
        '    body = b"\\x91" + b',
        '    n = len(body)',
        '    b = (bytes([0xc7, n, 1]) if n < 256 else b"\\xc8" + n.to_bytes(2, "big") + b"\\x01") + body',
        'channel.gateway._send(5, channel.id, b)',
        'channel.receive()',
      ].join('\n'),
    );
    await assert.rejects(ch.receive(10), (error: unknown) => {
      assert.ok(error instanceof DataFormatError, String(error));
      assert.match((error as Error).message, /nested deeper than 512 levels/);
      return true;
    });
    assert.equal(gw.state, 'alive');
    assert.equal(await gw.remoteExec('channel.send("still here")').receive(10), 'still here');
    await tg.close();
  });

  for (const [label, python] of [
    ['the pure-Python codec', defaultPython()],
    ['the msgpack C extension', '/usr/bin/python3'],
  ]) {
    it(`remote code sending a value nested 1,500 deep gets a DumpError naming the depth (${label})`, async () => {
      const tg = testGroup();
      const gw = await tg.gateway(undefined, python);
      const ch = gw.remoteExec(
        'v = None\nfor _ in range(1500):\n    v = (v,)\ntry:\n    channel.send(v)\n' +
          'except Exception as e:\n    channel.send((type(e).__name__, "DataFormatError" in [c.__name__ for c in type(e).__mro__], str(e)))',
      );
      const [name, isFormatError, message] = (await ch.receive(10)) as string[];
      assert.equal(name, 'DumpError');
      assert.equal(isFormatError, true);
      assert.match(message, /nested 1500 levels deep; up to 200 levels travel either way/);
      assert.equal(await gw.remoteExec('channel.send(1)').receive(10), 1);
      await tg.close();
    });
  }
});
