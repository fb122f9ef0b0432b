// `# %%` cells in Python files: code lenses Run Cell / Run Cell and Below / Run Above on each
// marker, and Shift+Enter, which runs the selection, else the cell at the cursor (then moves to
// the next one), else the line (then moves down). Everything runs in the gateway's session.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Run } from '../session';
import { ensureTrusted, selectedLines } from '../editor';
import { runLinesInSession } from '../run/selection';
import type { Services } from '../services';
import { cellAt, findCells, type Cell } from './cells';

function linesOf(document: vscode.TextDocument): string[] {
  const lines: string[] = [];
  for (let i = 0; i < document.lineCount; i++) {
    lines.push(document.lineAt(i).text);
  }
  return lines;
}

export class CellCodeLensProvider implements vscode.CodeLensProvider {
  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const cells = findCells(linesOf(document));
    const lenses: vscode.CodeLens[] = [];
    cells.forEach((cell, index) => {
      if (cell.marker < 0 || cell.markdown) {
        return;
      }
      const range = new vscode.Range(cell.marker, 0, cell.marker, 0);
      const args = [document.uri, cell.marker];
      lenses.push(
        new vscode.CodeLens(range, {
          title: 'Run Cell',
          command: 'execnet.runCell',
          arguments: args,
        }),
        new vscode.CodeLens(range, {
          title: 'Run Cell and Below',
          command: 'execnet.runCellAndBelow',
          arguments: args,
        }),
      );
      if (index > 0) {
        lenses.push(
          new vscode.CodeLens(range, {
            title: 'Run Above',
            command: 'execnet.runAbove',
            arguments: args,
          }),
        );
      }
    });
    return lenses;
  }
}

export function registerCells(): vscode.Disposable {
  return vscode.languages.registerCodeLensProvider(
    { language: 'python' },
    new CellCodeLensProvider(),
  );
}

type Which = 'cell' | 'below' | 'above';

/** Run Cell (and Below, or Above) of the cell whose marker is on `marker` (or at the cursor). */
export async function runCells(
  services: Services,
  which: Which,
  uri?: vscode.Uri,
  marker?: number,
): Promise<Run | undefined> {
  if (!ensureTrusted()) {
    return undefined;
  }
  const document = uri
    ? await vscode.workspace.openTextDocument(uri)
    : vscode.window.activeTextEditor?.document;
  if (!document) {
    return undefined;
  }
  const cells = findCells(linesOf(document));
  const line = marker ?? vscode.window.activeTextEditor?.selection.active.line ?? 0;
  const cell = cellAt(cells, line);
  if (!cell) {
    void vscode.window.showWarningMessage('Execnet: there is no # %% cell here.');
    return undefined;
  }
  return runCellRange(services, document, cells, cell, which);
}

function runCellRange(
  services: Services,
  document: vscode.TextDocument,
  cells: readonly Cell[],
  cell: Cell,
  which: Which,
): Promise<Run | undefined> {
  const name = path.basename(document.uri.path) || 'untitled';
  const number = cells.filter((c) => c.marker >= 0).indexOf(cell) + 1;
  const lastLine = document.lineCount - 1;
  switch (which) {
    case 'cell':
      return runLinesInSession(
        services,
        document,
        cell.start,
        Math.max(cell.start, cell.end - 1),
        'cell',
        `${name}:cell ${number || 'above 1'}`,
      );
    case 'below':
      return runLinesInSession(
        services,
        document,
        cell.start,
        lastLine,
        'cell',
        `${name}:cell ${number} and below`,
      );
    case 'above': {
      const before = Math.max(0, (cell.marker >= 0 ? cell.marker : cell.start) - 1);
      return runLinesInSession(
        services,
        document,
        0,
        before,
        'cell',
        `${name}:above cell ${number}`,
      );
    }
  }
}

/**
 * Shift+Enter: the selection if there is one; else the cell at the cursor, then the cursor goes
 * to the next cell; else the cursor's line, then the cursor goes to the next line.
 */
export async function runCurrent(services: Services): Promise<Run | undefined> {
  if (!ensureTrusted()) {
    return undefined;
  }
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    return undefined;
  }
  const document = editor.document;
  if (!editor.selection.isEmpty) {
    const { first, last } = selectedLines(editor);
    return runLinesInSession(services, document, first, last, 'selection');
  }
  const line = editor.selection.active.line;
  const cells = findCells(linesOf(document));
  const cell = cellAt(cells, line);
  let run: Run | undefined;
  let next: number;
  if (cell) {
    run = await runCellRange(services, document, cells, cell, 'cell');
    const following = cells[cells.indexOf(cell) + 1];
    next = following ? following.start : cell.end - 1;
  } else {
    if (document.lineAt(line).isEmptyOrWhitespace) {
      next = line + 1;
    } else {
      run = await runLinesInSession(services, document, line, line, 'selection');
      next = line + 1;
    }
  }
  const target = Math.min(next, document.lineCount - 1);
  const position = new vscode.Position(
    target,
    document.lineAt(target).firstNonWhitespaceCharacterIndex,
  );
  editor.selection = new vscode.Selection(position, position);
  editor.revealRange(new vscode.Range(position, position));
  return run;
}
