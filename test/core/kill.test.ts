// channel.kill(): ending one exec that does not stop when interrupted, with the processes it
// started, while the gateway and its other execs live on.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RemoteError } from '../../src/core/errors';
import { testGroup } from '../helpers/gateways';
import { until } from '../helpers/wait';
import { processesWithMark } from '../helpers/processes';

/**
 * Code that ignores KeyboardInterrupt, with a child process that has a child of its own. In a
 * thread other than the main one, an exception lands only between blocking calls: short sleeps.
 */
function stubborn(sleep = 60): string {
  return [
    'import subprocess, sys, time',
    'child = subprocess.Popen(["/bin/sh", "-c", "sleep 300 & sleep 300; wait"])',
    'channel.send(child.pid)',
    'while True:',
    '    try:',
    `        time.sleep(${sleep})`,
    '    except KeyboardInterrupt:',
    '        print("ignored the interrupt", flush=True)',
  ].join('\n');
}

async function closedWith(promise: Promise<unknown>): Promise<RemoteError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RemoteError, String(error));
    return error;
  }
  assert.fail('the channel closed without an error');
}

describe('killing an exec', () => {
  it('ends code that ignores interrupts and the processes it started; the gateway lives on', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(stubborn());
    let output = '';
    ch.onOutput(({ data }) => (output += data.toString()));
    await ch.receive(10);
    // the gateway, the shell and its two sleeps
    await until('the shell and its sleeps', () => processesWithMark(tg.mark).length === 4);
    ch.interrupt();
    await until('the interrupt to be ignored', () => output.includes('ignored the interrupt'));
    assert.equal(ch.state, 'open');

    assert.equal(await ch.kill(10), true);
    const error = await closedWith(ch.waitClose());
    assert.equal(error.type, 'ExecKilled');
    assert.equal(error.remoteMessage, 'killed by the local side (3 processes it started ended)');
    // where the code was when it ended
    assert.deepEqual(
      error.frames.map((f) => f.line),
      [6],
    );
    assert.deepEqual(processesWithMark(tg.mark), [gw.info.pid]);

    assert.equal(gw.state, 'alive');
    const next = gw.remoteExec('channel.send("next")');
    assert.equal(await next.receive(10), 'next');
    // its item comes before its end: the count is read once it has ended
    await next.waitClose(10);
    assert.equal((await gw.remoteStatus()).numexecuting, 0);
    await tg.close();
  });

  it('kills an exec running in another thread and spares what another exec started', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    // the first exec holds the main thread; the second runs in a thread of its own
    const keeper = gw.remoteExec(
      'import subprocess\np = subprocess.Popen(["sleep", "300"])\nchannel.send(p.pid)\nchannel.receive()\np.kill(); p.wait()',
    );
    const keeperChild = (await keeper.receive(10)) as number;
    const victim = gw.remoteExec(stubborn(0.1));
    const victimChild = (await victim.receive(10)) as number;
    // the gateway, the keeper's sleep, the victim's shell and its two sleeps
    await until('every process to start', () => processesWithMark(tg.mark).length === 5);
    assert.equal(await victim.kill(10), true);
    const error = await closedWith(victim.waitClose());
    assert.equal(error.type, 'ExecKilled');
    assert.equal(error.remoteMessage, 'killed by the local side (3 processes it started ended)');
    const left = processesWithMark(tg.mark);
    assert.ok(left.includes(keeperChild), 'the other exec keeps its process');
    assert.ok(!left.includes(victimChild));
    await keeper.send('done');
    await keeper.waitClose(10);
    await tg.close();
  });

  it('closes the channel even when the thread will not end, and terminate still cleans up', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import time\nchannel.send(1)\nwhile True:\n    try:\n        time.sleep(1)\n    except BaseException:\n        pass',
    );
    await ch.receive(10);
    const started = Date.now();
    assert.equal(await ch.kill(10), true);
    const error = await closedWith(ch.waitClose());
    assert.equal(error.type, 'ExecKilled');
    assert.match(error.remoteMessage, /its thread did not end and is left running/);
    assert.ok(Date.now() - started < 5000, `kill took ${Date.now() - started} ms`);
    // the gateway still serves (in another thread: the main one is taken)
    assert.equal(await gw.remoteExec('channel.send(2)').receive(10), 2);
    await tg.close(2);
  });

  it("an interrupt in channel.receive() shows the code's line, not the gateway's insides", async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec({
      source: 'channel.send(1)\nfor item in channel:\n    pass\n',
      filename: 'loop.py',
    });
    await ch.receive(10);
    ch.interrupt();
    const error = await closedWith(ch.waitClose(10));
    assert.equal(error.type, 'KeyboardInterrupt');
    assert.deepEqual(
      error.frames.map((f) => [f.file, f.line]),
      [['loop.py', 2]],
    );
    assert.doesNotMatch(error.traceback, /execnet-remote|threading\.py/);
    await tg.close();
  });

  it('interrupts and kills landing while the code prints leave a gateway that still answers', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    // printing all the time: the interrupts land in the middle of sending output
    const noisy =
      'import sys\nwhile True:\n    try:\n        print("x" * 50)\n    except KeyboardInterrupt:\n        pass\n';
    for (let round = 0; round < 8; round++) {
      const runs = [gw.remoteExec(noisy), gw.remoteExec(noisy)];
      await new Promise((resolve) => setTimeout(resolve, 30));
      for (let i = 0; i < 5; i++) {
        runs.forEach((ch) => ch.interrupt());
      }
      const killed = await Promise.all(runs.map((ch) => ch.kill(10)));
      assert.deepEqual(killed, [true, true], `round ${round}`);
      assert.equal(
        await gw.remoteExec('channel.send("still here")').receive(10),
        'still here',
        `round ${round}`,
      );
    }
    await tg.close(2);
  });

  it('kill of an exec that already ended is a no-op', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec('pass');
    await ch.waitClose(10);
    assert.equal(await ch.kill(1), true);
    assert.equal(ch.error, undefined);
    await tg.close();
  });
});
