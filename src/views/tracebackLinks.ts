// Remote tracebacks lead back to the local file: in run output channels every `File "…", line N`
// frame of a file that was run becomes a link to that line, and the frame where a run failed
// gets an error diagnostic in the file itself.

import * as vscode from 'vscode';
import type { RemoteError } from '../core/errors';
import { Disposable } from '../core/lifecycle';
import type { Run, Session } from '../extension/session';
import { TRACEBACK_FRAME } from './format';
import { OUTPUT_LANGUAGE } from './runOutput';

/** Local files that runs came from: traceback frames naming them are linked. */
export class RunFiles {
  private readonly files = new Map<string, vscode.Uri>();

  add(path: string, uri: vscode.Uri): void {
    this.files.set(path, uri);
  }

  get(path: string): vscode.Uri | undefined {
    return this.files.get(path);
  }
}

/** `file:///x.py#L12`: opens the file at that line. */
export function lineTarget(uri: vscode.Uri, line: number): vscode.Uri {
  return uri.with({ fragment: `L${line}` });
}

export class TracebackLinkProvider implements vscode.DocumentLinkProvider {
  constructor(private readonly files: RunFiles) {}

  provideDocumentLinks(document: vscode.TextDocument): vscode.DocumentLink[] {
    const links: vscode.DocumentLink[] = [];
    const text = document.getText();
    for (const match of text.matchAll(TRACEBACK_FRAME)) {
      const uri = this.files.get(match[1]);
      if (!uri || match.index === undefined) {
        continue;
      }
      const line = Number(match[2]);
      const start = document.positionAt(match.index);
      const end = document.positionAt(match.index + match[0].length);
      const link = new vscode.DocumentLink(new vscode.Range(start, end), lineTarget(uri, line));
      link.tooltip = `Open ${vscode.workspace.asRelativePath(uri)} at line ${line}`;
      links.push(link);
    }
    return links;
  }
}

/** Registers the link provider and keeps the diagnostics of failed runs. */
export class TracebackNavigation extends Disposable {
  readonly files = new RunFiles();
  private readonly diagnostics = this.register(
    vscode.languages.createDiagnosticCollection('execnet'),
  );

  constructor(session: Session) {
    super();
    this.register(
      vscode.languages.registerDocumentLinkProvider(
        [{ language: OUTPUT_LANGUAGE }],
        new TracebackLinkProvider(this.files),
      ),
    );
    this.register(session.onDidStartRun((run) => this.track(run)));
  }

  private track(run: Run): void {
    const file = run.source.file;
    if (!file) {
      return;
    }
    const uri = this.files.get(file) ?? vscode.Uri.file(file);
    this.files.add(file, uri);
    this.diagnostics.delete(uri);
    // the run drops its listeners when it ends
    run.onEvent((event) => {
      if (event.kind === 'end' && event.outcome.kind === 'error' && !this.isDisposed) {
        this.report(run, file, uri, event.outcome.error);
      }
    });
  }

  /** The innermost frame in the run's file carries the error; the others point at it. */
  private report(run: Run, file: string, uri: vscode.Uri, error: RemoteError): void {
    const frames = error.frames.filter((f) => f.file === file && f.line > 0);
    const innermost = frames.at(-1);
    if (!innermost) {
      return;
    }
    const range = (line: number) =>
      new vscode.Range(line - 1, 0, line - 1, Number.MAX_SAFE_INTEGER);
    const diagnostic = new vscode.Diagnostic(
      range(innermost.line),
      `${error.summary} (on ${run.entry.id})`,
      vscode.DiagnosticSeverity.Error,
    );
    diagnostic.source = 'execnet';
    diagnostic.relatedInformation = frames
      .slice(0, -1)
      .map(
        (f) =>
          new vscode.DiagnosticRelatedInformation(
            new vscode.Location(uri, range(f.line)),
            `called from ${f.function}`,
          ),
      );
    this.diagnostics.set(uri, [diagnostic]);
  }
}
