// Remote tracebacks lead back to the workspace. In run outputs and run terminals every
// `File "…", line N` frame of a workspace file is a link to that line: the file that ran, the other
// modules of the workspace, and files under a gateway's sync mirror, mapped back to the local
// file the mirror copies. A failed run's diagnostic sits where it raised (the innermost frame that
// is workspace code, not an installed package), with the call chain as related information; the
// diagnostics a run left go when its file runs again.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RemoteError } from '../core/errors';
import { Disposable } from '../core/lifecycle';
import type { GatewayEntry, Run, Session } from '../extension/session';
import { toLocalPath } from '../extension/syncMapping';
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

/** A frame of a traceback that is a local workspace file. */
export interface LocalFrame {
  readonly uri: vscode.Uri;
  readonly line: number;
  readonly function: string;
}

/** Installed code, not the user's, even inside the workspace (a .venv). */
function isInstalled(file: string): boolean {
  return /[\\/](site|dist)-packages[\\/]/.test(file);
}

/** Which local workspace file a path in a remote traceback stands for. */
export class FrameResolver {
  readonly files = new RunFiles();

  constructor(private readonly session: Session) {}

  /**
   * The local file for a traceback path: one that ran, one under a gateway's sync mirror (the
   * given gateway's, or any's), or one in a workspace folder here. Undefined for anything else.
   */
  resolve(file: string, entry?: GatewayEntry): vscode.Uri | undefined {
    const known = this.files.get(file);
    if (known) {
      return known;
    }
    const entries = entry ? [entry] : this.session.entries;
    for (const candidate of entries) {
      const local = candidate.sync && toLocalPath(candidate.sync, file);
      if (local && isWorkspaceFile(local)) {
        return vscode.Uri.file(local);
      }
    }
    return path.isAbsolute(file) && isWorkspaceFile(file) ? vscode.Uri.file(file) : undefined;
  }

  /** The frames of a traceback that are workspace files, outermost first. */
  localFrames(error: RemoteError, entry?: GatewayEntry): LocalFrame[] {
    const frames: LocalFrame[] = [];
    for (const frame of error.frames) {
      const uri = frame.line > 0 ? this.resolve(frame.file, entry) : undefined;
      if (uri) {
        frames.push({ uri, line: frame.line, function: frame.function });
      }
    }
    return frames;
  }

  /** Links for every workspace frame in a text (a line of a terminal, an output document). */
  links(
    text: string,
    entry?: GatewayEntry,
  ): { start: number; length: number; target: vscode.Uri; tooltip: string }[] {
    const links = [];
    for (const match of text.matchAll(TRACEBACK_FRAME)) {
      const uri = this.resolve(match[1], entry);
      if (!uri || match.index === undefined) {
        continue;
      }
      const line = Number(match[2]);
      links.push({
        start: match.index,
        length: match[0].length,
        target: lineTarget(uri, line),
        tooltip: `Open ${vscode.workspace.asRelativePath(uri)} at line ${line}`,
      });
    }
    return links;
  }
}

