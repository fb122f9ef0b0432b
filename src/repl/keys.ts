// Keys from terminal input: what a terminal (VS Code's, or a tty in raw mode) sends for each key,
// split into key events. Printable text runs come out as one `text` event, so a paste is cheap.

export type Key =
  | { readonly name: 'text'; readonly text: string }
  | {
      readonly name:
        | 'enter'
        | 'backspace'
        | 'delete'
        | 'left'
        | 'right'
        | 'up'
        | 'down'
        | 'home'
        | 'end'
        | 'wordLeft'
        | 'wordRight'
        | 'deleteWordLeft'
        | 'killLineRight'
        | 'killLineLeft'
        | 'tab'
        | 'interrupt'
        | 'eof'
        | 'clearScreen'
        | 'unknown';
    };

const SEQUENCES: Record<string, Exclude<Key['name'], 'text'>> = {
  '\x1b[A': 'up',
  '\x1bOA': 'up',
  '\x1b[B': 'down',
  '\x1bOB': 'down',
  '\x1b[C': 'right',
  '\x1bOC': 'right',
  '\x1b[D': 'left',
  '\x1bOD': 'left',
  '\x1b[H': 'home',
  '\x1bOH': 'home',
  '\x1b[1~': 'home',
  '\x1b[7~': 'home',
  '\x1b[F': 'end',
  '\x1bOF': 'end',
  '\x1b[4~': 'end',
  '\x1b[8~': 'end',
  '\x1b[3~': 'delete',
  '\x1b[1;5C': 'wordRight',
  '\x1b[1;5D': 'wordLeft',
  '\x1bf': 'wordRight',
  '\x1bb': 'wordLeft',
  '\x1b\x7f': 'deleteWordLeft',
};

const CONTROLS: Record<string, Exclude<Key['name'], 'text'>> = {
  '\r': 'enter',
  '\n': 'enter',
  '\x7f': 'backspace',
  '\x08': 'backspace',
  '\t': 'tab',
  '\x03': 'interrupt',
  '\x04': 'eof',
  '\x01': 'home',
  '\x05': 'end',
  '\x02': 'left',
  '\x06': 'right',
  '\x10': 'up',
  '\x0e': 'down',
  '\x0b': 'killLineRight',
  '\x15': 'killLineLeft',
  '\x17': 'deleteWordLeft',
  '\x0c': 'clearScreen',
};

/** Split terminal input into keys. `\r\n` is one Enter. */
export function parseKeys(data: string): Key[] {
  const keys: Key[] = [];
  let i = 0;
  while (i < data.length) {
    const ch = data[i];
    if (ch === '\x1b') {
      // eslint-disable-next-line no-control-regex -- terminal escape sequences
      const match = /^\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z]|[\x20-\x7f])?/.exec(data.slice(i));
      const sequence = match ? match[0] : ch;
      keys.push({ name: SEQUENCES[sequence] ?? 'unknown' });
      i += sequence.length;
      continue;
    }
    const control = CONTROLS[ch];
    if (control) {
      keys.push({ name: control });
      i += ch === '\r' && data[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    if (ch < ' ') {
      keys.push({ name: 'unknown' });
      i++;
      continue;
    }
    let end = i + 1;
    while (end < data.length && data[end] >= ' ' && data[end] !== '\x7f') {
      end++;
    }
    keys.push({ name: 'text', text: data.slice(i, end) });
    i = end;
  }
  return keys;
}
