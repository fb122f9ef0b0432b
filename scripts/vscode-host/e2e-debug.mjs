// UI walk of debugging on a gateway in the browser workbench, against the packaged .vsix: a
// breakpoint set with F9 in a module of the workspace, Debug File on Gateway from the editor's Run
// menu, the stop on the line, a variable read from the Variables view, step over, continue to the
// end with the program's output in the Debug Console, an uncaught exception stop, F5 with the
// workspace's launch.json, and the same
// breakpoint on an ssh gateway (the workspace synced first) from the gateway's row. Afterwards no
// debugpy process is left. A screenshot of every step goes to <dir>/screenshots.

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openFile, runCommand, textOf } from './e2e.mjs';
import { waitTerminal } from './e2e-interactive.mjs';
import { log, makeWorkspace, startSshdFixture, uiWalk } from './host.mjs';

const PYTHON = '/usr/bin/python3';

const GREET_PY = `name = input("your name? ")
greeting = f"hello {name}"
print(greeting)
`;

const RATIO_PY = `def ratio(a, b):
    return a / b


print(ratio(1, 0))
`;

/** What F5 starts in the walk: basket.py with an argument, on the configured local gateway. */
const LAUNCH = {
  type: 'execnet',
  request: 'launch',
  name: 'Execnet: basket.py on local',
  gateway: 'local',
  program: '${workspaceFolder}/basket.py',
  args: ['2'],
};

/** Where Sync Workspace puts the workspace on the gateways of the walk. */
function mirrorOf(outside) {
  return path.join(outside, 'mirror');
}

/** 1-based number of the first line of a workspace file that contains `text`. */
function lineOf(workspace, file, text) {
  const lines = fs.readFileSync(path.join(workspace, file), 'utf8').split('\n');
  const index = lines.findIndex((l) => l.includes(text));
  if (index < 0) {
    throw new Error(`${file} has no line with ${text}`);
  }
  return index + 1;
}

