// `execnet repl` as a user runs it: with piped input (lines in, output out) and on a real
// terminal (a pty from util-linux's `script`), typing a block, completing with Tab, Ctrl-C on a
// sleep and Ctrl-D to leave. Nothing it started may be left running.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { defaultPython } from '../helpers/pythons';
import { leftoverProcesses, newMark } from '../helpers/processes';

const root = path.resolve(__dirname, '..', '..');
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

function start(command: string[], mark: string) {
  return spawn(command[0], command.slice(1), {
    cwd: root,
    env: { ...process.env, EXECNET_PYTHON: defaultPython(), EXECNET_TEST_MARK: mark },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

const CLI = [process.execPath, '--import', 'tsx', 'src/cli/main.ts'];

describe('execnet repl', () => {
  it('with piped input runs the lines in one namespace, blocks included, and exits at the end', async () => {
    const mark = newMark();
    const child = start([...CLI, 'repl'], mark);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.stdin.end(
      [
        'x = 5',
        'for i in range(2):',
        '    print(i * x)',
        '',
        'x * 2',
        '1 / 0',
        'print("after")',
        '',
      ].join('\n'),
    );
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(status, 0, stderr);
    assert.match(stdout, /^0\n5\n10\nTraceback \(most recent call last\):\n/);
    assert.match(stdout, /ZeroDivisionError: division by zero\nafter\n$/);
    assert.deepEqual(await leftoverProcesses(mark), []);
  });

  it('with piped input, input() reads the next line, and a block open at the end still runs', async () => {
    const mark = newMark();
    const child = start([...CLI, 'repl'], mark);
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stdin.end(
      'name = input("who? ")\nAda\nprint("hi", name)\nfor i in range(2):\n    print(i)',
    );
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(status, 0);
    assert.equal(stdout, 'who? hi Ada\n0\n1\n');
    assert.deepEqual(await leftoverProcesses(mark), []);
  });

  it('rejects several gateways and bad specs with a usage error', async () => {
    for (const args of [
      ['-g', 'popen', '-g', 'popen'],
      ['-g', 'nonsense=1'],
    ]) {
      const child = start([...CLI, 'repl', ...args], newMark());
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      child.stdin.end();
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(status, 2, stderr);
      assert.match(stderr, /execnet: /);
    }
  });

  it(
    'on a terminal: a for block, Tab completion, Ctrl-C of a sleep, Ctrl-D',
    { skip: !hasScript && 'needs script (util-linux)' },
    async () => {
      const mark = newMark();
      const command = [...CLI, 'repl', '-g', `popen//python=${defaultPython()}`]
        .map((a) => `'${a}'`)
        .join(' ');
      const child = start(['script', '-qfec', command, '/dev/null'], mark);
      let screen = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => (screen += t));
      // the terminal's escape sequences out, as a reader of the screen would
      // eslint-disable-next-line no-control-regex -- they start with ESC
      const escapes = new RegExp('\u001b\\[[0-9;]*[A-Za-z]', 'g');
      const plain = (): string => screen.replace(escapes, '').replace(/\r/g, '');
      const waitFor = async (pattern: RegExp): Promise<void> => {
        const deadline = Date.now() + 20_000;
        while (!pattern.test(plain())) {
          if (Date.now() > deadline) {
            throw new Error(`never saw ${pattern}; the terminal shows:\n${plain()}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      try {
        await waitFor(/>>> $/);
        child.stdin.write('for i in range(3):\r');
        await waitFor(/\.\.\. $/);
        child.stdin.write('    print("row", i)\r\r');
        await waitFor(/row 2\n>>> $/);
        child.stdin.write('import time\rtim');
        child.stdin.write('\t');
        await waitFor(/>>> time$/);
        child.stdin.write('.sleep(100)\r');
        await waitFor(/time\.sleep\(100\)\n$/);
        child.stdin.write('\x03');
        await waitFor(/KeyboardInterrupt\n>>> $/);
        child.stdin.write('\x04');
        const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
        assert.equal(status, 0);
      } finally {
        child.kill();
      }
      assert.deepEqual(await leftoverProcesses(mark), []);
    },
  );
});
