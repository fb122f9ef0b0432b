// Notebook kernels without Jupyter: a NotebookController "Execnet: NAME" for `.ipynb` files
// (the jupyter-notebook type of VS Code's built-in ipynb support) for each configured gateway
// and each running one. Cells run in the gateway's interactive session; their output streams in,
// display() and final values show with their richest MIME type (images as bytes), errors show
// their traceback, and interrupt works from the notebook's toolbar. A gateway that is not running
// is started on the first cell.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { Disposable, toDisposable } from '../../core/lifecycle';
import type { DisplayData, Execution, ExecutionEvent } from '../../core/session';
import { describeInterpreter } from '../../views/format';
import { requestFor, startGateway, type GatewayServices } from '../gateways';
import type { GatewayEntry } from '../session';

export const NOTEBOOK_TYPE = 'jupyter-notebook';
const CONTROLLER_PREFIX = 'execnet-';

/** What a controller stands for: a configured gateway (by name) or a running one (by id). */
interface KernelTarget {
  readonly key: string;
  readonly label: string;
  readonly description: string;
  /** The running gateway, if any; else `name` is started. */
  readonly entry?: GatewayEntry;
  readonly name?: string;
}

export class NotebookKernels extends Disposable {
  private readonly controllers = new Map<string, vscode.NotebookController>();
  /** What each controller runs on now (a configured one gets its entry once started). */
  private readonly targets = new Map<string, KernelTarget>();
  /** The runs of each notebook's cells, so an interrupt can cancel what waits. */
  private readonly running = new Map<vscode.NotebookDocument, Set<Execution>>();

