// UI walk of the interactive features in the browser workbench, against the packaged .vsix:
// `# %%` cells run through their code lens (a figure in Execnet Plots), the session's row in the
// tree, the REPL terminal (a for block, Tab completion, Ctrl+C of a sleep), and a notebook on the
// Execnet kernel (three cells sharing state, a matplotlib plot, an error cell, interrupt of a long
// cell). A screenshot of every step goes to <dir>/screenshots.

import fs from 'node:fs';
import path from 'node:path';
import { openFile, runCommand, textOf } from './e2e.mjs';
import { makeWorkspace, uiWalk } from './host.mjs';

const PYTHON = '/usr/bin/python3';

const CELLS_PY = `# %% load the data
import statistics
samples = [2.5, 3.1, 4.8, 3.9, 4.2]

# %% summarise
mean = statistics.mean(samples)
print(f"{len(samples)} samples, mean {mean:.2f}")
mean

# %% plot them
import matplotlib.pyplot as plt
plt.figure(figsize=(5, 3))
plt.plot(samples, marker="o")
plt.axhline(mean, linestyle="--")
plt.title(f"{len(samples)} samples, mean {mean:.2f}")
plt.show()
`;

/** A notebook of the cells the walk runs, in .ipynb form. */
function notebook(cells) {
  return JSON.stringify(
    {
      cells: cells.map((source) => ({
        cell_type: 'code',
        execution_count: null,
        metadata: {},
        outputs: [],
        source: source.split(/(?<=\n)/),
      })),
      metadata: { language_info: { name: 'python' } },
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  );
}

const NOTEBOOK_CELLS = [
  'temperatures = [12.1, 14.3, 13.8, 17.2, 19.5, 18.1, 21.4]\nprint(f"{len(temperatures)} days loaded")',
  'warmest = max(temperatures)\nwarmest',
  'import matplotlib.pyplot as plt\nplt.figure(figsize=(6, 3))\nplt.plot(temperatures, marker="o")\nplt.title(f"warmest: {warmest} °C")\nplt.show()',
  'temperatures["monday"]',
];

/** The text the terminal panel shows (rendered as DOM rows: GPU acceleration is off). */
export async function terminalText(page) {
  const rows = page.locator('.part.panel .terminal-wrapper.active .xterm-rows > div');
  const lines = await rows.allInnerTexts().catch(() => []);
  return lines
    .join('\n')
    .replace(/\u00a0/g, ' ')
    .replace(/\s+$/, '');
}

export async function waitTerminal(page, pattern, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let text = '';
  while (Date.now() < deadline) {
    text = await terminalText(page);
    if (pattern.test(text)) {
      return text;
    }
    await page.waitForTimeout(150);
  }
  throw new Error(`the terminal never showed ${pattern}; it shows:\n${text}`);
}

/** How many runs the session row says it has had. */
async function sessionRuns(row) {
  const text = await textOf(row.locator('.label-description'));
  const match = /(\d+) runs?/.exec(text);
  return match ? Number(match[1]) : 0;
}

/** Open a notebook of the workspace with Quick Open; resolves once its editor shows. */
async function openNotebook(page, name) {
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 15_000 });
  await page.keyboard.type(name, { delay: 5 });
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: name })
    .first()
    .waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 15_000 });
  await page.locator('.notebook-editor').last().waitFor({ timeout: 30_000 });
}

export async function runInteractiveE2E({ dir, vsix }) {
  return uiWalk(
    {
      name: 'e2e-interactive',
      dir,
      vsix,
      settings: {
        'terminal.integrated.gpuAcceleration': 'off',
        'notebook.confirmDeleteRunningCell': false,
      },
      workspace: (outside) => {
        const workspace = makeWorkspace(outside, {
          'execnet.gateways': [{ name: 'local', spec: `popen//python=${PYTHON}` }],
          'execnet.defaultGateway': 'local',
        });
        fs.writeFileSync(path.join(workspace, 'cells.py'), CELLS_PY);
        fs.writeFileSync(path.join(workspace, 'weather.ipynb'), notebook(NOTEBOOK_CELLS));
        fs.writeFileSync(
          path.join(workspace, 'long.ipynb'),
          notebook(['import time\nprint("working...", flush=True)\ntime.sleep(100)']),
        );
        return workspace;
      },
    },
    walk,
  );
}

