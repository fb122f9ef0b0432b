// What "Run Selection" sends: the selected lines without their common indentation (so a block
// from inside a function runs), padded with blank lines so that tracebacks name the file's own
// line numbers. Editor-free.

/** Remove the indentation every non-blank line shares (tabs and spaces compared literally). */
export function dedent(text: string): string {
  const lines = text.split(/\r?\n/);
  let common: string | undefined;
  for (const line of lines) {
    if (line.trim() === '') {
      continue;
    }
    const indent = /^[ \t]*/.exec(line)?.[0] ?? '';
    if (common === undefined) {
      common = indent;
    } else {
      let i = 0;
      while (i < common.length && i < indent.length && common[i] === indent[i]) {
        i++;
      }
      common = common.slice(0, i);
    }
  }
  if (!common) {
    return lines.join('\n');
  }
  const cut = common.length;
  return lines.map((line) => (line.trim() === '' ? '' : line.slice(cut))).join('\n');
}

/**
 * The source to run for a selection starting at 0-based line `startLine`: dedented, and moved
 * down to where it sits in the file, so `File "x.py", line 12` is the file's line 12.
 */
export function selectionSource(text: string, startLine: number): string {
  return '\n'.repeat(startLine) + dedent(text) + '\n';
}
