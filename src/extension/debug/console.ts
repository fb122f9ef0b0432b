// The terminal of a program debugged on a gateway: what it prints, and a line typed there goes to
// its stdin (input() reads it); Ctrl+D ends its input, Ctrl+C interrupts it. Each debug session on
// a gateway gets one, named after the program; the terminal of an ended session goes when the
// gateway's next one opens.

import type { ProgramConsole } from '../../core/debug/adapter';
import { Disposable, toDisposable } from '../../core/lifecycle';
import { openConsoleTerminal, type ConsoleTerminal } from '../../views/consoleTerminal';

export class DebugTerminals extends Disposable {
  /** The last terminal of each gateway (by id), while open, and whether its session ended. */
  private readonly open = new Map<string, { terminal: ConsoleTerminal; ended: boolean }>();

  constructor() {
    super();
    this.register(
      toDisposable(() => {
        for (const { terminal } of this.open.values()) {
          terminal.dispose();
        }
        this.open.clear();
      }),
    );
  }

  /** A terminal for the program of a debug session on the gateway. */
  openConsole(gatewayId: string, program: string): ProgramConsole {
    const previous = this.open.get(gatewayId);
    if (previous?.ended) {
      previous.terminal.dispose();
    }
    const opened = openConsoleTerminal({
      name: `Debug: ${program} on ${gatewayId}`,
      icon: 'debug',
      onClose: () => {
        if (this.open.get(gatewayId) === entry) {
          this.open.delete(gatewayId);
        }
        // the program's input ends with its terminal
        console.target?.eof();
        console.target = undefined;
      },
    });
    const { terminal, console } = opened;
    const entry = { terminal: opened, ended: false };
    this.open.set(gatewayId, entry);
    // shown beside the debug console, without taking the focus from the editor
    terminal.show(true);
    return {
      output: (text) => console.output(text),
      attach: (input) => {
        console.target = input;
      },
      end: () => {
        entry.ended = true;
        console.target = undefined;
        console.line(`[execnet] the debug session of ${program} on ${gatewayId} has ended`);
      },
    };
  }
}
