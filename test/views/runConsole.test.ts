// A run's terminal without the editor: typed keys become lines on the code's stdin (edited as a
// terminal in cooked mode edits them), Ctrl+D and Ctrl+C do what a tty does, output is drawn with
// `\r\n` and colours, and a line being typed is drawn again after output that interrupts it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunConsole } from '../../src/views/runConsole';

function console_(): { term: RunConsole; screen: () => string; sent: string[]; events: string[] } {
  let screen = '';
  const sent: string[] = [];
  const events: string[] = [];
  const term = new RunConsole((ansi) => (screen += ansi));
  term.target = {
    write: (text) => sent.push(text),
    eof: () => events.push('eof'),
    interrupt: () => events.push('interrupt'),
  };
  return { term, screen: () => screen, sent, events };
}

/** What a screen shows once ANSI is taken out (enough for these lines). */
function plain(ansi: string): string {
  // eslint-disable-next-line no-control-regex -- terminal escape sequences
  return ansi.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

test('a terminal that reports no width keeps the last one: a typed line is not drawn at the margin', () => {
  const { term, screen } = console_();
  term.resize(0);
  term.resize(null);
  term.input('abc');
  // with a width of 1 each character would end at the margin, stepped over with ' \r\x1b[K'
  assert.ok(!screen().includes(' \r\x1b[K'), JSON.stringify(screen()));
  assert.equal(plain(screen()).replace(/\r/g, ''), 'abc');
});

test('a typed line goes to stdin with Enter, as edited with the arrows and Backspace', () => {
  const { term, sent } = console_();
  term.input('helo');
  term.input('\x1b[D'); // left
  term.input('l');
  term.input('\x1b[F'); // end
  term.input('x\x7f'); // typed, then erased
  term.input('\r');
  assert.deepEqual(sent, ['hello\n']);
  // Up recalls it
  term.input('\x1b[A\r');
  assert.deepEqual(sent, ['hello\n', 'hello\n']);
});

test('Ctrl+D sends end of file on an empty line, the typed text without a newline otherwise', () => {
  const { term, sent, events } = console_();
  term.input('\x04');
  assert.deepEqual(events, ['eof']);
  term.input('partial\x04');
  assert.deepEqual(sent, ['partial']);
  assert.deepEqual(events, ['eof']);
});

test('Ctrl+C interrupts and drops the line being typed', () => {
  const { term, screen, sent, events } = console_();
  term.input('never sent\x03');
  assert.deepEqual(events, ['interrupt']);
  assert.match(screen(), /\^C\r\n$/);
  term.input('\r');
  assert.deepEqual(sent, ['\n']);
});

test('output: \\n as \\r\\n, stderr red, our lines on a row of their own; typing shows again after it', () => {
  const { term, screen } = console_();
  term.output('a\nb', 'stdout');
  term.line('[execnet] done', 'info');
  assert.equal(plain(screen()), 'a\r\nb\r\n[execnet] done\r\n');
  assert.ok(screen().includes('\x1b[2m[execnet] done\x1b[22m'), 'our lines are dimmed');
  term.output('oops\n', 'stderr');
  assert.ok(screen().endsWith('\x1b[31moops\x1b[39m\r\n'), 'stderr is red');
  term.input('typed');
  term.output('interleaved\n');
  assert.match(plain(screen()), /interleaved\r\n\r?typed\r?$/);
});

test('without a run taking input, typing is ignored', () => {
  const { term, sent } = console_();
  term.target = undefined;
  term.input('nobody reads this\r');
  assert.deepEqual(sent, []);
});
