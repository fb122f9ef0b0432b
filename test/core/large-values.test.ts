// Large values through a gateway: one value of many MiB crosses whole in both directions on
// every Python, without copies on the way (the receiving side holds it about once), split across
// reads at any point; a gateway killed in the middle of one, and a frame over the size limit,
// end in clear errors, with nothing allocated for the oversized frame and nothing left running.

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import type { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { DataFormatError, DumpError, GatewayClosedError } from '../../src/core/errors';
import type { Gateway } from '../../src/core/gateway';
import { HEADER_SIZE, MAX_PAYLOAD, Msg } from '../../src/core/protocol';
import { Tuple } from '../../src/core/serializer';
import { testGroup } from '../helpers/gateways';
import { peakGrowth, resetPeak } from '../helpers/memory';
import { findPythons } from '../helpers/pythons';

const MIB = 1 << 20;

/** Bytes that are not all alike, so that a misplaced piece shows. */
function pattern(n: number, seed = 0): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) {
    out.writeUInt32LE(Math.imul(i + seed, 2654435761) >>> 0, i);
  }
  return out;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function frameHeader(type: Msg, channel: number, length: number): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = type;
  header.writeUInt32BE(channel, 1);
  header.writeUInt32BE(length, 5);
  return header;
}

/** The byte stream to the remote interpreter, for writing frames by hand. */
function rawInput(gw: Gateway): Writable {
  return (gw as unknown as { transport: { input: Writable } }).transport.input;
}

/** Every pyenv CPython, and Debian's python3 for the msgpack C extension's path where it has it. */
const pythons = findPythons().map((p) => ({ label: `Python ${p.version}`, path: p.path }));
if (fs.existsSync('/usr/bin/python3')) {
  pythons.push({
    label: '/usr/bin/python3 (msgpack C extension if installed)',
    path: '/usr/bin/python3',
  });
}

describe('one large value', () => {
  for (const python of pythons) {
    it(`${python.label}: 16 MiB cross whole both ways and are held once by the receiver`, async () => {
      const tg = testGroup();
      const gw = await tg.gateway(undefined, python.path);
      const pid = gw.pid as number;
      const n = 16 * MIB;
      const data = pattern(n);
      const ch = gw.remoteExec(
        'import hashlib\n' +
          'for _ in range(2):\n' +
          '    x = channel.receive()\n' +
          '    channel.send((type(x).__name__, len(x), hashlib.sha256(x).hexdigest()))\n' +
          '    del x\n' +
          'd = channel.receive()\n' +
          'channel.send(d)\n' +
          'channel.send(bytearray(d))\n' +
          'channel.send(memoryview(d)[7:])\n' +
          'channel.send(("name", d))',
      );
      const base = resetPeak(pid);
      await ch.send(data);
      assert.deepEqual(await ch.receive(), Tuple.of('bytes', n, sha256(data)));
      const growth = peakGrowth(pid, base);
      assert.ok(growth < 1.5 * n, `the remote grew by ${(growth / n).toFixed(2)}× the value`);
      // a Uint8Array that views the middle of a larger buffer
      const view = new Uint8Array(data.buffer, data.byteOffset + 3, n - 6);
      await ch.send(view);
      assert.deepEqual(await ch.receive(), Tuple.of('bytes', n - 6, sha256(view)));

      await ch.send(data);
      for (const expected of [data, data, data.subarray(7)]) {
        const back = await ch.receive();
        assert.ok(Buffer.isBuffer(back) && back.equals(expected), 'the same bytes came back');
      }
      const named = (await ch.receive()) as Tuple;
      assert.equal(named[0], 'name');
      assert.ok((named[1] as Buffer).equals(data));
      await ch.waitClose();
      await tg.close();
    });
  }
});

describe('sending from the caller’s memory', () => {
  it('a Buffer may change once send() resolved: what arrives is what it held when sent', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import hashlib\nfor x in channel:\n    channel.send(hashlib.sha256(x).hexdigest())',
    );
    const data = Buffer.alloc(MIB);
    const sent: string[] = [];
    for (let i = 0; i < 8; i++) {
      data.fill(i);
      sent.push(sha256(data));
      await ch.send(data);
    }
    data.fill(0xff);
    for (const digest of sent) {
      assert.equal(await ch.receive(), digest);
    }
    ch.close();
    await tg.close();
  });
});

