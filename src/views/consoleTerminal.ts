// A terminal of the editor drawn by a RunConsole: what is written shows in its styles, and typed
// lines go to the console's target (a run's stdin, a debugged program's). What is written before
// VS Code opens the terminal is kept until it does.

import * as vscode from 'vscode';
import { RunConsole } from './runConsole';

export interface ConsoleTerminal {
  readonly terminal: vscode.Terminal;
  readonly console: RunConsole;
  /** Clear the screen. */
  clear(): void;
  /** Close it (`onClose` is for the user's closing only). */
  dispose(): void;
}

export function openConsoleTerminal(options: {
  readonly name: string;
  /** A codicon name. */
  readonly icon: string;
  /** The user closed the terminal. */
  readonly onClose: () => void;
}): ConsoleTerminal {
  const writes = new vscode.EventEmitter<string>();
  let pending: string[] | undefined = [];
  const emit = (ansi: string): void => {
    if (pending) {
      pending.push(ansi);
    } else {
      writes.fire(ansi);
    }
  };
  const console = new RunConsole(emit);
  let closedByUs = false;
  const pty: vscode.Pseudoterminal = {
    onDidWrite: writes.event,
    open: (dimensions) => {
      if (dimensions) {
        console.resize(dimensions.columns);
      }
      const held = pending ?? [];
      pending = undefined;
      for (const ansi of held) {
        writes.fire(ansi);
      }
    },
    close: () => {
      if (!closedByUs) {
        options.onClose();
      }
    },
    handleInput: (data) => console.input(data),
    setDimensions: (dimensions) => {
      console.resize(dimensions.columns);
    },
  };
  const terminal = vscode.window.createTerminal({
    name: options.name,
    pty,
    iconPath: new vscode.ThemeIcon(options.icon),
    isTransient: true,
  });
  return {
    terminal,
    console,
    clear: () => emit('\x1bc'),
    dispose: () => {
      closedByUs = true;
      terminal.dispose();
      writes.dispose();
    },
  };
}
