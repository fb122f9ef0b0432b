// Debugging on a gateway in the real editor: a launch.json configuration of type `execnet` (what
// F5 starts) stops at a breakpoint in a module of the workspace, the editor shows the line, a local
// variable is read, step over moves the line, continue runs to the end and the session ends;
// Debug File on Gateway stops where an uncaught exception is raised; stopping mid-way leaves
// nothing running; the same over ssh after a sync (breakpoints bound through the mirror) and
// through a via= chain. F5 → first stop is measured on each.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { fixtureLine, writeFixture, type DebugFixture } from '../../helpers/debugProgram';
import {
  api,
  newGateway,
  note,
  openFile,
  terminateAll,
  waitFor,
  workspaceFile,
  workspaceFolder,
} from '../helpers';

const sshd = process.env.EXECNET_TEST_SSH
  ? (JSON.parse(process.env.EXECNET_TEST_SSH) as { known: string })
  : undefined;

/** Debian's Python has debugpy (python3-debugpy); it is the local gateway of these tests. */
const LOCAL = 'popen//python=/usr/bin/python3';

const RATIO_PY = `def ratio(a, b):
    return a / b  # raises


print(ratio(1, 0))
`;

/** What the debug adapter of the sessions told the editor, as a tracker sees it. */
class Observed implements vscode.DebugAdapterTracker {
  readonly messages: DebugProtocol.ProtocolMessage[] = [];
  onDidSendMessage(message: DebugProtocol.ProtocolMessage): void {
    this.messages.push(message);
  }
  events(name: string): DebugProtocol.Event[] {
    return this.messages.filter(
      (m): m is DebugProtocol.Event =>
        m.type === 'event' && (m as DebugProtocol.Event).event === name,
    );
  }
  output(): string {
    return this.events('output')
      .map((e) => (e.body as DebugProtocol.OutputEvent['body']).output)
      .join('');
  }
}

let observed = new Observed();

async function waitStopped(count: number): Promise<DebugProtocol.StoppedEvent> {
  await waitFor(`stop #${count}`, () => observed.events('stopped').length >= count, 60_000);
  return observed.events('stopped')[count - 1] as DebugProtocol.StoppedEvent;
}

/** The editor shows the stop: the file is active with the cursor on the line (1-based). */
async function waitEditorAt(file: string, line: number): Promise<void> {
  await waitFor(`the editor at ${path.basename(file)}:${line}`, () => {
    const editor = vscode.window.activeTextEditor;
    return (
      editor?.document.uri.fsPath === file && editor.selection.active.line === line - 1 && editor
    );
  });
}

async function topFrame(
  session: vscode.DebugSession,
  threadId: number,
): Promise<DebugProtocol.StackFrame> {
  const stack = (await session.customRequest('stackTrace', {
    threadId,
    levels: 1,
  })) as DebugProtocol.StackTraceResponse['body'];
  return stack.stackFrames[0];
}

async function localsOf(
  session: vscode.DebugSession,
  frameId: number,
): Promise<Map<string, string>> {
  const scopes = (await session.customRequest('scopes', {
    frameId,
  })) as DebugProtocol.ScopesResponse['body'];
  const variables = (await session.customRequest('variables', {
    variablesReference: scopes.scopes[0].variablesReference,
  })) as DebugProtocol.VariablesResponse['body'];
  return new Map(variables.variables.map((v) => [v.name, v.value]));
}

/** Start a session and wait for it to be there. */
async function start(
  what: string | vscode.DebugConfiguration,
  run: () => Thenable<boolean>,
): Promise<{ session: vscode.DebugSession; started: number }> {
  observed = new Observed();
  const started = performance.now();
  const session = new Promise<vscode.DebugSession>((resolve) => {
    const subscription = vscode.debug.onDidStartDebugSession((s) => {
      subscription.dispose();
      resolve(s);
    });
  });
  assert.ok(await run(), `the debug session of ${JSON.stringify(what)} did not start`);
  return { session: await session, started };
}

function ended(session: vscode.DebugSession): Promise<void> {
  return new Promise((resolve) => {
    const subscription = vscode.debug.onDidTerminateDebugSession((s) => {
      if (s === session) {
        subscription.dispose();
        resolve();
      }
    });
  });
}

