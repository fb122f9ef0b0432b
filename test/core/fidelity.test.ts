// Code and habits ported from execnet behave the same: each test asks the real execnet (Debian's
// python3-execnet) what it does and checks that this engine does that too, or states where it
// deliberately does more (docs/execnet-differences.md).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { describe, it } from 'node:test';
import type { Channel } from '../../src/core/channel';
import { DataFormatError, DumpError, RemoteError } from '../../src/core/errors';
import type { Gateway } from '../../src/core/gateway';
import { RSync } from '../../src/core/rsync';
import { dumps, Float, loads } from '../../src/core/serializer';
import { askExecnet, EXECNET_PYTHON } from '../helpers/execnet';
import { testGroup } from '../helpers/gateways';

/** How a remote exec ended, in terms both sides share. */
interface Ending {
  readonly error: string | null; // the local exception's class name
  readonly lastLine: string | null; // the traceback's last line
  readonly alive: boolean; // the gateway still runs code afterwards
}

/** Runs each source on a fresh execnet popen gateway and reports how it ended. */
function execnetEndings(sources: readonly string[]): Ending[] {
  return askExecnet<Ending[]>(
    `
gw = execnet.makegateway("popen")
out = []
for source in data:
    try:
        gw.remote_exec(source).waitclose(30)
        out.append({"error": None, "lastLine": None})
    except Exception as e:
        out.append({"error": type(e).__name__, "lastLine": str(e).rstrip("\\n").split("\\n")[-1]})
    out[-1]["alive"] = gw.remote_exec("channel.send(1)").receive(30) == 1
gw.exit()
json.dump(out, sys.stdout)
`,
    sources,
  );
}

/** The text of the RemoteError execnet raises for `source`. */
function execnetErrorText(source: string): string {
  return askExecnet<string>(
    `
gw = execnet.makegateway("popen")
try:
    gw.remote_exec(data).waitclose(30)
except execnet.RemoteError as e:
    json.dump(str(e), sys.stdout)
gw.exit()
`,
    source,
  );
}

/** The RemoteError `source` ends with on `gw`. */
async function remoteErrorOf(gw: Gateway, source: string): Promise<RemoteError> {
  const error = await gw
    .remoteExec(source)
    .waitClose(30)
    .then(
      () => assert.fail('expected a RemoteError'),
      (e: unknown) => e,
    );
  assert.ok(error instanceof RemoteError, String(error));
  return error;
}

describe('remote errors, as execnet reports them', () => {
  it('SystemExit, with any code or none, is a RemoteError and the gateway keeps running', async () => {
    const sources = [
      'raise SystemExit()',
      'raise SystemExit(0)',
      'import sys\nsys.exit(0)',
      'raise SystemExit(3)',
      'import sys\nsys.exit("bye")',
    ];
    const expected = execnetEndings(sources);
    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const codes: Array<number | undefined> = [];
    for (const source of sources) {
      const channel = gw.remoteExec(source);
      const ending: Partial<Ending> = await channel.waitClose(30).then(
        () => ({ error: null, lastLine: null }),
        (error: unknown) => {
          assert.ok(error instanceof RemoteError, String(error));
          codes.push(error.exitCode);
          return { error: 'RemoteError', lastLine: error.traceback.trimEnd().split('\n').at(-1) };
        },
      );
      const alive = (await gw.remoteExec('channel.send(1)').receive(30)) === 1;
      assert.deepEqual({ ...ending, alive }, expected[sources.indexOf(source)], source);
    }
    // the status each asked for, as the interpreter would exit with it
    assert.deepEqual(codes, [0, 0, 0, 3, 1]);
    await tg.close();
  });

  it('the text starts with the traceback header, for a SyntaxError in the sent source too', async () => {
    const source = 'x = 1\ny = (';
    const execnetText = execnetErrorText(source);
    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const error = await remoteErrorOf(gw, source);
    const header = 'Traceback (most recent call last):\n';
    assert.ok(execnetText.startsWith(header), execnetText);
    assert.ok(error.message.startsWith(header), error.message);
    // execnet's own compile() frame sits between; the part about the source is the same
    const tail = (text: string) => text.slice(text.indexOf('  File "<remote exec>"'));
    assert.equal(tail(error.message), tail(execnetText));
    assert.match(error.message, /File "<remote exec>", line 2\n {4}y = \(\n/);
    await tg.close();
  });

  it('a traceback of a plain source string shows the failing line (execnet shows only its number)', async () => {
    const source = 'a = 1\nb = undefined_name\n';
    const execnetText = execnetErrorText(source);
    assert.match(execnetText, /File "<remote exec>", line 2, in <module>\nNameError/);
    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const error = await remoteErrorOf(gw, source);
    assert.match(
      error.message,
      /File "<remote exec>", line 2, in <module>\n {4}b = undefined_name\n/,
    );
    await tg.close();
  });

  it('execs failing at once under the same name each show their own line', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const sources = Array.from(
      { length: 8 },
      (_, i) => `import time\ntime.sleep(0.05)\nfailing_${i} = undefined_${i}\n`,
    );
    const errors = await Promise.all(
      sources.map((source) =>
        gw
          .remoteExec(source)
          .waitClose(30)
          .catch((e: unknown) => e),
      ),
    );
    errors.forEach((error, i) => {
      assert.ok(error instanceof RemoteError);
      assert.match(
        error.message,
        new RegExp(`line 3, in <module>\\n {4}failing_${i} = undefined_${i}\\n`),
      );
    });
    await tg.close();
  });
});