function isWorkspaceFile(file: string): boolean {
  const uri = vscode.Uri.file(file);
  if (!vscode.workspace.getWorkspaceFolder(uri)) {
    return false;
  }
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export class TracebackLinkProvider implements vscode.DocumentLinkProvider {
  constructor(private readonly frames: FrameResolver) {}

  provideDocumentLinks(document: vscode.TextDocument): vscode.DocumentLink[] {
    return this.frames.links(document.getText()).map((found) => {
      const range = new vscode.Range(
        document.positionAt(found.start),
        document.positionAt(found.start + found.length),
      );
      const link = new vscode.DocumentLink(range, found.target);
      link.tooltip = found.tooltip;
      return link;
    });
  }
}

interface FrameLink extends vscode.TerminalLink {
  readonly target: vscode.Uri;
}

/** The same links in terminals (a run's, or any other that shows a Python traceback). */
export class TracebackTerminalLinks implements vscode.TerminalLinkProvider<FrameLink> {
  constructor(
    private readonly frames: FrameResolver,
    private readonly entryOf: (terminal: vscode.Terminal) => GatewayEntry | undefined,
  ) {}

  provideTerminalLinks(context: vscode.TerminalLinkContext): FrameLink[] {
    return this.frames.links(context.line, this.entryOf(context.terminal)).map((found) => ({
      startIndex: found.start,
      length: found.length,
      tooltip: found.tooltip,
      target: found.target,
    }));
  }

  async handleTerminalLink(link: FrameLink): Promise<void> {
    await vscode.commands.executeCommand('vscode.open', link.target);
  }
}

/** Registers the link providers and keeps the diagnostics of failed runs. */
export class TracebackNavigation extends Disposable {
  readonly frames: FrameResolver;
  private readonly diagnostics = this.register(
    vscode.languages.createDiagnosticCollection('execnet'),
  );
  /** Per file: the diagnostics each script's last failed run put there. */
  private readonly placed = new Map<string, Map<string, vscode.Diagnostic[]>>();

  constructor(
    session: Session,
    entryOfTerminal: (terminal: vscode.Terminal) => GatewayEntry | undefined = () => undefined,
  ) {
    super();
    this.frames = new FrameResolver(session);
    this.register(
      vscode.languages.registerDocumentLinkProvider(
        [{ language: OUTPUT_LANGUAGE }],
        new TracebackLinkProvider(this.frames),
      ),
    );
    this.register(
      vscode.window.registerTerminalLinkProvider(
        new TracebackTerminalLinks(this.frames, entryOfTerminal),
      ),
    );
    this.register(session.onDidStartRun((run) => this.track(run)));
  }

  /** Kept for callers that register a run's document (untitled files). */
  get files(): RunFiles {
    return this.frames.files;
  }

  private track(run: Run): void {
    const script = run.source.file ?? run.source.label;
    if (run.source.file) {
      this.files.add(
        run.source.file,
        this.files.get(run.source.file) ?? vscode.Uri.file(run.source.file),
      );
    }
    // what the last run of this file left goes
    this.place(script, []);
    // the run drops its listeners when it ends
    run.onEvent((event) => {
      if (event.kind === 'end' && event.outcome.kind === 'error' && !this.isDisposed) {
        this.place(script, this.diagnosticsFor(run, event.outcome.error));
      }
    });
  }

  /** The innermost workspace frame (not installed code) carries the error; the others lead to it. */
  private diagnosticsFor(run: Run, error: RemoteError): [vscode.Uri, vscode.Diagnostic][] {
    const frames = this.frames
      .localFrames(error, run.entry)
      .filter((f) => !isInstalled(f.uri.fsPath));
    const innermost = frames.at(-1);
    if (!innermost) {
      return [];
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
            new vscode.Location(f.uri, range(f.line)),
            `${path.basename(f.uri.fsPath)}:${f.line}, in ${f.function}`,
          ),
      );
    return [[innermost.uri, diagnostic]];
  }

  /** Replace what `script` put anywhere with `diagnostics`. */
  private place(script: string, diagnostics: [vscode.Uri, vscode.Diagnostic][]): void {
    const touched = new Map<string, vscode.Uri>();
    for (const [key, byScript] of this.placed) {
      if (byScript.delete(script)) {
        touched.set(key, vscode.Uri.parse(key));
      }
    }
    for (const [uri, diagnostic] of diagnostics) {
      const key = uri.toString();
      const byScript = this.placed.get(key) ?? new Map<string, vscode.Diagnostic[]>();
      this.placed.set(key, byScript);
      byScript.set(script, [...(byScript.get(script) ?? []), diagnostic]);
      touched.set(key, uri);
    }
    for (const [key, uri] of touched) {
      const all = [...(this.placed.get(key)?.values() ?? [])].flat();
      if (all.length === 0) {
        this.placed.delete(key);
        this.diagnostics.delete(uri);
      } else {
        this.diagnostics.set(uri, all);
      }
    }
  }
}