/** Child processes of a (local) pid, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(entry)) {
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) === pid && fields[0] !== 'Z') {
          children.push(Number(entry));
        }
      } catch {
        // gone meanwhile
      }
    }
  }
  return children;
}

async function nothingLeftUnder(gatewayPid: number): Promise<void> {
  await waitFor(
    `the debugger's processes under ${gatewayPid} to end`,
    () => childrenOf(gatewayPid).length === 0,
    10_000,
  );
  const program = observed.events('process')[0]?.body?.systemProcessId as number | undefined;
  if (program) {
    await waitFor(`the program (pid ${program}) to end`, () => !fs.existsSync(`/proc/${program}`));
  }
}

function breakAt(file: string, line: number): vscode.SourceBreakpoint {
  const breakpoint = new vscode.SourceBreakpoint(
    new vscode.Location(vscode.Uri.file(file), new vscode.Position(line - 1, 0)),
  );
  vscode.debug.addBreakpoints([breakpoint]);
  return breakpoint;
}

describe('debugging on a gateway', function () {
  let fixture: DebugFixture;
  const trackers: vscode.Disposable[] = [];

  before(async () => {
    fixture = writeFixture(workspaceFolder().fsPath);
    fs.writeFileSync(workspaceFile('ratio.py').fsPath, RATIO_PY);
    const launch = vscode.workspace.getConfiguration('launch', workspaceFolder());
    await launch.update(
      'configurations',
      [
        {
          type: 'execnet',
          request: 'launch',
          name: 'Execnet: inventory',
          program: '${workspaceFolder}/inventory.py',
          gateway: LOCAL,
          args: ['--from', 'launch.json'],
        },
      ],
      vscode.ConfigurationTarget.WorkspaceFolder,
    );
    trackers.push(
      vscode.debug.registerDebugAdapterTrackerFactory('execnet', {
        createDebugAdapterTracker: () => observed,
      }),
    );
  });
  afterEach(async () => {
    vscode.debug.removeBreakpoints(vscode.debug.breakpoints);
    if (vscode.debug.activeDebugSession) {
      await vscode.debug.stopDebugging();
    }
  });
  after(async () => {
    trackers.forEach((t) => t.dispose());
    await terminateAll();
    fixture?.remove();
    fs.rmSync(workspaceFile('ratio.py').fsPath, { force: true });
    fs.rmSync(workspaceFile('.vscode/launch.json').fsPath, { force: true });
  });

  it('F5 with the launch configuration: stops in a module, reads a variable, steps over, continues to the end', async () => {
    await openFile('inventory.py');
    breakAt(fixture.module, fixture.line('gross'));
    const { session, started } = await start('Execnet: inventory', () =>
      vscode.debug.startDebugging(vscode.workspace.workspaceFolders?.[0], 'Execnet: inventory'),
    );
    const stopped = await waitStopped(1);
    note(`F5 → first stop on popen: ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(stopped.body.reason, 'breakpoint');
    await waitEditorAt(fixture.module, fixture.line('gross'));
    const frame = await topFrame(session, stopped.body.threadId!);
    // in a browser workbench the path comes back as the remote file's uri
    assert.equal(vscode.Uri.parse(frame.source?.path ?? '').path, fixture.module);
    assert.equal((await localsOf(session, frame.id)).get('net'), '1.5');

    await vscode.commands.executeCommand('workbench.action.debug.stepOver');
    await waitStopped(2);
    await waitEditorAt(fixture.module, fixture.line('return'));

    vscode.debug.removeBreakpoints(vscode.debug.breakpoints);
    const end = ended(session);
    await vscode.commands.executeCommand('workbench.action.debug.continue');
    await end;
    assert.match(observed.output(), /total 3\.76 argv \['--from', 'launch\.json'\]/);
    assert.equal(observed.events('exited')[0]?.body?.exitCode, 0);
    const entry = (await api()).session.aliveEntries.find((e) => e.spec === LOCAL);
    assert.ok(entry?.info, 'the gateway lives on');
    await nothingLeftUnder(entry.info.pid);
  });

  it('Debug File on Gateway stops where an uncaught exception is raised', async () => {
    const entry = await newGateway({ spec: LOCAL, name: 'debug-local' });
    await openFile('ratio.py');
    const { session } = await start('execnet.debugFile', () =>
      vscode.commands.executeCommand<boolean>('execnet.debugFile', entry),
    );
    const stopped = await waitStopped(1);
    assert.equal(stopped.body.reason, 'exception');
    await waitEditorAt(workspaceFile('ratio.py').fsPath, 2);
    const info = (await session.customRequest('exceptionInfo', {
      threadId: stopped.body.threadId,
    })) as DebugProtocol.ExceptionInfoResponse['body'];
    assert.match(info.exceptionId, /ZeroDivisionError/);
    const end = ended(session);
    await vscode.commands.executeCommand('workbench.action.debug.continue');
    await end;
    await nothingLeftUnder(entry.info!.pid);
  });

  it('stopping the session mid-way ends the program and the adapter, and keeps the gateway', async () => {
    const entry = await newGateway({ spec: LOCAL, name: 'debug-stop' });
    await openFile('inventory.py');
    breakAt(fixture.program, fixture.line('add'));
    const { session } = await start('execnet.debugFile', () =>
      vscode.commands.executeCommand<boolean>('execnet.debugFile', entry),
    );
    await waitStopped(1);
    const program = observed.events('process')[0]?.body?.systemProcessId as number;
    assert.ok(fs.existsSync(`/proc/${program}`), 'the program waits at the breakpoint');
    const end = ended(session);
    await vscode.debug.stopDebugging(session);
    await end;
    await nothingLeftUnder(entry.info!.pid);
    assert.equal(entry.state, 'alive');
  });

  it("the program's input() reads a line typed in its terminal, on a breakpoint's way", async () => {
    const entry = await newGateway({ spec: LOCAL, name: 'debug-input' });
    const file = workspaceFile('greet.py');
    fs.writeFileSync(
      file.fsPath,
      'name = input("your name? ")\ngreeting = f"hello {name}"\nprint(greeting)\n',
    );
    try {
      await openFile('greet.py');
      breakAt(file.fsPath, 3);
      const { session } = await start('execnet.debugFile', () =>
        vscode.commands.executeCommand<boolean>('execnet.debugFile', entry),
      );
      const terminal = await waitFor("the program's terminal", () =>
        vscode.window.terminals.find((t) => t.name === 'Debug: greet.py on debug-input'),
      );
      await waitFor('the prompt', () => /your name\? /.test(observed.output()));
      terminal.sendText('Ada', true);
      const stopped = await waitStopped(1);
      const frame = await topFrame(session, stopped.body.threadId!);
      assert.equal((await localsOf(session, frame.id)).get('greeting'), "'hello Ada'");
      const end = ended(session);
      await vscode.commands.executeCommand('workbench.action.debug.continue');
      await end;
      assert.match(observed.output(), /your name\? hello Ada\n/);
      await nothingLeftUnder(entry.info!.pid);
    } finally {
      fs.rmSync(file.fsPath, { force: true });
    }
  });

  describe('over ssh', function () {
    let cache: string;
    before(function () {
      if (!sshd) {
        this.skip();
      }
      cache = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-debug-cache-'));
    });
    after(() => {
      if (cache) {
        fs.rmSync(cache, { recursive: true, force: true });
      }
    });

    /** Debug File on the gateway: synced first, stops at the module's breakpoint by local path. */
    async function debugThrough(spec: string, label: string): Promise<void> {
      const entry = await newGateway({ spec });
      const mirror = path.join(cache, `mirror-${entry.id}`);
      await vscode.workspace
        .getConfiguration('execnet')
        .update('rsync.target', mirror, vscode.ConfigurationTarget.Workspace);
      try {
        await openFile('inventory.py');
        breakAt(fixture.module, fixture.line('gross'));
        const { session, started } = await start(`execnet.debugFile on ${label}`, () =>
          vscode.commands.executeCommand<boolean>('execnet.debugFile', entry),
        );
        const stopped = await waitStopped(1);
        note(`F5 → first stop on ${label}: ${(performance.now() - started).toFixed(0)} ms`);
        assert.equal(entry.sync?.remoteRoot, mirror, 'the workspace was synced to the mirror');
        assert.ok(fs.existsSync(path.join(mirror, 'pricing.py')));
        await waitEditorAt(fixture.module, fixtureLine('gross'));
        const frame = await topFrame(session, stopped.body.threadId!);
        const where = (await session.customRequest('evaluate', {
          expression: '__file__',
          frameId: frame.id,
          context: 'repl',
        })) as DebugProtocol.EvaluateResponse['body'];
        assert.equal(where.result, `'${path.join(mirror, 'pricing.py')}'`);
        assert.equal((await localsOf(session, frame.id)).get('net'), '1.5');
        vscode.debug.removeBreakpoints(vscode.debug.breakpoints);
        const end = ended(session);
        await vscode.commands.executeCommand('workbench.action.debug.continue');
        await end;
        assert.match(observed.output(), /total 3\.76/);
        // the ssh host is this machine: its processes are ours to look at
        await nothingLeftUnder(entry.info!.pid);
      } finally {
        await vscode.workspace
          .getConfiguration('execnet')
          .update('rsync.target', undefined, vscode.ConfigurationTarget.Workspace);
      }
    }

    it('debugs on an ssh gateway after syncing the workspace (debugpy shipped there)', async () => {
      await debugThrough(`${sshd!.known}//env:XDG_CACHE_HOME=${cache}`, 'ssh');
    });

    it('debugs through a via= chain (ssh via a local gateway)', async () => {
      await newGateway({ spec: `${LOCAL}//id=hop` });
      await debugThrough(`${sshd!.known}//via=hop//env:XDG_CACHE_HOME=${cache}`, 'ssh via popen');
    });
  });
});
