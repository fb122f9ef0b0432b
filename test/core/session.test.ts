// Interactive sessions against real interpreters: one namespace across runs, results like the
// interactive prompt, interrupt and restart, completion and codeop, input(), rich display and
// matplotlib figures as PNG bytes, on every CPython found.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/core/gateway';
import type { Execution, ExecutionEvent, Session } from '../../src/core/session';
import { testGroup, type TestGroup } from '../helpers/gateways';
import { findPythons } from '../helpers/pythons';

const DEBIAN_PYTHON = '/usr/bin/python3';

/** Run and wait; returns the run with its events. */
async function run(
  session: Session,
  source: string,
  options: Parameters<Session['run']>[1] = {},
): Promise<Execution> {
  const execution = session.run(source, options);
  await execution.done;
  return execution;
}

function stdout(execution: Execution): string {
  return execution.events
    .filter((e): e is Extract<ExecutionEvent, { kind: 'stream' }> => e.kind === 'stream')
    .filter((e) => e.stream === 'stdout')
    .map((e) => e.text)
    .join('');
}

function results(execution: Execution): string[] {
  return execution.events
    .filter((e) => e.kind === 'result')
    .map((e) => String((e as { data: Record<string, unknown> }).data['text/plain']));
}

function displays(execution: Execution): Extract<ExecutionEvent, { kind: 'display' }>[] {
  return execution.events.filter(
    (e): e is Extract<ExecutionEvent, { kind: 'display' }> => e.kind === 'display',
  );
}

/** Resolves once the run's code has printed `text` (it is then inside the statement). */
function printed(execution: Execution, text: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): boolean => stdout(execution).includes(text);
    if (check()) {
      resolve();
      return;
    }
    const listener = execution.onEvent(() => {
      if (check()) {
        listener.dispose();
        resolve();
      }
    });
  });
}

