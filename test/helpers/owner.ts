// An owner: a Node process of its own that runs engine code and says what it did in lines on
// stdout, for tests that end it at a moment of their choosing (SIGKILL, SIGTERM as a test
// runner's timeout sends) and check what it leaves behind. EXECNET_TEST_MARK is in its
// environment, so everything it starts carries the mark (salloc and cat, srun, a via= login
// node and what runs there, the reapers, the tasks): leftoverProcesses(mark) finds all of it.
// An owner whose test process goes loses its stdin and exits, so none outlives its test.

import { spawn } from 'node:child_process';
import { newMark } from './processes';

export interface Owner {
  readonly pid: number;
  readonly mark: string;
  /** Everything it printed so far (stdout and stderr). */
  readonly output: string;
  /** Waits for a line of its stdout that matches; rejects with its output if it ends first. */
  line(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** A line on its stdin (`commands` in the script). */
  send(line: string): void;
  /** Sends the signal (unless it has exited) and waits until it has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Resolves when it has exited. */
  readonly exited: Promise<void>;
}

/**
 * Runs `body(mark)` (the inside of an async function, run through tsx) with `Group`, `say(...)`
 * (one line on stdout) and `command()` (the next line of stdin) in scope; `env` is added to its
 * environment (SLURM_CONF of another cluster, say).
 */
export function startOwner(
  body: (mark: string) => string,
  env: Readonly<Record<string, string>> = {},
): Owner {
  const mark = newMark();
  const group = JSON.stringify(require.resolve('../../src/core/group'));
  const script = `
    const { Group } = require(${group});
    process.stdout.on('error', () => {});
    const say = (...words) => process.stdout.write(words.join(' ') + '\\n');
    const lines = require('node:readline').createInterface({ input: process.stdin });
    const queued = [];
    const waiting = [];
    lines.on('line', (line) => (waiting.length > 0 ? waiting.shift()(line) : queued.push(line)));
    lines.on('close', () => process.exit(0)); // the test is gone
    const command = () =>
      queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((r) => waiting.push(r));
    (async () => {
      ${body(mark)}
    })().catch((error) => say('failed', String(error && error.message).replace(/\\n/g, ' ')));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env, EXECNET_TEST_MARK: mark },
  });
  child.stdin.on('error', () => undefined);
  let output = '';
  let stdout = '';
  const listeners = new Set<() => void>();
  const heard = (): void => listeners.forEach((listener) => listener());
  child.stdout.on('data', (data: Buffer) => {
    output += data.toString();
    stdout += data.toString();
    heard();
  });
  child.stderr.on('data', (data: Buffer) => {
    output += data.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(heard);
  return {
    pid: child.pid!,
    mark,
    get output() {
      return output;
    },
    line(pattern, ms = 60_000) {
      const anchored = new RegExp(pattern.source, `${pattern.flags.replace('m', '')}m`);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no line ${pattern} within ${ms} ms`)), ms);
        const done = (error?: Error, match?: RegExpExecArray): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (match) {
            resolve(match);
          } else {
            reject(new Error(`${error?.message}; the owner printed:\n${output}`));
          }
        };
        const check = (): void => {
          const match = anchored.exec(stdout);
          if (match) {
            done(undefined, match);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done(new Error(`the owner ended before printing ${pattern}`));
          }
        };
        listeners.add(check);
        check();
      });
    },
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
      }
      await exited;
    },
  };
}