/** Live processes carrying the mark in their environment whose command line names debugpy. */
function debugpyProcesses(mark) {
  const needle = Buffer.from(`EXECNET_TEST_MARK=${mark}\0`);
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      if (/^State:\s+Z/m.test(fs.readFileSync(`/proc/${entry}/status`, 'utf8'))) {
        continue;
      }
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (
        cmdline.includes('debugpy') &&
        fs.readFileSync(`/proc/${entry}/environ`).includes(needle)
      ) {
        found.push(`${entry} ${cmdline.trim()}`);
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function waitNoDebugpy(mark, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let left = debugpyProcesses(mark);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = debugpyProcesses(mark);
  }
  if (left.length > 0) {
    throw new Error(`debugpy processes are left after the session:\n${left.join('\n')}`);
  }
}

export async function runDebugE2E({ dir, vsix }) {
  const mark = `m${randomUUID().replace(/-/g, '')}`;
  const sshd = await startSshdFixture();
  try {
    return await uiWalk(
      {
        name: 'e2e-debug',
        dir,
        vsix,
        // the adapter's loopback ports are nobody's business here
        settings: {
          'remote.autoForwardPorts': false,
          // the program's terminal is read from the DOM
          'terminal.integrated.gpuAcceleration': 'off',
        },
        // marks every process the walk starts, debugpy's among them
        env: { EXECNET_TEST_MARK: mark },
        workspace: (outside) => {
          const workspace = makeWorkspace(outside, {
            'execnet.gateways': [
              { name: 'local', spec: `popen//python=${PYTHON}` },
              ...(sshd
                ? [
                    {
                      name: 'lab',
                      spec: `${sshd.known}//env:XDG_CACHE_HOME=${outside}/remote-cache`,
                    },
                  ]
                : []),
            ],
            'execnet.defaultGateway': 'local',
            'execnet.rsync.target': mirrorOf(outside),
          });
          fs.writeFileSync(path.join(workspace, 'ratio.py'), RATIO_PY);
          fs.writeFileSync(path.join(workspace, 'greet.py'), GREET_PY);
          fs.writeFileSync(
            path.join(workspace, '.vscode', 'launch.json'),
            JSON.stringify({ version: '0.2.0', configurations: [LAUNCH] }, null, 2),
          );
          return workspace;
        },
      },
      (walked) => walk({ ...walked, mark, sshd }),
    );
  } finally {
    await sshd?.stop();
  }
}

/** The steps, in the workbench; `mark` is on every process started, `sshd` may be undefined. */
async function walk({ page, shot, workspace, outside, mark, sshd }) {
  const mirror = mirrorOf(outside);
  const grossLine = lineOf(workspace, 'prices.py', 'gross = ');
  const toolbar = page.locator('.debug-toolbar');
  /** The editor shows the stop: the file's tab is active and the cursor is on the line. */
  const waitStop = async (file, line, timeout = 60_000) => {
    await page.locator('.tabs-container .tab.active', { hasText: file }).waitFor({ timeout });
    await page
      .locator('.statusbar-item', { hasText: new RegExp(`Ln ${line}, Col \\d+`) })
      .first()
      .waitFor({ timeout });
    await page.locator('.debug-top-stack-frame-line').first().waitFor({ timeout });
  };
  /** F9 on a line of the active editor: sets or removes its breakpoint. */
  const toggleBreakpoint = async (line) => {
    await page.keyboard.press('Control+G');
    await page.keyboard.type(String(line));
    await page.keyboard.press('Enter');
    await page.keyboard.press('F9');
  };
  /** The value the Variables view shows for a local variable (its row reads `name = value`). */
  const variable = async (name) => {
    const row = page
      .locator('.debug-variables .monaco-list-row', { hasText: new RegExp(`^${name}\\s*=`) })
      .first();
    await row.waitFor({ timeout: 30_000 });
    return (await textOf(row)).replace(/^[^=]+=\s*/, '').trim();
  };
  await page
    .locator('.activitybar .action-item a[aria-label^="Execnet"]')
    .waitFor({ timeout: 60_000 });

  // 1. F9 sets a breakpoint in the module that basket.py imports
  await openFile(page, 'prices.py');
  await toggleBreakpoint(grossLine);
  await page.locator('.codicon-debug-breakpoint').first().waitFor({ timeout: 15_000 });
  await shot('breakpoint-set');

  // 2. basket.py: Debug File on Gateway from the editor title's Run menu
  await openFile(page, 'basket.py');
  const runMenu = page.locator('.editor-actions .action-item .monaco-dropdown').first();
  await runMenu.click();
  const menuItem = page.locator('.monaco-menu .action-item', {
    hasText: 'Debug File on Gateway',
  });
  await menuItem.waitFor({ timeout: 15_000 });
  await page.waitForTimeout(300); // the menu fades in: let the screenshot show it whole
  await shot('run-menu');
  const started = Date.now();
  await menuItem.click();

  // 3. the stop: prices.py at the breakpoint, the toolbar, the call stack and variables
  await waitStop('prices.py', grossLine);
  await toolbar.waitFor({ timeout: 15_000 });
  log(`e2e-debug: Debug File → stopped on the line in ${Date.now() - started} ms (popen)`);
  const net = await variable('net');
  if (net !== '1.5') {
    throw new Error(`the Variables view shows net = ${net}, not 1.5`);
  }
  await shot('stopped-at-breakpoint');

  // 4. F10 steps over: the next line
  await page.keyboard.press('F10');
  await waitStop('prices.py', grossLine + 1);
  const gross = await variable('gross');
  if (gross !== '1.875') {
    throw new Error(`after the step the Variables view shows gross = ${gross}, not 1.875`);
  }
  await shot('stepped-over');

  // 5. without the breakpoint, F5 continues to the end; the output is in the Debug Console
  await toggleBreakpoint(grossLine);
  await page.keyboard.press('F5');
  await toolbar.waitFor({ state: 'hidden', timeout: 30_000 });
  await runCommand(page, 'Debug Console: Focus on Debug Console View');
  await page
    .locator('.repl .monaco-list-row', { hasText: 'total 6.76' })
    .first()
    .waitFor({ timeout: 15_000 });
  await shot('ended-debug-console');
  await waitNoDebugpy(mark);

  // 6. an uncaught exception stops where it is raised, with its message
  await openFile(page, 'ratio.py');
  await runCommand(page, 'Execnet: Debug File on Gateway');
  await waitStop('ratio.py', 2);
  await page
    .locator('.exception-widget', { hasText: 'ZeroDivisionError' })
    .waitFor({ timeout: 15_000 });
  await shot('uncaught-exception');
  await page.keyboard.press('Shift+F5');
  await toolbar.waitFor({ state: 'hidden', timeout: 30_000 });
  await waitNoDebugpy(mark);

  // 6b. input() of the program reads a line typed in its terminal (on the gateway's host)
  await openFile(page, 'greet.py');
  await toggleBreakpoint(3);
  await runCommand(page, 'Execnet: Debug File on Gateway');
  await waitTerminal(page, /your name\?$/m);
  await page.locator('.part.panel .terminal-wrapper.active').click();
  await page.keyboard.type('Ada');
  await page.keyboard.press('Enter');
  await waitStop('greet.py', 3);
  const greeting = await variable('greeting');
  if (greeting !== "'hello Ada'") {
    throw new Error(`after typing Ada the Variables view shows greeting = ${greeting}`);
  }
  await shot('input-typed-in-program-terminal');
  await page.keyboard.press('Shift+F5');
  await toolbar.waitFor({ state: 'hidden', timeout: 30_000 });
  await waitNoDebugpy(mark);

  // 7. F5 starts the workspace's launch.json configuration (type execnet, args given there)
  await openFile(page, 'prices.py');
  await toggleBreakpoint(grossLine);
  await openFile(page, 'basket.py');
  const f5 = Date.now();
  await page.keyboard.press('F5');
  await waitStop('prices.py', grossLine);
  log(`e2e-debug: F5 → stopped on the line in ${Date.now() - f5} ms (popen, launch.json)`);
  const quantity = await variable('net');
  if (quantity !== '3.0') {
    throw new Error(`with args ["2"] the Variables view shows net = ${quantity}, not 3.0`);
  }
  await shot('f5-launch-json');
  await page.keyboard.press('Shift+F5');
  await toolbar.waitFor({ state: 'hidden', timeout: 30_000 });
  await toggleBreakpoint(grossLine);
  await waitNoDebugpy(mark);

  // 8. the same breakpoint on an ssh gateway, from its row: synced first, debugpy shipped
  if (sshd) {
    // back from the Debug Console to the editor
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
    await openFile(page, 'prices.py');
    await toggleBreakpoint(grossLine);
    await openFile(page, 'basket.py');
    await runCommand(page, 'Execnet: New Gateway…');
    await page
      .locator('.quick-input-list .monaco-list-row', { hasText: 'lab' })
      .first()
      .waitFor({ timeout: 15_000 });
    await page.keyboard.type('lab');
    await page.keyboard.press('Enter');
    await page.locator('.activitybar .action-item a[aria-label^="Execnet"]').click();
    const view = page.locator('.pane', {
      has: page.locator('.pane-header', { hasText: 'Gateways' }),
    });
    const lab = view.locator('.monaco-list-row', { hasText: 'lab' }).first();
    await lab.locator('.label-description', { hasText: /alive/ }).waitFor({ timeout: 30_000 });
    await lab.click({ button: 'right' });
    const debugHere = page.locator('.monaco-menu .action-item', {
      hasText: 'Debug File on Gateway',
    });
    await debugHere.waitFor({ timeout: 15_000 });
    const sshStarted = Date.now();
    // a click that lands while the menu still settles is lost: the menu stays open
    for (let attempt = 0; attempt < 3 && (await debugHere.isVisible()); attempt++) {
      await debugHere.click();
      await page
        .locator('.monaco-menu')
        .waitFor({ state: 'hidden', timeout: 3_000 })
        .catch(() => undefined);
    }
    await waitStop('prices.py', grossLine, 120_000);
    log(
      `e2e-debug: Debug File → stopped on the line in ${Date.now() - sshStarted} ms (ssh, synced, debugpy shipped)`,
    );
    if (!fs.existsSync(path.join(mirror, 'prices.py'))) {
      throw new Error(`the workspace was not synced to ${mirror}`);
    }
    const remoteNet = await variable('net');
    if (remoteNet !== '1.5') {
      throw new Error(`over ssh the Variables view shows net = ${remoteNet}, not 1.5`);
    }
    // the debug console evaluates in the paused frame: the code runs from the mirror
    await runCommand(page, 'Debug Console: Focus on Debug Console View');
    // type only once the console's input has the focus, not the editor
    await page.waitForFunction(
      () => globalThis.document.activeElement?.closest('.repl-input-wrapper'),
      null,
      { timeout: 15_000 },
    );
    await page.keyboard.type('__file__');
    await page.keyboard.press('Enter');
    await page
      .locator('.repl .monaco-list-row', { hasText: path.join(mirror, 'prices.py') })
      .first()
      .waitFor({ timeout: 15_000 });
    await shot('stopped-on-ssh-gateway');
    await toggleBreakpoint(grossLine);
    await page.keyboard.press('F5');
    await toolbar.waitFor({ state: 'hidden', timeout: 30_000 });
    await waitNoDebugpy(mark);
  } else {
    log('e2e-debug: no sshd here: the ssh steps are skipped');
  }
}
