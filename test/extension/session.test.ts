// The extension's model in plain Node with real interpreters: gateway entries that outlive their
// gateway, runs and their events, ids unique across groups, and shutdown ending everything.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SpecError } from '../../src/core/errors';
import { Session, type Run, type RunEvent } from '../../src/extension/session';

const sessions: Session[] = [];
after(async () => {
  await Promise.all(sessions.map((s) => s.shutdown(2)));
});

function newSession(): Session {
  const session = new Session({ terminateTimeout: () => 2 });
  sessions.push(session);
  return session;
}

function ended(run: Run): Promise<RunEvent[]> {
  return new Promise((resolve) => {
    if (run.outcome) {
      resolve(run.events);
      return;
    }
    run.onEvent((event) => event.kind === 'end' && resolve(run.events));
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a gateway entry shows up connecting, then alive with the interpreter info', async () => {
  const session = newSession();
  const states: string[] = [];
  session.onDidChange((change) => change.kind === 'gateway' && states.push(change.entry.state));
  const { entry, ready } = session.startGateway('popen', { name: 'local' });
  assert.equal(entry.state, 'connecting');
  assert.equal(entry.id, 'local');
  await ready;
  assert.equal(entry.state, 'alive');
  assert.deepEqual(states, ['alive']);
  assert.match(entry.info?.versionString ?? '', /^3\./);
});

test('a run streams output and items in order, then its outcome', async () => {
  const session = newSession();
  const { entry, ready } = session.startGateway('popen');
  await ready;
  const run = session.run(entry, {
    text: 'print("a")\nchannel.send((1, "x"))\nprint("b")\n',
    label: 'snippet',
    kind: 'selection',
  });
  assert.ok(run.isOpen);
  const events = await ended(run);
  // prints may come in pieces ("a", "\n"): what matters is the order of text, items and end
  const shown = events.map((e) =>
    e.kind === 'output'
      ? e.text
      : e.kind === 'item'
        ? `<item ${JSON.stringify(e.value)}>`
        : `<${e.kind}>`,
  );
  assert.equal(shown.join(''), 'a\n<item [1,"x"]>b\n<end>');
  assert.deepEqual(run.outcome, { kind: 'ok' });
  assert.ok(run.endedAt && run.endedAt >= run.startedAt);
});

test('a remote exception, SystemExit and KeyboardInterrupt are told apart', async () => {
  const session = newSession();
  const { entry, ready } = session.startGateway('popen');
  await ready;
  const source = (text: string) => ({ text, label: 'x', kind: 'selection' as const });
  const failed = session.run(entry, source('1 / 0'));
  const exited = session.run(entry, source('raise SystemExit(3)'));
  const exitedZero = session.run(entry, source('raise SystemExit()'));
  const waiting = session.run(entry, source('import time\nwhile True: time.sleep(0.02)'));
  await ended(failed);
  await ended(exited);
  assert.equal(failed.outcome?.kind, 'error');
  assert.deepEqual(exited.outcome, { kind: 'exit', code: 3, message: '3' });
  await ended(exitedZero);
  assert.deepEqual(exitedZero.outcome, { kind: 'exit', code: 0, message: '' });
  waiting.interrupt();
  await ended(waiting);
  assert.equal(waiting.outcome?.kind, 'interrupted');
  assert.equal(entry.state, 'alive', 'the gateway survives its code failing');
});

test('a gateway that cannot start is a dead entry with the reason', async () => {
  const session = newSession();
  const { entry, ready } = session.startGateway('popen//python=/nonexistent/python3');
  await assert.rejects(ready);
  assert.equal(entry.state, 'dead');
  assert.match(entry.reason ?? '', /nonexistent/);
  session.dismiss(entry);
  assert.equal(session.entries.length, 0);
  assert.equal(session.groups.length, 0);
});

test('a bad spec throws before anything starts', () => {
  const session = newSession();
  assert.throws(() => session.startGateway('popen//nice=abc'), SpecError);
  assert.equal(session.entries.length, 0);
});

test('ids are unique across groups; a configured name is the id while it is free', async () => {
  const session = newSession();
  const a = session.startGateway('popen', { name: 'w', group: 'one' });
  const b = session.startGateway('popen', { name: 'w', group: 'two' });
  const c = session.startGateway('popen', { group: 'two' });
  await Promise.all([a.ready, b.ready, c.ready]);
  const ids = [a.entry.id, b.entry.id, c.entry.id];
  assert.equal(a.entry.id, 'w');
  assert.equal(new Set(ids).size, 3, ids.join(', '));
  assert.deepEqual(
    session.groups.map((g) => [g.name, g.gateways.length]),
    [
      ['one', 1],
      ['two', 2],
    ],
  );
});

test('shutdown terminates every gateway, busy ones and ones still starting included', async () => {
  const session = newSession();
  const idle = session.startGateway('popen');
  const busy = session.startGateway('popen');
  await Promise.all([idle.ready, busy.ready]);
  session.run(busy.entry, {
    text: 'import time\nwhile True: time.sleep(0.1)',
    label: 'loop',
    kind: 'selection',
  });
  const starting = session.startGateway('popen');
  const startingRefused = assert.rejects(starting.ready, /cancelled while it started/);
  const pids = [idle.entry.info?.pid, busy.entry.info?.pid] as number[];
  await session.shutdown(1);
  await startingRefused;
  for (const pid of pids) {
    for (let i = 0; i < 50 && isRunning(pid); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(isRunning(pid), false, `pid ${pid} is still running`);
  }
  assert.ok(session.entries.every((e) => e.state === 'dead'));
  assert.throws(() => session.startGateway('popen'), /shutting down/);
});
