// A Python prompt on a terminal, running in a gateway's session: local line editing and history,
// `...` continuation decided by the remote's codeop, Tab completion from the remote namespace,
// Ctrl+C to interrupt, Ctrl+D to leave, input() read at the prompt. `execnet repl` and the
// editor's REPL terminal both drive it: they feed it terminal input and write what it emits.
// Invariant: keys typed while the console waits (a run, a codeop or completion question) are kept
// and replayed in order when it prompts again.

import type { Execution, ExecutionEvent, InputRequest, MimeBundle, Session } from '../core/session';
import { parseKeys, type Key } from './keys';
import { LineEditor, terminalWidth, width } from './lineEditor';

export interface ConsoleTerminal {
  /** Write terminal output (ANSI). */
  write(text: string): void;
  /** The console ended (Ctrl+D, exit(), the gateway went away and a key was pressed). */
  close(): void;
}

export interface ConsoleOptions {
  /** Lines typed earlier (oldest first); Up recalls them. */
  readonly history?: readonly string[];
  /** Called with the whole history after a line was added. */
  readonly onHistory?: (lines: readonly string[]) => void;
  /** Printed before the first prompt. */
  readonly banner?: string;
  /** Terminal width; default 80. */
  readonly columns?: number;
  /**
   * False for piped input: no prompts, no echo, no line editing, just lines in and output out
   * (like `python < script`).
   */
  readonly interactive?: boolean;
  /** Terminals that do not turn `\n` into `\r\n` themselves (a VS Code pseudoterminal). */
  readonly crlf?: boolean;
  /** A value shown (a final expression, display(), a figure), besides its text on the screen. */
  readonly onDisplay?: (data: MimeBundle) => void;
}

type Mode = 'prompt' | 'waiting' | 'running' | 'input' | 'ended' | 'closed';

const PS1 = '>>> ';
const PS2 = '... ';
const INDENT = '    ';

export class ReplConsole {
  private readonly editor: LineEditor;
  private mode: Mode = 'waiting';
  private block: string[] = [];
  private typeahead = '';
  private columns: number;
  private atLineStart = true;
  /** Columns the last unfinished output line takes (where an input() prompt goes on). */
  private lastLineWidth = 0;
  private execution: Execution | undefined;
  private inputRequest: InputRequest | undefined;
  private readonly interactive: boolean;
  /** Runs sent from an editor (Run Selection in REPL), shown in turn at the next prompt. */
  private readonly echoed: { execution: Execution; echo: string }[] = [];

  constructor(
    private readonly session: Session,
    private readonly terminal: ConsoleTerminal,
    private readonly options: ConsoleOptions = {},
  ) {
    this.editor = new LineEditor(options.history ?? []);
    this.columns = options.columns ?? 80;
    this.interactive = options.interactive ?? true;
  }

  /** Print the banner and the first prompt. */
  start(): void {
    if (this.options.banner && this.interactive) {
      this.emit(`${this.options.banner}\n`);
    }
    this.prompt();
  }

  get isClosed(): boolean {
    return this.mode === 'closed';
  }

  /** The run going on now (for Interrupt from elsewhere). */
  get running(): Execution | undefined {
    return this.execution;
  }

  resize(columns: number | null | undefined): void {
    this.columns = terminalWidth(columns, this.columns);
  }

  /** Terminal input: keys, pastes, control characters. */
  input(data: string): void {
    if (this.mode === 'closed') {
      return;
    }
    if (this.mode === 'ended') {
      this.close();
      return;
    }
    if (!this.interactive) {
      this.typeahead += data;
      this.drain();
      return;
    }
    for (const key of parseKeys(data)) {
      this.key(key, data);
    }
  }

  /** Standard input ended (piped input): run what is left, then close. */
  end(): void {
    if (this.interactive) {
      this.close();
      return;
    }
    this.typeahead += '\x04';
    this.drain();
  }

