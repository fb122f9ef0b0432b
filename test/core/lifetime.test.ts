// Remote errors, dying remotes, corrupt streams, interrupts and termination: nothing hangs and
// nothing is left running.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  ChannelClosedError,
  DataFormatError,
  EOFError,
  GatewayClosedError,
  RemoteError,
} from '../../src/core/errors';
import { testGroup } from '../helpers/gateways';
import { alive, leftoverProcesses, newMark } from '../helpers/processes';
import { defaultPython } from '../helpers/pythons';
import { runScript } from '../helpers/scripts';

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('remote exceptions', () => {
  it('NameError arrives as RemoteError with the remote traceback', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const error = await rejection(gw.remoteExec('x = 1\nundefined_name').waitClose());
    assert.ok(error instanceof RemoteError);
    assert.equal(error.type, 'NameError');
    assert.match(error.traceback, /Traceback \(most recent call last\)/);
    assert.match(error.traceback, /File "<remote exec>", line 2, in <module>/);
    assert.match(error.message, /NameError: name 'undefined_name' is not defined/);
    assert.deepEqual(error.frames, [{ file: '<remote exec>', line: 2, function: '<module>' }]);
    assert.doesNotMatch(error.traceback, /execnet-remote/, 'no frames of the gateway itself');
    await tg.close();
  });

  it('execs failing at the same moment on a fresh gateway each get their RemoteError', async () => {
    // the first error report imports the traceback module: several threads may do it at once
    const tg = testGroup();
    const gw = await tg.gateway();
    const channels = [
      gw.remoteExec('1 / 0'),
      gw.remoteExec('raise SystemExit(3)'),
      gw.remoteExec('raise KeyError("k")'),
      gw.remoteExec('undefined_name'),
    ];
    const errors = await Promise.all(channels.map((ch) => rejection(ch.waitClose(10))));
    assert.deepEqual(
      errors.map((e) => (e as RemoteError).type),
      ['ZeroDivisionError', 'SystemExit', 'KeyError', 'NameError'],
    );
    assert.equal(await gw.remoteExec('channel.send("alive")').receive(), 'alive');
    await tg.close();
  });

  it('SyntaxError names the line', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const error = await rejection(
      gw.remoteExec({ source: 'a = 1\nb = (\n', filename: 'broken.py' }).waitClose(),
    );
    assert.ok(error instanceof RemoteError);
    assert.equal(error.type, 'SyntaxError');
    assert.match(error.traceback, /File "broken.py", line \d/);
    assert.equal(error.frames.at(-1)?.file, 'broken.py');
    await tg.close();
  });

  it('items sent before the exception are received first', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec('channel.send(1)\nchannel.send(2)\n1/0');
    assert.equal(await ch.receive(), 1);
    assert.equal(await ch.receive(), 2);
    const error = await rejection(ch.receive());
    assert.ok(error instanceof RemoteError);
    assert.equal(error.type, 'ZeroDivisionError');
    // the error stays: a later receive or waitClose reports it again
    await assert.rejects(ch.waitClose(), RemoteError);
    await tg.close();
  });

  it('SystemExit carries its status, sys.exit(0) too, and the gateway survives', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const failed = gw.remoteExec('import sys\nsys.exit(3)');
    const error = await rejection(failed.waitClose());
    assert.ok(error instanceof RemoteError);
    assert.equal(error.type, 'SystemExit');
    assert.equal(error.exitCode, 3);
    assert.equal(failed.exitCode, 3);
    const zero = gw.remoteExec('import sys\nchannel.send(1)\nsys.exit(0)');
    assert.equal(await zero.receive(), 1);
    const exited = await rejection(zero.waitClose());
    assert.ok(exited instanceof RemoteError);
    assert.equal(exited.type, 'SystemExit');
    assert.equal(exited.exitCode, 0);
    // the gateway survives both
    assert.equal(await gw.remoteExec('channel.send("alive")').receive(), 'alive');
    await tg.close();
  });
});

