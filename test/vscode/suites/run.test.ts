// Running code: a file (saved first), a selection (dedented, with the file's line numbers), a
// remote traceback linking back to the local line, and one file on every gateway of a group.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Run } from '../../../src/extension/session';
import {
  api,
  newGateway,
  openFile,
  terminateAll,
  waitEnd,
  waitFor,
  waitOutput,
  workspaceFile,
} from '../helpers';

async function runFile(): Promise<Run> {
  const run = await vscode.commands.executeCommand<Run | undefined>('execnet.runFile');
  assert.ok(run, 'execnet.runFile started nothing');
  return run;
}

describe('running code', () => {
  before(async () => {
    await newGateway('local');
  });
  after(terminateAll);

  it('runs a file: its prints and the items it sends show in its own output channel', async () => {
    await openFile('hello.py');
    const run = await runFile();
    assert.equal(run.entry.id, 'local');
    assert.equal(run.label, 'hello.py');
    await waitEnd(run);
    assert.deepEqual(run.outcome, { kind: 'ok' });
    const text = await waitOutput(run, /finished in/);
    assert.match(
      text,
      /^\[execnet\] hello\.py started on local \(Python 3\.\d+\.\d+ on .+\) at \d\d:\d\d:\d\d$/m,
    );
    assert.match(text, /^hello from .+ \(pid \d+\): Python 3/m);
    assert.match(text, /^\[channel\] \('hello', '[^']+', \d+\)$/m);
    assert.match(text, /^\[execnet\] hello\.py on local finished in \d+\.\d\d s$/m);
  });

  it('saves the file before running it', async () => {
    const editor = await openFile('scratch.py');
    await editor.edit((edit) =>
      edit.replace(
        new vscode.Range(0, 0, editor.document.lineCount, 0),
        'print("unsaved edit ran")\n',
      ),
    );
    assert.ok(editor.document.isDirty);
    const run = await runFile();
    await waitOutput(run, /unsaved edit ran/);
    assert.equal(editor.document.isDirty, false);
    const onDisk = Buffer.from(
      await vscode.workspace.fs.readFile(workspaceFile('scratch.py')),
    ).toString();
    assert.equal(onDisk, 'print("unsaved edit ran")\n');
  });

  it("runs a selection, dedented, with the file's line numbers in tracebacks", async () => {
    const editor = await openFile('selection.py');
    // lines 3-5 (1-based) are the indented body of a function
    editor.selection = new vscode.Selection(2, 4, 4, 10);
    const run = await vscode.commands.executeCommand<Run | undefined>('execnet.runSelection');
    assert.ok(run);
    assert.equal(run.label, 'selection.py:3-5');
    await waitEnd(run);
    const text = await waitOutput(run, /failed after/);
    assert.match(text, /^answer 42$/m);
    assert.match(text, /^\[channel\] 42$/m);
    // line 5 of the file raises: the traceback says so
    assert.match(text, /File ".*selection\.py", line 5, in <module>/);
  });

  it('shows a remote traceback whose frames link to the local file and line', async () => {
    await openFile('ratios.py');
    const run = await runFile();
    await waitEnd(run);
    assert.equal(run.outcome?.kind, 'error');
    const text = await waitOutput(run, /failed after/);
    assert.match(text, /^Traceback \(most recent call last\):$/m);
    assert.match(text, /^ZeroDivisionError: division by zero$/m);
    assert.match(
      text,
      /\[execnet\] ratios\.py on local failed after .*: ZeroDivisionError: division by zero/,
    );

    // the output channel's document carries links to the frames of ratios.py
    const file = workspaceFile('ratios.py');
    const document = await waitFor('the output channel document', () =>
      vscode.workspace.textDocuments.find(
        (d) =>
          d.languageId === 'execnet-output' &&
          d.getText().includes('[execnet] ratios.py on local failed'),
      ),
    );
    let links: vscode.DocumentLink[] = [];
    await waitFor('links in the output channel', async () => {
      links = await vscode.commands.executeCommand<vscode.DocumentLink[]>(
        'vscode.executeLinkProvider',
        document.uri,
      );
      return links.length > 0;
    });
    const targets = links.map((l) => l.target).filter((t): t is vscode.Uri => t !== undefined);
    const lines = targets.filter((t) => t.fsPath === file.fsPath).map((t) => t.fragment);
    // <module> line 17, average_ratio line 13 (twice: the genexpr), parse_ratio line 9
    assert.ok(lines.includes('L9'), `links: ${targets.map(String).join(', ')}`);
    assert.ok(lines.includes('L17'));

    // following the link opens the local file at that line
    const target = targets.find((t) => t.fragment === 'L9');
    assert.ok(target);
    await vscode.commands.executeCommand('vscode.open', target);
    const editor = await waitFor('ratios.py to open at line 9', () => {
      const active = vscode.window.activeTextEditor;
      return (
        active?.document.uri.fsPath === file.fsPath && active.selection.active.line === 8 && active
      );
    });
    assert.match(editor.document.lineAt(8).text, /return int\(numerator\) \/ int\(denominator\)/);

    // and the file itself shows the error where it happened
    const diagnostics = vscode.languages.getDiagnostics(file);
    assert.equal(diagnostics.length, 1, JSON.stringify(diagnostics));
    assert.equal(diagnostics[0].range.start.line, 8);
    assert.match(diagnostics[0].message, /ZeroDivisionError: division by zero/);
  });

  it('runs a file on every gateway of a group, each with its own output', async () => {
    const ext = await api();
    await openFile('fanout.py');
    const runs = await vscode.commands.executeCommand<Run[]>('execnet.runFileOnGroup', 'pair');
    assert.deepEqual(runs.map((r) => r.entry.id).sort(), ['a', 'b']);
    assert.ok(runs.every((r) => r.entry.group.name === 'pair'));
    for (const run of runs) {
      await waitEnd(run);
      const text = await waitOutput(run, /finished in/);
      assert.match(text, /^\d+ primes below 10000$/m);
      assert.match(
        text,
        new RegExp(`^\\[channel\\] \\('[^']+', ${run.entry.info?.pid}, 1229\\)$`, 'm'),
      );
      assert.ok(!text.includes(`on ${runs.find((r) => r !== run)?.entry.id}`));
    }
    assert.equal(ext.session.findGroup('pair')?.alive.length, 2);
  });
});