  constructor(private readonly services: GatewayServices) {
    super();
    this.refresh();
    this.register(
      services.session.onDidChange((change) => {
        if (change.kind === 'gateway' || change.kind === 'group' || change.kind === 'groups') {
          this.refresh();
        }
      }),
    );
    this.register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('execnet.gateways')) {
          this.refresh();
        }
      }),
    );
    this.register(
      toDisposable(() => {
        for (const controller of this.controllers.values()) {
          controller.dispose();
        }
        this.controllers.clear();
      }),
    );
  }

  /** The controller id for a configured gateway's name (for tests and `notebook.selectKernel`). */
  static controllerId(name: string): string {
    return `${CONTROLLER_PREFIX}${name}`;
  }

  /** The gateway a notebook's cells run on, if its kernel is one of ours and it is running. */
  entryFor(notebook: vscode.NotebookDocument): GatewayEntry | undefined {
    for (const [id, controller] of this.controllers) {
      if (this.selected.get(notebook) === controller) {
        return this.resolveRunning(this.targets.get(id));
      }
    }
    return undefined;
  }

  private readonly selected = new WeakMap<vscode.NotebookDocument, vscode.NotebookController>();

  /** Configured gateways plus running ones that are not configured: one controller each. */
  private refresh(): void {
    if (this.isDisposed) {
      return;
    }
    const wanted = new Map<string, KernelTarget>();
    for (const config of this.services.settings.gateways()) {
      wanted.set(config.name, {
        key: config.name,
        label: `Execnet: ${config.name}`,
        description: config.spec,
        name: config.name,
      });
    }
    for (const entry of this.services.session.entries) {
      if (entry.state === 'dead' || (entry.configName && wanted.has(entry.configName))) {
        continue;
      }
      wanted.set(entry.id, {
        key: entry.id,
        label: `Execnet: ${entry.id}`,
        description: entry.spec,
        entry,
      });
    }
    for (const [key, controller] of this.controllers) {
      if (!wanted.has(key.slice(CONTROLLER_PREFIX.length))) {
        controller.dispose();
        this.controllers.delete(key);
        this.targets.delete(key);
      }
    }
    for (const target of wanted.values()) {
      const id = NotebookKernels.controllerId(target.key);
      this.targets.set(id, target);
      let controller = this.controllers.get(id);
      if (!controller) {
        controller = this.createController(id, target);
        this.controllers.set(id, controller);
      }
      controller.label = target.label;
      controller.description = target.description;
      const entry = this.resolveRunning(target);
      controller.detail = entry?.info
        ? `${describeInterpreter(entry.info)} (${entry.id})`
        : 'started on the first cell';
    }
  }

  private createController(id: string, target: KernelTarget): vscode.NotebookController {
    const controller = vscode.notebooks.createNotebookController(id, NOTEBOOK_TYPE, target.label);
    controller.supportedLanguages = ['python'];
    controller.supportsExecutionOrder = true;
    controller.executeHandler = (cells, notebook) => this.execute(id, cells, notebook, controller);
    controller.interruptHandler = (notebook) => this.interrupt(notebook);
    controller.onDidChangeSelectedNotebooks(({ notebook, selected }) => {
      if (selected) {
        this.selected.set(notebook, controller);
      } else if (this.selected.get(notebook) === controller) {
        this.selected.delete(notebook);
      }
    });
    return controller;
  }

  private resolveRunning(target: KernelTarget | undefined): GatewayEntry | undefined {
    if (!target) {
      return undefined;
    }
    if (target.entry) {
      return target.entry.state === 'alive' ? target.entry : undefined;
    }
    return this.services.session.entries.find(
      (e) => e.configName === target.name && e.state === 'alive',
    );
  }

  private async gatewayFor(id: string): Promise<GatewayEntry | undefined> {
    const target = this.targets.get(id);
    const running = this.resolveRunning(target);
    if (running || !target?.name) {
      return running;
    }
    return startGateway(this.services, requestFor(this.services.settings, target.name));
  }

  private interrupt(notebook: vscode.NotebookDocument): void {
    // what waits is cancelled first, so nothing starts after the interrupted cell
    const runs = [...(this.running.get(notebook) ?? [])];
    for (const execution of runs.filter((e) => e.state === 'queued')) {
      execution.interrupt();
    }
    for (const execution of runs.filter((e) => e.state === 'running')) {
      execution.interrupt();
    }
  }

  private async execute(
    id: string,
    cells: vscode.NotebookCell[],
    notebook: vscode.NotebookDocument,
    controller: vscode.NotebookController,
  ): Promise<void> {
    this.selected.set(notebook, controller);
    const executions = cells.map((cell) => controller.createNotebookCellExecution(cell));
    let entry: GatewayEntry | undefined;
    try {
      entry = await this.gatewayFor(id);
    } catch (error) {
      this.services.log.error(`notebook ${notebook.uri.fsPath}: no gateway`, error);
    }
    if (!entry) {
      for (const execution of executions) {
        execution.start(Date.now());
        await execution.replaceOutput(
          errorOutput(
            'GatewayNotRunning',
            `the gateway of kernel ${controller.label} is not running`,
          ),
        );
        execution.end(false, Date.now());
      }
      return;
    }
    const session = this.services.session.interactive(entry).session;
    const name = path.basename(notebook.uri.path);
    const mine = this.running.get(notebook) ?? new Set<Execution>();
    this.running.set(notebook, mine);
    // queue them all at once, in order: an interrupt cancels those that wait
    const runs = executions.map((execution) => {
      const cell = execution.cell;
      const run = session.run(cell.document.getText(), {
        filename: `<${name} cell ${cell.index + 1}>`,
      });
      mine.add(run);
      return run;
    });
    let failed = false;
    for (let i = 0; i < runs.length; i++) {
      const run = runs[i];
      const execution = executions[i];
      if (failed) {
        // as in Jupyter, the cells after a failed one do not run
        run.interrupt();
        execution.start(Date.now());
        execution.end(undefined);
        mine.delete(run);
        continue;
      }
      const ok = await this.follow(run, execution);
      mine.delete(run);
      failed = !ok;
    }
  }

  /** Show a run in its cell; resolves with whether it succeeded. */
  private async follow(run: Execution, execution: vscode.NotebookCellExecution): Promise<boolean> {
    execution.token.onCancellationRequested(() => run.interrupt());
    await new Promise<void>((resolve) => {
      if (run.state !== 'queued') {
        resolve();
        return;
      }
      run.onDidStart(() => resolve());
      void run.done.then(() => resolve());
    });
    if (run.state === 'done' && run.outcome?.kind === 'cancelled') {
      execution.start(Date.now());
      execution.end(undefined);
      return false;
    }
    execution.executionOrder = run.count;
    execution.start(run.startedAt?.getTime() ?? Date.now());
    await execution.clearOutput();
    const writer = new CellWriter(execution);
    const handle = (event: ExecutionEvent): void => writer.write(event);
    for (const event of run.events) {
      handle(event);
    }
    const listener = run.onEvent(handle);
    const outcome = await run.done;
    listener.dispose();
    await writer.flushed();
    const ok = outcome.kind === 'ok';
    if (outcome.kind === 'gateway-closed') {
      await execution.appendOutput(errorOutput('GatewayClosed', outcome.message));
    } else if (outcome.kind === 'exit' && outcome.code !== 0) {
      await execution.appendOutput(
        errorOutput('SystemExit', outcome.message || `exit status ${outcome.code}`),
      );
    }
    execution.end(ok || (outcome.kind === 'exit' && outcome.code === 0), Date.now());
    return ok;
  }
}