describe('a remote that dies', () => {
  it('killed -9 mid-stream: pending receive and waitClose reject, sends reject', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec('import os\nchannel.send(os.getpid())\nchannel.receive()');
    const pid = Number(await ch.receive());
    const pending = [rejection(ch.receive()), rejection(ch.waitClose())];
    process.kill(pid, 'SIGKILL');
    const [receiveError, closeError] = await Promise.all(pending);
    for (const error of [receiveError, closeError]) {
      assert.ok(error instanceof GatewayClosedError, String(error));
      assert.match((error as Error).message, /killed by SIGKILL/);
    }
    assert.ok(receiveError instanceof EOFError, 'GatewayClosedError is the EOFError case');
    const sendError = await rejection(ch.send(1));
    assert.ok(sendError instanceof GatewayClosedError || sendError instanceof ChannelClosedError);
    assert.throws(() => gw.remoteExec('pass'), GatewayClosedError);
    assert.equal(gw.state, 'dead');
    assert.equal(tg.group.size, 0, 'a dead gateway leaves its group');
    await tg.close();
  });

  it('os._exit in remote code ends the gateway with its status', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const error = await rejection(gw.remoteExec('import os\nos._exit(7)').receive());
    assert.ok(error instanceof GatewayClosedError);
    assert.match((error as Error).message, /exited with status 7/);
    await tg.close();
  });

  it('a corrupt frame closes the gateway with DataFormatError and nothing hangs', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import os\nchannel.send(1)\nchannel.receive()\n' +
        // write garbage straight onto the protocol stream: an unknown message type
        'os.write(channel.gateway._writer._fd, b"\\xff\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x00")\n' +
        'channel.receive()',
    );
    assert.equal(await ch.receive(), 1);
    const pending = rejection(ch.receive());
    await ch.send('go');
    const error = await pending;
    assert.ok(error instanceof GatewayClosedError);
    assert.ok(gw.closeReason instanceof DataFormatError);
    assert.match(gw.closeReason.message, /unknown message type 255/);
    await tg.close();
  });

  it('an oversized frame header closes the gateway with DataFormatError', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import os\nos.write(channel.gateway._writer._fd, b"\\x05\\x00\\x00\\x00\\x01\\xff\\xff\\xff\\xff")\nchannel.receive()',
    );
    const error = await rejection(ch.receive());
    assert.ok(error instanceof GatewayClosedError);
    assert.ok(gw.closeReason instanceof DataFormatError);
    assert.match(gw.closeReason.message, /exceeds/);
    await tg.close();
  });

  it('a truncated frame is reported as such', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import os\nos.write(channel.gateway._writer._fd, b"\\x05\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x10abc")\nos._exit(0)',
    );
    const error = await rejection(ch.receive());
    assert.ok(error instanceof GatewayClosedError);
    assert.match((error as Error).message, /truncated frame/);
    await tg.close();
  });
});

describe('interrupt', () => {
  it('raises KeyboardInterrupt in the main-thread exec without killing the gateway', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec('import time\nchannel.send("sleeping")\ntime.sleep(60)');
    assert.equal(await ch.receive(), 'sleeping');
    ch.interrupt();
    const error = await rejection(ch.waitClose(10));
    assert.ok(error instanceof RemoteError);
    assert.equal(error.type, 'KeyboardInterrupt');
    assert.equal(await gw.remoteExec('channel.send(2)').receive(), 2);
    await tg.close();
  });

  it('raises KeyboardInterrupt in an exec running in another thread', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const blocker = gw.remoteExec('channel.receive()');
    const ch = gw.remoteExec(
      'import threading\nchannel.send(threading.current_thread() is threading.main_thread())\nwhile True:\n    sum(range(1000))',
    );
    assert.equal(await ch.receive(), false);
    ch.interrupt();
    const error = await rejection(ch.waitClose(10));
    assert.ok(error instanceof RemoteError);
    assert.equal(error.type, 'KeyboardInterrupt');
    await blocker.send(null);
    await blocker.waitClose();
    await tg.close();
  });
});

