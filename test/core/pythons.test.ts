// The remote side runs unchanged on every CPython 3.x this machine has (3.6 to 3.13 here).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { Channel } from '../../src/core/channel';
import { RemoteError } from '../../src/core/errors';
import { Tuple } from '../../src/core/serializer';
import { testGroup } from '../helpers/gateways';
import { processesWithMark } from '../helpers/processes';
import { findPythons } from '../helpers/pythons';

const pythons = findPythons();

/** An interpreter older than 3.6: a real one when pyenv has it, else one that says it is 2.7. */
function olderPython(): string {
  const root = process.env.PYENV_ROOT ?? path.join(os.homedir(), '.pyenv');
  const real = fs.existsSync(path.join(root, 'versions'))
    ? fs
        .readdirSync(path.join(root, 'versions'))
        .filter((v) => /^2\.7\./.test(v))
        .map((v) => path.join(root, 'versions', v, 'bin', 'python'))
        .find((p) => fs.existsSync(p))
    : undefined;
  if (real) {
    return real;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-old-python-'));
  const wrapper = path.join(dir, 'python2.7');
  const pretend =
    "import sys; sys.version_info = (2, 7, 18, 'final', 0); sys.version = '2.7.18 (pretend)'; exec(sys.argv[1])";
  // popen runs `PYTHON -c LINE`: the line runs after the pretence
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec /usr/bin/python3 -c "${pretend}" "$2"\n`, {
    mode: 0o755,
  });
  return wrapper;
}

describe('every Python found', () => {
  it('finds at least one interpreter', () => {
    assert.ok(pythons.length > 0, 'no CPython 3 interpreter found');
    console.log(`# pythons: ${pythons.map((p) => p.version).join(' ')}`);
  });

  it('a Python older than 3.6 is refused with a sentence naming its version', async () => {
    // pyenv's Python 2.7 where there is one; else a Python 3 that says it is 2.7 before the
    // gateway's own line runs
    const old = olderPython();
    const tg = testGroup();
    try {
      await assert.rejects(tg.gateway(undefined, old), (error: Error) => {
        assert.match(
          error.message,
          /execnet: Python 2\.7\.\d+ is too old for a gateway: it needs Python 3\.6 or newer/,
        );
        assert.doesNotMatch(error.message, /ImportError|Traceback/);
        return true;
      });
    } finally {
      await tg.close();
    }
  });

  for (const python of pythons) {
    it(`Python ${python.version}: exec, values, errors, output, status, interrupt`, async () => {
      const tg = testGroup();
      const gw = await tg.gateway(undefined, python.path);
      assert.equal(`${gw.info.version[0]}.${gw.info.version[1]}`, python.version);
      const ch = gw.remoteExec(
        'import sys\nprint("out")\nchannel.send((2**70, {1: frozenset([b"x"])}, 1+2j))\nchannel.send(channel.receive())',
      );
      const outputs: string[] = [];
      ch.onOutput((o) => outputs.push(o.data.toString()));
      const first = (await ch.receive()) as Tuple;
      assert.equal(first[0], 2n ** 70n);
      await ch.send(Tuple.of('back', 1));
      assert.deepEqual(await ch.receive(), Tuple.of('back', 1));
      await ch.waitClose();
      assert.equal(outputs.join(''), 'out\n');
      await assert.rejects(gw.remoteExec('1/0').waitClose(), RemoteError);
      const sleeper = gw.remoteExec('import time\nchannel.send(1)\ntime.sleep(30)');
      await sleeper.receive();
      sleeper.interrupt();
      await assert.rejects(sleeper.waitClose(10), /KeyboardInterrupt/);
      assert.equal((await gw.remoteStatus()).numexecuting, 0);
      // a channel remote code drops closes itself (weakrefs, the reaper thread, its pipe)
      const made = gw.remoteExec(
        'c = channel.gateway.newchannel()\nchannel.send(c)\nc.send(1)\ndel c',
      );
      const dropped = (await made.receive()) as Channel;
      assert.equal(await dropped.receive(), 1);
      await dropped.waitClose(10);
      await tg.close();
    });

    it(`Python ${python.version}: stdin, a script run's argv and __main__, kill`, async () => {
      const tg = testGroup();
      const gw = await tg.gateway(undefined, python.path);
      const ch = gw.remoteExec({
        source: 'import sys\nchannel.send((input("?"), sys.argv, __name__, sys.path[0]))',
        stdin: true,
        argv: ['x.py', 'a'],
        main: true,
        sysPath0: '/tmp',
      });
      await ch.stdin?.write('typed\n');
      assert.deepEqual(await ch.receive(10), Tuple.of('typed', ['x.py', 'a'], '__main__', '/tmp'));
      await ch.waitClose(10);
      const stubborn = gw.remoteExec(
        'import subprocess, time\np = subprocess.Popen(["sleep", "60"])\nchannel.send(1)\n' +
          'while True:\n    try:\n        time.sleep(30)\n    except KeyboardInterrupt:\n        pass',
      );
      await stubborn.receive(10);
      assert.equal(await stubborn.kill(10), true);
      await assert.rejects(
        stubborn.waitClose(),
        /ExecKilled: killed by the local side \(1 process/,
      );
      assert.deepEqual(processesWithMark(tg.mark), [gw.info.pid]);
      await tg.close();
    });
  }
});
