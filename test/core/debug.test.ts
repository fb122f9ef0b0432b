// Debugging a program on a gateway through its channel: a DAP client drives debugpy's adapter on
// the gateway's host (breakpoints, stack, variables, evaluate, stepping, exceptions, the end of the
// program), a Python without debugpy gets it shipped, and nothing the session started outlives it.

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { ProgramInput } from '../../src/core/debug/adapter';
import { DebugRelay, DebugStartError } from '../../src/core/debug/relay';
import { testGroup as newTestGroup, type TestGroup } from '../helpers/gateways';
import {
  evaluate,
  launchToFirstStop,
  localsOf,
  relayEnded,
  runToEnd,
  stackOf,
  writeFixture,
  type DebugFixture,
} from '../helpers/debug';
import { leftoverProcesses, newMark, othersLeft, processesWithMark } from '../helpers/processes';
import { findPythons } from '../helpers/pythons';
import { runScript } from '../helpers/scripts';
import { until } from '../helpers/wait';

/** Debian's Python, which has debugpy (python3-debugpy). */
const SYSTEM_PYTHON = '/usr/bin/python3';
const hasDebugpy = fs.existsSync('/usr/lib/python3/dist-packages/debugpy/__init__.py');
const skip = hasDebugpy ? false : 'needs python3-debugpy for /usr/bin/python3';