/** The steps, in the workbench. */
async function walk({ page, shot, dir }) {
  const activity = page.locator('.activitybar .action-item a[aria-label^="Execnet"]');
  await activity.waitFor({ timeout: 60_000 });
  await activity.click();
  const view = page.locator('.pane', {
    has: page.locator('.pane-header', { hasText: 'Gateways' }),
  });

  // 1. a Python file with # %% cells: each marker has Run Cell / Run Cell and Below / Run Above
  await openFile(page, 'cells.py');
  const lenses = page.locator('.contentWidgets .codelens-decoration');
  await lenses.filter({ hasText: 'Run Cell' }).first().waitFor({ timeout: 30_000 });
  await shot('cell-code-lenses');

  // 2. Run Cell on both cells (the gateway starts on the first): the second sees the first's names
  await lenses.first().locator('a', { hasText: 'Run Cell' }).first().click();
  const sessionRow = view.locator('.monaco-list-row', { hasText: 'Interactive session' });
  await sessionRow.waitFor({ timeout: 60_000 });
  await lenses
    .nth(1)
    .locator('a', { hasText: /^Run Cell$/ })
    .first()
    .click();
  const panel = page.locator('.part.panel .monaco-editor .view-lines').first();
  const deadline = Date.now() + 30_000;
  while (!/5 samples, mean 3\.70/.test(await textOf(panel).catch(() => ''))) {
    if (Date.now() > deadline) {
      throw new Error(`the second cell's output never showed:\n${await textOf(panel)}`);
    }
    await page.waitForTimeout(200);
  }
  await sessionRow.locator('.label-description', { hasText: /idle · 2 runs/ }).waitFor();
  await shot('cells-ran-in-session');

  // 2b. a cell that plots: its figure opens in Execnet Plots beside the editor
  await lenses
    .nth(2)
    .locator('a', { hasText: /^Run Cell$/ })
    .first()
    .click();
  await page
    .locator('.tabs-container .tab', { hasText: 'Execnet Plots' })
    .waitFor({ timeout: 30_000 });
  await page
    .frameLocator('iframe.webview.ready')
    .frameLocator('#active-frame')
    .locator('img')
    .first()
    .waitFor({ timeout: 30_000 });
  await shot('cell-figure-in-plots');
  // closed again: the notebook below gets the whole width
  const plotsTab = page.locator('.tabs-container .tab', { hasText: 'Execnet Plots' });
  await plotsTab.click();
  await plotsTab.locator('.tab-actions .codicon-close').click();
  await plotsTab.waitFor({ state: 'detached', timeout: 15_000 });

  // 3. the REPL terminal on the gateway: a for block, Tab completion, Ctrl+C of a sleep
  await sessionRow.hover();
  await sessionRow.locator('.action-label[aria-label="Open REPL on Gateway"]').click();
  await waitTerminal(page, />>>$/);
  await page.keyboard.type('for s in samples[:3]:');
  await page.keyboard.press('Enter');
  await waitTerminal(page, /\.\.\.$/);
  await page.keyboard.type('    print(s * 2)');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  await waitTerminal(page, /9\.6\s*\n>>>$/);
  await page.keyboard.type('statistics.med');
  await page.keyboard.press('Tab');
  await waitTerminal(page, />>> statistics\.median$/);
  await shot('repl-block-and-completion');
  await page.keyboard.type('(samples)');
  await page.keyboard.press('Enter');
  await waitTerminal(page, /\n3\.9\s*\n>>>$/);
  await page.keyboard.type('import time; time.sleep(100)');
  await page.keyboard.press('Enter');
  await sessionRow.locator('.label-description', { hasText: /busy/ }).waitFor({ timeout: 15_000 });
  await shot('repl-busy-in-tree');
  await page.keyboard.press('Control+C');
  await waitTerminal(page, /KeyboardInterrupt\s*\n>>>$/);
  await shot('repl-interrupted');

  // 4. a notebook on the Execnet kernel: three cells sharing state, a plot, an error
  await openNotebook(page, 'weather.ipynb');
  const kernelPicker = page
    .locator('.notebook-toolbar-container .kernel-label, [aria-label*="Select Kernel"]')
    .first();
  await kernelPicker.click({ timeout: 30_000 });
  const local = page
    .locator('.quick-input-list .monaco-list-row', { hasText: 'Execnet: local' })
    .first();
  await local.waitFor({ timeout: 30_000 });
  await shot('notebook-kernel-picker');
  await local.click();
  await page
    .locator('.notebook-toolbar-container', { hasText: 'Execnet: local' })
    .first()
    .waitFor({ timeout: 15_000 });
  // a taller window and no panel: the whole notebook fits on the screenshot
  await runCommand(page, 'View: Hide Panel');
  await page.setViewportSize({ width: 1400, height: 1500 });
  const runsBefore = await sessionRuns(sessionRow);
  await runCommand(page, 'Notebook: Run All');
  await sessionRow
    .locator('.label-description', { hasText: `idle · ${runsBefore + 4} runs` })
    .waitFor({ timeout: 60_000 });
  // let the plot's image and the traceback render in the output webview
  await page.waitForTimeout(2500);
  const notebookShot = await shot('notebook-plot-and-error');
  fs.copyFileSync(notebookShot, path.join(dir, 'notebook.png'));
  await page.setViewportSize({ width: 1400, height: 900 });

  // 5. interrupt of a long cell from the notebook toolbar
  await openNotebook(page, 'long.ipynb');
  await page
    .locator('.notebook-toolbar-container', { hasText: 'Execnet: local' })
    .first()
    .waitFor({ timeout: 15_000 })
    .catch(async () => {
      await runCommand(page, 'Notebook: Select Notebook Kernel');
      const kernel = page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'Execnet: local' })
        .first();
      await kernel.waitFor({ timeout: 30_000 });
      await kernel.click();
    });
  await runCommand(page, 'Notebook: Run All');
  await sessionRow.locator('.label-description', { hasText: /busy/ }).waitFor({ timeout: 30_000 });
  await page.waitForTimeout(1000);
  await shot('notebook-long-cell-running');
  await runCommand(page, 'Notebook: Interrupt');
  await sessionRow.locator('.label-description', { hasText: /idle/ }).waitFor({ timeout: 30_000 });
  await page.waitForTimeout(1000);
  await shot('notebook-interrupted');
}