describe('values, as execnet carries them', () => {
  it('DumpError is a DataFormatError on both sides, as execnet has it', async () => {
    const execnetSide = askExecnet<{ local: string[]; remote: string[] }>(`
from execnet.gateway_base import DumpError
gw = execnet.makegateway("popen")
ch = gw.remote_exec("""
try:
    channel.send(object())
except Exception as e:
    channel.send([c.__name__ for c in type(e).__mro__])
""")
json.dump({"local": [c.__name__ for c in DumpError.__mro__], "remote": ch.receive(30)}, sys.stdout)
gw.exit()
`);
    assert.deepEqual(execnetSide.local.slice(0, 2), ['DumpError', 'DataFormatError']);
    assert.deepEqual(execnetSide.remote.slice(0, 2), ['DumpError', 'DataFormatError']);

    assert.throws(
      () => dumps({ f: () => 1 }),
      (error: unknown) => error instanceof DumpError && error instanceof DataFormatError,
      'one instanceof DataFormatError catches both directions',
    );
    assert.throws(() => loads(Buffer.from([1, 0xc1])), DataFormatError);

    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const remote = gw.remoteExec(`
try:
    channel.send(object())
except Exception as e:
    channel.send([c.__name__ for c in type(e).__mro__])
`);
    assert.deepEqual(await remote.receive(30), execnetSide.remote);
    await tg.close();
  });

  it('a string with a lone surrogate is refused with DumpError naming where it sits, never substituted', async () => {
    const execnetSide = askExecnet<{ local: string; remote: string }>(`
gw = execnet.makegateway("popen")
ch = gw.remote_exec("channel.send(channel.receive())")
try:
    ch.send(["ok", "a\\ud800b"])
except Exception as e:
    local = type(e).__name__
ch.send("unblock")
ch.waitclose(30)
try:
    gw.remote_exec("channel.send('a\\\\ud800b')").waitclose(30)
except execnet.RemoteError as e:
    remote = str(e).rstrip().split("\\n")[-1]
json.dump({"local": local, "remote": remote}, sys.stdout)
gw.exit()
`);
    assert.equal(execnetSide.local, 'DumpError');
    assert.match(execnetSide.remote, /^execnet\.gateway_base\.DumpError: strings must be utf-8/);

    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const echo = gw.remoteExec('channel.send(channel.receive())');
    await assert.rejects(echo.send(['ok', { name: 'a\ud800b' }]), (error: unknown) => {
      assert.ok(error instanceof DumpError, String(error));
      assert.match(
        error.message,
        /^cannot serialize: value\[1\]\.name is a string with a lone surrogate \(U\+D800 at index 1\)/,
      );
      return true;
    });
    // a well-formed pair is one character, and the channel still works after the refusal
    await echo.send('a\ud83d\ude00b');
    assert.equal(await echo.receive(30), 'a\ud83d\ude00b');
    const error = await remoteErrorOf(gw, "channel.send(['x', 'a\\ud800b'])");
    assert.equal(error.type, 'DumpError');
    assert.match(error.summary, /value\[1\]: a str with a lone surrogate \('\\ud800' at index 1\)/);
    assert.throws(() => dumps('\udc80'), DumpError);
    await tg.close();
  });

  it('a Float goes to Python as a float, so an integral float from Python can go back as one', async () => {
    // execnet, Python to Python: 2.0 stays a float there and back
    const execnetSide = askExecnet<string[]>(`
gw = execnet.makegateway("popen")
ch = gw.remote_exec("x = channel.receive(); channel.send([type(x).__name__, repr(x)])")
ch.send(2.0)
json.dump(ch.receive(30), sys.stdout)
gw.exit()
`);
    assert.deepEqual(execnetSide, ['float', '2.0']);

    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const fromPython = await gw.remoteExec('channel.send(2.0)').receive(30);
    assert.equal(fromPython, 2, 'a JavaScript number');
    const ask = async (value: unknown) => {
      const ch = gw.remoteExec('x = channel.receive(); channel.send([type(x).__name__, repr(x)])');
      await ch.send(value);
      return ch.receive(30);
    };
    assert.deepEqual(await ask(new Float(fromPython as number)), execnetSide);
    assert.deepEqual(await ask(fromPython), ['int', '2'], 'a bare integral number is an int');
    assert.deepEqual(await ask([new Float(-0), new Float(1e19), new Float(2.5)]), [
      'list',
      '[-0.0, 1e+19, 2.5]',
    ]);
    assert.deepEqual(await ask(new Map([[new Float(1), 'one']])), ['dict', "{1.0: 'one'}"]);
    assert.equal(Number(new Float(2)) * 3, 6, 'a Float is a number in arithmetic');
    await tg.close();
  });
});

