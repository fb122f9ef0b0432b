// The `execnet` command line as a user runs it: a real subprocess against real popen gateways.
// Each run carries a unique EXECNET_TEST_MARK that its gateways inherit, and every test checks
// that nothing it started is left running once the CLI has exited.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { version } from '../../package.json';
import { findPythons, defaultPython } from '../helpers/pythons';
import { leftoverProcesses, newMark } from '../helpers/processes';

const root = path.resolve(__dirname, '..', '..');

interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface CliOptions {
  readonly input?: string;
  /** Called with the child once it has written `text` to stdout (for Ctrl-C tests). */
  readonly onStdout?: (text: string, child: ReturnType<typeof spawn>) => void;
  readonly timeoutMs?: number;
}

/** Runs `execnet ARGS` from the repository and asserts afterwards that no gateway is left. */
async function cli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const mark = newMark();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, EXECNET_PYTHON: defaultPython(), EXECNET_TEST_MARK: mark },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    options.onStdout?.(stdout, child);
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  const left = await leftoverProcesses(mark);
  assert.deepEqual(left, [], `processes left running after 'execnet ${args.join(' ')}'`);
  return { status, stdout, stderr };
}

/** The 1-based line of `file` that contains `text`. */
function lineOf(file: string, text: string): number {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  const index = lines.findIndex((line) => line.includes(text));
  assert.ok(index >= 0, `${file} has no line with ${text}`);
  return index + 1;
}

describe('execnet --help and --version', () => {
  it('--help, and no arguments at all, print the usage and exit 0', async () => {
    for (const args of [['--help'], []]) {
      const run = await cli(args);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^usage: execnet run/);
      assert.match(run.stdout, /exit status: .* 2 for usage and spec errors/s);
      // what it says of standard input is what `feeds piped lines…` below shows
      assert.match(run.stdout, /Piped standard input becomes channel items \(one str per line\)/);
      assert.doesNotMatch(run.stdout, /not forwarded/);
    }
  });

  it('--version prints the version of package.json', async () => {
    const run = await cli(['--version']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `execnet ${version}\n`);
  });

  it('an unknown command or option exits 2, suggests what was meant and points at --help', async () => {
    for (const args of [
      ['frobnicate'],
      ['run', '--pyhton', 'python3', 'examples/hello.py'],
      ['exec'],
    ]) {
      const run = await cli(args);
      assert.equal(run.status, 2, `execnet ${args.join(' ')}`);
      assert.match(run.stderr, /^execnet: [a-z].*\nTry 'execnet --help'\.\n$/);
      if (args[1] === '--pyhton') {
        assert.match(run.stderr, /^execnet: unknown option '--pyhton' — did you mean '--python'\?/);
      }
    }
  });
});

