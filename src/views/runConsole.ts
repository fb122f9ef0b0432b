// A run's terminal, editor-free: what the remote prints (stderr in red, our status lines dimmed,
// `\n` as `\r\n`) and what is typed, edited on a line as a terminal in cooked mode does (left,
// right, home, end, history, Ctrl+U) and sent to the code's sys.stdin with Enter. Ctrl+C
// interrupts, Ctrl+D sends end of file (the typed text first, as a tty does).
// Invariant: the line being typed is always drawn after the last output.

import { parseKeys } from '../repl/keys';
import { LineEditor, terminalWidth, width } from '../repl/lineEditor';

/** What typed keys reach: the stdin of the run going on, and its interrupt. */
export interface ConsoleInput {
  write(text: string): void;
  eof(): void;
  interrupt(): void;
}

/** How a piece of output looks: the remote's streams, or our own lines. */
export type OutputStyle = 'stdout' | 'stderr' | 'info' | 'item' | 'success' | 'failure';

const STYLES: Record<OutputStyle, [string, string]> = {
  stdout: ['', ''],
  stderr: ['\x1b[31m', '\x1b[39m'],
  info: ['\x1b[2m', '\x1b[22m'],
  item: ['\x1b[36m', '\x1b[39m'],
  success: ['\x1b[32m', '\x1b[39m'],
  failure: ['\x1b[1;31m', '\x1b[22;39m'],
};

export class RunConsole {
  /** Where typed lines go; undefined when no run takes input (typing is then ignored). */
  target: ConsoleInput | undefined;
  private columns = 80;
  private readonly editor = new LineEditor();
  /** Width of what was printed on the current screen row. */
  private column = 0;
  /** Typed text is on the screen (the editor drew it). */
  private editing = false;
  /** Where the cursor was in the typed text when output took it off the screen. */
  private hiddenCursor = 0;

  constructor(private readonly emit: (ansi: string) => void) {}

  /** The terminal's width changed (what is no width is ignored). */
  resize(columns: number | null | undefined): void {
    this.columns = terminalWidth(columns, this.columns);
  }

  /** Text to show, in a style. */
  output(text: string, style: OutputStyle = 'stdout'): void {
    if (text === '') {
      return;
    }
    this.hideLine();
    const [on, off] = STYLES[style];
    // styles are applied per line, so that a line the reader scrolls to starts clean
    const lines = text.split('\n');
    const drawn = lines.map((line) => (line && on ? `${on}${line}${off}` : line)).join('\r\n');
    this.emit(drawn.replace(/\r+\r\n/g, '\r\n'));
    const last = lines[lines.length - 1].replace(/^.*\r/, '');
    this.column = lines.length > 1 ? width(last) : this.column + width(last);
    this.showLine();
  }

  /** A line of our own, starting on a fresh row. */
  line(text: string, style: OutputStyle = 'info'): void {
    this.output(`${this.column > 0 ? '\n' : ''}${text}\n`, style);
  }

  /** Keys typed in the terminal. */
  input(data: string): void {
    for (const key of parseKeys(data)) {
      const editor = this.editor;
      switch (key.name) {
        case 'text':
          if (this.target) {
            editor.insert(key.text);
          }
          break;
        case 'enter':
          this.submit(`${editor.text}\n`);
          continue;
        case 'eof':
          // as a tty: the typed text goes without a newline; on an empty line, end of file
          if (editor.text) {
            this.submit(editor.text, false);
          } else {
            this.target?.eof();
          }
          continue;
        case 'interrupt':
          this.hideLine();
          this.emit('^C\r\n');
          this.column = 0;
          editor.begin('', { column: 0 });
          this.editing = false;
          this.target?.interrupt();
          continue;
        case 'up':
        case 'down':
          editor.recall(key.name === 'up' ? -1 : 1);
          break;
        default:
          if (!editor.edit(key)) {
            continue;
          }
      }
      if (this.target) {
        this.editing = true;
        this.emit(editor.render(this.columns));
      }
    }
  }

  private submit(text: string, newline = true): void {
    const editor = this.editor;
    const typed = editor.text;
    if (this.editing) {
      this.emit(editor.toEnd(this.columns));
    }
    this.editing = false;
    if (newline) {
      this.emit('\r\n');
      this.column = 0;
      editor.remember(typed);
    } else {
      this.column += width(typed);
    }
    editor.begin('', { column: this.column % this.columns });
    this.target?.write(text);
  }

  /** Take the typed text off the screen before output is written. */
  private hideLine(): void {
    this.hiddenCursor = this.editor.cursor;
    if (this.editing && this.editor.text) {
      // back to where typing began, and clear to the end of the screen
      this.editor.move(0);
      this.emit(`${this.editor.render(this.columns)}\x1b[J`);
      this.editing = false;
    }
  }

  /** Draw the typed text again after the output. */
  private showLine(): void {
    const editor = this.editor;
    const text = editor.text;
    editor.begin('', { column: this.column % this.columns });
    editor.insert(text);
    editor.move(this.hiddenCursor);
    if (text) {
      this.editing = true;
      this.emit(editor.render(this.columns));
    }
  }
}