describe('remoteExec and gateways, as execnet has them', () => {
  it('kwargs with a plain source string are a TypeError, with a function to call they arrive', async () => {
    const execnetError = askExecnet<string>(`
gw = execnet.makegateway("popen")
try:
    gw.remote_exec("channel.send(1)", x=1)
except Exception as e:
    json.dump(type(e).__name__, sys.stdout)
gw.exit()
`);
    assert.equal(execnetError, 'TypeError');
    const tg = testGroup();
    const gw = await tg.gateway();
    assert.throws(() => gw.remoteExec('channel.send(1)', { x: 1 }), {
      name: 'TypeError',
      message: /kwargs are passed to a function: name it, e\.g\. \{ source, call: 'main' \}/,
    });
    assert.throws(() => gw.remoteExec({ module: 'json' }, { x: 1 }), TypeError);
    assert.equal(gw.openChannels.length, 0, 'no channel was opened');
    const called = gw.remoteExec(
      { source: 'def main(channel, x):\n    channel.send(x * 2)', call: 'main' },
      { x: 21 },
    );
    assert.equal(await called.receive(30), 42);
    // an empty kwargs is no kwargs, for execnet too
    assert.equal(await gw.remoteExec('channel.send(1)', {}).receive(30), 1);
    await tg.close();
  });
});

