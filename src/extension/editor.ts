// What commands ask of the editor before they act: that the workspace is trusted, which Python
// document they are about, and which of its lines are selected.

import * as path from 'node:path';
import * as vscode from 'vscode';

/** Gateways run code from the workspace: not in Restricted Mode. Says why when it refuses. */
export function ensureTrusted(): boolean {
  if (vscode.workspace.isTrusted) {
    return true;
  }
  const manage = 'Manage Workspace Trust';
  void vscode.window
    .showWarningMessage(
      'Execnet: remote execution is disabled because this workspace is not trusted (Restricted Mode). ' +
        'Gateways run code from the workspace; trust it to use them.',
      manage,
    )
    .then((choice) => {
      if (choice === manage) {
        void vscode.commands.executeCommand('workbench.trust.manage');
      }
    });
  return false;
}

/** The Python document a run command is about: a Uri from a menu, or the active editor's. */
export async function documentFor(arg: unknown): Promise<vscode.TextDocument | undefined> {
  const document =
    arg instanceof vscode.Uri
      ? await vscode.workspace.openTextDocument(arg)
      : vscode.window.activeTextEditor?.document;
  if (!document) {
    void vscode.window.showWarningMessage('Execnet: open a Python file to run it on a gateway.');
    return undefined;
  }
  if (document.languageId !== 'python') {
    void vscode.window.showWarningMessage(
      `Execnet: ${path.basename(document.uri.path)} is not a Python file.`,
    );
    return undefined;
  }
  return document;
}

/** The selected lines (whole lines; the cursor's line when nothing is selected), 0-based. */
export function selectedLines(editor: vscode.TextEditor): { first: number; last: number } {
  const selection = editor.selection;
  const first = selection.start.line;
  // a selection ending at the start of a line does not include that line
  const last =
    selection.end.line > first && selection.end.character === 0
      ? selection.end.line - 1
      : selection.end.line;
  return { first, last };
}

/** The text of lines `first`..`last` (0-based, inclusive) of a document. */
export function linesText(document: vscode.TextDocument, first: number, last: number): string {
  return document.getText(new vscode.Range(first, 0, last, document.lineAt(last).text.length));
}
