// Warm start: the second popen gateway of an interpreter is forked from a warm interpreter. It
// must behave exactly like a spawned one, and the warm interpreter must not outlive its use.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { GatewayClosedError } from '../../src/core/errors';
import type { Gateway } from '../../src/core/gateway';
import { Tuple } from '../../src/core/serializer';
import { isPythonExecutable, warmInterpreterPids } from '../../src/core/transports/warm';
import { testGroup, type TestGroup } from '../helpers/gateways';
import { alive, leftoverProcesses, newMark } from '../helpers/processes';
import { defaultPython } from '../helpers/pythons';
import { runScript } from '../helpers/scripts';

function procStat(pid: number): { ppid: number; pgid: number; sid: number } {
  // fields after the command name in parentheses: state ppid pgrp session
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]) };
}

/** Start gateways until one comes from the warm interpreter (the first one starts it). */
async function warmGateway(tg: TestGroup, options?: string): Promise<Gateway> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const gw = await tg.gateway(options);
    if (/warm start/.test(gw.description)) {
      return gw;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no gateway was warm-started');
}

describe('warm start', () => {
  it('forks later gateways of an interpreter: own process, session and group', async () => {
    const tg = testGroup();
    const first = await tg.gateway();
    assert.doesNotMatch(first.description, /warm start/, 'the first one starts the ordinary way');
    const gw = await warmGateway(tg);
    const pid = gw.info.pid;
    assert.equal(gw.pid, pid);
    const stat = procStat(pid);
    assert.equal(stat.pgid, pid, 'leads its own process group');
    assert.equal(stat.sid, pid, 'and its own session');
    assert.ok(warmInterpreterPids().includes(stat.ppid), 'its parent is the warm interpreter');
    assert.equal(await gw.remoteExec('channel.send(channel.receive() + 1)').send(1), undefined);
    await tg.close();
  });

  it('applies the spec and follows the local working directory like a spawned gateway', async () => {
    const tg = testGroup();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-test-'));
    const sub = path.join(dir, 'made', 'here');
    const options = `env:FOO=bar//nice=3//chdir=${sub}`;
    await tg.gateway(options);
    const gw = await warmGateway(tg, options);
    const ch = gw.remoteExec(
      'import os, sys\nchannel.send((os.getcwd(), os.environ["FOO"], os.nice(0), sys.path[0]))',
    );
    assert.deepEqual(await ch.receive(), Tuple.of(sub, 'bar', 3, ''));
    const before = process.cwd();
    process.chdir(dir);
    let here: Gateway;
    try {
      here = await warmGateway(tg);
    } finally {
      process.chdir(before);
    }
    assert.equal(here.info.cwd, fs.realpathSync(dir));
    await tg.close();
  });

  it('reports how a forked gateway ended: its exit status, or the signal that killed it', async () => {
    const tg = testGroup();
    await tg.gateway();
    const exiting = await warmGateway(tg);
    await assert.rejects(exiting.remoteExec('import os\nos._exit(7)').receive(), (e: unknown) => {
      assert.ok(e instanceof GatewayClosedError);
      assert.match((e as Error).message, /exited with status 7/);
      return true;
    });
    const killed = await warmGateway(tg);
    const ch = killed.remoteExec('channel.send(1)\nchannel.receive()');
    await ch.receive();
    process.kill(killed.info.pid, 'SIGKILL');
    await assert.rejects(ch.receive(), /killed by SIGKILL/);
    await tg.close();
  });

  it('terminate takes down what a forked gateway started', async () => {
    const tg = testGroup();
    await tg.gateway();
    const gw = await warmGateway(tg);
    const ch = gw.remoteExec(
      'import subprocess, sys, time\n' +
        'p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])\n' +
        'channel.send(p.pid)\ntime.sleep(60)',
    );
    const child = Number(await ch.receive());
    await gw.terminate(0.5);
    await tg.close(); // asserts that no marked process is left: the sleeper included
    assert.equal(alive(child), false);
  });

  it('the warm interpreter ends when it has had no gateway for a while', async () => {
    const tg = testGroup();
    await tg.gateway();
    await warmGateway(tg);
    const pids = warmInterpreterPids();
    assert.ok(pids.length > 0);
    await tg.close();
    const deadline = Date.now() + 10_000;
    while (pids.some((pid) => fs.existsSync(`/proc/${pid}`)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const stillRunning = pids.filter(alive);
    assert.deepEqual(stillRunning, [], 'warm interpreters still running after their idle time');
  });

  it('a Node process that exits takes its warm interpreters and their gateways along', async () => {
    const mark = newMark();
    const script = `
      const { Group } = require(${JSON.stringify(path.resolve('src/core/index.ts'))});
      const g = new Group();
      const spec = 'popen//python=${defaultPython()}//env:EXECNET_TEST_MARK=${mark}';
      (async () => {
        for (let i = 0; i < 5; i++) {
          const gw = await g.makeGateway(spec);
          gw.remoteExec('import time\\ntime.sleep(60)');
          await new Promise((r) => setTimeout(r, 50));
        }
        console.log('started');
        process.exit(0);
      })();`;
    const { stdout: out } = await runScript(script);
    assert.match(out, /started/);
    assert.deepEqual(await leftoverProcesses(mark), []);
  });

  it('a wrapper in python= (a script, env X=1 python) runs for every start: no warm start', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-wrapper-'));
    const log = path.join(dir, 'starts.log');
    const wrapper = path.join(dir, 'python3');
    // named like an interpreter, but a script: what it does per start must happen every time
    fs.writeFileSync(
      wrapper,
      `#!/bin/sh\necho "$$" >> '${log}'\nexec '${defaultPython()}' "$@"\n`,
      {
        mode: 0o755,
      },
    );
    const tg = testGroup();
    try {
      const wrapped: Gateway[] = [];
      for (let i = 0; i < 4; i++) {
        wrapped.push(await tg.gateway(undefined, wrapper));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const starts = fs.readFileSync(log, 'utf8').trim().split('\n');
      assert.equal(starts.length, 4, `one start of the wrapper per gateway: ${starts.join(' ')}`);
      assert.deepEqual(
        wrapped.filter((gw) => /warm start/.test(gw.description)).map((gw) => gw.id),
        [],
        'none forked from a warm interpreter',
      );
      // env's per-start effect is invisible, but it is a wrapper all the same
      const env: Gateway[] = [];
      for (let i = 0; i < 4; i++) {
        env.push(await tg.gateway(undefined, `env WRAPPED=1 ${defaultPython()}`));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(
        env.filter((gw) => /warm start/.test(gw.description)).map((gw) => gw.id),
        [],
      );
      assert.ok(isPythonExecutable(defaultPython()), 'the interpreter itself may be warm-started');
    } finally {
      await tg.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('EXECNET_WARM_START=0 turns it off', async () => {
    const saved = process.env.EXECNET_WARM_START;
    process.env.EXECNET_WARM_START = '0';
    try {
      const tg = testGroup();
      for (let i = 0; i < 3; i++) {
        const gw = await tg.gateway();
        assert.doesNotMatch(gw.description, /warm start/);
        assert.equal(procStat(gw.info.pid).ppid, process.pid);
      }
      await tg.close();
    } finally {
      if (saved === undefined) {
        delete process.env.EXECNET_WARM_START;
      } else {
        process.env.EXECNET_WARM_START = saved;
      }
    }
  });
});