describe('gateway.exit(), as execnet has it', () => {
  it('leaves the group at once, resolves when the remote is gone, and ids stay fresh', async () => {
    const execnetSide = askExecnet<{ after: string[]; next: string; explicit: string[] }>(`
g = execnet.Group()
a = g.makegateway()
b = g.makegateway()
a.exit()
after = [x.id for x in g]
c = g.makegateway()
d = g.makegateway("popen//id=gw0")
json.dump({"after": after, "next": c.id, "explicit": [x.id for x in g]}, sys.stdout)
g.terminate()
`);
    assert.deepEqual(execnetSide, { after: ['gw1'], next: 'gw2', explicit: ['gw1', 'gw2', 'gw0'] });

    const tg = testGroup();
    const a = await tg.gateway();
    await tg.gateway();
    const pid = a.info.pid;
    const exited = a.exit();
    assert.deepEqual(
      [...tg.group].map((g) => g.id),
      execnetSide.after,
      'gone from the group at once',
    );
    assert.equal((await tg.gateway()).id, execnetSide.next);
    await exited;
    assert.equal(a.state, 'dead');
    assert.ok(
      !fs.existsSync(`/proc/${pid}`) ||
        /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')),
      'the remote process is gone',
    );
    await tg.gateway('id=gw0');
    assert.deepEqual(
      [...tg.group].map((g) => g.id),
      execnetSide.explicit,
    );
    await tg.close();
  });

  it('waits for running code without killing it, and the group still ends what is winding down', async () => {
    const tg = testGroup();
    const gw = await tg.gateway();
    const done = path.join(os.tmpdir(), `execnet-exit-${process.pid}-${Date.now()}`);
    const running = gw.remoteExec(
      `import time\nchannel.send("started")\ntime.sleep(0.5)\nopen(${JSON.stringify(done)}, "w").close()`,
    );
    assert.equal(await running.receive(30), 'started');
    await gw.exit();
    assert.ok(fs.existsSync(done), 'the code ran to its end before the remote went');
    fs.rmSync(done);

    // an exec that never returns: exit() alone would wait for ever; the group's terminate ends it
    const stuck = await tg.gateway();
    const loop = stuck.remoteExec(
      'import time\nchannel.send(1)\nwhile True:\n    time.sleep(0.05)',
    );
    await loop.receive(30);
    void stuck.exit();
    assert.equal(tg.group.size, 0);
    await tg.close(0.5);
    assert.equal(stuck.state, 'dead');
  });
});

describe('receive callbacks, as execnet runs them', () => {
  const execnetCallbacks = (): { slow: unknown[]; failing: unknown[] } =>
    askExecnet(`
import time
gw = execnet.makegateway("popen")
slow = []
def cb(x):
    time.sleep(0.05)
    slow.append(x)
ch = gw.remote_exec("for i in range(5): channel.send(i)")
ch.setcallback(cb, endmarker="end")
ch.waitclose(30)
failing = []
def bad(x):
    if x == 2:
        raise ValueError("bad item")
    failing.append(x)
ch = gw.remote_exec("import time\\nfor i in range(5):\\n    channel.send(i)\\n    time.sleep(0.05)")
ch.setcallback(bad, endmarker="end")
try:
    ch.waitclose(30)
except Exception:
    pass
json.dump({"slow": slow, "failing": failing}, sys.stdout)
gw.exit()
`);

  it('a callback returning a promise gets the items one after another, and waitClose waits for it', async () => {
    const execnetSide = execnetCallbacks();
    assert.deepEqual(execnetSide.slow, [0, 1, 2, 3, 4, 'end']);
    const tg = testGroup();
    const gw = await tg.gateway();
    const seen: unknown[] = [];
    let running = 0;
    let overlapped = false;
    const channel = gw.remoteExec('for i in range(5): channel.send(i)');
    channel.setCallback(async (item) => {
      running++;
      overlapped ||= running > 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen.push(item);
      running--;
    }, 'end');
    await channel.waitClose(30);
    assert.deepEqual(seen, execnetSide.slow, 'every callback finished before waitClose resolved');
    assert.equal(overlapped, false, 'never two callbacks at once');
    await tg.close();
  });

  it('a callback that rejects closes the channel with its error, which waitClose reports', async () => {
    const execnetSide = execnetCallbacks();
    assert.deepEqual(execnetSide.failing, [0, 1, 'end']);
    const tg = testGroup();
    const gw = await tg.gateway();
    const seen: unknown[] = [];
    const failure = new Error('bad item');
    const channel = gw.remoteExec(
      'import time\nfor i in range(5):\n    channel.send(i)\n    time.sleep(0.05)',
    );
    channel.setCallback(async (item) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (item === 2) {
        throw failure;
      }
      seen.push(item);
    }, 'end');
    await assert.rejects(channel.waitClose(30), (error) => error === failure);
    assert.deepEqual(seen, execnetSide.failing);
    assert.equal(
      await gw.remoteExec('channel.send(1)').receive(30),
      1,
      'the gateway keeps working',
    );
    // the other side hears of it: its channel closes with the reason
    const remote = gw.remoteExec(`
ch = channel.receive()
ch.send("poke")
try:
    ch.waitclose(10)
except Exception as e:
    channel.send(str(e))
`);
    const poked = gw.newChannel();
    poked.setCallback(() => Promise.reject(new Error('refused by the callback')));
    await remote.send(poked);
    assert.match(
      String(await remote.receive(30)),
      /local callback failed: Error: refused by the callback/,
    );
    await tg.close();
  });
});

