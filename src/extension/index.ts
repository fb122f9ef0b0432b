// Composition root of the extension: activate() builds everything once and hands every disposable
// to `context.subscriptions`, so VS Code releases it all on deactivation.
import type * as vscode from 'vscode';

export function activate(_context: vscode.ExtensionContext): void {
  // Nothing is contributed yet.
}

export function deactivate(): void {
  // Everything lives in context.subscriptions; VS Code disposes of it.
}