describe('an interactive session', () => {
  let tg: TestGroup;
  let gw: Gateway;
  let session: Session;
  before(async () => {
    tg = testGroup();
    gw = await tg.gateway();
    session = gw.session();
  });
  after(() => tg.close());

  it('is one per gateway, idle until it runs something', () => {
    assert.equal(gw.session(), session);
    assert.equal(session.state, 'idle');
  });

  it('keeps names from one run to the next, like a REPL', async () => {
    const first = await run(session, 'import math\nradius = 2');
    assert.deepEqual(first.outcome, { kind: 'ok' });
    const second = await run(session, 'print(round(math.pi * radius ** 2, 3))');
    assert.equal(stdout(second), '12.566\n');
    assert.ok(second.count! > first.count!);
  });

  it("shows a final expression's repr and binds it to _", async () => {
    const shown = await run(session, 'x = [1, 2]\nx + [3]');
    assert.deepEqual(results(shown), ['[1, 2, 3]']);
    const underscore = await run(session, 'len(_)');
    assert.deepEqual(results(underscore), ['3']);
    // None, and statements that are no expression, show nothing
    assert.deepEqual(results(await run(session, 'print("p")')), []);
    assert.deepEqual(results(await run(session, 'y = 1')), []);
  });

  it('awaits at the top level, as a notebook does, on one event loop kept across runs', async () => {
    const first = await run(
      session,
      'import asyncio\nasync def twice(x):\n    await asyncio.sleep(0.01)\n    return 2 * x\n' +
        'loop = asyncio.get_running_loop()\nfirst = await twice(20)\nfirst + 1',
    );
    assert.deepEqual(first.outcome, { kind: 'ok' });
    assert.deepEqual(results(first), ['41']);
    // the final expression awaits too; the loop is the same one
    const second = await run(
      session,
      'await twice(first) if asyncio.get_running_loop() is loop else None',
    );
    assert.deepEqual(results(second), ['80']);
    const single = await run(session, 'await twice(1)', { mode: 'single' });
    assert.deepEqual(results(single), ['2']);
    const failed = await run(session, 'await asyncio.sleep(0)\n1 / 0', { filename: '<cell 9>' });
    assert.equal(failed.outcome?.kind, 'error');
    assert.match(
      failed.outcome?.kind === 'error' ? failed.outcome.error.message : '',
      /ZeroDivisionError/,
    );
  });

  it('in single mode shows every expression statement, as the interactive prompt does', async () => {
    const loop = await run(session, 'for i in range(3):\n    i * 10\n', { mode: 'single' });
    assert.deepEqual(results(loop), ['0', '10', '20']);
  });

  it('names the file and its lines in tracebacks, and keeps the namespace after an error', async () => {
    const failed = await run(session, 'z = 5\n\n1 / (z - 5)\n', {
      filename: '/nonexistent/analysis.py',
      firstLine: 40,
    });
    assert.equal(failed.outcome?.kind, 'error');
    const error = failed.outcome?.kind === 'error' ? failed.outcome.error : undefined;
    assert.equal(error?.type, 'ZeroDivisionError');
    assert.deepEqual(error?.frames, [
      { file: '/nonexistent/analysis.py', line: 42, function: '<module>' },
    ]);
    assert.match(error?.traceback ?? '', /File "\/nonexistent\/analysis\.py", line 42/);
    // the source line shows although the file does not exist here
    assert.match(error?.traceback ?? '', /^ {4}1 \/ \(z - 5\)$/m);
    assert.doesNotMatch(error?.traceback ?? '', /execnet-session|execnet-remote/);
    assert.deepEqual(results(await run(session, 'z')), ['5']);
  });

  it('reports a syntax error with the line it is on', async () => {
    const failed = await run(session, 'ok = 1\nnot valid python\n', {
      filename: '<cell 7>',
      firstLine: 3,
    });
    assert.equal(failed.outcome?.kind, 'error');
    if (failed.outcome?.kind === 'error') {
      assert.equal(failed.outcome.error.type, 'SyntaxError');
      assert.match(failed.outcome.error.traceback, /File "<cell 7>", line 4/);
    }
  });

  it('streams stdout and stderr of the run', async () => {
    const both = await run(session, 'import sys\nprint("out")\nprint("err", file=sys.stderr)');
    const streams = both.events
      .filter((e): e is Extract<ExecutionEvent, { kind: 'stream' }> => e.kind === 'stream')
      .map((e) => `${e.stream}:${e.text}`)
      .join('');
    assert.match(streams, /stdout:out/);
    assert.match(streams, /stderr:err/);
  });

  it('gives what the code sends on its channel as items', async () => {
    const sent = await run(session, "channel.send({'k': 1})\nchannel.send(2)");
    const items = sent.events
      .filter((e) => e.kind === 'item')
      .map((e) => (e as { value: unknown }).value);
    assert.deepEqual(items, [new Map([['k', 1]]), 2]);
  });

  it('runs queued runs one after another, in order', async () => {
    const a = session.run('import time\ntime.sleep(0.2)\norder = ["a"]');
    const b = session.run('order.append("b")');
    const c = session.run('order');
    assert.equal(session.state, 'busy');
    assert.equal(b.state, 'queued');
    await Promise.all([a.done, b.done, c.done]);
    assert.deepEqual(results(c), ["['a', 'b']"]);
    assert.equal(session.state, 'idle');
  });

  it('interrupt stops the running statement and keeps the namespace', async () => {
    await run(session, 'kept = "still here"');
    const sleeping = session.run('import time\nprint("sleeping", flush=True)\ntime.sleep(100)');
    await printed(sleeping, 'sleeping');
    session.interrupt();
    const outcome = await sleeping.done;
    assert.equal(outcome.kind, 'interrupted');
    assert.deepEqual(results(await run(session, 'kept')), ["'still here'"]);
  });

  it('a run right after a question (completion, codeop) gets the main thread, where Ctrl+C ends a sleep', async () => {
    const onMain = 'import threading\nthreading.current_thread() is threading.main_thread()';
    for (let i = 0; i < 30; i++) {
      // the answer comes before the question's exec has ended: the run goes at once
      await session.isComplete('x = 1');
      assert.deepEqual(results(await run(session, onMain)), ['True'], `round ${i}`);
    }
    await session.complete('ma');
    const sleeping = session.run('import time\nprint("asleep", flush=True)\ntime.sleep(100)');
    await printed(sleeping, 'asleep');
    const started = Date.now();
    sleeping.interrupt();
    await sleeping.done;
    assert.equal(sleeping.outcome?.kind, 'interrupted');
    assert.ok(Date.now() - started < 10_000, 'the sleep was not interrupted');
  });

  it('interrupt cancels a queued run before it starts', async () => {
    const first = session.run('import time\ntime.sleep(0.3)');
    const queued = session.run('never = 1');
    queued.interrupt();
    assert.deepEqual(await queued.done, { kind: 'cancelled' });
    await first.done;
    const check = await run(session, "'never' in dir()");
    assert.deepEqual(results(check), ['False']);
  });

  it('completes names of the namespace, attributes and builtins (rlcompleter)', async () => {
    await run(session, 'import os\nlong_variable_name = 1');
    assert.deepEqual(await session.complete('long_var'), ['long_variable_name']);
    assert.ok((await session.complete('os.pat')).includes('os.path'));
    assert.deepEqual(await session.complete('pri'), ['print(']);
    assert.deepEqual(await session.complete('nothing_like_this'), []);
  });

  it('asks codeop whether a block is complete', async () => {
    assert.equal(await session.isComplete('x = 1'), 'complete');
    assert.equal(await session.isComplete('for i in range(3):'), 'incomplete');
    assert.equal(await session.isComplete('for i in range(3):\n    print(i)'), 'incomplete');
    assert.equal(await session.isComplete('for i in range(3):\n    print(i)\n'), 'complete');
    assert.equal(await session.isComplete('x = (1,'), 'incomplete');
    assert.equal(await session.isComplete('x = 1)'), 'invalid');
  });

  it('input() asks the local side; no answer is EOFError', async () => {
    const asking = session.run('name = input("your name? ")\nprint("hello", name)');
    const prompts: string[] = [];
    asking.onEvent((event) => {
      if (event.kind === 'input') {
        prompts.push(event.request.prompt);
        event.request.answer('Ada');
      }
    });
    await asking.done;
    assert.deepEqual(prompts, ['your name? ']);
    assert.equal(stdout(asking), 'hello Ada\n');

    const eof = session.run('try:\n    input()\nexcept EOFError:\n    print("eof")');
    eof.onEvent((event) => event.kind === 'input' && event.request.answer(undefined));
    await eof.done;
    assert.equal(stdout(eof), 'eof\n');
  });

  it('input() in a thread the code started reads no terminal (EOFError), as before', async () => {
    const threaded = await run(
      session,
      [
        'import threading',
        'box = []',
        'def read():',
        '    try:',
        '        input()',
        '    except EOFError:',
        '        box.append("eof")',
        't = threading.Thread(target=read); t.start(); t.join()',
        'box',
      ].join('\n'),
    );
    assert.deepEqual(results(threaded), ["['eof']"]);
  });

  it('interrupt answers an open input() and stops the run', async () => {
    const asking = session.run('input("waiting: ")');
    await new Promise<void>((resolve) =>
      asking.onEvent((event) => event.kind === 'input' && resolve()),
    );
    asking.interrupt();
    const outcome = await asking.done;
    assert.ok(['interrupted', 'error'].includes(outcome.kind), outcome.kind);
    assert.equal(session.state, 'idle');
  });

  it('shows objects with their _repr_*_ MIME types; display() is in the namespace', async () => {
    const rich = await run(
      session,
      [
        'class Rich:',
        '    def _repr_html_(self): return "<b>bold</b>"',
        '    def _repr_markdown_(self): return "*md*"',
        '    def _repr_png_(self): return b"\\x89PNG\\r\\n\\x1a\\nfake"',
        '    def _repr_json_(self): return {"a": [1, 2]}',
        '    def _repr_svg_(self): return "<svg/>"',
        '    def __repr__(self): return "Rich()"',
        'display(Rich(), "plain text")',
        'Rich()',
      ].join('\n'),
    );
    const shown = displays(rich);
    assert.equal(shown.length, 2);
    const data = shown[0].data;
    assert.equal(data['text/html'], '<b>bold</b>');
    assert.equal(data['text/markdown'], '*md*');
    assert.equal(data['image/svg+xml'], '<svg/>');
    assert.ok(Buffer.isBuffer(data['image/png']), 'PNG data arrives as bytes');
    assert.equal((data['image/png'] as Buffer).subarray(0, 4).toString('latin1'), '\x89PNG');
    assert.deepEqual(JSON.parse(String(data['application/json'])), { a: [1, 2] });
    assert.equal(data['text/plain'], 'Rich()');
    assert.deepEqual(shown[1].data, { 'text/plain': "'plain text'" });
    const result = rich.events.find((e) => e.kind === 'result') as {
      data: Record<string, unknown>;
    };
    assert.equal(result.data['text/html'], '<b>bold</b>');
  });

  it('does not take a class for its instances, nor __getattr__ for a repr method', async () => {
    const tricky = await run(
      session,
      [
        'class Anything:',
        '    def __getattr__(self, name): return lambda *a, **k: "junk"',
        '    def __repr__(self): return "Anything()"',
        'class WithHtml:',
        '    def _repr_html_(self): return "<i>x</i>"',
        'display(Anything(), WithHtml)',
      ].join('\n'),
    );
    const shown = displays(tricky);
    assert.deepEqual(Object.keys(shown[0].data), ['text/plain']);
    assert.deepEqual(Object.keys(shown[1].data), ['text/plain']);
  });

  it('restart clears the namespace and the execution count', async () => {
    await run(session, 'before_restart = 1');
    assert.ok(session.executionCount > 1);
    await session.restart();
    assert.equal(session.executionCount, 0);
    const after = await run(session, 'before_restart');
    assert.equal(after.outcome?.kind, 'error');
    assert.equal(after.count, 1);
  });

  it('restart interrupts a running run and cancels the queued ones', async () => {
    const sleeping = session.run('import time\nprint("in", flush=True)\ntime.sleep(100)');
    const queued = session.run('print("never")');
    await printed(sleeping, 'in');
    await session.restart();
    assert.equal((await sleeping.done).kind, 'interrupted');
    assert.deepEqual(await queued.done, { kind: 'cancelled' });
  });

  it('SystemExit ends the run with its status, and the session goes on', async () => {
    const exited = await run(session, 'import sys\nsys.exit(3)');
    assert.deepEqual(exited.outcome, { kind: 'exit', code: 3, message: '' });
    assert.deepEqual(results(await run(session, '1 + 1')), ['2']);
  });

  it("sets __name__ to '__main__' and makes the namespace sys.modules['__main__']", async () => {
    const main = await run(
      session,
      'import sys, pickle\nclass Point:\n    pass\n' +
        "(__name__, sys.modules['__main__'].Point is Point, type(pickle.loads(pickle.dumps(Point()))).__name__)",
    );
    assert.deepEqual(results(main), ["('__main__', True, 'Point')"]);
  });
});