describe('execnet run', () => {
  it('runs examples/hello.py: its prints, then the value it sent, exit 0', async () => {
    const run = await cli(['run', 'examples/hello.py']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const host = os.hostname();
    assert.match(run.stdout, new RegExp(`^hello from ${host} \\(pid \\d+\\): Python 3\\.\\d+`));
    assert.match(
      run.stdout,
      new RegExp(`\\n\\[gw0\\] channel: \\('hello', '${host}', \\d+\\)\\n$`),
    );
  });

  it("feeds piped lines to the code's channel; the input's end ends its loop", async () => {
    const run = await cli(['run', 'examples/echo.py'], { input: 'one\ntwo words\n' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, "[gw0] channel: 'one'\n[gw0] channel: 'two words'\n");
  });

  it('feeds every gateway of a fan-out the same lines', async () => {
    const run = await cli(['run', '-g', 'popen', '-g', 'popen', 'examples/echo.py'], {
      input: 'x\n',
    });
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n').sort();
    assert.deepEqual(lines, ["[gw0] channel: 'x'", "[gw1] channel: 'x'"]);
  });

  it('--stdin forwards the input to sys.stdin: input() and iteration read it, its end is EOF', async () => {
    const source = [
      'import sys',
      'name = input("name? ")',
      'print("hello", name)',
      'for line in sys.stdin:',
      '    print("read", line.strip().upper())',
      'try:',
      '    input()',
      'except EOFError:',
      '    print("end of input")',
    ].join('\n');
    const run = await cli(['exec', '--stdin', '-c', source], { input: 'Ada\none\ntwo\n' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'name? hello Ada\nread ONE\nread TWO\nend of input\n');
  });

  it('--stdin gives every gateway of a fan-out the same input', async () => {
    const run = await cli(
      [
        'exec',
        '-i',
        '-g',
        'popen',
        '-g',
        'popen',
        '-c',
        'import sys; print(sys.stdin.read(), end="")',
      ],
      { input: 'same\n' },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n').sort(), ['[gw0] same', '[gw1] same']);
  });

  it("imports a module beside the file, wherever the CLI's working directory is", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-cli-'));
    try {
      fs.writeFileSync(path.join(dir, 'helper.py'), 'GREETING = "from the helper"\n');
      fs.writeFileSync(path.join(dir, 'main.py'), 'import helper\nprint(helper.GREETING)\n');
      const run = await cli(['run', path.join(dir, 'main.py')]);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, 'from the helper\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes the arguments after the file as sys.argv, options included', async () => {
    const run = await cli(['run', 'examples/hello.py', 'one', '--two', '-g']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /sys\.argv = \['examples\/hello\.py', 'one', '--two', '-g'\]/);
    assert.match(run.stdout, /running as '__channelexec__'/);
  });

  it('prints the remote traceback of examples/ratios.py on stderr and exits 1', async () => {
    const run = await cli(['run', 'examples/ratios.py']);
    assert.equal(run.status, 1);
    assert.equal(run.stdout, 'averaging ratios...\n');
    const file = path.join(root, 'examples', 'ratios.py');
    const line = lineOf('examples/ratios.py', 'return int(numerator) / int(denominator)');
    assert.match(run.stderr, /^Traceback \(most recent call last\):\n/);
    assert.ok(
      run.stderr.includes(`File "${file}", line ${line}, in parse_ratio\n`),
      `traceback does not name ${file}:${line}:\n${run.stderr}`,
    );
    assert.match(run.stderr, /in average_ratio\n/);
    assert.match(run.stderr, /ZeroDivisionError: division by zero\n$/);
  });

  it('no example is named like a standard-library module (code run beside it would import it)', () => {
    const probe = spawnSync(
      '/usr/bin/python3',
      ['-c', 'import sys; print("\\n".join(sorted(sys.stdlib_module_names)))'],
      { encoding: 'utf8' },
    );
    assert.equal(probe.status, 0, probe.stderr);
    const stdlib = new Set(probe.stdout.split('\n'));
    const shadowing = fs
      .readdirSync(path.join(root, 'examples'))
      .filter((name) => name.endsWith('.py') && stdlib.has(name.slice(0, -3)));
    assert.deepEqual(shadowing, []);
  });

  it('exits 2 with a message when the file cannot be read, starting no gateway', async () => {
    const run = await cli(['run', 'examples/no-such-file.py']);
    assert.equal(run.status, 2);
    assert.equal(run.stderr, "execnet: cannot read 'examples/no-such-file.py': no such file\n");
  });

  it('exits 2 with the SpecError message for a bad gateway spec', async () => {
    const run = await cli(['run', '--gateway', 'popen//nice=abc', 'examples/hello.py']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /^execnet: bad gateway spec 'popen\/\/nice=abc': bad nice/);
    assert.equal(run.stdout, '');
  });

  it('exits 3 with the GatewayStartError message when the interpreter is missing, naming the spec once', async () => {
    const run = await cli(['run', '--python', 'python9', 'examples/hello.py']);
    assert.equal(run.status, 3);
    assert.equal(
      run.stderr,
      "execnet: gateway did not start: cannot start python9: no such interpreter (spec 'popen//python=python9'). Check python= or PATH.\n",
    );
    assert.equal(run.stdout, '');
  });

  it('--python PATH chooses the interpreter of the default gateway', async () => {
    const python = defaultPython();
    const run = await cli(['exec', '--python', python, '-c', 'import sys; print(sys.executable)']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(fs.realpathSync(run.stdout.trim()), fs.realpathSync(python));
  });
});

describe('execnet run with several gateways', () => {
  const pythons = findPythons();
  const [older, newer] =
    pythons.length >= 2
      ? [pythons[0].path, pythons[pythons.length - 1].path]
      : ['python3', 'python3'];

  it('runs the file on each, every line prefixed with its gateway id', async () => {
    const run = await cli([
      'run',
      '-g',
      `popen//python=${older}`,
      '-g',
      `popen//python=${newer}`,
      'examples/fanout.py',
      '1000',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4, run.stdout);
    for (const id of ['gw0', 'gw1']) {
      assert.ok(lines.includes(`[${id}] 168 primes below 1000`), run.stdout);
      assert.ok(
        lines.some((l) => new RegExp(`^\\[${id}\\] channel: \\('[^']+', \\d+, 168\\)$`).test(l)),
        run.stdout,
      );
    }
  });

  it('exits with the worst status of all gateways, tracebacks prefixed too', async () => {
    const code =
      'import os, sys\nif os.environ["CODE"] == "x":\n    1/0\nsys.exit(int(os.environ["CODE"]))';
    const run = await cli([
      'exec',
      '-g',
      'popen//id=ok//env:CODE=0',
      '-g',
      'popen//id=four//env:CODE=4',
      '-g',
      'popen//id=bad//env:CODE=x',
      '-c',
      code,
    ]);
    assert.equal(run.status, 4);
    assert.match(run.stderr, /^\[bad\] Traceback \(most recent call last\):$/m);
    assert.match(run.stderr, /^\[bad\] ZeroDivisionError: division by zero$/m);
    assert.ok(
      run.stderr.split('\n').every((l) => l === '' || l.startsWith('[bad] ')),
      run.stderr,
    );
  });

  it('--group prints each gateway’s output together once it ends', async () => {
    const code =
      'import os, time\nfor i in range(3):\n    print(os.environ["N"], i, flush=True)\n    time.sleep(0.15)';
    const run = await cli([
      'exec',
      '--group',
      '-g',
      'popen//env:N=a',
      '-g',
      'popen//env:N=b',
      '-c',
      code,
    ]);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    const ids = lines.map((l) => l.slice(0, 5));
    assert.equal(lines.length, 6, run.stdout);
    // gw0's three lines, then gw1's, or the other way round: never interleaved
    assert.equal(new Set(ids.slice(0, 3)).size, 1, run.stdout);
    assert.equal(new Set(ids.slice(3)).size, 1, run.stdout);
  });
});

describe('execnet exec', () => {
  it('runs -c source, prints its output and the items it sends', async () => {
    const run = await cli([
      'exec',
      '-c',
      'import sys\nprint("out")\nprint("err", file=sys.stderr)\nchannel.send((1, "x", None, b"\\x00", {1: 2.5}, frozenset(), 1+2j))',
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(
      run.stdout,
      "out\n[gw0] channel: (1, 'x', None, b'\\x00', {1: 2.5}, frozenset(), (1+2j))\n",
    );
    assert.equal(run.stderr, 'err\n');
  });

  it('reads the source from stdin with -c - and passes ARGS as sys.argv[1:]', async () => {
    const run = await cli(['exec', '-c', '-', 'a', 'b'], {
      input: 'import sys\nchannel.send(sys.argv)\n',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, "[gw0] channel: ['-c', 'a', 'b']\n");
  });

  it('exits with the code of SystemExit, printing nothing for a number', async () => {
    const run = await cli(['exec', '-c', 'raise SystemExit(3)']);
    assert.equal(run.status, 3);
    assert.equal(run.stderr, '');
  });

  it('sys.exit("message") prints the message and exits 1; sys.exit(0) and SystemExit() exit 0', async () => {
    const failed = await cli(['exec', '-c', 'import sys; sys.exit("giving up")']);
    assert.equal(failed.status, 1);
    assert.equal(failed.stderr, 'giving up\n');
    const ok = await cli(['exec', '-c', 'import sys; print("done"); sys.exit(0)']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, 'done\n');
    const bare = await cli(['exec', '-c', 'raise SystemExit()']);
    assert.equal(bare.status, 0, bare.stderr);
    assert.equal(bare.stderr, '');
  });

  it('a traceback of -c source names <string> and shows the line', async () => {
    const run = await cli(['exec', '-c', 'x = 1\nundefined_name']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /File "<string>", line 2, in <module>\n {4}undefined_name\n/);
    assert.match(run.stderr, /NameError: name 'undefined_name' is not defined\n$/);
  });
});

describe('Ctrl-C', () => {
  it('once interrupts the remote code: KeyboardInterrupt traceback, exit 130', async () => {
    const code = 'import time\nprint("started", flush=True)\nwhile True:\n    time.sleep(0.05)';
    let sent = false;
    const run = await cli(['exec', '-c', code], {
      onStdout: (text, child) => {
        if (!sent && text.includes('started')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.equal(run.status, 130);
    assert.match(run.stderr, /interrupting the remote code/);
    assert.match(run.stderr, /KeyboardInterrupt\n$/);
  });

  it('twice stops gateways whose code ignores the interrupt, exit 130', async () => {
    // The interrupt can land anywhere in the loop, also outside the inner try: the outer one
    // keeps such code alive however the scheduler interleaves it with the signal.
    const code = [
      'import time',
      'def sleep_forever():',
      '    while True:',
      '        try:',
      '            time.sleep(0.05)',
      '        except KeyboardInterrupt:',
      '            print("ignored", flush=True)',
      'print("started", flush=True)',
      'while True:',
      '    try:',
      '        sleep_forever()',
      '    except KeyboardInterrupt:',
      '        print("ignored", flush=True)',
    ].join('\n');
    let sent = 0;
    const run = await cli(['exec', '-c', code], {
      onStdout: (text, child) => {
        if (sent === 0 && text.includes('started')) {
          sent = 1;
          child.kill('SIGINT');
        } else if (sent === 1 && text.includes('ignored')) {
          sent = 2;
          child.kill('SIGINT');
        }
      },
    });
    assert.equal(run.status, 130);
    assert.equal(sent, 2);
    assert.match(run.stderr, /stopping the gateways\n$/);
  });
});

describe('execnet status', () => {
  it('prints what the gateway runs and exits 0', async () => {
    const run = await cli(['status']);
    assert.equal(run.status, 0, run.stderr);
    const row = (key: string, value: string): RegExp =>
      new RegExp(`\\n  ${`${key}:`.padEnd(12)}${value}\\n`);
    assert.match(run.stdout, /^\[gw0\]\n/);
    assert.match(run.stdout, row('executable', '\\S+python\\S*'));
    assert.match(run.stdout, row('version', '3\\.\\d+\\.\\d+ \\(CPython\\)'));
    assert.match(run.stdout, row('pid', '\\d+'));
    assert.match(run.stdout, row('cwd', root));
    assert.match(run.stdout, row('host', os.hostname()));
    assert.match(run.stdout, row('channels', '\\d+ open, 0 executing'));
  });

  it('exits 3 when the gateway cannot start', async () => {
    const run = await cli(['status', '-g', 'popen//python=/nonexistent']);
    assert.equal(run.status, 3);
    assert.match(run.stderr, /did not start/);
  });
});