describe('terminate', () => {
  it('terminate() and group terminate() with no timeout wait past the usual 10 s and kill nothing', async () => {
    const tg = testGroup();
    const other = testGroup();
    const gateways = [await tg.gateway(), await tg.gateway(), await other.gateway()];
    const channels = gateways.map((gw) =>
      gw.remoteExec('import time\nchannel.send(1)\ntime.sleep(10.5)'),
    );
    await Promise.all(channels.map((ch) => ch.receive()));
    const started = Date.now();
    await Promise.all([tg.group.terminate(), gateways[2].terminate()]);
    assert.ok(Date.now() - started >= 9500, `returned after ${Date.now() - started} ms`);
    for (const gw of gateways) {
      assert.match(String(gw.closeReason), /exited with status 0/, 'not killed');
    }
    await tg.close();
    await other.close();
  });

  for (const [label, timeout] of [
    ['null', null],
    ['Infinity', Infinity],
    ['30 days (beyond the timer range)', 30 * 24 * 3600],
  ] as const) {
    it(`terminate(${label}) waits for the remote's code to return and kills nothing`, async () => {
      const tg = testGroup();
      const gw = await tg.gateway();
      const ch = gw.remoteExec('import time\nchannel.send(1)\ntime.sleep(1)\nchannel.send(2)');
      assert.equal(await ch.receive(), 1);
      const started = Date.now();
      await gw.terminate(timeout);
      assert.ok(Date.now() - started >= 800, `terminate returned after ${Date.now() - started} ms`);
      assert.match(String(gw.closeReason), /exited with status 0/, 'not killed');
      await tg.close();
    });
  }

  it('a second terminate with a shorter timeout shortens a pending one', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec('import time\nchannel.send(1)\ntime.sleep(60)');
    assert.equal(await ch.receive(), 1);
    const started = Date.now();
    const waiting = gw.terminate();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(gw.state, 'closing', 'the first terminate waits');
    await Promise.all([waiting, gw.terminate(0.3)]);
    assert.ok(Date.now() - started < 5000);
    assert.match(String(gw.closeReason), /killed by SIGKILL/);
    await tg.close();
  });

  it('receive, waitClose and remoteStatus take Infinity and timeouts beyond the timer range', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec('import time\ntime.sleep(0.3)\nchannel.send(1)\ntime.sleep(0.3)');
    assert.equal(await ch.receive(Infinity), 1);
    await ch.waitClose(2 ** 40);
    const status = await gw.remoteStatus(Infinity);
    assert.equal(status.numexecuting, 0);
    const later = gw.remoteExec('import time\ntime.sleep(0.3)\nchannel.send(2)');
    assert.equal(await later.receive(30 * 24 * 3600), 2);
    await tg.close();
  });

  it('terminate after a protocol error resolves only when the remote is gone', async () => {
    const tg = testGroup();
    const master = await tg.gateway();
    // through another gateway, and with 400 MB to free: the remote takes a while to go
    const gw = await tg.group.makeGateway(tg.spec(`via=${master.id}`));
    const pid = gw.info.pid;
    const ch = gw.remoteExec(
      'import os\nb = bytearray(400 << 20)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\n' +
        'os.write(channel.gateway._writer._fd, b"\\xff\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x00")\nchannel.receive()',
    );
    await assert.rejects(ch.receive(), GatewayClosedError);
    assert.ok(gw.closeReason instanceof DataFormatError);
    await gw.terminate(5);
    assert.equal(alive(pid), false, 'the remote is gone when terminate resolves');
    await tg.close();
  });

  it('ends a remote blocked in receive() politely, with no process left', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'try:\n    channel.receive()\nexcept EOFError:\n    pass\nimport subprocess\n',
    );
    const started = Date.now();
    await gw.terminate(10);
    assert.ok(Date.now() - started < 5000, 'a blocked receive ends at once with EOFError');
    assert.equal(gw.state, 'dead');
    await assert.rejects(ch.receive(), EOFError);
    await tg.close();
  });

  it('kills a remote stuck in time.sleep and the processes it started after the timeout', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const ch = gw.remoteExec(
      'import subprocess, sys, time\n' +
        'p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])\n' +
        'channel.send(p.pid)\ntime.sleep(120)',
    );
    const child = Number(await ch.receive());
    assert.ok(child > 0);
    const started = Date.now();
    await gw.terminate(0.5);
    const took = Date.now() - started;
    assert.ok(took < 5000, `terminate took ${took} ms`);
    assert.equal(gw.state, 'dead');
    await tg.close();
  });

  it('a Node process that exits terminates its gateways', async () => {
    const mark = newMark();
    const script = `
      const { makeGateway } = require(${JSON.stringify(path.resolve('src/core/index.ts'))});
      makeGateway('popen//python=${defaultPython()}//env:EXECNET_TEST_MARK=${mark}').then((gw) => {
        gw.remoteExec('import subprocess, sys, time\\nsubprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])\\nchannel.send(1)\\ntime.sleep(60)')
          .receive().then(() => { console.log('started'); process.exit(0); });
      });`;
    const { stdout: out } = await runScript(script);
    assert.match(out, /started/);
    assert.deepEqual(await leftoverProcesses(mark), []);
  });

  it('a SIGKILLed Node process leaves nothing: a remote stuck in a GIL-holding regex, a child ignoring SIGTERM', async (t) => {
    const mark = newMark();
    const python = defaultPython();
    const ignorer =
      'import subprocess, sys\n' +
      'p = subprocess.Popen([sys.executable, "-c", "import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\nprint(1, flush=True)\\ntime.sleep(600)"], stdout=subprocess.PIPE)\n' +
      'p.stdout.readline()\n';
    const regex = 'import re\nchannel.send("go")\nre.match(r"(a+)+$", "a" * 64 + "b")\n';
    // the first and second of a kind start the ordinary way and warm; the third is forked
    const script = `
      const { Group } = require(${JSON.stringify(path.resolve('src/core/index.ts'))});
      (async () => {
        const group = new Group();
        const spec = 'popen//python=${python}//env:EXECNET_TEST_MARK=${mark}';
        const codes = [${JSON.stringify(regex)}, ${JSON.stringify(ignorer + 'channel.send("go")\nimport time\ntime.sleep(600)')},
          ${JSON.stringify(ignorer + regex)}];
        for (let i = 0; i < 6; i++) {
          const gw = await group.makeGateway(spec);
          await gw.remoteExec(codes[i % 3]).receive();
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
        console.log('started');
        process.kill(process.pid, 'SIGKILL');
      })();`;
    const { stdout: out } = await runScript(script);
    assert.match(out, /started/);
    const killed = Date.now();
    const left = await leftoverProcesses(mark, 10_000);
    assert.deepEqual(left, [], 'processes left after the Node process was killed');
    const seconds = (Date.now() - killed) / 1000;
    t.diagnostic(`the last orphan died ${seconds} s after the Node process`);
    assert.ok(seconds < 5, `the last orphan died after ${seconds} s`);
  });

  it('a script that forgets to terminate still exits, and takes its remotes along', async () => {
    const mark = newMark();
    const script = `
      const { makeGateway } = require(${JSON.stringify(path.resolve('src/core/index.ts'))});
      makeGateway('popen//python=${defaultPython()}//env:EXECNET_TEST_MARK=${mark}').then(async (gw) => {
        const ch = gw.remoteExec('channel.send(channel.receive() + 1)');
        await ch.send(1);
        console.log('got', await ch.receive());
      });`;
    const { code, stdout: out } = await runScript(script);
    assert.equal(code, 0);
    assert.match(out, /got 2/);
    assert.deepEqual(await leftoverProcesses(mark), []);
  });
});
