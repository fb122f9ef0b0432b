// UI walk of the run loop in the browser workbench, against the packaged .vsix: the default
// gateway before it starts, New Gateway with ~/.ssh/config hosts and a recent spec, run and
// re-run while running, Stop Run with Ctrl+Alt+M (an interrupt, and by force for code that
// ignores it), stdin in a terminal (from the hint of a run that read input), Run File with
// Arguments and Re-run Last, a sibling import, a traceback through a second module opening that
// module's line, a group run's combined output, a sibling import on an ssh gateway after Sync and
// Run Again, New Group, and Terminate Gateways (All) with its question. A screenshot per step
// goes to <dir>/screenshots.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openFile, runCommand, textOf, waitOutput } from './e2e.mjs';
import { waitTerminal } from './e2e-interactive.mjs';
import { log, makeWorkspace, startSshdFixture, uiWalk } from './host.mjs';

const PYTHON = '/usr/bin/python3';

const FILES = {
  'ticker.py': 'import time\nprint("tick", flush=True)\nwhile True:\n    time.sleep(0.1)\n',
  'stubborn.py': [
    'import subprocess, time',
    'child = subprocess.Popen(["sleep", "300"])',
    'print("started a child process", child.pid, flush=True)',
    'while True:',
    '    try:',
    '        time.sleep(0.2)',
    '    except KeyboardInterrupt:',
    '        print("ignoring the interrupt", flush=True)',
    '',
  ].join('\n'),
  'ask.py': [
    'import sys',
    'name = input("name? ")',
    'print("hello", name)',
    'line = sys.stdin.readline()',
    'print("read", repr(line))',
    'try:',
    '    input()',
    'except EOFError:',
    '    print("end of input")',
    '',
  ].join('\n'),
  'args.py': [
    'import os, sys',
    'print("argv", sys.argv[1:])',
    'print("sys.path[0]", sys.path[0])',
    'print("__name__", __name__)',
    '',
  ].join('\n'),
  'helper.py': 'GREETING = "hello from helper.py"\n\n\ndef ratio(x):\n    return 10 / x\n',
  'uses_helper.py': 'import helper\n\nprint(helper.GREETING)\n',
  'calls_helper.py': 'import helper\n\n\ndef main():\n    helper.ratio(0)\n\n\nmain()\n',
};

/** Where Sync Workspace puts the workspace on the ssh gateway. */
function mirrorOf(outside) {
  return path.join(outside, 'mirror');
}

function pyenvRoot() {
  try {
    return execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

export async function runRunLoopE2E({ dir, vsix }) {
  const sshd = await startSshdFixture();
  // a home of its own, with an ssh config whose hosts New Gateway offers
  const home = path.join(dir, 'home');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
  fs.writeFileSync(
    path.join(home, '.ssh', 'config'),
    'Host lab-gpu\n  HostName 10.0.0.7\nHost build-box\n  User ci\nHost *.internal\n  User me\n',
  );
  const root = pyenvRoot();
  try {
    return await uiWalk(
      {
        name: 'e2e-run',
        dir,
        vsix,
        settings: { 'terminal.integrated.gpuAcceleration': 'off' },
        env: { HOME: home, ...(root ? { PYENV_ROOT: root } : {}) },
        workspace: (outside) => {
          const workspace = makeWorkspace(outside, {
            'execnet.gateways': [
              { name: 'local', spec: `popen//python=${PYTHON}//chdir=\${workspaceFolder}` },
              { name: 'a', spec: `popen//python=${PYTHON}`, group: 'pair' },
              { name: 'b', spec: `popen//python=${PYTHON}`, group: 'pair' },
            ],
            'execnet.defaultGateway': 'local',
            'execnet.run.stopTimeout': 1,
            'execnet.run.whenRunning': 'ask',
            'execnet.rsync.target': mirrorOf(outside),
          });
          for (const [name, text] of Object.entries(FILES)) {
            fs.writeFileSync(path.join(workspace, name), text);
          }
          return workspace;
        },
      },
      (walked) => walk({ ...walked, sshd }),
    );
  } finally {
    await sshd?.stop();
  }
}

/** A toast with `text`, and its button `button` clicked. */
async function clickToast(page, text, button) {
  const toast = page
    .locator('.notifications-toasts .notification-toast', { hasText: text })
    .first();
  await toast.waitFor({ timeout: 30_000 });
  await toast.locator('.monaco-button', { hasText: button }).first().click();
}

/** Close the toast with `text` if it shows (the workbench's own tips would hide the panel). */
async function dismissToast(page, text) {
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: text });
  if (await toast.first().isVisible()) {
    await toast.first().hover();
    await toast.first().locator('.codicon-notifications-clear').click();
  }
}