describe('a session with a directory of its own', () => {
  let tg: TestGroup;
  let dir: string;
  before(() => {
    tg = testGroup();
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-session-cwd-')));
    fs.writeFileSync(path.join(dir, 'beside.py'), 'WHERE = "beside"\n');
  });
  after(async () => {
    await tg.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts there (relative paths, modules beside), and restart goes back there', async () => {
    const gw = await tg.gateway(`chdir=${os.tmpdir()}`);
    const session = gw.session({ cwd: dir });
    const first = await run(session, 'import os, beside\n(os.getcwd(), beside.WHERE)');
    assert.deepEqual(results(first), [`('${dir}', 'beside')`]);
    await run(session, 'os.chdir("/")');
    await session.restart();
    assert.deepEqual(results(await run(session, 'import os\nos.getcwd()')), [`'${dir}'`]);
  });

  it('a directory that is not there leaves the session usable where the gateway is', async () => {
    const gw = await tg.gateway(`chdir=${dir}`);
    const session = gw.session({ cwd: path.join(dir, 'gone') });
    assert.deepEqual(results(await run(session, 'import os\nos.getcwd()')), [`'${dir}'`]);
  });
});

describe('a session whose gateway ends', () => {
  it('ends the running run as gateway-closed and refuses new runs', async () => {
    const tg = testGroup();
    try {
      const gw = await tg.gateway();
      const session = gw.session();
      const sleeping = session.run('import time\nprint("up", flush=True)\ntime.sleep(100)');
      await printed(sleeping, 'up');
      await gw.terminate(0.5);
      assert.equal((await sleeping.done).kind, 'gateway-closed');
      assert.equal(session.state, 'closed');
      const refused = session.run('1');
      assert.equal((await refused.done).kind, 'gateway-closed');
    } finally {
      await tg.close();
    }
  });
});

