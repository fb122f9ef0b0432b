// What "Run Selection" and cells send: the selected lines without their common indentation (so a
// block from inside a function runs); the session puts them at their line of the file, so that
// tracebacks name the file's own line numbers. Editor-free.

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
