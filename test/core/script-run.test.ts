// Running a file as `python FILE ARGS` would: sys.argv, the script's directory first on sys.path
// (sibling modules import, as they are now), __name__ == '__main__', the working directory.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/core/gateway';
import { testGroup, type TestGroup } from '../helpers/gateways';

describe('a script run', () => {
  let tg: TestGroup;
  let gw: Gateway;
  let dir: string;
  before(async () => {
    tg = testGroup();
    // a gateway whose working directory is elsewhere: imports must not depend on it
    gw = await tg.gateway(`chdir=${os.tmpdir()}`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-script-'));
    fs.mkdirSync(path.join(dir, 'pkg'));
    fs.writeFileSync(path.join(dir, 'pkg', '__init__.py'), '');
    fs.writeFileSync(path.join(dir, 'pkg', 'helper.py'), 'VALUE = 1\n');
  });
  after(async () => {
    await tg.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function script(name: string, text: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  }

  it('sees sys.argv = [file, *args] and runs as __main__', async () => {
    const file = script(
      'main.py',
      'import sys\nif __name__ == "__main__":\n    channel.send((sys.argv, __file__))\n',
    );
    const ch = gw.remoteExec({ file, argv: [file, 'one', '--two'], main: true });
    const [argv, filename] = (await ch.receive(10)) as [string[], string];
    assert.deepEqual([...argv], [file, 'one', '--two']);
    assert.equal(filename, file);
    await ch.waitClose(10);
  });

  it('imports modules beside the script, and their current version on every run', async () => {
    const file = script('imports.py', 'from pkg import helper\nchannel.send(helper.VALUE)\n');
    const run = () => gw.remoteExec({ file, sysPath0: dir, main: true });
    assert.equal(await run().receive(10), 1);
    fs.writeFileSync(path.join(dir, 'pkg', 'helper.py'), 'VALUE = 2\n');
    assert.equal(await run().receive(10), 2);
    // the script's directory is first, once
    const ch = gw.remoteExec({
      source: 'import sys\nchannel.send(sys.path[:2])',
      sysPath0: dir,
    });
    const [first, second] = (await ch.receive(10)) as string[];
    assert.equal(first, dir);
    assert.notEqual(second, dir);
  });

  it("after the run, sys.path, the working directory and sys.argv are the gateway's own again", async () => {
    const file = script('where.py', 'import os, sys\nchannel.send((sys.path[0], os.getcwd()))\n');
    const before = gw.remoteExec('import sys\nchannel.send(sys.argv)');
    const ownArgv = [...((await before.receive(10)) as string[])];
    const run = gw.remoteExec({ file, sysPath0: dir, cwd: dir, argv: [file, '--epochs', '3'] });
    assert.deepEqual([...((await run.receive(10)) as string[])], [dir, fs.realpathSync(dir)]);
    await run.waitClose(10);
    const after = gw.remoteExec('import os, sys\nchannel.send((sys.path, os.getcwd(), sys.argv))');
    const [entries, cwd, argv] = (await after.receive(10)) as [string[], string, string[]];
    assert.ok(!entries.includes(dir), `${dir} is still on sys.path: ${entries.join(', ')}`);
    assert.equal(cwd, fs.realpathSync(os.tmpdir()));
    // the interactive session and later execs do not see the last script's arguments
    assert.deepEqual([...argv], ownArgv);
  });

  it("a traceback.py in the working directory shadows nothing of the gateway's session", async () => {
    fs.writeFileSync(path.join(dir, 'traceback.py'), 'raise RuntimeError("not the stdlib")\n');
    try {
      const there = await tg.gateway(`chdir=${dir}`);
      const outcome = await there.session().run('1 / 0').done;
      assert.equal(outcome.kind, 'error');
      assert.equal(outcome.kind === 'error' && outcome.error.type, 'ZeroDivisionError');
    } finally {
      fs.rmSync(path.join(dir, 'traceback.py'));
    }
  });

  it("classes of a __main__ run pickle, and __main__ is the gateway's own again afterwards", async () => {
    const file = script(
      'pickles.py',
      'import pickle\nclass Point:\n    pass\nchannel.send(type(pickle.loads(pickle.dumps(Point()))).__module__)\n',
    );
    const run = gw.remoteExec({ file, main: true });
    assert.equal(await run.receive(10), '__main__');
    await run.waitClose(10);
    const ch = gw.remoteExec('import sys\nchannel.send(hasattr(sys.modules["__main__"], "Point"))');
    assert.equal(await ch.receive(10), false);
  });

  it('__main__ runs that overlap leave the gateway its own __main__, whichever ends first', async () => {
    const file = script('overlap.py', 'channel.send(1)\nchannel.receive()\n');
    const first = gw.remoteExec({ file, main: true });
    await first.receive(10);
    const second = gw.remoteExec({ file, main: true });
    await second.receive(10);
    await first.send('end');
    await first.waitClose(10);
    await second.send('end');
    await second.waitClose(10);
    const ch = gw.remoteExec(
      'import sys\nchannel.send(getattr(sys.modules["__main__"], "__file__", None))',
    );
    assert.notEqual(await ch.receive(10), file);
  });
});