describe(
  'matplotlib in a session',
  { skip: !fs.existsSync(DEBIAN_PYTHON) && 'no /usr/bin/python3' },
  () => {
    let tg: TestGroup;
    let session: Session;
    before(async () => {
      tg = testGroup();
      const gw = await tg.gateway(undefined, DEBIAN_PYTHON);
      session = gw.session();
      const probe = await run(
        session,
        'import importlib.util\nimportlib.util.find_spec("matplotlib") is not None',
      );
      if (results(probe)[0] !== 'True') {
        throw new Error(`${DEBIAN_PYTHON} has no matplotlib: apt-get install python3-matplotlib`);
      }
    });
    after(() => tg.close());

    it('shows figures as PNG bytes on plt.show() and at the end of the run, then closes them', async () => {
      const plotted = await run(
        session,
        [
          'import matplotlib.pyplot as plt',
          'plt.plot([1, 4, 9])',
          'plt.show()',
          'print("between")',
          'fig, ax = plt.subplots(figsize=(4, 3))',
          'ax.bar(["a", "b"], [3, 5])',
        ].join('\n'),
      );
      assert.equal(plotted.outcome?.kind, 'ok', JSON.stringify(plotted.outcome));
      const images = displays(plotted).filter((d) => d.data['image/png']);
      assert.equal(images.length, 2);
      for (const image of images) {
        const png = image.data['image/png'] as Buffer;
        assert.ok(Buffer.isBuffer(png));
        assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
        assert.match(String(image.data['text/plain']), /^<Figure size/);
      }
      // the first figure came out at plt.show(), before the print
      const order = plotted.events.map((e) =>
        e.kind === 'display' ? 'image' : e.kind === 'stream' ? e.text.trim() : '',
      );
      assert.ok(order.indexOf('image') < order.indexOf('between'));
      assert.deepEqual(images[1].metadata['image/png'], { width: 400, height: 300 });
      assert.deepEqual(results(await run(session, 'len(plt.get_fignums())')), ['0']);
      assert.deepEqual(results(await run(session, 'plt.get_backend()')), [
        "'module://_execnet_inline'",
      ]);
    });

    it('shows a figure given as the final expression once', async () => {
      const shown = await run(session, 'fig = plt.figure()\nfig.gca().plot([0, 1])\nfig');
      const pngs = shown.events.filter(
        (e) => (e.kind === 'result' || e.kind === 'display') && e.data['image/png'],
      );
      assert.equal(pngs.length, 1);
    });
  },
);

