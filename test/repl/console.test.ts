// The terminal REPL as a user sees it: keys go into the console, its output into a real terminal
// emulator (xterm's headless one), and the tests read the screen. Against a real interpreter.

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Terminal } from '@xterm/headless';
import type { Gateway } from '../../src/core/gateway';
import { ReplConsole } from '../../src/repl/console';
import { testGroup, type TestGroup } from '../helpers/gateways';

const COLUMNS = 60;

/** A console on a headless terminal; `screen()` is what the user sees. */
class Screen {
  readonly term = new Terminal({ cols: COLUMNS, rows: 40, allowProposedApi: true });
  readonly console: ReplConsole;
  closed = false;
  history: readonly string[] = [];
  /** Everything the console wrote, escape sequences and all. */
  raw = '';
  private writes = Promise.resolve();

  constructor(gw: Gateway, history: string[] = []) {
    this.console = new ReplConsole(
      gw.session(),
      {
        write: (text) => {
          this.raw += text;
          this.writes = this.writes.then(
            () => new Promise<void>((resolve) => this.term.write(text, resolve)),
          );
        },
        close: () => (this.closed = true),
      },
      {
        banner: 'test banner',
        columns: COLUMNS,
        crlf: true,
        history,
        onHistory: (lines) => (this.history = lines),
      },
    );
    this.console.start();
  }

  type(keys: string): void {
    this.console.input(keys);
  }