/** In an open gateway picker: Enter a spec…, then `spec`, then Enter. */
async function enterSpec(page, spec) {
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Enter a spec' }).waitFor();
  await page.keyboard.type('Enter a spec');
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget', { hasText: 'gateway spec' }).waitFor();
  await page.locator('.quick-input-widget input').fill(spec);
  await page.keyboard.press('Enter');
}

/** The steps, in the workbench; `sshd` may be undefined. */
async function walk({ page, shot, workspace, outside, sshd }) {
  const activity = page.locator('.activitybar .action-item a[aria-label^="Execnet"]');
  await activity.waitFor({ timeout: 60_000 });
  await activity.click();
  const view = page.locator('.pane', {
    has: page.locator('.pane-header', { hasText: 'Gateways' }),
  });
  const status = (text) => page.locator('.statusbar-item', { hasText: text }).first();

  // 1. before anything starts, the status bar names the configured default gateway
  await status('local (not started)').waitFor({ timeout: 30_000 });
  await shot('default-not-started');

  // 2. New Gateway: a typed spec starts and is remembered…
  await runCommand(page, 'Execnet: New Gateway…');
  await enterSpec(page, `popen//python=${PYTHON}//id=scratch`);
  await view
    .locator('.monaco-list-row', { hasText: 'scratch' })
    .locator('.label-description', { hasText: /alive/ })
    .waitFor({ timeout: 30_000 });
  //    …and offered again with the hosts of ~/.ssh/config and the configured gateways, whose
  //    ${workspaceFolder} shows resolved
  await runCommand(page, 'Execnet: New Gateway…');
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.filter({ hasText: 'lab-gpu' }).first().waitFor();
  await rows.filter({ hasText: 'id=scratch' }).first().waitFor();
  await rows
    .filter({ hasText: `chdir=${workspace}` })
    .first()
    .waitFor();
  if ((await rows.filter({ hasText: '*.internal' }).count()) > 0) {
    throw new Error('a Host pattern of ~/.ssh/config is offered');
  }
  await shot('new-gateway-ssh-hosts-and-recent');
  await page.keyboard.type('local');
  await page.keyboard.press('Enter');
  await status(/^\s*local\s*$/)
    .waitFor({ timeout: 30_000 })
    .catch(() => undefined);
  await view
    .locator('.monaco-list-row', { hasText: /^local/ })
    .locator('.label-description', { hasText: /alive/ })
    .first()
    .waitFor({ timeout: 30_000 });

  // 3. a run: the editor title gets a stop button, the status bar says what runs and for how long
  await openFile(page, 'ticker.py');
  await page.keyboard.press('Control+Alt+E');
  await waitOutput(page, /^tick$/m);
  const stopButton = page.locator('.editor-actions .action-label[aria-label*="Stop Run"]');
  await stopButton.first().waitFor({ timeout: 15_000 });
  await status(/ticker\.py on local · \d+:\d\d/).waitFor({ timeout: 15_000 });
  await shot('running-stop-button-and-status');

  // 4. running it again while it runs asks (execnet.run.whenRunning = ask): stopped and run
  //    again, both runs show, one after the other
  await page.keyboard.press('Control+Alt+E');
  const ask = page.locator('.monaco-dialog-box', { hasText: 'still running on local' });
  await ask.waitFor({ timeout: 15_000 });
  await shot('rerun-asks');
  await ask.locator('.monaco-button', { hasText: 'Stop and Run Again' }).click();
  await waitOutput(
    page,
    /ticker\.py on local was interrupted after[\s\S]*─{20,}[\s\S]*ticker\.py started on local/,
  );
  await shot('rerun-while-running');

  // 5. Stop Run on its key
  await page.keyboard.press('Control+Alt+M');
  await waitOutput(page, /KeyboardInterrupt[\s\S]*ticker\.py on local was interrupted after/);
  await stopButton.first().waitFor({ state: 'detached', timeout: 15_000 });
  await shot('stopped-with-ctrl-alt-m');

  // 6. code that ignores the interrupt is ended after execnet.run.stopTimeout, with its child
  await openFile(page, 'stubborn.py');
  await page.keyboard.press('Control+Alt+E');
  const started = await waitOutput(page, /started a child process (\d+)/);
  const child = Number(/started a child process (\d+)/.exec(started)?.[1]);
  await page.keyboard.press('Control+Alt+M');
  await waitOutput(
    page,
    /ignoring the interrupt[\s\S]*was stopped after .*it did not end when interrupted; 1 process it started ended/,
  );
  if (
    fs.existsSync(`/proc/${child}`) &&
    !/State:\s+Z/.test(fs.readFileSync(`/proc/${child}/status`, 'utf8'))
  ) {
    throw new Error(`the child process ${child} of stubborn.py still runs`);
  }
  await shot('stopped-by-force');

  // 7. input() in an output channel: EOFError, and a hint that runs it in a terminal…
  await openFile(page, 'ask.py');
  await page.keyboard.press('Control+Alt+E');
  await waitOutput(page, /EOFError/);
  await page
    .locator('.notifications-toasts .notification-toast', { hasText: 'reads input' })
    .first()
    .waitFor({ timeout: 30_000 });
  await shot('input-hint');
  await clickToast(page, 'reads input', 'Run in Terminal');
  //    …where typed lines reach input() and readline(), and Ctrl+D ends the input
  await waitTerminal(page, /name\?/);
  await page.keyboard.type('Ada');
  await page.keyboard.press('Enter');
  await waitTerminal(page, /hello Ada/);
  await page.keyboard.type('a second line');
  await page.keyboard.press('Enter');
  await waitTerminal(page, /read 'a second line\\n'/);
  await shot('terminal-typed-lines');
  await page.keyboard.press('Control+D');
  await waitTerminal(page, /end of input[\s\S]*ask\.py on local finished in/);
  await page.waitForTimeout(500);
  await dismissToast(page, /keybindings/);
  await shot('terminal-ctrl-d-and-exit-line');

  // 8. Run File with Arguments: sys.argv[1:], the file's folder first on sys.path, __main__
  await openFile(page, 'args.py');
  await runCommand(page, 'Execnet: Run File on Gateway with Arguments…');
  const argsBox = page.locator('.quick-input-widget', { hasText: 'with Arguments' });
  await argsBox.waitFor({ timeout: 15_000 });
  await page.keyboard.type(`--epochs 3 'two words'`);
  await shot('run-with-arguments');
  await page.keyboard.press('Enter');
  await waitOutput(page, /argv \['--epochs', '3', 'two words'\][\s\S]*__name__ __main__/);
  await shot('arguments-seen');

  // 9. Re-run Last on its key, from another file: the same file and arguments again
  await openFile(page, 'helper.py');
  await page.keyboard.press('Control+Alt+Shift+E');
  await waitOutput(
    page,
    /─{20,}[\s\S]*argv \['--epochs', '3', 'two words'\][\s\S]*args\.py on local finished/,
  );
  await shot('rerun-last');

  // 10. a sibling module imports
  await openFile(page, 'uses_helper.py');
  await page.keyboard.press('Control+Alt+E');
  await waitOutput(page, /hello from helper\.py[\s\S]*uses_helper\.py on local finished/);
  await shot('sibling-import-local');

  // 11. a traceback through a second module: its frame opens that module's line, where the
  //     error also shows
  await openFile(page, 'calls_helper.py');
  await page.keyboard.press('Control+Alt+E');
  await waitOutput(page, /ZeroDivisionError: division by zero/);
  const frame = page
    .locator('.part.panel .monaco-editor .view-line', {
      hasText: /helper\.py",\sline\s5,\sin\sratio/,
    })
    .first();
  const link = frame.locator('.detected-link').first();
  await link.waitFor({ timeout: 15_000 });
  await dismissToast(page, /keybindings/);
  await shot('traceback-through-helper');
  await link.click({ modifiers: ['Control'] });
  await page
    .locator('.tabs-container .tab.active', { hasText: 'helper.py' })
    .waitFor({ timeout: 15_000 });
  await status(/Ln 5, Col \d+/).waitFor({ timeout: 15_000 });
  await page.locator('.monaco-editor .squiggly-error').first().waitFor({ timeout: 15_000 });
  await shot('helper-line-opened-with-error');

  // 12. Run File on Group: one combined output, every line with its gateway, a summary
  await openFile(page, 'fanout.py');
  await runCommand(page, 'Execnet: Run File on Group');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'pair' }).first().waitFor();
  await page.keyboard.type('pair');
  await page.keyboard.press('Enter');
  await waitOutput(
    page,
    /\[a\] finished in[\s\S]*fanout\.py on group pair: 2 finished in|\[b\] finished in[\s\S]*fanout\.py on group pair: 2 finished in/,
    60_000,
  );
  await shot('group-combined-output');

  // 13. New Group, with a gateway picked for it
  await runCommand(page, 'Execnet: New Group…');
  await page.locator('.quick-input-widget', { hasText: 'New Group' }).waitFor();
  await page.keyboard.type('lab');
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget', { hasText: 'Add a Gateway to Group lab' }).waitFor();
  await enterSpec(page, `popen//python=${PYTHON}//id=lab1`);
  await view
    .locator('.monaco-list-row', { hasText: 'lab' })
    .locator('.label-description', { hasText: '1 of 1 alive' })
    .first()
    .waitFor({ timeout: 30_000 });
  await shot('new-group');

  // 14. a sibling import on an ssh gateway: missing there, found after Sync and Run Again
  if (sshd) {
    await runCommand(page, 'Execnet: New Gateway…');
    await enterSpec(page, `${sshd.known}//id=remote`);
    const remoteRow = view.locator('.monaco-list-row', { hasText: 'remote' }).first();
    await remoteRow
      .locator('.label-description', { hasText: /alive/ })
      .waitFor({ timeout: 30_000 });
    await openFile(page, 'uses_helper.py');
    await remoteRow.hover();
    await remoteRow.locator('.action-label[aria-label^="Run File on Gateway"]').click();
    await waitOutput(page, /ModuleNotFoundError: No module named 'helper'/);
    await page
      .locator('.notifications-toasts .notification-toast', { hasText: "has no module 'helper'" })
      .first()
      .waitFor({ timeout: 30_000 });
    await shot('ssh-module-missing-hint');
    await clickToast(page, "has no module 'helper'", 'Sync and Run Again');
    await waitOutput(
      page,
      /hello from helper\.py[\s\S]*uses_helper\.py on remote finished/,
      60_000,
    );
    if (!fs.existsSync(path.join(mirrorOf(outside), 'helper.py'))) {
      throw new Error('the sync did not reach the mirror');
    }
    await shot('ssh-sibling-import-after-sync');
  } else {
    log('e2e-run: no sshd here: the ssh steps are skipped');
  }

  // 15. Always Run in Terminal (from the hint): a traceback there links to the module's line too
  await openFile(page, 'ask.py');
  await page.keyboard.press('Control+Alt+E');
  await clickToast(page, 'reads input', 'Always Run in Terminal');
  await waitTerminal(page, /name\?/);
  await page.keyboard.press('Control+D');
  await waitTerminal(page, /ask\.py on local failed after .*EOFError/);
  await openFile(page, 'calls_helper.py');
  await page.keyboard.press('Control+Alt+E');
  await waitTerminal(
    page,
    /ZeroDivisionError: division by zero[\s\S]*calls_helper\.py on local failed/,
  );
  // the row of helper.py's frame (rows are DOM: GPU acceleration is off)
  const terminalRows = page.locator('.part.panel .terminal-wrapper.active .xterm-rows > div');
  const texts = (await terminalRows.allInnerTexts()).map((t) => t.replace(/\u00a0/g, ' '));
  const index = texts.findIndex((t) => /helper\.py", line 5, in ratio/.test(t));
  if (index < 0) {
    throw new Error(`no frame of helper.py in the terminal:\n${texts.join('\n')}`);
  }
  // xterm's own layers lie over its rows: the mouse goes where the row is
  const box = await terminalRows.nth(index).boundingBox();
  if (!box) {
    throw new Error('the frame of helper.py is not on screen');
  }
  const at = { x: box.x + 80, y: box.y + box.height / 2 };
  await page.keyboard.down('Control');
  await page.mouse.move(at.x, at.y);
  await page.waitForTimeout(500);
  await shot('terminal-traceback');
  await page.mouse.click(at.x, at.y);
  await page.keyboard.up('Control');
  await page
    .locator('.tabs-container .tab.active', { hasText: 'helper.py' })
    .waitFor({ timeout: 15_000 });
  await status(/Ln 5, Col \d+/).waitFor({ timeout: 15_000 });
  await shot('terminal-link-opened');

  // 16. Remote Status: the numbers first, the rest behind Show Details
  await runCommand(page, 'Execnet: Show Remote Status');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'local' }).first().waitFor();
  await page.keyboard.type('local');
  await page.keyboard.press('Enter');
  await clickToast(page, /local: \d+ executing, \d+ channel\(s\) open, pid \d+/, 'Show Details');
  const details = page.locator('.monaco-dialog-box', { hasText: 'working directory' });
  await details.waitFor({ timeout: 15_000 });
  await shot('remote-status-details');
  await details
    .locator('.monaco-button', { hasText: /OK|Close/ })
    .first()
    .click();

  // 17. Terminate: "Terminate Gateway" sorts first; the one for all of them asks
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').waitFor({ state: 'visible' });
  await page.keyboard.type('Execnet: Terminate', { delay: 5 });
  const first = page.locator('.quick-input-list .monaco-list-row').first();
  await first.waitFor();
  const firstLabel = await textOf(first);
  if (!/Terminate Gateway(?!s)/.test(firstLabel)) {
    throw new Error(`"Execnet: Terminate" lists first: ${firstLabel}`);
  }
  await shot('terminate-commands');
  await page.keyboard.press('Escape');
  await runCommand(page, 'Execnet: Terminate Gateways (All)…');
  const dialog = page.locator('.monaco-dialog-box', { hasText: 'Terminate all' });
  await dialog.waitFor({ timeout: 15_000 });
  await shot('terminate-all-asks');
  await dialog.locator('.monaco-button', { hasText: 'Terminate All' }).click();
  await view
    .locator('.monaco-list-row', { hasText: 'local' })
    .locator('.label-description', { hasText: /dead/ })
    .first()
    .waitFor({ timeout: 30_000 });
  await shot('terminated');
}