  /**
   * Run code as if it had been typed (Run Selection in the REPL): it is echoed with prompts, then
   * runs in one go. Waits for its turn after what the console is doing.
   */
  runEchoed(source: string): Execution {
    const lines = source.replace(/\s+$/, '').split('\n');
    const echo = lines.map((line, i) => `${i === 0 ? PS1 : PS2}${line}`).join('\n');
    const execution = this.session.run(`${lines.join('\n')}\n`, {
      filename: '<stdin>',
      mode: 'single',
    });
    this.echoed.push({ execution, echo });
    if (this.mode === 'prompt') {
      // the prompt being edited makes way for the code; it comes back afterwards
      this.write('\r\x1b[J');
      this.prompt();
    }
    return execution;
  }

  close(): void {
    if (this.mode === 'closed') {
      return;
    }
    this.mode = 'closed';
    this.terminal.close();
  }

  // -- keys ------------------------------------------------------------------------------------

  private key(key: Key, raw: string): void {
    switch (this.mode) {
      case 'prompt':
      case 'input':
        this.editKey(key);
        return;
      case 'running':
        if (key.name === 'interrupt') {
          this.typeahead = '';
          this.execution?.interrupt();
          return;
        }
        this.typeahead += keyText(key, raw);
        return;
      case 'waiting':
        if (key.name === 'interrupt') {
          this.typeahead = '';
          return;
        }
        this.typeahead += keyText(key, raw);
        return;
      default:
        return;
    }
  }

  private editKey(key: Key): void {
    const editor = this.editor;
    switch (key.name) {
      case 'text':
        editor.insert(key.text.replace(/\t/g, INDENT));
        break;
      case 'enter':
        this.submit();
        return;
      case 'up':
      case 'down':
        if (this.mode === 'prompt' && !editor.recall(key.name === 'up' ? -1 : 1)) {
          this.write('\x07');
          return;
        }
        break;
      case 'clearScreen':
        this.write('\x1b[H\x1b[2J');
        break;
      case 'tab':
        this.tab();
        return;
      case 'interrupt':
        this.ctrlC();
        return;
      case 'eof':
        this.ctrlD();
        return;
      default:
        if (!editor.edit(key)) {
          return;
        }
    }
    this.redraw();
  }

  private submit(): void {
    const line = this.editor.text;
    this.write(this.editor.toEnd(this.columns));
    this.emit('\n');
    if (this.mode === 'input') {
      this.answerInput(line);
      return;
    }
    this.editor.remember(line);
    this.options.onHistory?.(this.editor.lines);
    this.accept(line);
  }

  /** A line of the statement: run it when codeop says it is whole, else ask for more. */
  private accept(line: string): void {
    if (this.block.length === 0 && line.trim() === '') {
      this.prompt();
      return;
    }
    const block = [...this.block, line];
    const source = block.join('\n');
    this.mode = 'waiting';
    this.session.isComplete(source).then(
      (verdict) => {
        if (this.mode === 'closed') {
          return;
        }
        if (verdict === 'incomplete') {
          this.block = block;
          this.prompt();
        } else {
          this.block = [];
          this.follow(this.session.run(`${source}\n`, { filename: '<stdin>', mode: 'single' }));
        }
      },
      (error: unknown) => {
        this.block = [];
        this.emit(`${message(error)}\n`);
        this.prompt();
      },
    );
  }

  private tab(): void {
    const editor = this.editor;
    if (this.mode === 'input' || editor.atIndent()) {
      editor.insert(INDENT);
      this.redraw();
      return;
    }
    const word = editor.wordBeforeCursor();
    this.mode = 'waiting';
    this.session.complete(word).then(
      (matches) => {
        if (this.mode === 'closed') {
          return;
        }
        this.mode = 'prompt';
        this.showCompletions(word, matches);
        this.drain();
      },
      () => {
        this.mode = 'prompt';
        this.write('\x07');
        this.drain();
      },
    );
  }

  private showCompletions(word: string, matches: readonly string[]): void {
    const editor = this.editor;
    if (matches.length === 0) {
      this.write('\x07');
      return;
    }
    const common = commonPrefix(matches);
    if (common.length > word.length) {
      editor.insert(common.slice(word.length));
      this.redraw();
      return;
    }
    // nothing to add: list them under the line, then draw the line again
    this.write(editor.toEnd(this.columns));
    this.emit(`\n${columnize(matches, this.columns)}`);
    this.redraw();
  }

