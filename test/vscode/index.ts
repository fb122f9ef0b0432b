// The entry VS Code loads for the integration tests (`extensionTestsPath`), as @vscode/test-electron
// and the code-server runner both do: run() runs the mocha suites inside the extension host and
// rejects when any test failed. Each reported line goes to the console and, when
// EXECNET_TEST_REPORT names a file, to that file (the runner prints it as it grows).

import fs from 'node:fs';
import Mocha from 'mocha';

class LineReporter {
  constructor(runner: Mocha.Runner) {
    const file = process.env.EXECNET_TEST_REPORT;
    const out = (line: string): void => {
      console.log(line);
      if (file) {
        fs.appendFileSync(file, `${line}\n`);
      }
    };
    let passes = 0;
    let failures = 0;
    let pending = 0;
    const started = Date.now();
    runner.on('suite', (suite) => {
      if (suite.title) {
        out(`${'  '.repeat(depth(suite))}${suite.title}`);
      }
    });
    runner.on('pass', (test) => {
      passes++;
      out(`${'  '.repeat(depth(test))}ok - ${test.title} (${test.duration ?? 0} ms)`);
    });
    runner.on('pending', (test) => {
      pending++;
      out(`${'  '.repeat(depth(test))}skip - ${test.title}`);
    });
    runner.on('fail', (test, error: Error) => {
      failures++;
      out(`${'  '.repeat(depth(test))}FAIL - ${test.fullTitle()}`);
      out(String(error.stack ?? error).replace(/^/gm, '      '));
    });
    runner.once('end', () => {
      out(
        `${passes} passed, ${failures} failed, ${pending} skipped (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
    });
  }
}

function depth(node: { parent?: { parent?: unknown; title?: string } }): number {
  let d = 0;
  for (
    let p = node.parent as { parent?: unknown; title?: string } | undefined;
    p?.title;
    p = p.parent as typeof p
  ) {
    d++;
  }
  return d;
}

export async function run(): Promise<void> {
  const grep = process.env.EXECNET_TEST_GREP;
  const mocha = new Mocha({
    ui: 'bdd',
    color: false,
    timeout: 60_000,
    reporter: LineReporter as unknown as typeof Mocha.reporters.Base,
    ...(grep ? { grep } : {}),
  });
  mocha.suite.emit('pre-require', globalThis, 'execnet-suites', mocha);
  // The suites register themselves when loaded, after the globals exist.
  /* eslint-disable @typescript-eslint/no-require-imports */
  if (process.env.EXECNET_TEST_UNTRUSTED) {
    require('./suites/untrusted.test');
  } else {
    require('./suites/activation.test');
    require('./suites/gateways.test');
    require('./suites/run.test');
    require('./suites/channels.test');
    require('./suites/runloop.test');
    require('./suites/organize.test');
    require('./suites/sync.test');
    require('./suites/ssh.test');
    require('./suites/interactive.test');
    require('./suites/debug.test');
    require('./suites/slurm.test');
    require('./suites/deactivation.test');
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) {
    throw new Error(`${failures} integration test(s) failed`);
  }
}