/** Writes a run's events into a cell, in order: consecutive stream text goes into one output. */
class CellWriter {
  private chain: Thenable<void> = Promise.resolve();
  private stream: { name: 'stdout' | 'stderr'; output: vscode.NotebookCellOutput } | undefined;

  constructor(private readonly execution: vscode.NotebookCellExecution) {}

  write(event: ExecutionEvent): void {
    this.chain = this.chain.then(() => this.apply(event));
  }

  flushed(): Thenable<void> {
    return this.chain;
  }

  private async apply(event: ExecutionEvent): Promise<void> {
    const execution = this.execution;
    switch (event.kind) {
      case 'stream': {
        const item =
          event.stream === 'stdout'
            ? vscode.NotebookCellOutputItem.stdout(event.text)
            : vscode.NotebookCellOutputItem.stderr(event.text);
        if (this.stream?.name === event.stream) {
          await execution.appendOutputItems(item, this.stream.output);
          return;
        }
        const output = new vscode.NotebookCellOutput([item]);
        this.stream = { name: event.stream, output };
        await execution.appendOutput(output);
        return;
      }
      case 'display':
      case 'result':
        this.stream = undefined;
        await execution.appendOutput(displayOutput(event));
        return;
      case 'error':
        this.stream = undefined;
        await execution.appendOutput(
          new vscode.NotebookCellOutput([
            vscode.NotebookCellOutputItem.error({
              name: event.error.type,
              message: event.error.remoteMessage,
              stack: event.error.traceback,
            }),
          ]),
        );
        return;
      case 'item':
        this.stream = undefined;
        await execution.appendOutput(
          new vscode.NotebookCellOutput([
            vscode.NotebookCellOutputItem.text(`[channel] ${String(event.value)}`),
          ]),
        );
        return;
      case 'input': {
        const answer = await vscode.window.showInputBox({
          title: 'input() in a notebook cell',
          prompt: event.request.prompt || 'The cell asks for input',
          password: event.request.password,
          ignoreFocusOut: true,
        });
        event.request.answer(answer);
        return;
      }
    }
  }
}

/** The richest first, text/plain last: the notebook shows the first it can render. */
const MIME_ORDER = [
  'application/json',
  'text/html',
  'image/svg+xml',
  'image/png',
  'image/jpeg',
  'text/markdown',
  'text/latex',
];

function displayOutput(display: DisplayData): vscode.NotebookCellOutput {
  const mimes = Object.keys(display.data).sort((a, b) => rank(a) - rank(b));
  const items = mimes.map((mime) => {
    const value = display.data[mime];
    return new vscode.NotebookCellOutputItem(
      typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
      mime,
    );
  });
  return new vscode.NotebookCellOutput(items, { ...display.metadata });
}

function rank(mime: string): number {
  if (mime === 'text/plain') {
    return MIME_ORDER.length + 1;
  }
  const index = MIME_ORDER.indexOf(mime);
  return index < 0 ? MIME_ORDER.length : index;
}

function errorOutput(name: string, message: string): vscode.NotebookCellOutput {
  return new vscode.NotebookCellOutput([
    vscode.NotebookCellOutputItem.error({ name, message, stack: `${name}: ${message}` }),
  ]);
}
