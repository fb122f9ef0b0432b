// How `execnet`'s command line is read: what belongs to the CLI and what to the remote script.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand, UsageError } from '../../src/cli/args';

describe('parseCommand', () => {
  it('reads help and version in their usual spellings', () => {
    for (const argv of [[], ['help'], ['-h'], ['--help'], ['run', '--help'], ['status', '-h']]) {
      assert.deepEqual(parseCommand(argv), { kind: 'help' }, argv.join(' '));
    }
    assert.deepEqual(parseCommand(['--version']), { kind: 'version' });
    assert.deepEqual(parseCommand(['-V']), { kind: 'version' });
  });

  it('run: options before the file are ours, everything after it is sys.argv[1:]', () => {
    assert.deepEqual(parseCommand(['run', '-g', 'popen', '--group', 'x.py', '-g', '--', 'a']), {
      kind: 'run',
      specs: ['popen'],
      grouped: true,
      stdin: false,
      file: 'x.py',
      args: ['-g', '--', 'a'],
    });
    assert.deepEqual(parseCommand(['run', '--', '-odd.py']), {
      kind: 'run',
      specs: ['popen'],
      grouped: false,
      stdin: false,
      file: '-odd.py',
      args: [],
    });
    const forwarded = parseCommand(['run', '-i', 'x.py', '-i']);
    assert.ok(forwarded.kind === 'run' && forwarded.stdin && forwarded.args[0] === '-i');
  });

  it('--gateway repeats; --python is the default gateway with that interpreter', () => {
    const run = parseCommand(['run', '--gateway', 'popen', '-g', 'popen//id=b', 'x.py']);
    assert.equal(run.kind, 'run');
    assert.deepEqual(run.kind === 'run' && run.specs, ['popen', 'popen//id=b']);
    const status = parseCommand(['status', '--python', '/opt/py/bin/python']);
    assert.deepEqual(status, { kind: 'status', specs: ['popen//python=/opt/py/bin/python'] });
  });

  it('exec: -c SOURCE (or - for stdin), positionals and what follows -- are sys.argv[1:]', () => {
    assert.deepEqual(parseCommand(['exec', '-c', '-', 'a', '--', '--b']), {
      kind: 'exec',
      specs: ['popen'],
      grouped: false,
      stdin: false,
      source: '-',
      args: ['a', '--b'],
    });
  });

  it('refuses what it cannot read with a UsageError that says why', () => {
    const cases: Array<[string[], RegExp]> = [
      [['frob'], /unknown command 'frob'/],
      [['--frob'], /unknown option '--frob'/],
      [['run'], /which file/],
      [['run', '--nope', 'x.py'], /^unknown option '--nope'$/],
      [['run', '-g'], /^option '-g, --gateway <value>' argument missing/],
      [['exec', 'print(1)'], /-c SOURCE/],
      [['exec', '-i', '-c', '-'], /-c - reads the source from standard input/],
      [['status', 'extra'], /^unexpected argument 'extra'/],
      [
        ['exec', '--pyhton', 'python3', '-c', '1'],
        /^unknown option '--pyhton' — did you mean '--python'\?$/,
      ],
      [['run', '--gruop', 'x.py'], /^unknown option '--gruop' — did you mean '--group'\?$/],
      [['--verison'], /^unknown option '--verison' — did you mean '--version'\?$/],
      [['rnu', 'x.py'], /^unknown command 'rnu' — did you mean 'run'\?$/],
      [['--python', 'python3', 'run', 'x.py'], /^'--python' goes after the command/],
      [['run', '--python', 'p', '-g', 'popen', 'x.py'], /--python applies to the default gateway/],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseCommand(argv),
        (e: unknown) => {
          assert.ok(e instanceof UsageError, `${argv.join(' ')}: ${String(e)}`);
          assert.match(e.message, message, argv.join(' '));
          assert.match(e.message, /^[^A-Z]/, 'starts lower-case, like the other messages');
          return true;
        },
      );
    }
  });
});
