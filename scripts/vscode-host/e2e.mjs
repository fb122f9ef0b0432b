// UI end-to-end test in the browser workbench, against the packaged .vsix as a user installs it:
// open the Execnet view, start a gateway from the palette, run a file with the keyboard shortcut
// and read its output panel, follow a traceback link to the local line, and sync the workspace
// while the progress notification shows. A screenshot of every step goes to <dir>/screenshots.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { log, makeWorkspace, startSshdFixture, uiWalk } from './host.mjs';

/** Text of an element with the editor's non-breaking spaces made plain. */
export async function textOf(locator) {
  return (await locator.innerText()).replace(/\u00a0/g, ' ');
}

/** Run a command from the palette (F1), retrying until the extension's command is listed. */
export async function runCommand(page, title, timeout = 45_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    // F1 fills in '>' (commands); typing earlier would search files instead
    await page.waitForFunction(
      // runs in the page
      () => globalThis.document.querySelector('.quick-input-widget input')?.value === '>',
      null,
      { timeout: 15_000 },
    );
    await page.keyboard.type(title, { delay: 5 });
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    try {
      await row.waitFor({ state: 'visible', timeout: 5_000 });
      await page.keyboard.press('Enter');
      return;
    } catch {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) {
        throw new Error(`"${title}" never appeared in the command palette`);
      }
    }
  }
}

/** Open a workspace file with Quick Open and put the cursor in its editor. */
export async function openFile(page, name) {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await page.keyboard.type(name, { delay: 5 });
  // Enter picks the focused row: wait until the list is filtered by the whole name
  await page.waitForFunction(
    (typed) => globalThis.document.querySelector('.quick-input-widget input')?.value === typed,
    name,
    { timeout: 15_000 },
  );
  await page
    .locator('.quick-input-list .monaco-list-row.focused', { hasText: name })
    .first()
    .waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  const tab = page.locator('.tabs-container .tab.active', { hasText: name });
  await tab.waitFor({ timeout: 15_000 });
  await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
}

/** Wait until the Output panel shows text matching `pattern`; returns the panel's text. */
export async function waitOutput(page, pattern, timeout = 30_000) {
  const lines = page.locator('.part.panel .monaco-editor .view-lines').first();
  const deadline = Date.now() + timeout;
  let text = '';
  while (Date.now() < deadline) {
    text = await textOf(lines).catch(() => '');
    if (pattern.test(text)) {
      return text;
    }
    await page.waitForTimeout(200);
  }
  throw new Error(`the Output panel never showed ${pattern}; it shows:\n${text}`);
}

/** Deterministic, incompressible bytes: enough data that the sync's progress stays on screen. */
function writeData(dir, files, size) {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < files; i++) {
    const seed = crypto.createHash('sha256').update(String(i)).digest();
    const block = crypto.createHash('sha512').update(seed).digest();
    const data = Buffer.alloc(size);
    for (let o = 0; o < size; o += block.length) {
      block.copy(data, o);
      data[o] = (data[o] + o / block.length) & 0xff;
    }
    fs.writeFileSync(path.join(dir, `chunk-${String(i).padStart(3, '0')}.bin`), data);
  }
}

export async function runE2E({ dir, vsix }) {
  const sshd = await startSshdFixture();
  try {
    return await uiWalk(
      {
        name: 'e2e',
        dir,
        vsix,
        workspace: (outside) => {
          const workspace = makeWorkspace(outside, {
            'execnet.gateways': [
              { name: 'local', spec: 'popen' },
              { name: 'a', spec: 'popen', group: 'pair' },
              { name: 'b', spec: 'popen', group: 'pair' },
            ],
            'execnet.rsync.target': syncTarget(outside),
            'files.exclude': { data: true },
          });
          writeData(path.join(workspace, 'data'), 40, 4 << 20);
          return workspace;
        },
      },
      (walked) => walk({ ...walked, sshd }),
    );
  } finally {
    await sshd?.stop();
  }
}

