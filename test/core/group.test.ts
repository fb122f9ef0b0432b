// Groups: fan-out of one exec to many gateways, and ending them together. Also the options a
// spec passes to the remote (execmodel, dont_write_bytecode) and EXECNET_DEBUG tracing.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { GatewayStartError, RemoteError } from '../../src/core/errors';
import type { Channel } from '../../src/core/channel';
import { Tuple } from '../../src/core/serializer';
import { testGroup } from '../helpers/gateways';
import { newMark, leftoverProcesses } from '../helpers/processes';
import { defaultPython, findPythons } from '../helpers/pythons';
import { runScript } from '../helpers/scripts';

describe('groups', () => {
  it('remoteExec on a group runs on every gateway; receiveEach collects one item each', async () => {
    const tg = testGroup();
    await Promise.all([tg.gateway(), tg.gateway(), tg.gateway()]);
    assert.equal(tg.group.size, 3);
    const mch = tg.group.remoteExec({
      source:
        'import os\ndef work(channel, n):\n    channel.send((os.getpid(), sum(i * i for i in range(n))))\n',
      call: 'work',
      kwargs: { n: 1000 },
    });
    const results = (await mch.receiveEach()) as Tuple[];
    await mch.waitClose();
    assert.equal(results.length, 3);
    assert.equal(new Set(results.map((r) => r[0])).size, 3, 'three different processes');
    for (const r of results) {
      assert.equal(r[1], 332833500);
    }
    await tg.close();
  });

  it('receiveQueue yields items of all channels as they come, with an endmarker each', async () => {
    const tg = testGroup();
    await Promise.all([tg.gateway('id=a'), tg.gateway('id=b')]);
    const mch = tg.group.remoteExec('channel.send(channel.gateway.id)\nchannel.send(2)');
    const seen: Array<[string, unknown]> = [];
    for await (const [channel, item] of mch.receiveQueue('END')) {
      seen.push([channel.gatewayId, item]);
    }
    const byGateway = (id: string): unknown[] => seen.filter(([g]) => g === id).map(([, i]) => i);
    assert.deepEqual(byGateway('a'), ['a', 2, 'END']);
    assert.deepEqual(byGateway('b'), ['b', 2, 'END']);
    await tg.close();
  });

  it('waitClose on a multi-channel reports a remote failure', async () => {
    const tg = testGroup();
    await Promise.all([tg.gateway(), tg.gateway()]);
    const mch = tg.group.remoteExec(
      'if channel.gateway.id == "gw1":\n    raise ValueError("only here")',
    );
    await assert.rejects(mch.waitClose(), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.match(e.message, /only here/);
      return true;
    });
    await tg.close();
  });

  it('terminate ends every gateway, busy or idle, and none is left', async () => {
    const tg = testGroup();
    const [busy] = await Promise.all([tg.gateway(), tg.gateway(), tg.gateway()]);
    const ch: Channel = busy.remoteExec('import time\nchannel.send(1)\ntime.sleep(60)');
    await ch.receive();
    const started = Date.now();
    await tg.group.terminate(0.5);
    assert.ok(Date.now() - started < 5000);
    assert.equal(tg.group.size, 0);
    await tg.close();
  });
});

