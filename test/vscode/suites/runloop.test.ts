// The run loop through the real API: stop (interrupt, then by force with what the code started),
// re-run while running, Re-run Last, arguments, what the code sees (sys.argv, sys.path[0],
// __main__), stdin in a terminal, tracebacks that lead to every workspace frame, group output,
// output panes that do not pile up, terminating busy gateways, and a sibling import on an ssh
// gateway before and after a sync.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { GatewayEntry, Run } from '../../../src/extension/session';
import type { SyncResult } from '../../../src/extension/sync';
import {
  api,
  isRunning,
  newGateway,
  openFile,
  terminateAll,
  waitEnd,
  waitFor,
  waitOutput,
  workspaceFile,
  workspaceFolder,
} from '../helpers';

const FILES: Record<string, string> = {
  'loop/slow.py': [
    'import subprocess, sys, time',
    'child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])',
    'print("child", child.pid, flush=True)',
    'while True:',
    '    try:',
    '        time.sleep(0.5)',
    '    except KeyboardInterrupt:',
    '        print("ignoring the interrupt", flush=True)',
  ].join('\n'),
  'loop/ticker.py': 'import time\nprint("tick", flush=True)\nwhile True:\n    time.sleep(0.1)\n',
  'loop/args.py': [
    'import os, sys',
    'print("argv", sys.argv)',
    'print("path0", sys.path[0])',
    'print("name", __name__)',
    'print("cwd", os.getcwd())',
  ].join('\n'),
  'loop/helper.py': 'GREETING = "hello from helper"\n\n\ndef ratio(x):\n    return 10 / x\n',
  'loop/uses_helper.py': 'import helper\nprint(helper.GREETING)\n',
  'loop/calls_helper.py': 'import helper\n\n\ndef main():\n    helper.ratio(0)\n\n\nmain()\n',
  'loop/ask.py': [
    'import sys',
    'name = input("name? ")',
    'print("hello", name)',
    'line = sys.stdin.readline()',
    'print("line", repr(line))',
    'try:',
    '    input()',
    'except EOFError:',
    '    print("end of input")',
  ].join('\n'),
};

const sshd = process.env.EXECNET_TEST_SSH
  ? (JSON.parse(process.env.EXECNET_TEST_SSH) as { known: string })
  : undefined;

const runConfig = () => vscode.workspace.getConfiguration('execnet.run');

/** `14:03:07`, as start lines show a run's start. */
function clock(run: Run): string {
  return run.startedAt.toTimeString().slice(0, 8);
}

async function setRun(key: string, value: unknown): Promise<void> {
  await runConfig().update(key, value, vscode.ConfigurationTarget.Workspace);
}

async function run(command: string, ...args: unknown[]): Promise<Run> {
  const started = await vscode.commands.executeCommand<Run | undefined>(command, ...args);
  assert.ok(started, `${command} started nothing`);
  return started;
}

/** The text of the output channel that shows `marker` (what the user sees in the Output view). */
async function outputText(marker: RegExp): Promise<string> {
  const outputs = () =>
    vscode.workspace.textDocuments.filter((d) => d.languageId === 'execnet-output');
  try {
    const document = await waitFor(`an output channel showing ${marker}`, () =>
      outputs().find((d) => marker.test(d.getText())),
    );
    return document.getText();
  } catch (error) {
    const shown = outputs().map((d) => `--- ${d.uri.toString()}\n${d.getText()}`);
    throw new Error(`${(error as Error).message}; the output documents:\n${shown.join('\n')}`, {
      cause: error,
    });
  }
}

