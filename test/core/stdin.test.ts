// An exec's own sys.stdin (`remoteExec({ ..., stdin: true })`): what is written to channel.stdin
// is what input(), sys.stdin.readline() and sys.stdin.buffer read, with end of file like a
// terminal's Ctrl-D (eof) and a pipe's end (end).

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Channel } from '../../src/core/channel';
import { RemoteError } from '../../src/core/errors';
import { testGroup } from '../helpers/gateways';
import { until } from '../helpers/wait';

/** Collect what an exec prints. */
function printed(channel: Channel): () => string {
  let text = '';
  channel.onOutput(({ data }) => (text += data.toString()));
  return () => text;
}

describe('stdin of an exec', () => {
  it('input() shows its prompt and returns the line written to channel.stdin', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec({
      source: 'name = input("name? ")\nchannel.send(name)\nprint("hello", name)',
      stdin: true,
    });
    const output = printed(ch);
    assert.ok(ch.stdin, 'an exec with stdin: true has channel.stdin');
    // the prompt is out before anything is typed
    await until('the prompt', () => output() === 'name? ');
    await ch.stdin.write('Ada\n');
    assert.equal(await ch.receive(5), 'Ada');
    await ch.waitClose(5);
    assert.equal(output(), 'name? hello Ada\n');
    await tg.close();
  });

  it('readline, iteration, read() and the bytes buffer all read the same stream', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec({
      source: [
        'import sys',
        'channel.send(sys.stdin.readline())',
        'channel.send(sys.stdin.buffer.readline())',
        'channel.send(next(iter(sys.stdin)))',
        'channel.send(sys.stdin.read())',
      ].join('\n'),
      stdin: true,
    });
    await ch.stdin?.write('first\nsecond\nthird ünïcode\nrest\nof it');
    ch.stdin?.end();
    assert.equal(await ch.receive(5), 'first\n');
    assert.deepEqual(await ch.receive(5), Buffer.from('second\n'));
    assert.equal(await ch.receive(5), 'third ünïcode\n');
    assert.equal(await ch.receive(5), 'rest\nof it');
    await ch.waitClose(5);
    await tg.close();
  });

  it('eof() is one end of file, like Ctrl-D: input() raises EOFError, later reads go on', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec({
      source: [
        'import sys',
        'try:',
        '    input()',
        'except EOFError:',
        '    channel.send("EOFError")',
        // a partial line, then Ctrl-D: the read returns what was typed
        'channel.send(sys.stdin.readline())',
        'channel.send(input())',
        'channel.send(sys.stdin.read())',
      ].join('\n'),
      stdin: true,
    });
    await ch.stdin?.eof();
    assert.equal(await ch.receive(5), 'EOFError');
    await ch.stdin?.write('no newline');
    await ch.stdin?.eof();
    assert.equal(await ch.receive(5), 'no newline');
    await ch.stdin?.write('again\n');
    assert.equal(await ch.receive(5), 'again');
    ch.stdin?.end();
    assert.equal(await ch.receive(5), '');
    await ch.waitClose(5);
    assert.equal(ch.stdin?.ended, true);
    await tg.close();
  });

  it('an exec without stdin reads end of file at once, as before', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec('input("x")');
    assert.equal(ch.stdin, undefined);
    await assert.rejects(ch.waitClose(5), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.type, 'EOFError');
      return true;
    });
    await tg.close();
  });

  it('two execs running at once each read their own stdin, threads they start included', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const source = [
      'import sys, threading',
      'got = []',
      't = threading.Thread(target=lambda: got.append(sys.stdin.readline()))',
      't.start(); t.join()',
      'channel.send((got[0], input()))',
    ].join('\n');
    const a = gw.remoteExec({ source, stdin: true });
    const b = gw.remoteExec({ source, stdin: true });
    await b.stdin?.write('b1\nb2\n');
    await a.stdin?.write('a1\na2\n');
    assert.deepEqual([...((await a.receive(5)) as string[])], ['a1\n', 'a2']);
    assert.deepEqual([...((await b.receive(5)) as string[])], ['b1\n', 'b2']);
    await Promise.all([a.waitClose(5), b.waitClose(5)]);
    await tg.close();
  });

  it('an interrupt reaches code waiting in input(), in the main thread and in others', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    // the first exec runs in the main thread, the second (started meanwhile) in a thread
    const main = gw.remoteExec({ source: 'channel.send(1)\ninput()', stdin: true });
    const other = gw.remoteExec({ source: 'channel.send(2)\ninput()', stdin: true });
    await main.receive(5);
    await other.receive(5);
    main.interrupt();
    other.interrupt();
    for (const ch of [main, other]) {
      await assert.rejects(ch.waitClose(10), /KeyboardInterrupt/);
    }
    assert.equal((await gw.remoteStatus()).numexecuting, 0);
    await tg.close();
  });

  it('writing after the exec ended rejects; the stdin channel is gone on both sides', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec({ source: 'pass', stdin: true });
    await ch.waitClose(5);
    await until('stdin to end', () => ch.stdin?.ended === true);
    await assert.rejects(ch.stdin!.write('late\n'), /closed/);
    assert.equal((await gw.remoteStatus()).numchannels, 0);
    assert.deepEqual(
      gw.openChannels.filter((c) => c.origin.label.startsWith('stdin')),
      [],
    );
    await tg.close();
  });
});
