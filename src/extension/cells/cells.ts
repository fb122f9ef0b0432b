// `# %%` cells in a Python file (the convention of Jupyter and the Python extension): where each
// cell starts and ends. Editor-free, so it is tested in plain Node.

/** A marker line: `# %%`, `#%%`, `# %% [markdown] title`... */
const MARKER = /^\s*#\s*%%/;

export interface Cell {
  /** 0-based line of the marker; -1 for code above the first marker. */
  readonly marker: number;
  /** 0-based first line of the cell's code (the line after its marker). */
  readonly start: number;
  /** 0-based line after the cell's last line. */
  readonly end: number;
  /** What follows `%%` on the marker line. */
  readonly title: string;
  /** A `[markdown]` cell: not run. */
  readonly markdown: boolean;
}

/** The cells of a file; none when it has no marker. Code above the first marker is a cell too. */
export function findCells(lines: readonly string[]): Cell[] {
  const markers: number[] = [];
  lines.forEach((line, i) => {
    if (MARKER.test(line)) {
      markers.push(i);
    }
  });
  if (markers.length === 0) {
    return [];
  }
  const cells: Cell[] = [];
  if (lines.slice(0, markers[0]).some((line) => line.trim() !== '')) {
    cells.push({ marker: -1, start: 0, end: markers[0], title: '', markdown: false });
  }
  markers.forEach((marker, i) => {
    const title = lines[marker].replace(MARKER, '').trim();
    cells.push({
      marker,
      start: marker + 1,
      end: i + 1 < markers.length ? markers[i + 1] : lines.length,
      title,
      markdown: /^\[markdown\]/i.test(title),
    });
  });
  return cells;
}

/** The cell that holds a 0-based line, if any. */
export function cellAt(cells: readonly Cell[], line: number): Cell | undefined {
  return cells.find((cell) => line >= Math.max(cell.marker, cell.start - 1) && line < cell.end);
}