  async screen(): Promise<string> {
    await this.writes;
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) {
      lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    }
    return lines.join('\n').replace(/\n+$/, '');
  }

  /** The line the cursor is on. */
  async cursorLine(): Promise<string> {
    await this.writes;
    const buffer = this.term.buffer.active;
    return buffer.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true) ?? '';
  }

  async waitFor(pattern: RegExp, timeout = 15_000): Promise<string> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const text = await this.screen();
      if (pattern.test(text)) {
        return text;
      }
      if (Date.now() > deadline) {
        throw new Error(`the screen never showed ${pattern}:\n${text}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('the terminal REPL', () => {
  let tg: TestGroup;
  let gw: Gateway;
  before(async () => {
    tg = testGroup();
    gw = await tg.gateway();
  });
  after(() => tg.close());

  it('shows the banner and a prompt, runs a line and shows its value', async () => {
    const s = new Screen(gw);
    await s.waitFor(/^test banner\n>>> $/);
    s.type('6 * 7\r');
    await s.waitFor(/>>> 6 \* 7\n42\n>>> $/);
  });

  it('runs a multi-line for block after ... prompts and a blank line', async () => {
    const s = new Screen(gw);
    s.type('for i in range(3):\r');
    await s.waitFor(/\.\.\. $/);
    s.type('    print("line", i)\r');
    await s.waitFor(/\.\.\. {5}print\("line", i\)\n\.\.\. $/);
    s.type('\r');
    const text = await s.waitFor(/line 2\n>>> $/);
    assert.match(
      text,
      />>> for i in range\(3\):\n\.\.\. {5}print\("line", i\)\n\.\.\. \nline 0\nline 1\nline 2\n>>> $/,
    );
  });

  it('a terminal that reports no width (VS Code while its panel is laid out) keeps the last one', async () => {
    const s = new Screen(gw);
    s.console.resize(undefined);
    s.console.resize(null);
    s.type('for i in range(2):');
    assert.equal(await s.cursorLine(), '>>> for i in range(2):');
    s.type('\r');
    await s.waitFor(/\.\.\. $/);
    s.type('    print("row", i)\r\r');
    const text = await s.waitFor(/row 1\n>>> $/);
    assert.match(
      text,
      /^test banner\n>>> for i in range\(2\):\n\.\.\. {5}print\("row", i\)\n\.\.\. \nrow 0\nrow 1\n>>> $/,
    );
    // no line of it is drawn as if it ended at the right margin (a width of 1 would)
    assert.ok(!s.raw.includes(' \r\x1b[K'), JSON.stringify(s.raw));
  });

  it('edits the line locally: arrows, Home/End, backspace, delete', async () => {
    const s = new Screen(gw);
    await s.waitFor(/>>> $/);
    // type "pint(1)", go Home, Right, insert "r"; End, backspace ")" and retype it
    s.type('pint("ab")');
    s.type('\x1b[H\x1b[Cr');
    s.type('\x1b[F\x7f)');
    // delete the "a": Left x4 puts the cursor on it
    s.type('\x1b[D\x1b[D\x1b[D\x1b[D\x1b[3~');
    assert.equal(await s.cursorLine(), '>>> print("b")');
    s.type('\r');
    await s.waitFor(/>>> print\("b"\)\nb\n>>> $/);
  });

  it('recalls earlier lines with Up and Down, and reports its history', async () => {
    const s = new Screen(gw, ['x_from_before = 5']);
    await s.waitFor(/>>> $/);
    s.type('\x1b[A');
    assert.equal(await s.cursorLine(), '>>> x_from_before = 5');
    s.type('\r');
    await s.waitFor(/>>> x_from_before = 5\n>>> $/);
    s.type('x_from_before + 1\r');
    await s.waitFor(/\n6\n>>> $/);
    s.type('\x1b[A\x1b[A');
    assert.equal(await s.cursorLine(), '>>> x_from_before = 5');
    s.type('\x1b[B');
    assert.equal(await s.cursorLine(), '>>> x_from_before + 1');
    assert.deepEqual(s.history, ['x_from_before = 5', 'x_from_before + 1']);
  });

  it('completes a name from the remote namespace with Tab, and lists several', async () => {
    const s = new Screen(gw);
    s.type('unique_long_name = 1; unique_other = 2\r');
    await s.waitFor(/\n>>> $/);
    s.type('unique_l\t');
    await s.waitFor(/>>> unique_long_name$/);
    s.type('\r');
    await s.waitFor(/\n1\n>>> $/);
    s.type('uniq\t');
    // the common part is filled in; a second Tab lists the candidates
    await s.waitFor(/>>> unique_$/);
    s.type('\t');
    await s.waitFor(/unique_long_name +unique_other\n>>> unique_$/);
  });

  it('indents with Tab at the start of a line', async () => {
    const s = new Screen(gw);
    s.type('if True:\r');
    await s.waitFor(/\.\.\. $/);
    s.type('\tprint("indented")\r\r');
    await s.waitFor(/indented\n>>> $/);
  });

  it('Ctrl+C interrupts a running statement; the namespace stays', async () => {
    const s = new Screen(gw);
    s.type('kept = "yes"\r');
    await s.waitFor(/>>> $/);
    s.type('import time; print("sleeping"); time.sleep(100)\r');
    await s.waitFor(/sleeping$/);
    s.type('\x03');
    await s.waitFor(/KeyboardInterrupt\n>>> $/);
    s.type('kept\r');
    await s.waitFor(/'yes'\n>>> $/);
  });

  it('Ctrl+C at the prompt drops the line (and a block being typed)', async () => {
    const s = new Screen(gw);
    s.type('while True:\r');
    await s.waitFor(/\.\.\. $/);
    s.type('    pass\x03');
    await s.waitFor(/\.\.\. {5}pass\^C\nKeyboardInterrupt\n>>> $/);
  });

  it('keys typed while a statement runs are replayed at the next prompt', async () => {
    const s = new Screen(gw);
    s.type('import time; time.sleep(0.3)\r');
    s.type('"typed ahead"\r');
    await s.waitFor(/>>> "typed ahead"\n'typed ahead'\n>>> $/);
  });

  it('input() reads a line typed in the terminal, after the prompt it printed', async () => {
    const s = new Screen(gw);
    s.type('name = input("name: "); print("hi " + name)\r');
    await s.waitFor(/\nname: $/);
    s.type('Grace\r');
    await s.waitFor(/name: Grace\nhi Grace\n>>> $/);
  });

  it('shows tracebacks and goes on', async () => {
    const s = new Screen(gw);
    s.type('1 / 0\r');
    const text = await s.waitFor(/ZeroDivisionError: division by zero\n>>> $/);
    assert.match(text, /File "<stdin>", line 1, in <module>/);
  });

  it('Ctrl+D on an empty line closes it; exit() too', async () => {
    const first = new Screen(gw);
    await first.waitFor(/>>> $/);
    first.type('\x04');
    assert.equal(first.closed, true);
    const second = new Screen(gw);
    second.type('exit()\r');
    const deadline = Date.now() + 10_000;
    while (!second.closed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(second.closed, true);
  });

  it('draws lines longer than the terminal on several rows and edits them', async () => {
    const s = new Screen(gw);
    const long = `"${'x'.repeat(COLUMNS + 10)}"`;
    s.type(long);
    s.type('\x1b[H');
    s.type('len(');
    s.type('\x1b[F)');
    s.type('\r');
    await s.waitFor(new RegExp(`\\n${COLUMNS + 12 - 2}\\n>>> $`));
  });

  it('Run Selection echoes the code with prompts and runs it in the session', async () => {
    const s = new Screen(gw);
    await s.waitFor(/>>> $/);
    const run = s.console.runEchoed('a_sel = 20\nif a_sel:\n    print(a_sel + 1)\n');
    await run.done;
    await s.waitFor(/>>> a_sel = 20\n\.\.\. if a_sel:\n\.\.\. {5}print\(a_sel \+ 1\)\n21\n>>> $/);
  });

  it('code sent while a statement runs is echoed and run after it, then the prompt returns', async () => {
    const s = new Screen(gw);
    s.type('import time; time.sleep(0.3); print("first done")\r');
    await s.waitFor(/time\.sleep\(0\.3\); print\("first done"\)$/);
    const sent = s.console.runEchoed('print("sent from the editor")');
    await sent.done;
    await s.waitFor(/first done\n>>> print\("sent from the editor"\)\nsent from the editor\n>>> $/);
  });
});