describe('large frames split across reads', () => {
  it('from the remote: cut in the header, the binary header and the body', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import os, struct, time\n' +
        'body = bytes(range(256)) * 4096\n' +
        'payload = b"\\xc6" + struct.pack(">I", len(body)) + body\n' +
        'frame = struct.pack(">BII", 5, channel.id, len(payload)) + payload\n' +
        'writer = channel.gateway._writer\n' +
        'writer.flush()\n' +
        'for a, b in ((0, 4), (4, 11), (11, 12), (12, 500000), (500000, len(frame))):\n' +
        '    os.write(writer._fd, frame[a:b])\n' +
        '    time.sleep(0.05)\n' +
        'channel.send("after")',
    );
    const expected = Buffer.alloc(MIB);
    for (let i = 0; i < MIB; i++) {
      expected[i] = i & 0xff;
    }
    const value = await ch.receive();
    assert.ok(Buffer.isBuffer(value) && value.equals(expected), 'the 1 MiB value arrived whole');
    assert.equal(await ch.receive(), 'after');
    await ch.waitClose();
    await tg.close();
  });

  it('to the remote: cut in the header, the binary header and the body', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import hashlib\n' +
        'x = channel.receive()\n' +
        'channel.send((type(x).__name__, hashlib.sha256(x).hexdigest()))\n' +
        'channel.send(channel.receive())',
    );
    const body = pattern(MIB, 1);
    const binHeader = Buffer.from([0xc6, 0, 0, 0, 0]);
    binHeader.writeUInt32BE(body.length, 1);
    const frame = Buffer.concat([
      frameHeader(Msg.ChannelData, ch.id, binHeader.length + body.length),
      binHeader,
      body,
    ]);
    const input = rawInput(gw);
    for (const [a, b] of [
      [0, 4],
      [4, 9],
      [9, 11],
      [11, 300_000],
      [300_000, frame.length],
    ]) {
      input.write(frame.subarray(a, b));
      await delay(50);
    }
    assert.deepEqual(await ch.receive(), Tuple.of('bytes', sha256(body)));
    // the stream goes on after it, also with a large value that is not a lone binary
    await ch.send(Tuple.of('name', body));
    const back = (await ch.receive()) as Tuple;
    assert.ok(back[0] === 'name' && (back[1] as Buffer).equals(body));
    await ch.waitClose();
    await tg.close();
  });
});

describe('a gateway killed in the middle of a large value', () => {
  it('while it sends one: the receive fails, naming the truncated frame', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import os, signal, struct\n' +
        'size = 64 << 20\n' +
        'writer = channel.gateway._writer\n' +
        'writer.flush()\n' +
        'os.write(writer._fd, struct.pack(">BIIBI", 5, channel.id, size + 5, 0xc6, size))\n' +
        'os.write(writer._fd, b"\\x01" * (size // 2))\n' +
        'os.kill(os.getpid(), signal.SIGKILL)',
    );
    const error = await ch.receive().then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof GatewayClosedError);
    assert.match(
      error.message,
      /killed by SIGKILL in the middle of a frame \(\d+ bytes of a truncated frame\)/,
    );
    await tg.close();
  });

  it('while it receives one: the send fails, nothing hangs', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const pid = gw.pid as number;
    const ch = gw.remoteExec('channel.receive()');
    // stopped, the remote reads nothing: the value waits in the stream when the kill comes
    process.kill(pid, 'SIGSTOP');
    const sending = ch.send(Buffer.alloc(64 * MIB, 1));
    process.kill(pid, 'SIGKILL');
    await assert.rejects(sending, GatewayClosedError);
    await assert.rejects(ch.receive(), GatewayClosedError);
    assert.equal(gw.state, 'dead');
    await tg.close();
  });
});

describe('the frame size limit', () => {
  it('a frame from the remote over the limit is a DataFormatError, with nothing allocated', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import os, struct\n' +
        'writer = channel.gateway._writer\n' +
        'writer.flush()\n' +
        `os.write(writer._fd, struct.pack(">BII", 5, channel.id, ${MAX_PAYLOAD + 1}) + b"\\x01" * 4096)\n` +
        'channel.receive()',
    );
    const base = resetPeak(process.pid);
    await assert.rejects(ch.receive(), GatewayClosedError);
    assert.ok(gw.closeReason instanceof DataFormatError);
    assert.match(
      gw.closeReason.message,
      new RegExp(`length ${MAX_PAYLOAD + 1} exceeds the ${MAX_PAYLOAD}-byte limit`),
    );
    assert.ok(peakGrowth(process.pid, base) < 64 * MIB, 'no buffer for the frame was made');
    await tg.close();
  });

  it('a frame to the remote over the limit ends the gateway, which says why', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec('channel.receive()');
    const pending = ch.receive();
    rawInput(gw).write(frameHeader(Msg.ChannelData, ch.id, MAX_PAYLOAD + 1));
    const error = await pending.then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof GatewayClosedError);
    assert.match(
      error.message,
      new RegExp(
        `corrupt input: DataFormatError: a frame of ${MAX_PAYLOAD + 1} bytes exceeds the ${MAX_PAYLOAD}-byte limit`,
      ),
    );
    await tg.close();
  });

  it('a value over the limit is refused before anything is written, on either side', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import mmap\n' +
        // an anonymous mapping: over the limit without using the memory
        'big = mmap.mmap(-1, channel.receive())\n' +
        'try:\n' +
        '    channel.send(memoryview(big))\n' +
        'except Exception as exc:\n' +
        '    channel.send("%s: %s" % (type(exc).__name__, exc))\n' +
        'channel.send(channel.receive())',
    );
    // 17 times the same 64 MiB: over the limit as a value, without the memory for it
    const piece = Buffer.allocUnsafe(64 * MIB);
    await assert.rejects(
      ch.send(Array.from({ length: 17 }, () => piece)),
      (e: unknown) => e instanceof DumpError && /a frame holds at most/.test(e.message),
    );
    await ch.send(MAX_PAYLOAD + 1);
    assert.match(
      String(await ch.receive()),
      /^DumpError: cannot send a value of \d+ bytes: a frame holds at most \d+ bytes$/,
    );
    await ch.send('still here');
    assert.equal(await ch.receive(), 'still here');
    await ch.waitClose();
    await tg.close();
  });
});
