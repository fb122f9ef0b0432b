// Integration tests in code-server's Node extension host, the way @vscode/test-electron runs them
// on a desktop: the workbench is opened with `extensionDevelopmentPath` (this repository) and
// `extensionTestsPath` (the bundled suites) in its payload; with the smoke-test driver enabled it
// loads both, runs run(), and calls window.codeAutomationExit(code) when the suites are done.

import fs from 'node:fs';
import { clearInterval, setInterval } from 'node:timers';
import path from 'node:path';
import {
  launchBrowser,
  log,
  makeWorkspace,
  prepareState,
  ROOT,
  startCodeServer,
  startSshdFixture,
} from './host.mjs';
import { startSystem, stopSystem } from '../systems.mjs';

/** Workspace settings of the tests: three local gateways, two of them a group. */
export const TEST_SETTINGS = {
  'execnet.gateways': [
    { name: 'local', spec: 'popen' },
    { name: 'a', spec: 'popen', group: 'pair' },
    { name: 'b', spec: 'popen', group: 'pair' },
  ],
  'execnet.defaultGateway': 'local',
  'execnet.terminateTimeout': 3,
};

const SELECTION_PY = `def compute():
    # the body below is what the test selects
    x = 6 * 7
    print("answer", x)
    channel.send(x); 1 / 0
`;

/** The folder the suites open: the examples plus the files and settings the tests use. */
export function makeTestWorkspace(dir) {
  const workspace = makeWorkspace(dir, TEST_SETTINGS);
  fs.writeFileSync(path.join(workspace, 'selection.py'), SELECTION_PY);
  fs.writeFileSync(path.join(workspace, 'scratch.py'), 'print("saved")\n');
  fs.writeFileSync(path.join(workspace, 'cwd.py'), 'import os\nprint("cwd", os.getcwd())\n');
  // for the sync: one file .gitignore leaves out, one folder execnet.rsync.exclude does
  fs.writeFileSync(path.join(workspace, '.gitignore'), 'ignored-by-git.txt\n');
  fs.writeFileSync(path.join(workspace, 'ignored-by-git.txt'), 'not synced\n');
  fs.mkdirSync(path.join(workspace, '__pycache__'));
  fs.writeFileSync(path.join(workspace, '__pycache__', 'x.pyc'), 'not synced\n');
  return workspace;
}

/** Runs the suites once; resolves true when they all passed. */
export async function runIntegration({ dir, tests, untrusted = false, timeoutMs = 300_000 }) {
  fs.mkdirSync(dir, { recursive: true });
  const state = prepareState(
    dir,
    untrusted
      ? {
          'security.workspace.trust.enabled': true,
          'security.workspace.trust.startupPrompt': 'never',
          'security.workspace.trust.banner': 'never',
        }
      : { 'security.workspace.trust.enabled': false },
  );
  const workspace = makeTestWorkspace(dir);
  const report = path.join(dir, 'report.txt');
  fs.writeFileSync(report, '');
  const label = untrusted ? 'untrusted' : 'integration';

  // ssh gateways against a private sshd on 127.0.0.1, where one is installed
  const sshd = untrusted ? undefined : await startSshdFixture();
  // Slurm gateways on a private cluster (SLURM_CONF reaches the extension host)
  const slurm = untrusted ? undefined : await startSystem(path.join(ROOT, 'test/slurm/system.ts'));
  if (slurm?.unavailable !== undefined) {
    log(`${label}: SKIPPED the Slurm suite: ${slurm.unavailable}`);
  }
  const host = await startCodeServer(state, {
    trust: untrusted,
    env: {
      EXECNET_TEST_REPORT: report,
      ...(untrusted ? { EXECNET_TEST_UNTRUSTED: '1' } : {}),
      ...(sshd ? { EXECNET_TEST_SSH: JSON.stringify(sshd) } : {}),
      ...(slurm?.env ?? {}),
    },
  });
  log(`${label}: code-server at ${host.url} (pid ${host.pid})`);
  const browser = await launchBrowser();
  let printed = 0;
  const printReport = () => {
    const text = fs.readFileSync(report, 'utf8');
    if (text.length > printed) {
      process.stdout.write(
        text
          .slice(printed)
          .replace(/^/gm, `  [${label}] `)
          .replace(/ {2}\[[a-z]+\] $/, ''),
      );
      printed = text.length;
    }
  };
  const tail = setInterval(printReport, 500);
  let code = 1;
  try {
    const { page } = browser;
    const authority = new URL(host.url).host;
    const remote = (p) => `vscode-remote://${authority}${path.resolve(p)}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(ROOT)],
      ['extensionTestsPath', remote(tests)],
    ]);
    let resolveExit;
    const exited = new Promise((resolve) => (resolveExit = resolve));
    await page.exposeFunction('codeAutomationExit', (c) => resolveExit(c));
    page.on('pageerror', (e) =>
      fs.appendFileSync(path.join(dir, 'browser.log'), `pageerror ${e.message}\n`),
    );
    page.on('console', (m) =>
      fs.appendFileSync(path.join(dir, 'browser.log'), `${m.type()} ${m.text()}\n`),
    );
    const url = `${host.url}?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the suites did not finish within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    await page.goto(url);
    code = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    log(`${label}: the extension host reported exit code ${code}`);
  } catch (error) {
    log(`${label}: ${error.message}`);
    await browser.page.screenshot({ path: path.join(dir, 'failure.png') }).catch(() => undefined);
  } finally {
    clearInterval(tail);
    printReport();
    await browser.close();
    await host.stop();
    await sshd?.stop();
    if (slurm?.child) {
      await stopSystem(slurm.child);
    }
  }
  if (fs.readFileSync(report, 'utf8') === '') {
    log(
      `${label}: the suites wrote nothing; see ${path.join(dir, 'browser.log')} and code-server.log`,
    );
    return false;
  }
  return code === 0;
}