describe('a session on every Python found', () => {
  for (const python of findPythons()) {
    it(`Python ${python.version}: state, results, errors, completion, input`, async () => {
      const tg = testGroup();
      try {
        const session = (await tg.gateway(undefined, python.path)).session();
        await run(session, 'import sys\nvalue = 6 * 7');
        assert.deepEqual(results(await run(session, 'value, sys.version_info[:2]')), [
          `(42, (${python.version.replace('.', ', ')}))`,
        ]);
        const failed = await run(session, '{}["missing"]', { filename: '<cell 2>' });
        assert.equal(failed.outcome?.kind, 'error');
        assert.deepEqual(await session.complete('valu'), ['value']);
        assert.equal(await session.isComplete('if value:'), 'incomplete');
        const asking = session.run('print(input("? ") * 2)');
        asking.onEvent((e) => e.kind === 'input' && e.request.answer('ab'));
        await asking.done;
        assert.equal(stdout(asking), 'abab\n');
        const rich = await run(session, 'class H:\n    def _repr_html_(self): return "<p>"\nH()');
        const result = rich.events.find((e) => e.kind === 'result') as {
          data: Record<string, unknown>;
        };
        assert.equal(result.data['text/html'], '<p>');
        // top-level await from 3.8 on (the compiler's flag); before, the SyntaxError of Python
        const awaited = await run(session, 'import asyncio\nawait asyncio.sleep(0, "slept")');
        if (Number(python.version.split('.')[1]) >= 8) {
          assert.deepEqual(results(awaited), ["'slept'"]);
        } else {
          assert.equal(awaited.outcome?.kind, 'error');
        }
      } finally {
        await tg.close();
      }
    });
  }
});