  private ctrlC(): void {
    if (this.mode === 'input') {
      this.execution?.interrupt();
      return;
    }
    this.write(this.editor.toEnd(this.columns));
    this.emit('^C\nKeyboardInterrupt\n');
    this.block = [];
    this.prompt();
  }

  private ctrlD(): void {
    const editor = this.editor;
    if (editor.text !== '') {
      editor.delete();
      this.redraw();
      return;
    }
    if (this.mode === 'input') {
      this.emit('\n');
      this.answerInput(undefined);
      return;
    }
    this.emit('\n');
    this.close();
  }

  // -- runs ------------------------------------------------------------------------------------

  private follow(execution: Execution): void {
    this.execution = execution;
    this.mode = 'running';
    const show = (event: ExecutionEvent): void => this.show(event);
    for (const event of execution.events) {
      show(event);
    }
    if (execution.state !== 'done') {
      execution.onEvent(show);
    }
    void execution.done.then((outcome) => {
      if (this.mode === 'closed') {
        return;
      }
      this.execution = undefined;
      this.inputRequest = undefined;
      switch (outcome.kind) {
        case 'exit':
          // exit() and sys.exit() leave the REPL, as they do Python's
          this.close();
          return;
        case 'gateway-closed':
          this.emit(`${this.atLineStart ? '' : '\n'}[${outcome.message}]\n`);
          this.emit('[press any key to close]\n');
          this.mode = 'ended';
          return;
        case 'interrupted':
          if (!outcome.error) {
            this.emit(`${this.atLineStart ? '' : '\n'}KeyboardInterrupt\n`);
          }
          break;
        default:
          break;
      }
      this.prompt();
    });
  }

  private show(event: ExecutionEvent): void {
    switch (event.kind) {
      case 'stream':
        this.emit(event.text);
        return;
      case 'result':
      case 'display':
        this.emit(`${this.atLineStart ? '' : '\n'}${describeBundle(event.data)}\n`);
        this.options.onDisplay?.(event.data);
        return;
      case 'error':
        this.emit(`${this.atLineStart ? '' : '\n'}${event.error.traceback}`);
        return;
      case 'item':
        return;
      case 'input':
        this.ask(event.request);
        return;
    }
  }

  private ask(request: InputRequest): void {
    this.inputRequest = request;
    this.mode = 'input';
    if (!this.interactive) {
      // piped input: the prompt is printed as input() would, and the next line answers
      this.emit(request.prompt);
    } else {
      // the prompt goes on the line the code left unfinished, as input() does in a terminal
      const column = this.atLineStart ? 0 : this.lastLineWidth % this.columns;
      this.editor.begin(request.prompt, { hidden: request.password, column });
      this.redraw();
    }
    this.drain();
  }

  // -- prompting and drawing --------------------------------------------------------------------

  private prompt(): void {
    if (this.mode === 'closed') {
      return;
    }
    if (!this.atLineStart && this.interactive) {
      this.emit('\n');
    }
    const echoed = this.echoed.shift();
    if (echoed) {
      // code sent from an editor runs (its output shows) before the prompt comes back
      this.emit(`${echoed.echo}\n`);
      this.follow(echoed.execution);
      return;
    }
    this.mode = 'prompt';
    this.editor.begin(this.block.length > 0 ? PS2 : PS1);
    if (this.interactive) {
      this.redraw();
    }
    this.drain();
  }

  /** Replay keys typed while the console was busy. */
  private drain(): void {
    if (!this.interactive) {
      this.drainLines();
      return;
    }
    while (this.typeahead && (this.mode === 'prompt' || this.mode === 'input')) {
      const pending = this.typeahead;
      this.typeahead = '';
      for (const key of parseKeys(pending)) {
        if (this.mode === 'prompt' || this.mode === 'input') {
          this.editKey(key);
        } else {
          this.typeahead += keyText(key, '');
        }
      }
    }
  }