describe('channels that code drops close themselves, as execnet does', () => {
  const collectGarbage = (() => {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  })();

  /** Remote code that drops channels; each line is what the local side saw. */
  const SCENARIOS = {
    // a channel remote code made, sent items on, and dropped
    made: `
ch = channel.gateway.newchannel()
channel.send(ch)
ch.send(1)
ch.send(2)
del ch
`,
    // a channel the local side made, received inside a value, used, and dropped
    received: 'c = channel.receive()[0]\nc.send("hi")\ndel c',
    // a dropped channel whose callback still receives: only "nothing more from here"
    callback: `
got = []
c = channel.receive()
c.setcallback(got.append)
c.send("ready")
del c
channel.send("dropped")
import time
while len(got) < 2:
    time.sleep(0.01)
channel.send(got)
`,
  };

  it('a channel remote code drops closes, so waitClose() here returns', async () => {
    const execnetSide = askExecnet<unknown[]>(
      `
gw = execnet.makegateway("popen")
out = []
ch = gw.remote_exec(data["made"]).receive(30)
out.append([ch.receive(30), ch.receive(30)])
ch.waitclose(30)
mine = gw.newchannel()
gw.remote_exec(data["received"]).send([mine])
out.append(mine.receive(30))
mine.waitclose(30)
cb = gw.newchannel()
ex = gw.remote_exec(data["callback"])
ex.send(cb)
out.append([cb.receive(30), ex.receive(30)])
cb.waitclose(30)
cb.send("a")
cb.send("b")
out.append(ex.receive(30))
json.dump(out, sys.stdout)
gw.exit()
`,
      SCENARIOS,
    );
    assert.deepEqual(execnetSide, [[1, 2], 'hi', ['ready', 'dropped'], ['a', 'b']]);

    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const out: unknown[] = [];
    const made = (await gw.remoteExec(SCENARIOS.made).receive(30)) as Channel;
    out.push([await made.receive(30), await made.receive(30)]);
    await made.waitClose(30);
    const mine = gw.newChannel();
    await gw.remoteExec(SCENARIOS.received).send([mine]);
    out.push(await mine.receive(30));
    await mine.waitClose(30);
    const cb = gw.newChannel();
    const ex = gw.remoteExec(SCENARIOS.callback);
    await ex.send(cb);
    out.push([await cb.receive(30), await ex.receive(30)]);
    await cb.waitClose(30);
    await cb.send('a');
    await cb.send('b');
    out.push(await ex.receive(30));
    assert.deepEqual(out, execnetSide);
    await tg.close();
  });

  it('a channel dropped here while open closes when it is garbage-collected', async () => {
    const watcher = `
c = channel.receive()
channel.send("got it")
try:
    c.waitclose(30)
    channel.send("closed by the other side")
except Exception as e:
    channel.send(repr(e))
`;
    const execnetSide = askExecnet<string[]>(
      `
gw = execnet.makegateway("popen")
ex = gw.remote_exec(data)
ex.send(gw.newchannel())
json.dump([ex.receive(30), ex.receive(30)], sys.stdout)
gw.exit()
`,
      watcher,
    );
    assert.deepEqual(execnetSide, ['got it', 'closed by the other side']);

    const tg = testGroup();
    const gw = await tg.gateway(undefined, EXECNET_PYTHON);
    const sent = gw.remoteExec(watcher);
    await sent.send(gw.newChannel());
    const received = gw.remoteExec(
      `c = channel.gateway.newchannel()\nchannel.send(c)\n${watcher.replace('c = channel.receive()\n', '')}`,
    );
    await received.receive(30); // the remote's channel arrives here and is dropped at once
    assert.equal(await received.receive(30), 'got it');
    // kept while someone waits on it, even with no reference left but the wait itself
    const waited = gw.remoteExec(watcher);
    const pending = (() => {
      const channel = gw.newChannel();
      void waited.send(channel);
      return channel.receive(30).catch((e: unknown) => e);
    })();
    assert.equal(await waited.receive(30), 'got it');
    const outcomes: unknown[] = [await sent.receive(30)];
    for (let i = 0; i < 10; i++) {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    outcomes.push(await sent.receive(30), await received.receive(30));
    assert.deepEqual(outcomes, [...execnetSide, 'closed by the other side']);
    const stillOpen = await waited.receive(0.3).catch((e: unknown) => (e as Error).name);
    assert.equal(stillOpen, 'TimeoutError', 'a channel someone waits on is kept open');
    await tg.close();
    assert.equal(((await pending) as Error).name, 'GatewayClosedError');
  });
});

describe('terminate() with no timeout, as execnet has it', () => {
  it('waits for running code and kills nothing (the kill-after-timeout is in lifetime.test.ts)', async () => {
    const code = (file: string) =>
      `import time\nchannel.send(1)\ntime.sleep(1)\nopen(${JSON.stringify(file)}, "w").write("slept")`;
    const execnetFile = path.join(os.tmpdir(), `execnet-terminate-${process.pid}-a`);
    const execnetSide = askExecnet<number>(
      `
import time
g = execnet.Group()
g.makegateway().remote_exec(data).receive(30)
started = time.time()
g.terminate()
json.dump(time.time() - started, sys.stdout)
`,
      code(execnetFile),
    );
    assert.ok(execnetSide >= 0.8, `execnet waited ${execnetSide} s`);
    assert.equal(fs.readFileSync(execnetFile, 'utf8'), 'slept', 'execnet killed nothing');

    const ourFile = path.join(os.tmpdir(), `execnet-terminate-${process.pid}-b`);
    const tg = testGroup();
    const gw = await tg.gateway();
    await gw.remoteExec(code(ourFile)).receive(30);
    const started = Date.now();
    await tg.group.terminate();
    assert.ok(Date.now() - started >= 800, `waited ${Date.now() - started} ms`);
    assert.equal(fs.readFileSync(ourFile, 'utf8'), 'slept', 'nothing was killed');
    fs.rmSync(execnetFile);
    fs.rmSync(ourFile);
    await tg.close();
  });
});

describe('deliberate differences (docs/execnet-differences.md)', () => {
  it('chdir= creates missing parent folders, where execnet fails', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-chdir-'));
    const execnetError = askExecnet<string>(
      `
try:
    execnet.makegateway("popen//chdir=" + data + "/execnet/new/dir").exit()
    json.dump("started", sys.stdout)
except Exception as e:
    json.dump(str(e).rstrip().split("\\n")[-1], sys.stdout)
`,
      base,
    );
    assert.match(execnetError, /^FileNotFoundError: .* No such file or directory/);
    const tg = testGroup();
    const gw = await tg.gateway(`chdir=${base}/ours/new/dir`);
    assert.equal(gw.info.cwd, `${base}/ours/new/dir`);
    await tg.close();
    fs.rmSync(base, { recursive: true });
  });

  it('RSync.send() may be called again, where execnet refuses a second send()', async () => {
    const source = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-rsync-'));
    fs.writeFileSync(path.join(source, 'a.txt'), 'one');
    const execnetSide = askExecnet<string>(
      `
import tempfile
gw = execnet.makegateway("popen")
rsync = execnet.RSync(data, verbose=False)
rsync.add_target(gw, tempfile.mkdtemp())
rsync.send()
try:
    rsync.send()
    json.dump("sent again", sys.stdout)
except Exception as e:
    json.dump(str(e), sys.stdout)
gw.exit()
`,
      source,
    );
    assert.match(execnetSide, /no targets available, maybe you are trying call send\(\) twice/);
    const tg = testGroup();
    const gw = await tg.gateway();
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-rsync-dest-'));
    const rsync = new RSync(source);
    rsync.addTarget(gw, dest);
    await rsync.send();
    fs.writeFileSync(path.join(source, 'a.txt'), 'two');
    await rsync.send();
    assert.equal(fs.readFileSync(path.join(dest, 'a.txt'), 'utf8'), 'two');
    await tg.close();
    fs.rmSync(source, { recursive: true });
    fs.rmSync(dest, { recursive: true });
  });
});