describe('spec options reach the remote', () => {
  it('execmodel=main_thread_only runs execs one after another in the main thread', async () => {
    const tg = testGroup();
    const gw = await tg.gateway('execmodel=main_thread_only');
    assert.equal(gw.info.execmodel, 'main_thread_only');
    const source =
      'import threading, time\nchannel.send(threading.current_thread() is threading.main_thread())\ntime.sleep(0.2)\nchannel.send(time.time())';
    const a = gw.remoteExec(source);
    const b = gw.remoteExec(source);
    assert.equal(await a.receive(), true);
    const aDone = Number(await a.receive());
    assert.equal(await b.receive(), true);
    const bDone = Number(await b.receive());
    assert.ok(bDone - aDone >= 0.15, 'b ran after a finished');
    assert.equal((await gw.remoteStatus()).execmodel, 'main_thread_only');
    await tg.close();
  });

  for (const model of ['gevent', 'eventlet']) {
    it(`execmodel=${model} runs execs as green threads, concurrently, interruptible`, async () => {
      // Debian packages the libraries for its own interpreter (python3-gevent, python3-eventlet)
      const tg = testGroup();
      const gw = await tg.gateway(`execmodel=${model}`, '/usr/bin/python3');
      assert.equal(gw.info.execmodel, model);
      const probe = gw.remoteExec(
        `import threading, ${model}\nprint("green")\nchannel.send(threading.current_thread().__class__.__module__)`,
      );
      const out: string[] = [];
      probe.onOutput((o) => out.push(o.data.toString()));
      assert.equal(await probe.receive(), 'threading');
      await probe.waitClose();
      assert.equal(out.join(''), 'green\n');
      const sleeper = gw.remoteExec('import time\nchannel.send(1)\ntime.sleep(30)');
      const worker = gw.remoteExec('channel.send(channel.receive() * 2)');
      await sleeper.receive();
      await worker.send(21);
      assert.equal(await worker.receive(), 42, 'a sleeping green thread does not block others');
      sleeper.interrupt();
      await assert.rejects(sleeper.waitClose(10), /KeyboardInterrupt/);
      const bulk = gw.remoteExec(
        'data = channel.receive()\nchannel.send(len(data))\nchannel.send(b"x" * (3 << 20))',
      );
      await bulk.send(Buffer.alloc(5 << 20));
      assert.equal(await bulk.receive(), 5 << 20);
      assert.equal(((await bulk.receive()) as Buffer).length, 3 << 20);
      assert.equal((await gw.remoteStatus()).execmodel, model);
      await tg.close();
    });
  }

  it('an execmodel whose library is missing is a clear error at start', async () => {
    const tg = testGroup();
    await assert.rejects(tg.gateway('execmodel=gevent', findPythons()[0].path), (e: unknown) => {
      assert.ok(e instanceof GatewayStartError);
      assert.match(e.message, /execmodel=gevent needs the gevent module on the remote/);
      return true;
    });
    await tg.close();
  });

  it('dont_write_bytecode keeps imports from writing .pyc files', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-test-'));
    fs.writeFileSync(path.join(dir, 'some_module_b.py'), 'VALUE = 5\n');
    const tg = testGroup();
    const source = `import sys\nsys.path.insert(0, ${JSON.stringify(dir)})\nimport some_module_b\nchannel.send((some_module_b.VALUE, sys.dont_write_bytecode))`;
    const gw = await tg.gateway('dont_write_bytecode//env:PYTHONDONTWRITEBYTECODE=');
    assert.deepEqual(await gw.remoteExec(source).receive(), Tuple.of(5, true));
    assert.equal(fs.existsSync(path.join(dir, '__pycache__')), false);
    await tg.close();
  });

  it('EXECNET_DEBUG=2 traces both sides to stderr', async () => {
    const mark = newMark();
    const script = `
      const { makeGateway, defaultGroup } = require(${JSON.stringify(path.resolve('src/core/index.ts'))});
      makeGateway('popen//python=${defaultPython()}//env:EXECNET_TEST_MARK=${mark}').then(async (gw) => {
        await gw.remoteExec('channel.send(1)').receive();
        await defaultGroup.terminate(5);
      });`;
    const { code, stderr: err } = await runScript(script, { EXECNET_DEBUG: '2' });
    assert.equal(code, 0);
    assert.match(err, /local \d+\] \[gw0\] starting popen/);
    assert.match(err, /remote \d+\] exec start on channel 1/);
    assert.match(err, /remote \d+\] terminate requested/);
    assert.deepEqual(await leftoverProcesses(mark), []);
  });

  it('EXECNET_DEBUG=1 writes a trace file per process on both sides', async () => {
    const script = `
      const { makeGateway, defaultGroup } = require(${JSON.stringify(path.resolve('src/core/index.ts'))});
      makeGateway('popen//python=${defaultPython()}').then(async (gw) => {
        await gw.remoteExec('channel.send(1)').receive();
        console.log(JSON.stringify([process.pid, gw.info.pid]));
        await defaultGroup.terminate(5);
      });`;
    const { code, stdout: out } = await runScript(script, { EXECNET_DEBUG: '1' });
    assert.equal(code, 0);
    const [localPid, remotePid] = JSON.parse(out) as [number, number];
    const local = path.join(os.tmpdir(), `execnet-debug-${localPid}`);
    const remote = path.join(os.tmpdir(), `execnet-debug-${remotePid}`);
    assert.match(fs.readFileSync(local, 'utf8'), /\[gw0\] alive/);
    assert.match(fs.readFileSync(remote, 'utf8'), /exec start on channel 1/);
    fs.rmSync(local);
    fs.rmSync(remote);
  });
});
