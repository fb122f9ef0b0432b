// The terminal of a program debugged on a gateway: what it prints, and a line typed there goes to
// its stdin (input() reads it); Ctrl+D ends its input, Ctrl+C interrupts it. Each debug session on
// a gateway gets one, named after the program; a gateway's terminal of an ended session goes
// when its next one opens.

import * as vscode from 'vscode';
import type { ProgramConsole } from '../../core/debug/adapter';
import { Disposable, toDisposable } from '../../core/lifecycle';
import { RunConsole } from '../../views/runConsole';

export class DebugTerminals extends Disposable {
  /** The last terminal of each gateway (by id), while open. */
  private readonly open = new Map<string, vscode.Terminal>();

  constructor() {
    super();
    this.register(
      toDisposable(() => {
        for (const terminal of this.open.values()) {
          terminal.dispose();
        }
        this.open.clear();
      }),
    );
  }

  /** A terminal for the program of a debug session on the gateway. */
  openConsole(gatewayId: string, program: string): ProgramConsole {
    this.open.get(gatewayId)?.dispose();
    const writes = new vscode.EventEmitter<string>();
    // what comes before VS Code opens the terminal is kept until it does
    let pending: string[] | undefined = [];
    const console = new RunConsole((ansi) => (pending ? pending.push(ansi) : writes.fire(ansi)));
    const pty: vscode.Pseudoterminal = {
      onDidWrite: writes.event,
      open: (dimensions) => {
        if (dimensions) {
          console.columns = dimensions.columns;
        }
        const held = pending ?? [];
        pending = undefined;
        for (const ansi of held) {
          writes.fire(ansi);
        }
      },
      close: () => {
        if (this.open.get(gatewayId) === terminal) {
          this.open.delete(gatewayId);
        }
        // the program's input ends with its terminal
        console.target?.eof();
        console.target = undefined;
        writes.dispose();
      },
      handleInput: (data) => console.input(data),
      setDimensions: (dimensions) => {
        console.columns = dimensions.columns;
      },
    };
    const terminal = vscode.window.createTerminal({
      name: `Debug: ${program} on ${gatewayId}`,
      iconPath: new vscode.ThemeIcon('debug'),
      isTransient: true,
      pty,
    });
    this.open.set(gatewayId, terminal);
    // shown beside the debug console, without taking the focus from the editor
    terminal.show(true);
    return {
      output: (text) => console.output(text),
      attach: (input) => {
        console.target = input;
      },
      end: () => {
        console.target = undefined;
        console.line(`[execnet] the debug session of ${program} on ${gatewayId} has ended`);
      },
    };
  }
}
