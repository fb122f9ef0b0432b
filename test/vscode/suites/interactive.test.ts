// The interactive session in the editor: selections that build on each other, a `# %%` cell run
// through its code lens, the REPL terminal (a block, Tab completion, Ctrl+C), a notebook on the
// Execnet kernel (three cells sharing state, a matplotlib figure as an image, an error cell,
// interrupt of a long cell), and Restart Session.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { GatewayEntry, Run } from '../../../src/extension/session';
import {
  api,
  EXTENSION_ID,
  newGateway,
  terminateAll,
  waitEnd,
  waitFor,
  waitOutput,
  workspaceFile,
} from '../helpers';

async function editorWith(name: string, text: string): Promise<vscode.TextEditor> {
  const uri = workspaceFile(name);
  await vscode.workspace.fs.writeFile(uri, Buffer.from(text));
  const document = await vscode.workspace.openTextDocument(uri);
  return vscode.window.showTextDocument(document);
}

async function runSelection(editor: vscode.TextEditor, first: number, last: number): Promise<Run> {
  editor.selection = new vscode.Selection(first, 0, last, editor.document.lineAt(last).text.length);
  const run = await vscode.commands.executeCommand<Run | undefined>('execnet.runSelection');
  assert.ok(run, 'Run Selection started nothing');
  return waitEnd(run);
}

interface OpenRepl {
  readonly terminal: vscode.Terminal;
  readonly transcript: string;
}

/** The REPL's screen text so far, without escape sequences. */
function plain(repl: OpenRepl): string {
  // eslint-disable-next-line no-control-regex -- terminal escape sequences start with ESC
  return repl.transcript.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
}

async function waitScreen(repl: OpenRepl, pattern: RegExp, timeout = 20_000): Promise<string> {
  let text = '';
  try {
    await waitFor(`${pattern} in the REPL`, () => pattern.test((text = plain(repl))), timeout);
  } catch (error) {
    throw new Error(`${(error as Error).message}; the REPL shows:\n${text}`, { cause: error });
  }
  return text;
}

