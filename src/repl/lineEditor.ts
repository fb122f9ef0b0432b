// One line being edited at a prompt: the text, the cursor, the history, and the ANSI that draws
// it on a terminal of a given width (lines that wrap included). Editor-free and I/O-free: the
// console feeds it keys and writes what render() returns.
// Invariant: `row` is the screen row of the cursor counted from the prompt's row, as last drawn.

import type { Key } from './keys';

/** Characters that end a word for completion (readline's default delimiters, without '.'). */
const DELIMITERS = ' \t\n`~!@#$%^&*()-=+[{]}\\|;:\'",<>/?';

export class LineEditor {
  text = '';
  cursor = 0;
  prompt = '';
  /** Do not echo (getpass). */
  hidden = false;
  /** Screen column where the prompt starts (input() after output that did not end its line). */
  private column = 0;
  private row = 0;
  private history: string[];
  private historyIndex: number;
  private draft = '';

  constructor(
    history: readonly string[] = [],
    private readonly historyLimit = 1000,
  ) {
    this.history = history.slice(-historyLimit);
    this.historyIndex = this.history.length;
  }

  /** Start a new line at a new prompt (the cursor is at the start of an empty screen row). */
  begin(prompt: string, options: { hidden?: boolean; column?: number } = {}): void {
    this.prompt = prompt;
    this.hidden = options.hidden ?? false;
    this.column = options.column ?? 0;
    this.text = '';
    this.cursor = 0;
    this.row = 0;
    this.historyIndex = this.history.length;
    this.draft = '';
  }

  /** Remember a submitted line (not blanks, not a repeat of the last one). */
  remember(line: string): void {
    if (line.trim() === '' || this.history.at(-1) === line) {
      return;
    }
    this.history.push(line);
    if (this.history.length > this.historyLimit) {
      this.history.splice(0, this.history.length - this.historyLimit);
    }
  }

  get lines(): readonly string[] {
    return this.history;
  }

  insert(text: string): void {
    this.text = this.text.slice(0, this.cursor) + text + this.text.slice(this.cursor);
    this.cursor += text.length;
  }

  backspace(): void {
    if (this.cursor > 0) {
      this.text = this.text.slice(0, this.cursor - 1) + this.text.slice(this.cursor);
      this.cursor--;
    }
  }

  delete(): void {
    this.text = this.text.slice(0, this.cursor) + this.text.slice(this.cursor + 1);
  }

  move(to: number): void {
    this.cursor = Math.max(0, Math.min(this.text.length, to));
  }

  wordLeft(): number {
    let i = this.cursor;
    while (i > 0 && !isWord(this.text[i - 1])) {
      i--;
    }
    while (i > 0 && isWord(this.text[i - 1])) {
      i--;
    }
    return i;
  }

  wordRight(): number {
    let i = this.cursor;
    while (i < this.text.length && !isWord(this.text[i])) {
      i++;
    }
    while (i < this.text.length && isWord(this.text[i])) {
      i++;
    }
    return i;
  }

  deleteWordLeft(): void {
    const start = this.wordLeft();
    this.text = this.text.slice(0, start) + this.text.slice(this.cursor);
    this.cursor = start;
  }

  killRight(): void {
    this.text = this.text.slice(0, this.cursor);
  }

  killLeft(): void {
    this.text = this.text.slice(this.cursor);
    this.cursor = 0;
  }

  /**
   * The editing keys every line on a terminal has: delete, move and kill (readline's). False for
   * any other key (text, Enter, history, Tab...), which the caller handles.
   */
  edit(key: Key): boolean {
    switch (key.name) {
      case 'backspace':
        this.backspace();
        return true;
      case 'delete':
        this.delete();
        return true;
      case 'left':
        this.move(this.cursor - 1);
        return true;
      case 'right':
        this.move(this.cursor + 1);
        return true;
      case 'home':
        this.move(0);
        return true;
      case 'end':
        this.move(this.text.length);
        return true;
      case 'wordLeft':
        this.move(this.wordLeft());
        return true;
      case 'wordRight':
        this.move(this.wordRight());
        return true;
      case 'deleteWordLeft':
        this.deleteWordLeft();
        return true;
      case 'killLineRight':
        this.killRight();
        return true;
      case 'killLineLeft':
        this.killLeft();
        return true;
      default:
        return false;
    }
  }

  /** Up (-1) or down (+1) in the history; the line being typed is kept as the newest entry. */
  recall(step: -1 | 1): boolean {
    const index = this.historyIndex + step;
    if (index < 0 || index > this.history.length) {
      return false;
    }
    if (this.historyIndex === this.history.length) {
      this.draft = this.text;
    }
    this.historyIndex = index;
    this.text = index === this.history.length ? this.draft : this.history[index];
    this.cursor = this.text.length;
    return true;
  }

  /** The word before the cursor, as the completer sees it (`os.pa` in `x = os.pa`). */
  wordBeforeCursor(): string {
    let start = this.cursor;
    while (start > 0 && !DELIMITERS.includes(this.text[start - 1])) {
      start--;
    }
    return this.text.slice(start, this.cursor);
  }

  /** Whether only blanks precede the cursor (Tab indents there). */
  atIndent(): boolean {
    return this.text.slice(0, this.cursor).trim() === '';
  }

  /** ANSI that redraws prompt and text from the prompt's row, leaving the cursor in place. */
  render(columns: number): string {
    const cols = Math.max(1, columns);
    const shown = this.hidden ? '' : this.text;
    const before = this.hidden ? '' : this.text.slice(0, this.cursor);
    let out = this.row > 0 ? `\x1b[${this.row}A` : '';
    out += `\r${this.column > 0 ? `\x1b[${this.column}C` : ''}\x1b[J${this.prompt}${shown}`;
    const end = this.column + width(this.prompt) + width(shown);
    if (end > 0 && end % cols === 0) {
      // the cursor waits at the right margin: step onto the next row like a wrap would
      out += ' \r\x1b[K';
    }
    const endRow = Math.floor(end / cols);
    const target = this.column + width(this.prompt) + width(before);
    const targetRow = Math.floor(target / cols);
    const targetCol = target % cols;
    if (endRow > targetRow) {
      out += `\x1b[${endRow - targetRow}A`;
    }
    out += '\r';
    if (targetCol > 0) {
      out += `\x1b[${targetCol}C`;
    }
    this.row = targetRow;
    return out;
  }

  /** ANSI that puts the cursor after the last row of the line (before a newline). */
  toEnd(columns: number): string {
    const cols = Math.max(1, columns);
    const shown = this.hidden ? '' : this.text;
    const end = this.column + width(this.prompt) + width(shown);
    const endRow = Math.floor(end / cols);
    const down = endRow - this.row;
    this.row = endRow;
    return `${down > 0 ? `\x1b[${down}B` : ''}\r${end % cols > 0 ? `\x1b[${end % cols}C` : ''}`;
  }
}

function isWord(ch: string): boolean {
  return /[\p{L}\p{N}_]/u.test(ch);
}

/**
 * A terminal's new width, or `current` when what it reports is no width: VS Code gives a
 * pseudoterminal `columns: null` while its panel is laid out, and a width of 1 would draw every
 * prompt as if it stood at the right margin.
 */
export function terminalWidth(columns: number | null | undefined, current: number): number {
  return typeof columns === 'number' && Number.isInteger(columns) && columns > 0
    ? columns
    : current;
}

/** Columns a string takes (code points; wide characters are rare in code). */
export function width(text: string): number {
  let n = 0;
  for (const _ of text) {
    n++;
  }
  return n;
}
