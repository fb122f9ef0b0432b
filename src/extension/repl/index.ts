// Execnet: Open REPL on Gateway: a terminal (a Pseudoterminal) with a Python prompt in the
// gateway's interactive session, one per gateway. History is kept per gateway (by its configured
// name, else its spec) in the extension's global state, so it survives reloads. Run Selection in
// REPL echoes the code there and runs it.

import * as vscode from 'vscode';
import { Disposable, toDisposable } from '../../core/lifecycle';
import { ReplConsole } from '../../repl/console';
import { describeInterpreter } from '../../views/format';
import type { PlotsPanel } from '../../views/plots';
import { imageOf, type GatewayEntry, type Session } from '../session';

const HISTORY_KEY = 'execnet.replHistory';
const HISTORY_KEPT = 500;

interface OpenRepl {
  readonly terminal: vscode.Terminal;
  readonly console: ReplConsole;
  /** Resolves once the terminal was opened and the prompt drawn. */
  readonly ready: Promise<void>;
  /** Everything written, for tests and the API. */
  transcript: string;
}

export class ReplTerminals extends Disposable {
  private readonly open = new Map<GatewayEntry, OpenRepl>();

  constructor(
    private readonly session: Session,
    private readonly state: vscode.Memento,
    private readonly plots: PlotsPanel,
  ) {
    super();
    this.register(
      vscode.window.onDidCloseTerminal((terminal) => {
        for (const [entry, repl] of this.open) {
          if (repl.terminal === terminal) {
            repl.console.close();
            this.open.delete(entry);
          }
        }
      }),
    );
    this.register(
      toDisposable(() => {
        for (const repl of this.open.values()) {
          repl.terminal.dispose();
        }
        this.open.clear();
      }),
    );
  }

  /** The REPL of a gateway: shown if open, else opened. */
  async show(entry: GatewayEntry, preserveFocus = false): Promise<OpenRepl> {
    let repl = this.open.get(entry);
    if (!repl || repl.console.isClosed) {
      repl = this.create(entry);
      this.open.set(entry, repl);
    }
    repl.terminal.show(preserveFocus);
    await repl.ready;
    return repl;
  }

  /** The REPL of a gateway if one is open. */
  find(entry: GatewayEntry): OpenRepl | undefined {
    const repl = this.open.get(entry);
    return repl && !repl.console.isClosed ? repl : undefined;
  }

  private historyKey(entry: GatewayEntry): string {
    return entry.configName ? `name:${entry.configName}` : `spec:${entry.spec}`;
  }

  private create(entry: GatewayEntry): OpenRepl {
    const node = this.session.interactive(entry);
    const writeEmitter = new vscode.EventEmitter<string>();
    const closeEmitter = new vscode.EventEmitter<void>();
    const histories = this.state.get<Record<string, string[]>>(HISTORY_KEY) ?? {};
    const key = this.historyKey(entry);
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const info = entry.info;
    const repl: OpenRepl = {
      terminal: undefined as unknown as vscode.Terminal,
      console: new ReplConsole(
        node.session,
        {
          write: (text) => {
            repl.transcript += text;
            writeEmitter.fire(text);
          },
          close: () => closeEmitter.fire(),
        },
        {
          banner: `${info ? describeInterpreter(info) : entry.spec} · execnet session on ${entry.id}. Ctrl+C interrupts, Ctrl+D closes.`,
          history: histories[key] ?? [],
          onHistory: (lines) => {
            const all = this.state.get<Record<string, string[]>>(HISTORY_KEY) ?? {};
            void this.state.update(HISTORY_KEY, { ...all, [key]: lines.slice(-HISTORY_KEPT) });
          },
          crlf: true,
          onDisplay: (data) => {
            const image = imageOf(data);
            if (image) {
              this.plots.add(image, `REPL on ${entry.id}`);
            }
          },
        },
      ),
      ready,
      transcript: '',
    };
    const pty: vscode.Pseudoterminal = {
      onDidWrite: writeEmitter.event,
      onDidClose: closeEmitter.event,
      open: (dimensions) => {
        if (dimensions) {
          repl.console.resize(dimensions.columns);
        }
        repl.console.start();
        markReady();
      },
      close: () => {
        repl.console.close();
        writeEmitter.dispose();
        closeEmitter.dispose();
      },
      handleInput: (data) => repl.console.input(data),
      setDimensions: (dimensions) => repl.console.resize(dimensions.columns),
    };
    (repl as { terminal: vscode.Terminal }).terminal = vscode.window.createTerminal({
      name: `Execnet REPL: ${entry.id}`,
      pty,
      iconPath: new vscode.ThemeIcon('terminal'),
    });
    return repl;
  }
}