describe('the interactive session', () => {
  let local: GatewayEntry;
  before(async () => {
    local = await newGateway('local');
  });
  after(terminateAll);

  it('a selection uses a name an earlier selection defined, and shows its final value', async () => {
    const editor = await editorWith(
      'explore.py',
      'import math\nradius = 3\narea = math.pi * radius ** 2\nround(area, 2)\n',
    );
    const first = await runSelection(editor, 0, 1);
    assert.deepEqual(first.outcome, { kind: 'ok' });
    const second = await runSelection(editor, 2, 3);
    assert.deepEqual(second.outcome, { kind: 'ok' });
    const text = await waitOutput(second, /finished in/);
    assert.match(text, /^28\.27$/m);
    assert.equal(local.interactive?.session.state, 'idle');
  });

  it('works in the workspace folder, as a file run does: relative paths, modules beside the file', async () => {
    // names no file run has imported before: the session finds them on its own
    await vscode.workspace.fs.writeFile(workspaceFile('units.py'), Buffer.from('UNIT = "cm"\n'));
    await vscode.workspace.fs.writeFile(workspaceFile('readings.txt'), Buffer.from('12\n15\n'));
    const editor = await editorWith(
      'relative.py',
      'import units\nreadings = open("readings.txt").read().split()\nf"{len(readings)} in {units.UNIT}"\n',
    );
    const run = await runSelection(editor, 0, 2);
    assert.match(await waitOutput(run, /finished in/), /^'2 in cm'$/m);
  });

  it('runs a # %% cell through its code lens, in the same namespace', async () => {
    const editor = await editorWith(
      'cells.py',
      '# %% setup\nbase = 10\n\n# %% use it\nprint("cell sees", base + radius)\n',
    );
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>(
      'vscode.executeCodeLensProvider',
      editor.document.uri,
    );
    const titles = lenses.filter((l) => l.range.start.line === 3).map((l) => l.command?.title);
    assert.deepEqual(titles, ['Run Cell', 'Run Cell and Below', 'Run Above']);
    const setup = lenses.find((l) => l.range.start.line === 0 && l.command?.title === 'Run Cell');
    const use = lenses.find((l) => l.range.start.line === 3 && l.command?.title === 'Run Cell');
    for (const lens of [setup, use]) {
      const run = await vscode.commands.executeCommand<Run>(
        lens!.command!.command,
        ...(lens!.command!.arguments ?? []),
      );
      await waitEnd(run);
      assert.deepEqual(run.outcome, { kind: 'ok' });
    }
    const last = local.runs.at(-1)!;
    assert.equal(last.label, 'cells.py:cell 2');
    assert.match(await waitOutput(last, /finished in/), /^cell sees 13$/m);
  });

  it('Shift+Enter runs the cell at the cursor and moves to the next one', async () => {
    const editor = await editorWith('advance.py', '# %%\nstep = 1\n# %%\nstep += 1\nstep\n');
    editor.selection = new vscode.Selection(1, 0, 1, 0);
    const run = await vscode.commands.executeCommand<Run>('execnet.runCurrent');
    await waitEnd(run);
    assert.equal(editor.selection.active.line, 3);
    const second = await vscode.commands.executeCommand<Run>('execnet.runCurrent');
    await waitEnd(second);
    assert.match(await waitOutput(second, /finished in/), /^2$/m);
  });

  it('the REPL terminal: a for block, Tab completion, Ctrl+C of a sleep, state kept', async () => {
    const repl = await vscode.commands.executeCommand<OpenRepl>('execnet.openRepl', local);
    assert.ok(repl, 'no REPL opened');
    await waitScreen(repl, />>> $/);
    repl.terminal.sendText('for i in range(3):\r', false);
    await waitScreen(repl, /\.\.\. $/);
    repl.terminal.sendText('    print("row", i * base)\r\r', false);
    await waitScreen(repl, /row 20\n>>> $/);
    repl.terminal.sendText('rad\t', false);
    await waitScreen(repl, />>> radius$/);
    repl.terminal.sendText('\r', false);
    await waitScreen(repl, /\n3\n>>> $/);
    repl.terminal.sendText('import time; time.sleep(100)\r', false);
    await waitFor('the session to be busy', () => local.interactive?.session.state === 'busy');
    repl.terminal.sendText('\x03', false);
    await waitScreen(repl, /KeyboardInterrupt\n>>> $/);
    repl.terminal.sendText('base\r', false);
    await waitScreen(repl, /\n10\n>>> $/);
  });

  it('a REPL opened again on the gateway recalls the lines typed before (history kept)', async () => {
    const first = await vscode.commands.executeCommand<OpenRepl>('execnet.openRepl', local);
    first.terminal.dispose();
    await waitFor(
      'the REPL terminal to close',
      () => !vscode.window.terminals.includes(first.terminal),
    );
    const again = await vscode.commands.executeCommand<OpenRepl>('execnet.openRepl', local);
    assert.notEqual(again.terminal, first.terminal);
    await waitScreen(again, />>> $/);
    again.terminal.sendText('\x1b[A\x1b[A', false);
    await waitScreen(again, />>> import time; time\.sleep\(100\)$/);
    again.terminal.sendText('\x1b[B\x1b[B\x15', false);
  });

  it('Run Selection in REPL echoes the code at the prompt and runs it there', async () => {
    const editor = await editorWith('torepl.py', 'shown_in_repl = base * 2\nshown_in_repl\n');
    editor.selection = new vscode.Selection(0, 0, 1, 13);
    await vscode.commands.executeCommand('execnet.runSelectionInRepl');
    const repl = await vscode.commands.executeCommand<OpenRepl>('execnet.openRepl', local);
    await waitScreen(repl, />>> shown_in_repl = base \* 2\n\.\.\. shown_in_repl\n20\n>>> $/);
  });

  it('Restart Session clears the namespace', async () => {
    await vscode.commands.executeCommand('execnet.restartSession', local);
    const editor = await editorWith('after.py', "'base' in dir()\n");
    const run = await runSelection(editor, 0, 0);
    assert.match(await waitOutput(run, /finished in/), /^False$/m);
  });
});