  /** Piped input: whole lines answer input() or go to the prompt; the end of input closes. */
  private drainLines(): void {
    while (this.mode === 'prompt' || this.mode === 'input') {
      const newline = this.typeahead.indexOf('\n');
      const eof = this.typeahead.indexOf('\x04');
      if (eof >= 0 && (newline < 0 || eof < newline)) {
        const last = this.typeahead.slice(0, eof).replace(/\r$/, '');
        this.typeahead = last ? '\x04' : '';
        if (last) {
          // the last line had no newline: it still counts
          if (this.mode === 'input') {
            this.answerInput(last);
          } else {
            this.accept(last);
          }
          continue;
        }
        if (this.mode === 'input') {
          this.answerInput(undefined);
        } else if (this.block.length > 0) {
          // a block still open at the end of input ends as a blank line would end it
          this.typeahead = '\x04';
          this.accept('');
        } else {
          this.close();
        }
        return;
      }
      if (newline < 0) {
        return;
      }
      const line = this.typeahead.slice(0, newline).replace(/\r$/, '');
      this.typeahead = this.typeahead.slice(newline + 1);
      if (this.mode === 'input') {
        this.answerInput(line);
      } else {
        this.accept(line);
      }
    }
  }

  private answerInput(text: string | undefined): void {
    const request = this.inputRequest;
    this.inputRequest = undefined;
    this.mode = 'running';
    request?.answer(text);
  }

  private redraw(): void {
    this.write(this.editor.render(this.columns));
  }

  /** Output text (turning \n into \r\n where the terminal wants it) and note where it ended. */
  private emit(text: string): void {
    if (text === '') {
      return;
    }
    this.atLineStart = text.endsWith('\n');
    const lastLine = text.slice(text.lastIndexOf('\n') + 1);
    this.lastLineWidth = text.includes('\n')
      ? width(lastLine)
      : this.lastLineWidth + width(lastLine);
    this.write(text);
  }

  private write(text: string): void {
    if (text === '' || (!this.interactive && text.startsWith('\x1b'))) {
      return;
    }
    this.terminal.write(this.options.crlf ? text.replace(/\r?\n/g, '\r\n') : text);
  }
}

/** The text a key stands for, to replay it later. */
function keyText(key: Key, raw: string): string {
  if (key.name === 'text') {
    return key.text;
  }
  const back: Partial<Record<Key['name'], string>> = {
    enter: '\r',
    backspace: '\x7f',
    tab: '\t',
    eof: '\x04',
    left: '\x1b[D',
    right: '\x1b[C',
    up: '\x1b[A',
    down: '\x1b[B',
    home: '\x1b[H',
    end: '\x1b[F',
    delete: '\x1b[3~',
  };
  return back[key.name] ?? (raw.length === 1 ? raw : '');
}

function commonPrefix(words: readonly string[]): string {
  let prefix = words[0] ?? '';
  for (const word of words) {
    while (!word.startsWith(prefix)) {
      prefix = prefix.slice(0, -1);
    }
  }
  return prefix;
}

/** Matches in columns, as readline lists them. */
function columnize(words: readonly string[], columns: number): string {
  const cell = Math.max(...words.map((w) => width(w))) + 2;
  const perRow = Math.max(1, Math.floor(columns / cell));
  const rows: string[] = [];
  for (let i = 0; i < words.length; i += perRow) {
    rows.push(
      words
        .slice(i, i + perRow)
        .map((w) => w.padEnd(cell))
        .join('')
        .trimEnd(),
    );
  }
  return `${rows.join('\n')}\n`;
}

/** What a terminal can show of a MIME bundle: its text, or what kind of image it is. */
export function describeBundle(data: Readonly<Record<string, Buffer | string>>): string {
  const text = data['text/plain'];
  if (typeof text === 'string') {
    return text;
  }
  const mime = Object.keys(data)[0] ?? 'no data';
  const value = data[mime];
  return `<${mime}, ${value === undefined ? 0 : value.length} bytes>`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