/** Links in the output channel document whose text contains `marker`. */
async function outputLinks(marker: string): Promise<vscode.Uri[]> {
  const document = await waitFor('the output channel document', () =>
    vscode.workspace.textDocuments.find(
      (d) => d.languageId === 'execnet-output' && d.getText().includes(marker),
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
  return links.map((l) => l.target).filter((t): t is vscode.Uri => t !== undefined);
}

async function replaceText(editor: vscode.TextEditor, text: string): Promise<void> {
  const all = new vscode.Range(0, 0, editor.document.lineCount, 0);
  assert.ok(await editor.edit((edit) => edit.replace(all, text)));
}

describe('the run loop', () => {
  let local: GatewayEntry;

  before(async () => {
    for (const [name, text] of Object.entries(FILES)) {
      const file = path.join(workspaceFolder().fsPath, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
    await setRun('stopTimeout', 1);
    local = await newGateway('local');
  });
  after(async () => {
    for (const key of ['stopTimeout', 'whenRunning', 'in', 'maxOutputs', 'args', 'clearOutput']) {
      await setRun(key, undefined);
    }
    await terminateAll();
  });

  it('Stop Run interrupts, then ends a run that ignores it, with what it started; the gateway stays', async () => {
    const ext = await api();
    await openFile('loop/slow.py');
    const slow = await run('execnet.runFile');
    const child = Number(/^child (\d+)$/m.exec(await waitOutput(slow, /^child \d+$/m))?.[1]);
    assert.ok(isRunning(child));
    assert.match(ext.runStatusText(), /slow\.py on local · \d+:\d\d/);

    const stopped = await vscode.commands.executeCommand<Run | undefined>('execnet.stopRun');
    assert.equal(stopped, slow);
    assert.equal(slow.outcome?.kind, 'killed');
    const text = await waitOutput(slow, /was stopped after/);
    assert.match(text, /^ignoring the interrupt$/m);
    assert.match(
      text,
      /slow\.py on local was stopped after .*: it did not end when interrupted; 1 process it started ended/,
    );
    await waitFor('the child to be gone', () => !isRunning(child));
    assert.equal(local.state, 'alive');
    assert.equal(ext.runStatusText(), '');
  });

  it('running a file that still runs stops it first; both runs show in its pane, one after the other', async () => {
    const ext = await api();
    await openFile('loop/ticker.py');
    const first = await run('execnet.runFile');
    await waitOutput(first, /^tick$/m);
    const second = await run('execnet.runFile');
    assert.equal(first.outcome?.kind, 'interrupted');
    assert.ok(second.isOpen);
    assert.equal(ext.paneName(first), 'local: ticker.py');
    assert.equal(ext.paneName(second), 'local: ticker.py');
    await waitOutput(second, /^tick$/m);
    // one output: the first run, a separator, the second
    const shown = await outputText(
      /was interrupted after[\s\S]*─{20,}\n\[execnet\] ticker\.py started/,
    );
    assert.match(shown, /^tick$/m);
    await vscode.commands.executeCommand('execnet.stopRun', second);
    assert.equal(second.outcome?.kind, 'interrupted');
  });

  it('with whenRunning = parallel a second run goes beside the first, in a pane of its own', async () => {
    const ext = await api();
    await setRun('whenRunning', 'parallel');
    try {
      await openFile('loop/ticker.py');
      const first = await run('execnet.runFile');
      const second = await run('execnet.runFile');
      assert.ok(first.isOpen && second.isOpen);
      assert.equal(ext.paneName(second), 'local: ticker.py (2)');
      assert.match(ext.runStatusText(), /2 runs/);
      await Promise.all(
        [first, second].map((r) => vscode.commands.executeCommand('execnet.stopRun', r)),
      );
    } finally {
      await setRun('whenRunning', undefined);
    }
  });

  it('Run File with Arguments: sys.argv is [file, *args], sys.path[0] its folder, __name__ __main__; Re-run Last repeats it', async () => {
    const file = workspaceFile('loop/args.py');
    const first = await run('execnet.runFileWithArgs', file, `one 'two words'`);
    await waitEnd(first);
    const text = await waitOutput(first, /finished in/);
    assert.ok(
      text.includes(`argv ['${file.fsPath}', 'one', 'two words']`),
      `sys.argv in:\n${text}`,
    );
    assert.ok(text.includes(`path0 ${path.dirname(file.fsPath)}\n`), text);
    assert.match(text, /^name __main__$/m);
    assert.ok(text.includes(`cwd ${workspaceFolder().fsPath}\n`), text);

    await openFile('hello.py');
    const again = await vscode.commands.executeCommand<Run | undefined>('execnet.rerunLast');
    assert.ok(again && again !== first);
    assert.equal(again.entry, local);
    await waitEnd(again);
    assert.ok((await waitOutput(again, /finished in/)).includes(`'one', 'two words']`));
  });

  it('execnet.run.args fixes the arguments of a file, as a launch configuration would', async () => {
    await setRun('args', { 'loop/args.py': "--fixed 'by the setting'" });
    try {
      await openFile('loop/args.py');
      const fixed = await run('execnet.runFile');
      await waitEnd(fixed);
      const text = await waitOutput(fixed, /finished in/);
      assert.ok(text.includes(`'--fixed', 'by the setting']`), text);
    } finally {
      await setRun('args', undefined);
    }
  });

  it('with clearOutput a file that runs again gets a clean output', async () => {
    const ext = await api();
    await setRun('clearOutput', true);
    try {
      await openFile('hello.py');
      const first = await waitEnd(await run('execnet.runFile'));
      const second = await waitEnd(await run('execnet.runFile'));
      assert.equal(ext.paneName(first), ext.paneName(second));
      await waitOutput(second, /finished in/);
      const shown = await outputText(
        new RegExp(`hello\\.py started on local .* at ${clock(second)}[\\s\\S]*finished in`),
      );
      assert.equal(shown.match(/hello\.py started on local/g)?.length, 1, shown);
    } finally {
      await setRun('clearOutput', undefined);
    }
  });

  it('a module beside the file imports, whatever the working directory of the gateway', async () => {
    const elsewhere = await newGateway({ spec: `popen//chdir=${os.tmpdir()}`, name: 'elsewhere' });
    await openFile('loop/uses_helper.py');
    const imported = await run('execnet.runFile', elsewhere);
    await waitEnd(imported);
    assert.deepEqual(imported.outcome, { kind: 'ok' });
    assert.match(await waitOutput(imported, /finished in/), /^hello from helper$/m);
  });

  it('a traceback through a second module: every workspace frame links, the diagnostic sits where it raised', async () => {
    const caller = workspaceFile('loop/calls_helper.py');
    const helper = workspaceFile('loop/helper.py');
    await openFile('loop/calls_helper.py');
    const failed = await run('execnet.runFile');
    await waitEnd(failed);
    assert.equal(failed.outcome?.kind, 'error');
    await waitOutput(failed, /ZeroDivisionError/);
    const targets = await outputLinks('[execnet] calls_helper.py on local failed');
    const lines = (uri: vscode.Uri) =>
      targets.filter((t) => t.fsPath === uri.fsPath).map((t) => t.fragment);
    assert.deepEqual(lines(caller).sort(), ['L5', 'L8']);
    assert.deepEqual(lines(helper), ['L5']);

    // the error sits on the line of helper.py that raised; the call chain leads to it
    const [diagnostic] = vscode.languages.getDiagnostics(helper);
    assert.ok(diagnostic, 'no diagnostic in helper.py');
    assert.equal(diagnostic.range.start.line, 4);
    assert.match(diagnostic.message, /^ZeroDivisionError: division by zero \(on local\)$/);
    assert.deepEqual(
      diagnostic.relatedInformation?.map((r) => [
        path.basename(r.location.uri.fsPath),
        r.location.range.start.line,
        r.message,
      ]),
      [
        ['calls_helper.py', 7, 'calls_helper.py:8, in <module>'],
        ['calls_helper.py', 4, 'calls_helper.py:5, in main'],
      ],
    );
    assert.deepEqual(vscode.languages.getDiagnostics(caller), []);

    // fixed and run again: the diagnostics it left are gone
    await replaceText(
      await openFile('loop/calls_helper.py'),
      'import helper\nprint(helper.ratio(2))\n',
    );
    const fixed = await run('execnet.runFile');
    await waitEnd(fixed);
    assert.deepEqual(fixed.outcome, { kind: 'ok' });
    assert.deepEqual(vscode.languages.getDiagnostics(helper), []);
    await replaceText(await openFile('loop/calls_helper.py'), FILES['loop/calls_helper.py']);
    assert.ok(await vscode.window.activeTextEditor?.document.save());
  });

  it('in a terminal, typed lines reach input() and readline, Ctrl+D ends the input, Ctrl+C interrupts', async () => {
    await setRun('in', 'terminal');
    try {
      await openFile('loop/ask.py');
      const asking = await run('execnet.runFile');
      const terminal = await waitFor('the run terminal', () =>
        vscode.window.terminals.find((t) => t.name === 'local: ask.py'),
      );
      await waitOutput(asking, /name\? $/);
      terminal.sendText('Ada');
      await waitOutput(asking, /^hello Ada$/m);
      terminal.sendText('a second line');
      await waitOutput(asking, /^line 'a second line\\n'$/m);
      terminal.sendText('\x04', false);
      await waitEnd(asking);
      const text = await waitOutput(asking, /finished in/);
      assert.match(text, /^end of input$/m);
      assert.deepEqual(asking.outcome, { kind: 'ok' });

      await openFile('loop/ticker.py');
      const ticking = await run('execnet.runFile');
      const ticker = await waitFor('the ticker terminal', () =>
        vscode.window.terminals.find((t) => t.name === 'local: ticker.py'),
      );
      await waitOutput(ticking, /^tick$/m);
      ticker.sendText('\x03', false);
      await waitEnd(ticking);
      assert.equal(ticking.outcome?.kind, 'interrupted');
      assert.match(await waitOutput(ticking, /was interrupted/), /KeyboardInterrupt/);

      // closing the terminal of a run that still goes stops the run
      const again = await run('execnet.runFile');
      await waitOutput(again, /^tick$/m);
      const reused = await waitFor('the ticker terminal', () =>
        vscode.window.terminals.find((t) => t.name === 'local: ticker.py'),
      );
      reused.dispose();
      await waitEnd(again);
      assert.equal(again.outcome?.kind, 'interrupted');
    } finally {
      await setRun('in', undefined);
    }
  });

  it('an input() in an output channel fails with EOFError and a hint to run in a terminal', async () => {
    const ext = await api();
    await openFile('loop/ask.py');
    const asking = await run('execnet.runFile');
    await waitEnd(asking);
    assert.equal(asking.outcome?.kind, 'error');
    await waitFor('the hint', () => /ask\.py reads input/.test(ext.lastHint() ?? ''));
  });

  it('Run File on Group shows one combined output: lines prefixed per gateway, how each ended', async () => {
    const ext = await api();
    await openFile('fanout.py');
    const runs = await vscode.commands.executeCommand<Run[]>('execnet.runFileOnGroup', 'pair');
    assert.deepEqual(runs.map((r) => r.entry.id).sort(), ['a', 'b']);
    await Promise.all(runs.map((r) => waitEnd(r)));
    const combined = await waitFor('the group summary', () => {
      const text = ext.groupTranscript(runs[0]);
      return /on group pair: 2 finished in/.test(text) && text;
    });
    for (const id of ['a', 'b']) {
      assert.match(combined, new RegExp(`^\\[${id}\\] 1229 primes below 10000$`, 'm'));
      assert.match(
        combined,
        new RegExp(`^\\[${id}\\] \\[channel\\] \\('[^']+', \\d+, 1229\\)$`, 'm'),
      );
      assert.match(combined, new RegExp(`^\\[${id}\\] finished in \\d+\\.\\d\\d s$`, 'm'));
    }
    assert.match(combined, /^\[execnet\] fanout\.py on group pair \(a, b\) at \d\d:\d\d:\d\d$/m);
    // each gateway keeps its own output besides
    assert.equal(ext.paneName(runs[0]), `${runs[0].entry.id}: fanout.py`);
  });

  it('outputs of finished runs beyond execnet.run.maxOutputs go, the longest unused first', async () => {
    const ext = await api();
    await setRun('maxOutputs', 2);
    try {
      const done: Run[] = [];
      for (const name of ['hello.py', 'cwd.py', 'loop/uses_helper.py']) {
        await openFile(name);
        done.push(await waitEnd(await run('execnet.runFile')));
      }
      await waitFor('old outputs to go', () => ext.paneNames().length <= 2);
      assert.deepEqual(ext.paneNames().sort(), ['local: cwd.py', 'local: uses_helper.py']);
      assert.equal(ext.paneName(done[0]), undefined);
    } finally {
      await setRun('maxOutputs', undefined);
    }
  });

  it('terminating a gateway whose code runs interrupts the code first', async () => {
    const busy = await newGateway({ spec: 'popen', name: 'busy' });
    await openFile('loop/ticker.py');
    const ticking = await run('execnet.runFile', busy);
    await waitOutput(ticking, /^tick$/m);
    const pid = busy.info?.pid ?? 0;
    await vscode.commands.executeCommand('execnet.terminateGateway', busy);
    assert.equal(busy.state, 'dead');
    assert.equal(ticking.outcome?.kind, 'interrupted');
    assert.ok(!isRunning(pid));
  });

  it('a sibling import on an ssh gateway: ModuleNotFoundError with a hint, then it runs in the synced mirror', async function () {
    if (!sshd) {
      this.skip();
    }
    const ext = await api();
    const remote = await newGateway({ spec: sshd?.known ?? '', name: 'remote' });
    await openFile('loop/uses_helper.py');
    const missing = await run('execnet.runFile', remote);
    await waitEnd(missing);
    assert.equal(missing.outcome?.kind, 'error');
    await waitFor('the hint', () =>
      /remote has no module 'helper': the workspace has it \(loop\/helper\.py\), but the workspace was not synced to it/.test(
        ext.lastHint() ?? '',
      ),
    );

    const mirror = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-mirror-'));
    try {
      assert.equal(
        fs.readFileSync(workspaceFile('loop/calls_helper.py').fsPath, 'utf8'),
        FILES['loop/calls_helper.py'],
      );
      const synced = await vscode.commands.executeCommand<SyncResult | undefined>(
        'execnet.syncWorkspace',
        remote,
        mirror,
      );
      assert.match(synced?.headline ?? '', /^Synced \d+ files \(.+\) in .* to remote\.$/);
      const imported = await run('execnet.runFile', remote);
      await waitEnd(imported);
      assert.deepEqual(imported.outcome, { kind: 'ok' });
      assert.match(await waitOutput(imported, /finished in/), /^hello from helper$/m);

      // a traceback through the mirror leads to the local files
      await openFile('loop/calls_helper.py');
      const failed = await run('execnet.runFile', remote);
      await waitEnd(failed);
      assert.equal(failed.outcome?.kind, 'error');
      const text = await waitOutput(failed, /failed after/);
      assert.ok(text.includes(`File "${path.join(mirror, 'loop', 'helper.py')}", line 5`), text);
      const targets = await outputLinks('[execnet] calls_helper.py on remote failed');
      assert.ok(
        targets.some(
          (t) => t.fsPath === workspaceFile('loop/helper.py').fsPath && t.fragment === 'L5',
        ),
        targets.map(String).join(', '),
      );
      const [diagnostic] = vscode.languages.getDiagnostics(workspaceFile('loop/helper.py'));
      assert.match(diagnostic?.message ?? '', /ZeroDivisionError: division by zero \(on remote\)/);
    } finally {
      fs.rmSync(mirror, { recursive: true, force: true });
    }
  });

  it('with nothing started, the status bar names the configured default: local (not started)', async () => {
    const ext = await api();
    await terminateAll();
    assert.equal(ext.session.defaultEntry, undefined);
    assert.match(ext.statusText(), /local \(not started\)$/);
  });
});