/** Where Sync Workspace puts the workspace in the walk. */
function syncTarget(outside) {
  return path.join(outside, 'sync-target');
}

/** The steps, in the workbench; `sshd` may be undefined. */
async function walk({ page, shot, outside, sshd }) {
  const target = syncTarget(outside);
  await page
    .locator('.explorer-folders-view, .explorer-viewlet')
    .first()
    .waitFor({ timeout: 60_000 });

  // 1. the activity-bar container, empty: the welcome view offers to add a gateway
  const activity = page.locator('.activitybar .action-item a[aria-label^="Execnet"]');
  await activity.waitFor({ timeout: 60_000 });
  await activity.click();
  const view = page.locator('.pane', {
    has: page.locator('.pane-header', { hasText: 'Gateways' }),
  });
  await view
    .locator('.welcome-view-content', { hasText: 'Add Gateway' })
    .waitFor({ timeout: 30_000 });
  await shot('welcome-view');

  // 2. New Gateway… from the palette: the configured gateways are offered; pick "local"
  await runCommand(page, 'Execnet: New Gateway…');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'popen' }).first().waitFor();
  await shot('new-gateway-picker');
  await page.keyboard.type('local');
  await page.keyboard.press('Enter');
  const gatewayRow = view.locator('.monaco-list-row', { hasText: 'local' }).first();
  await gatewayRow.locator('.label-description', { hasText: /alive/ }).waitFor({ timeout: 30_000 });
  // the group's count follows its gateways' states
  await view
    .locator('.monaco-list-row', { hasText: 'default' })
    .locator('.label-description', { hasText: '1 of 1 alive' })
    .waitFor({ timeout: 10_000 });
  await page.locator('.statusbar-item', { hasText: 'local' }).first().waitFor({ timeout: 10_000 });
  await shot('gateway-alive');

  // 3. Ctrl+Alt+E in a Python editor runs the file: prints and channel items in the Output panel
  await openFile(page, 'hello.py');
  await page.keyboard.press('Control+Alt+E');
  const hello = await waitOutput(page, /\[execnet\] hello\.py on local finished in/);
  if (!/hello from .+ \(pid \d+\)/.test(hello) || !/\[channel\] \('hello', /.test(hello)) {
    throw new Error(`unexpected output of hello.py:\n${hello}`);
  }
  await view.locator('.monaco-list-row', { hasText: 'hello.py' }).first().waitFor();
  await shot('run-file-output');

  // 4. a remote traceback; Ctrl+click on a frame opens the local file at that line
  await openFile(page, 'ratios.py');
  await page.keyboard.press('Control+Alt+E');
  await waitOutput(page, /ZeroDivisionError: division by zero/);
  await shot('traceback-output');
  const frame = page
    .locator('.part.panel .monaco-editor .view-line', { hasText: 'line 9, in parse_ratio' })
    .first();
  const link = frame.locator('.detected-link').first();
  await link.waitFor({ timeout: 15_000 });
  await link.click({ modifiers: ['Control'] });
  await page
    .locator('.statusbar-item', { hasText: /Ln 9, Col \d+/ })
    .first()
    .waitFor({ timeout: 15_000 });
  await page.locator('.tabs-container .tab.active', { hasText: 'ratios.py' }).waitFor();
  await shot('traceback-link-opened');

  // 5. a value typed by the user goes to the running code (checked as it is typed); the run's
  //    inline Interrupt action stops it
  await openFile(page, 'echo.py');
  await page.keyboard.press('Control+Alt+E');
  await waitOutput(page, /\[execnet\] echo\.py started on local/);
  await runCommand(page, 'Execnet: Send to Channel…');
  const valueBox = page.locator('.quick-input-widget', { hasText: 'Send to echo.py on local' });
  await valueBox.waitFor({ timeout: 15_000 });
  await page.keyboard.type("(1, 'x', [2.5, None]", { delay: 5 });
  await valueBox.locator('.quick-input-message', { hasText: 'never closed' }).waitFor();
  await shot('send-invalid-literal');
  await page.keyboard.type(')');
  await page.keyboard.press('Enter');
  await waitOutput(page, /\[channel\] \(1, 'x', \[2\.5, None\]\)/);
  await shot('send-echoed');
  const echoRow = view.locator('.monaco-list-row', { hasText: 'echo.py' }).first();
  await echoRow.hover();
  await echoRow.locator('.action-label[aria-label="Interrupt"]').click();
  await waitOutput(page, /\[execnet\] echo\.py on local was interrupted after/);
  await echoRow.locator('.label-description', { hasText: 'interrupted' }).waitFor();
  await shot('interrupted');

  // 6. Sync Workspace to Gateway: the progress notification, then the summary
  await runCommand(page, 'Execnet: Sync Workspace to Gateway');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'local' }).first().waitFor();
  await page.keyboard.press('Enter');
  // The progress toast lasts as long as the sync (a second or so here): screenshot it while it
  // shows, then find the summary among the toasts, or in the notification centre if its toast
  // has already gone.
  const toasts = page.locator('.notifications-toasts');
  const progressToast = toasts.locator('.notification-toast', { hasText: 'syncing' }).first();
  const summary = /Synced \d+ files? \(/;
  const summaryToast = toasts.locator('.notification-toast', { hasText: summary }).first();
  let sawProgress = false;
  const deadline = Date.now() + 120_000;
  while (!(await summaryToast.isVisible())) {
    if (!sawProgress && (await progressToast.isVisible())) {
      sawProgress = true;
      await shot('sync-progress');
    }
    if (Date.now() > deadline) {
      await runCommand(page, 'Notifications: Show Notifications');
      await page
        .locator('.notifications-center .notification-list-item', { hasText: summary })
        .first()
        .waitFor({ timeout: 10_000 });
      break;
    }
    await page.waitForTimeout(50);
  }
  if (!sawProgress) {
    log('e2e: the sync was over before its progress notification could be captured');
  }
  await shot('sync-done');
  if (!fs.existsSync(path.join(target, 'data', 'chunk-039.bin'))) {
    throw new Error(`the sync did not reach ${target}`);
  }

  // 7. an ssh gateway to a host never seen, with an encrypted key: both questions in the editor
  if (sshd) {
    await runCommand(page, 'Execnet: New Gateway…');
    await page
      .locator('.quick-input-list .monaco-list-row', { hasText: 'Enter a spec' })
      .first()
      .waitFor();
    await page.keyboard.type('Enter a spec');
    await page.keyboard.press('Enter');
    const specInput = page.locator('.quick-input-widget input');
    await page.locator('.quick-input-widget', { hasText: 'gateway spec' }).waitFor();
    await specInput.fill(sshd.fresh);
    await page.keyboard.press('Enter');
    const dialog = page.locator('.monaco-dialog-box', { hasText: "can't be established" });
    await dialog.waitFor({ timeout: 30_000 });
    await shot('ssh-unknown-host-key');
    await dialog.locator('.monaco-button', { hasText: 'Trust and Connect' }).click();
    await page
      .locator('.quick-input-widget', { hasText: 'Passphrase for' })
      .waitFor({ timeout: 30_000 });
    await page.keyboard.type(sshd.passphrase);
    await shot('ssh-passphrase');
    await page.keyboard.press('Enter');
    const sshRow = view.locator('.monaco-list-row', { hasText: /gw\d+/ }).first();
    await sshRow.locator('.label-description', { hasText: /alive/ }).waitFor({ timeout: 30_000 });
    if (!fs.readFileSync(sshd.freshKnownHosts, 'utf8').includes('ssh-ed25519')) {
      throw new Error('the accepted host key was not added to known_hosts');
    }
    await shot('ssh-gateway-alive');
  } else {
    log('e2e: no sshd here: the ssh steps are skipped');
  }
}