describe('debugging on a popen gateway', { skip }, () => {
  let fixture: DebugFixture;
  let cache: string;
  const groups: TestGroup[] = [];
  /** A group of marked gateways, terminated after the tests even when one fails. */
  const testGroup = (): TestGroup => {
    const tg = newTestGroup();
    groups.push(tg);
    return tg;
  };
  before(() => {
    fixture = writeFixture();
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-debug-cache-'));
  });
  after(async () => {
    await Promise.all(groups.map((tg) => tg.group.terminate(2)));
    fixture?.remove();
    fs.rmSync(cache, { recursive: true, force: true });
  });

  it('stops at breakpoints in the program and a sibling module, shows the stack, variables and evaluates, steps, and runs to the end', async () => {
    const tg = testGroup();
    const gw = await tg.gateway(undefined, SYSTEM_PYTHON);
    const { relay, adapter, dap, stopped, msToFirstStop } = await launchToFirstStop(
      gw,
      { program: fixture.program, args: ['7', 'x y'], cwd: fixture.dir },
      { [fixture.module]: [fixture.line('gross')], [fixture.program]: [fixture.line('total')] },
      { cacheDir: cache },
    );
    assert.equal(relay.info.debugpy, 'own', 'the system Python has its own debugpy');
    assert.equal(stopped.body.reason, 'breakpoint');
    const thread = stopped.body.threadId!;
    const { frames, text } = await stackOf(dap, thread);
    assert.deepEqual(text, [
      `price_with_tax ${fixture.module}:${fixture.line('gross')}`,
      `<module> ${fixture.program}:${fixture.line('call')}`,
    ]);
    assert.equal((await localsOf(dap, frames[0].id)).get('net'), '1.5');
    assert.equal(await evaluate(dap, frames[0].id, 'net * 100 + TAX'), '150.25');
    // the caller's frame: `items` expands to its elements
    const scopes = await dap.request<DebugProtocol.ScopesResponse>('scopes', {
      frameId: frames[1].id,
    });
    const globals = await dap.request<DebugProtocol.VariablesResponse>('variables', {
      variablesReference: scopes.body.scopes[0].variablesReference,
    });
    const items = globals.body.variables.find((v) => v.name === 'items');
    assert.ok(items && items.variablesReference > 0, 'items can be expanded');
    const elements = await dap.request<DebugProtocol.VariablesResponse>('variables', {
      variablesReference: items.variablesReference,
    });
    assert.deepEqual(
      elements.body.variables.filter((v) => /^\d+$/.test(v.name)).map((v) => v.value),
      ["('apple', 3, 0.5)", "('pear', 2, 0.75)"],
    );

    // step over moves one line; step out returns to the caller
    await dap.request('next', { threadId: thread });
    await dap.waitEvent('stopped');
    assert.equal((await stackOf(dap, thread)).frames[0].line, fixture.line('return'));
    await dap.request('stepOut', { threadId: thread });
    await dap.waitEvent('stopped');
    assert.equal((await stackOf(dap, thread)).frames[0].line, fixture.line('call'));

    // continue: the module's breakpoint again (second item), then the program's
    await dap.request('continue', { threadId: thread });
    await dap.waitEvent('stopped');
    await dap.request('continue', { threadId: thread });
    await dap.waitEvent('stopped');
    const atTotal = await stackOf(dap, thread);
    assert.equal(atTotal.frames[0].line, fixture.line('total'));
    assert.equal((await localsOf(dap, atTotal.frames[0].id)).get('total'), '3.76');
    await dap.request('continue', { threadId: thread });

    // the program's end ends the session; its output reached the client
    const exited = await dap.waitEvent<DebugProtocol.ExitedEvent>('exited');
    assert.equal(exited.body.exitCode, 0);
    await dap.waitEvent('terminated');
    assert.match(
      dap.output('stdout'),
      /apple 1\.88\npear 1\.88\ntotal 3\.76 argv \['7', 'x y'\]\n/,
    );
    await dap.request('disconnect', {});
    await relayEnded(relay);
    assert.deepEqual(await othersLeft(tg.mark, [gw.info.pid]), [], 'adapter and program are gone');
    adapter.dispose();
    console.log(`# popen (own debugpy): open → first stop ${msToFirstStop.toFixed(0)} ms`);
    // the gateway lives on and still runs code
    assert.equal(await gw.remoteExec('channel.send(6 * 7)').receive(10), 42);
    await tg.close();
  });

  it('conditional, hit-count and log breakpoints, watch and hover, pause; the adapter listens on 127.0.0.1 only', async () => {
    const tg = testGroup();
    const gw = await tg.gateway(undefined, SYSTEM_PYTHON);
    const { relay, dap, stopped } = await launchToFirstStop(
      gw,
      { program: fixture.program, args: ['--wait'] },
      {
        [fixture.program]: [
          { line: fixture.line('call'), condition: 'name == "pear"' },
          { line: fixture.line('add'), logMessage: 'logged {name} {cost}' },
        ],
        [fixture.module]: [{ line: fixture.line('return'), hitCondition: '2' }],
      },
      { cacheDir: cache },
    );
    const thread = stopped.body.threadId!;
    const atPear = await stackOf(dap, thread);
    assert.equal(atPear.frames[0].line, fixture.line('call'));
    const frameId = atPear.frames[0].id;
    assert.equal((await localsOf(dap, frameId)).get('name'), "'pear'", 'the condition held');
    assert.match(dap.output(), /logged apple 1\.88/);
    for (const [context, expression, value] of [
      ['hover', 'name', "'pear'"],
      ['watch', 'count * unit', '1.5'],
    ]) {
      assert.equal(await evaluate(dap, frameId, expression, context), value, context);
    }

    // what listens, listens on the loopback interface
    const ours = new Set(processesWithMark(tg.mark));
    const listening = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => [...line.matchAll(/pid=(\d+)/g)].some((m) => ours.has(Number(m[1]))))
      .map((line) => line.trim().split(/\s+/)[3]);
    assert.ok(listening.length > 0, 'the adapter listens for its program');
    for (const address of listening) {
      assert.match(address, /^127\.0\.0\.1:\d+$/);
    }

    // the second return from price_with_tax (the hit count), then the wait loop, paused
    await dap.request('continue', { threadId: thread });
    await dap.waitEvent('stopped');
    const atReturn = await stackOf(dap, thread);
    assert.equal(atReturn.frames[0].line, fixture.line('return'));
    assert.equal((await localsOf(dap, atReturn.frames[0].id)).get('net'), '1.5');
    await dap.request('continue', { threadId: thread });
    await dap.waitEvent('continued');
    await dap.request('pause', { threadId: thread });
    const paused = await dap.waitEvent<DebugProtocol.StoppedEvent>('stopped');
    assert.equal(paused.body.reason, 'pause');
    const pausedAt = (await stackOf(dap, thread)).frames[0].line;
    assert.ok(
      [fixture.line('loop'), fixture.line('wait')].includes(pausedAt),
      `paused at ${pausedAt}`,
    );
    assert.match(dap.output(), /logged pear 1\.88/);

    // stop: the program is ended
    await dap.request('disconnect', { terminateDebuggee: true });
    await relayEnded(relay);
    assert.deepEqual(await othersLeft(tg.mark, [gw.info.pid]), []);
    await tg.close();
  });

  it('stops where an uncaught exception is raised, with its details', async () => {
    const tg = testGroup();
    const gw = await tg.gateway(undefined, SYSTEM_PYTHON);
    const { adapter, dap, stopped } = await launchToFirstStop(
      gw,
      { program: fixture.program, args: ['--fail'] },
      {},
      { cacheDir: cache, exceptions: ['uncaught'] },
    );
    assert.equal(stopped.body.reason, 'exception');
    const { text } = await stackOf(dap, stopped.body.threadId!);
    assert.equal(text[0], `<module> ${fixture.program}:${fixture.line('raise')}`);
    const info = await dap.request<DebugProtocol.ExceptionInfoResponse>('exceptionInfo', {
      threadId: stopped.body.threadId,
    });
    assert.match(info.body.exceptionId, /ZeroDivisionError/);
    await dap.request('continue', { threadId: stopped.body.threadId });
    await dap.waitEvent('terminated');
    assert.match(dap.output('stderr'), /ZeroDivisionError: float division by zero/);
    await dap.request('disconnect', {});
    adapter.dispose();
    await tg.close();
  });

  it("the program's input() reads what is typed in its terminal, on the gateway's host; without a terminal, end of file", async () => {
    const tg = testGroup();
    const gw = await tg.gateway(undefined, SYSTEM_PYTHON);
    const program = path.join(fixture.dir, 'asks.py');
    fs.writeFileSync(
      program,
      'import os\nname = input("name? ")\nprint("hello", name, "from", os.getppid() != 1)\n' +
        'try:\n    input()\nexcept EOFError:\n    print("no more input")\n',
    );
    let screen = '';
    let input: ProgramInput | undefined;
    let ended = false;
    const session = await launchToFirstStop(
      gw,
      { program, stopOnEntry: true },
      {},
      {
        cacheDir: cache,
        openConsole: () => ({
          output: (text) => (screen += text),
          attach: (typed) => (input = typed),
          end: () => (ended = true),
        }),
      },
    );
    assert.equal(session.stopped.body.reason, 'entry');
    const launcher = session.dap.events.find((e) => e.event === 'process');
    assert.ok(launcher, 'no process event');
    await session.dap.request('continue', { threadId: session.stopped.body.threadId });
    await until('the prompt in the terminal', () => screen.includes('name? '));
    assert.ok(input, 'the terminal takes no input');
    input.write('Ada\n');
    input.eof();
    await session.dap.waitEvent('terminated');
    assert.match(screen, /^name\? hello Ada from True\r?\nno more input\r?\n/);
    // the debug console has the output too
    assert.match(session.dap.output('stdout'), /hello Ada from True/);
    await session.dap.request('disconnect', {});
    await relayEnded(session.relay);
    session.adapter.dispose();
    assert.ok(ended, 'the terminal was not told the session ended');
    assert.deepEqual(await othersLeft(tg.mark, [gw.info.pid]), [], 'launcher and program are gone');

    // no terminal (a client without one): input() reads end of file at once
    const bare = await launchToFirstStop(
      gw,
      { program, stopOnEntry: true },
      {},
      { cacheDir: cache },
    );
    await bare.dap.request('continue', { threadId: bare.stopped.body.threadId });
    await bare.dap.waitEvent('terminated');
    assert.match(bare.dap.output('stderr'), /EOFError/);
    await bare.dap.request('disconnect', {});
    await relayEnded(bare.relay);
    bare.adapter.dispose();
    await tg.close();
  });

  it('a SIGKILLed owner leaves nothing of a session stopped at a breakpoint: gateway, adapter, launcher, program', async () => {
    const mark = newMark();
    const helpers = JSON.stringify(path.resolve('test/helpers/debug.ts'));
    const core = JSON.stringify(path.resolve('src/core/index.ts'));
    const script = `
      const { Group } = require(${core});
      const { launchToFirstStop } = require(${helpers});
      (async () => {
        const group = new Group();
        const gw = await group.makeGateway('popen//python=${SYSTEM_PYTHON}//env:EXECNET_TEST_MARK=${mark}');
        const session = await launchToFirstStop(
          gw,
          { program: ${JSON.stringify(fixture.program)} },
          { [${JSON.stringify(fixture.module)}]: [${fixture.line('gross')}] },
          { cacheDir: ${JSON.stringify(cache)}, openConsole: () => ({ output() {}, attach() {}, end() {} }) },
        );
        const program = session.dap.events.find((e) => e.event === 'process').body.systemProcessId;
        console.log('stopped', program);
        process.kill(process.pid, 'SIGKILL');
      })();`;
    const { stdout } = await runScript(script);
    const stopped = /stopped (\d+)/.exec(stdout);
    assert.ok(stopped, `the session did not stop: ${stdout}`);
    assert.deepEqual(
      await leftoverProcesses(mark, 10_000),
      [],
      'processes left after the owner was killed',
    );
    assert.ok(!fs.existsSync(`/proc/${stopped[1]}`), 'the program is left');
  });

  it('ending the session mid-way (the client goes away) ends the program and the adapter, not the gateway', async () => {
    const tg = testGroup();
    const gw = await tg.gateway(undefined, SYSTEM_PYTHON);
    const { relay, adapter, dap, stopped } = await launchToFirstStop(
      gw,
      { program: fixture.program },
      { [fixture.module]: [fixture.line('gross')] },
      { cacheDir: cache },
    );
    assert.equal(stopped.body.reason, 'breakpoint');
    const program = dap.events.find((e) => e.event === 'process')?.body.systemProcessId;
    assert.ok(processesWithMark(tg.mark).includes(program), 'the program runs, stopped');
    adapter.dispose();
    await relayEnded(relay);
    assert.deepEqual(await othersLeft(tg.mark, [gw.info.pid]), [], 'adapter and program are gone');
    assert.equal(gw.state, 'alive');
    // the next session on the gateway (its relay module is kept there: only a call is sent)
    const again = await launchToFirstStop(
      gw,
      { program: fixture.program },
      { [fixture.module]: [fixture.line('gross')] },
      { cacheDir: cache },
    );
    assert.equal(again.stopped.body.reason, 'breakpoint');
    await again.dap.request('disconnect', {});
    await relayEnded(again.relay);
    await tg.close();
  });

  it('terminating the gateway during a session ends the program and the adapter too; the client is told', async () => {
    const tg = testGroup();
    const gw = await tg.gateway(undefined, SYSTEM_PYTHON);
    const { dap } = await launchToFirstStop(
      gw,
      { program: fixture.program },
      { [fixture.module]: [fixture.line('gross')] },
      { cacheDir: cache },
    );
    const stack = dap.request('stackTrace', { threadId: 1 });
    await gw.terminate(5);
    await stack.catch(() => undefined);
    await dap.waitEvent('terminated');
    await tg.close();
  });

  it('a Python without debugpy gets this machine’s copy shipped into its cache, once', async (t) => {
    const python = findPythons().find((p) => p.version === '3.12');
    if (!python) {
      t.skip('no pyenv CPython 3.12');
      return;
    }
    const remoteCache = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-debug-remote-cache-'));
    try {
      const tg = testGroup();
      const spec = `env:XDG_CACHE_HOME=${remoteCache}`;
      const gw = await tg.gateway(spec, python.path);
      const messages: string[] = [];
      const first = await launchToFirstStop(
        gw,
        { program: fixture.program },
        { [fixture.program]: [fixture.line('add')] },
        { cacheDir: cache, progress: (m) => messages.push(m) },
      );
      assert.equal(first.relay.info.debugpy, 'shipped');
      assert.ok(first.relay.info.folder?.startsWith(path.join(remoteCache, 'execnet', 'debugpy-')));
      assert.match(messages.join('\n'), /shipping debugpy .* to /);
      assert.ok(fs.existsSync(path.join(first.relay.info.folder!, '.execnet-bundle')));
      const { frames } = await stackOf(first.dap, first.stopped.body.threadId!);
      assert.equal((await localsOf(first.dap, frames[0].id)).get('cost'), '1.88');
      await first.dap.request('disconnect', {});
      first.adapter.dispose();
      console.log(
        `# popen 3.12, debugpy shipped: open → first stop ${first.msToFirstStop.toFixed(0)} ms`,
      );

      // a later session on another gateway of that Python finds the cached copy
      const gw2 = await tg.gateway(spec, python.path);
      const second = await launchToFirstStop(
        gw2,
        { program: fixture.program },
        { [fixture.program]: [fixture.line('add')] },
        { cacheDir: cache },
      );
      assert.equal(second.relay.info.debugpy, 'cached');
      console.log(
        `# popen 3.12, debugpy cached: open → first stop ${second.msToFirstStop.toFixed(0)} ms`,
      );
      await second.dap.request('disconnect', {});
      second.adapter.dispose();
      await tg.close();
    } finally {
      fs.rmSync(remoteCache, { recursive: true, force: true });
    }
  });

  it(
    'every CPython 3.8+ found debugs with the shipped debugpy (3.8 and 3.9 need typing_extensions); 3.7 is told to install its own',
    { timeout: 240_000 },
    async (t) => {
      const pythons = findPythons().filter((p) => Number(p.version.split('.')[1]) >= 7);
      if (pythons.length === 0) {
        t.skip('no pyenv CPython 3.7+');
        return;
      }
      const remoteCache = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-debug-all-'));
      try {
        const tg = testGroup();
        const seen: string[] = [];
        for (const python of pythons) {
          const gw = await tg.gateway(`env:XDG_CACHE_HOME=${remoteCache}`, python.path);
          if (python.version === '3.7') {
            // Debian's debugpy brings a `bytecode` that needs 3.8: said before anything is shipped
            await assert.rejects(
              DebugRelay.open(gw, { cacheDir: cache }),
              (error: unknown) =>
                error instanceof DebugStartError &&
                /needs Python 3\.8 or newer: install debugpy on the gateway/.test(error.message),
            );
            seen.push('3.7 (refused: install debugpy there)');
            continue;
          }
          const session = await launchToFirstStop(
            gw,
            { program: fixture.program },
            { [fixture.module]: [fixture.line('gross')] },
            { cacheDir: cache },
          );
          const { frames } = await stackOf(session.dap, session.stopped.body.threadId!);
          assert.equal(frames[0].line, fixture.line('gross'), python.version);
          assert.equal(
            (await localsOf(session.dap, frames[0].id)).get('net'),
            '1.5',
            python.version,
          );
          assert.match(await runToEnd(session, fixture.module), /total 3\.76/, python.version);
          seen.push(`${python.version} (${session.relay.info.debugpy})`);
          await gw.terminate(5);
        }
        console.log(`# debugged on ${seen.join(', ')}`);
        await tg.close();
      } finally {
        fs.rmSync(remoteCache, { recursive: true, force: true });
      }
    },
  );

  it('says what to install when neither the gateway nor this machine has debugpy', async (t) => {
    const python = findPythons().find((p) => p.version === '3.12');
    if (!python) {
      t.skip('no pyenv CPython 3.12');
      return;
    }
    const tg = testGroup();
    const gw = await tg.gateway(`env:XDG_CACHE_HOME=${cache}/nowhere`, python.path);
    await assert.rejects(
      DebugRelay.open(gw, { pythons: ['/nonexistent/python3'], cacheDir: cache }),
      (error: unknown) =>
        error instanceof DebugStartError &&
        /Python 3\.12\.\d+ .* has no debugpy, and there is none here to ship/.test(error.message) &&
        /pip install debugpy/.test(error.message),
    );
    await assert.rejects(
      DebugRelay.open(gw, { debugpyPath: cache, cacheDir: cache }),
      (error: unknown) =>
        error instanceof DebugStartError && /no debugpy package in/.test(error.message),
    );
    assert.equal(await gw.remoteExec('channel.send(1)').receive(10), 1);
    await tg.close();
  });

  it('refuses a Python too old for debugpy, naming its version', async (t) => {
    const python = findPythons().find((p) => p.version === '3.6');
    if (!python) {
      t.skip('no pyenv CPython 3.6');
      return;
    }
    const tg = testGroup();
    const gw = await tg.gateway(undefined, python.path);
    await assert.rejects(
      DebugRelay.open(gw, { cacheDir: cache }),
      (error: unknown) =>
        error instanceof DebugStartError &&
        /Python 3\.6\.\d+ .* is too old to debug/.test(error.message),
    );
    await tg.close();
  });
});