describe('a notebook on the Execnet kernel', () => {
  const python = '/usr/bin/python3';
  let notebook: vscode.NotebookDocument;
  before(async function () {
    if (!fs.existsSync(python)) {
      this.skip();
    }
    await newGateway({ spec: `popen//python=${python}`, name: 'plots' });
    const cells = [
      'numbers = [3, 1, 2]\nprint("defined", len(numbers))',
      'total = sum(numbers)\ntotal * 2',
      'import matplotlib.pyplot as plt\nplt.plot(sorted(numbers))\nplt.title("sorted")\nplt.show()',
      'numbers.missing()',
      'import time\ntime.sleep(100)',
    ].map((code) => new vscode.NotebookCellData(vscode.NotebookCellKind.Code, code, 'python'));
    notebook = await vscode.workspace.openNotebookDocument(
      'jupyter-notebook',
      new vscode.NotebookData(cells),
    );
    await vscode.window.showNotebookDocument(notebook);
    await vscode.commands.executeCommand('notebook.selectKernel', {
      id: 'execnet-plots',
      extension: EXTENSION_ID,
    });
  });
  after(terminateAll);

  async function execute(index: number): Promise<vscode.NotebookCell> {
    await vscode.commands.executeCommand('notebook.cell.execute', {
      ranges: [{ start: index, end: index + 1 }],
      document: notebook.uri,
    });
    const cell = notebook.cellAt(index);
    await waitFor(`cell ${index + 1} to finish`, () => cell.executionSummary?.timing?.endTime);
    return cell;
  }

  function texts(cell: vscode.NotebookCell, mime: string): string[] {
    return cell.outputs.flatMap((o) =>
      o.items.filter((i) => i.mime === mime).map((i) => Buffer.from(i.data).toString('utf8')),
    );
  }

  it('runs cells that share state, with output, values and execution order', async () => {
    const first = await execute(0);
    assert.equal(first.executionSummary?.success, true);
    assert.deepEqual(texts(first, 'application/vnd.code.notebook.stdout'), ['defined 3\n']);
    const second = await execute(1);
    assert.deepEqual(texts(second, 'text/plain'), ['12']);
    assert.ok(second.executionSummary!.executionOrder! > first.executionSummary!.executionOrder!);
  });

  it('shows a matplotlib figure as a PNG image', async () => {
    const cell = await execute(2);
    assert.equal(cell.executionSummary?.success, true);
    const png = cell.outputs.flatMap((o) => o.items).find((i) => i.mime === 'image/png');
    assert.ok(png, `no image/png among ${cell.outputs.map((o) => o.items.map((i) => i.mime))}`);
    assert.equal(Buffer.from(png.data.subarray(1, 4)).toString('latin1'), 'PNG');
  });

  it('shows an error with its traceback', async () => {
    const cell = await execute(3);
    assert.equal(cell.executionSummary?.success, false);
    const error = cell.outputs
      .flatMap((o) => o.items)
      .find((i) => i.mime === 'application/vnd.code.notebook.error');
    assert.ok(error);
    const parsed = JSON.parse(Buffer.from(error.data).toString('utf8'));
    assert.equal(parsed.name, 'AttributeError');
    assert.match(parsed.stack, /cell 4>", line 1/);
  });

  it('interrupts a long cell from the notebook, and the state stays', async () => {
    const cell = notebook.cellAt(4);
    void vscode.commands.executeCommand('notebook.cell.execute', {
      ranges: [{ start: 4, end: 5 }],
      document: notebook.uri,
    });
    await waitFor('the session to run the long cell', () => {
      const entry = vscodeEntry('plots');
      return entry?.interactive?.session.state === 'busy';
    });
    await vscode.commands.executeCommand('notebook.cancelExecution');
    await waitFor('the long cell to end', () => cell.executionSummary?.timing?.endTime);
    assert.equal(cell.executionSummary?.success, false);
    const again = await execute(1);
    assert.deepEqual(texts(again, 'text/plain'), ['12']);
  });
});

describe('figures of cells and selections: Execnet Plots', () => {
  const python = '/usr/bin/python3';
  let figures: GatewayEntry;
  before(async function () {
    if (!fs.existsSync(python)) {
      this.skip();
    }
    figures = await newGateway({ spec: `popen//python=${python}`, name: 'figures' });
    (await api()).session.defaultEntry = figures;
  });
  after(terminateAll);

  function plotsTab(): vscode.Tab | undefined {
    return vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .find(
        (tab) =>
          tab.input instanceof vscode.TabInputWebview &&
          tab.input.viewType.endsWith('execnet.plots'),
      );
  }

  it('a cell that plots shows its figure beside the editor, which keeps the focus', async () => {
    const ext = await api();
    const shown = ext.plots().length;
    const editor = await editorWith(
      'figures.py',
      '# %% data\nvalues = [3, 1, 4, 1, 5]\n\n# %% plot\nimport matplotlib.pyplot as plt\nplt.plot(values)\nplt.title("values")\nplt.show()\n',
    );
    editor.selection = new vscode.Selection(1, 0, 1, 0);
    await waitEnd(await vscode.commands.executeCommand<Run>('execnet.runCurrent'));
    const plotted = await waitEnd(await vscode.commands.executeCommand<Run>('execnet.runCurrent'));
    assert.deepEqual(plotted.outcome, { kind: 'ok' });
    assert.equal(plotted.entry, figures);

    await waitFor('the figure in Execnet Plots', () => ext.plots().length > shown);
    const [plot] = ext.plots();
    assert.equal(plot.mime, 'image/png');
    assert.equal(plot.data.subarray(1, 4).toString('latin1'), 'PNG');
    assert.equal(plot.title, 'figures.py:cell 2 on figures');
    assert.match(plot.alt, /^<Figure size \d+x\d+ with 1 Axes>$/);
    const tab = await waitFor('the Execnet Plots tab', plotsTab);
    assert.equal(tab.label, 'Execnet Plots');
    assert.equal(vscode.window.activeTextEditor?.document, editor.document);
    // the output keeps the figure's text
    assert.match(await waitOutput(plotted, /finished in/), /^<Figure size \d+x\d+ with 1 Axes>$/m);
  });

  it('a figure left open at the end of a selection shows too; Show Plots brings the closed panel back', async () => {
    const ext = await api();
    const tab = await waitFor('the Execnet Plots tab', plotsTab);
    await vscode.window.tabGroups.close(tab);
    await waitFor('the Execnet Plots tab to close', () => !plotsTab());

    const shown = ext.plots().length;
    const editor = await editorWith(
      'bars.py',
      'import matplotlib.pyplot as plt\nplt.figure()\nplt.bar(["a", "b"], [2, 3])\n',
    );
    await runSelection(editor, 0, 2);
    await waitFor('the figure in Execnet Plots', () => ext.plots().length === shown + 1);
    assert.equal(ext.plots()[0].title, 'bars.py:1-3 on figures');
    await vscode.window.tabGroups.close(await waitFor('the Execnet Plots tab', plotsTab));

    await vscode.commands.executeCommand('execnet.showPlots');
    await waitFor('Show Plots to open the panel', plotsTab);
    assert.equal(ext.plots().length, shown + 1);
  });

  it('the REPL terminal of the gateway sends its figures there too', async () => {
    const ext = await api();
    const shown = ext.plots().length;
    const repl = await vscode.commands.executeCommand<OpenRepl>('execnet.openRepl', figures);
    await waitScreen(repl, />>> $/);
    repl.terminal.sendText(
      'import matplotlib.pyplot as plt; plt.plot([2, 7, 1]); plt.show()\r',
      false,
    );
    await waitFor('the REPL figure in Execnet Plots', () => ext.plots().length === shown + 1);
    assert.equal(ext.plots()[0].title, 'REPL on figures');
    assert.match(
      await waitScreen(repl, /<Figure size \d+x\d+ with 1 Axes>\n>>> $/),
      /plt\.show\(\)/,
    );
    repl.terminal.dispose();
  });
});

describe('the interactive session on the loopback ssh gateway', () => {
  const sshd = process.env.EXECNET_TEST_SSH
    ? (JSON.parse(process.env.EXECNET_TEST_SSH) as { known: string })
    : undefined;
  let entry: GatewayEntry;
  before(async function () {
    if (!sshd) {
      this.skip();
    }
    entry = await newGateway({ spec: sshd!.known, name: 'sshbox' });
  });
  after(terminateAll);

  it('a session made after Sync Workspace works in the mirror: its files and modules', async () => {
    const mirror = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-session-mirror-'));
    try {
      const synced = await newGateway({ spec: sshd!.known, name: 'synced' });
      await vscode.workspace.fs.writeFile(
        workspaceFile('shared_units.py'),
        Buffer.from('UNIT = "kg"\n'),
      );
      await vscode.commands.executeCommand('execnet.syncWorkspace', synced, mirror);
      const repl = await vscode.commands.executeCommand<OpenRepl>('execnet.openRepl', synced);
      await waitScreen(repl, />>> $/);
      repl.terminal.sendText(
        `import os, shared_units; os.getcwd() == ${JSON.stringify(mirror)}, shared_units.UNIT\r`,
        false,
      );
      await waitScreen(repl, /\n\(True, 'kg'\)\n>>> $/);
      repl.terminal.dispose();
    } finally {
      fs.rmSync(mirror, { recursive: true, force: true });
    }
  });

  it('the REPL terminal and a notebook share the namespace of an ssh gateway', async () => {
    const repl = await vscode.commands.executeCommand<OpenRepl>('execnet.openRepl', entry);
    await waitScreen(repl, />>> $/);
    repl.terminal.sendText('import os; over_ssh = os.getpid()\r', false);
    await waitScreen(repl, /over_ssh = os\.getpid\(\)\n>>> $/);
    const notebook = await vscode.workspace.openNotebookDocument(
      'jupyter-notebook',
      new vscode.NotebookData([
        new vscode.NotebookCellData(
          vscode.NotebookCellKind.Code,
          'over_ssh == os.getpid()',
          'python',
        ),
      ]),
    );
    await vscode.window.showNotebookDocument(notebook);
    await vscode.commands.executeCommand('notebook.selectKernel', {
      id: 'execnet-sshbox',
      extension: EXTENSION_ID,
    });
    await vscode.commands.executeCommand('notebook.cell.execute', {
      ranges: [{ start: 0, end: 1 }],
      document: notebook.uri,
    });
    const cell = notebook.cellAt(0);
    await waitFor('the cell to finish', () => cell.executionSummary?.timing?.endTime);
    const text = cell.outputs
      .flatMap((o) => o.items)
      .filter((i) => i.mime === 'text/plain')
      .map((i) => Buffer.from(i.data).toString('utf8'));
    assert.deepEqual(text, ['True']);
  });
});

function vscodeEntry(id: string): GatewayEntry | undefined {
  const extension = vscode.extensions.getExtension<{
    session: { findEntry(id: string): GatewayEntry | undefined };
  }>(EXTENSION_ID);
  return extension?.exports.session.findEntry(id);
}
