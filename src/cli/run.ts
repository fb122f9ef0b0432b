// Runs code on gateways for the CLI: start them all (or none), run the same code on each with
// its output streamed, turn how each run ended into an exit status, and always end every gateway
// before returning. Ctrl-C once interrupts the running code; twice stops the gateways.

import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  GatewayClosedError,
  GatewayStartError,
  Group,
  checkSpec,
  RemoteError,
  SpecError,
  type Channel,
  type Gateway,
  type RemoteSource,
} from '../core';
import { formatValue } from '../core/repr';
import { onThisMachine } from '../core/spec';
import { GatewaySink, type Streams } from './output';
import { terminalPrompts } from './prompts';
import type { StdinFeed } from './stdin';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_START = 3;
export const EXIT_INTERRUPTED = 130;

/** Seconds the remote gets to exit before it is killed, once the CLI is done with it. */
const TERMINATE_TIMEOUT = 2;

export interface RunRequest {
  readonly specs: readonly string[];
  readonly grouped: boolean;
  /** Source text with its filename, or a local file. */
  readonly code: { readonly source: string; readonly filename: string } | { readonly file: string };
  /** The remote's sys.argv for the code. */
  readonly argv: readonly string[];
  /** Where standard input goes (channel items or sys.stdin), if anywhere. */
  readonly feed?: StdinFeed;
}

/** A session's gateways and its Ctrl-C handling; `close()` ends both. */
class Session {
  readonly group = new Group('cli', { prompts: terminalPrompts });
  private readonly running = new Set<Channel>();
  private interrupts = 0;
  private stopRequested = false;
  private abortWith: ((status: number) => void) | undefined;
  /** Resolves with 130 when the user pressed Ctrl-C twice (or once while nothing ran). */
  readonly aborted = new Promise<number>((resolve) => (this.abortWith = resolve));
  private readonly onSigint = (): void => this.interrupt();

  constructor(private readonly streams: Streams) {
    process.on('SIGINT', this.onSigint);
  }

  /** Track a channel whose code Ctrl-C should interrupt. */
  track(channel: Channel): void {
    this.running.add(channel);
    channel.onClose(() => this.running.delete(channel));
  }

  get interrupted(): boolean {
    return this.interrupts > 0;
  }

  /** True once the user asked to stop the gateways. */
  get stopping(): boolean {
    return this.stopRequested;
  }

  async close(): Promise<void> {
    // Ctrl-C stays ours until the gateways are gone: terminate() is bounded anyway.
    await this.group.terminate(TERMINATE_TIMEOUT);
    process.off('SIGINT', this.onSigint);
  }

  private interrupt(): void {
    if (this.stopping) {
      return;
    }
    this.interrupts++;
    if (this.interrupts === 1 && this.running.size > 0) {
      this.streams.stderr.write(
        'execnet: interrupting the remote code (press Ctrl-C again to stop the gateways)\n',
      );
      for (const channel of this.running) {
        channel.interrupt();
      }
      return;
    }
    this.stopRequested = true;
    this.streams.stderr.write('execnet: stopping the gateways\n');
    this.abortWith?.(EXIT_INTERRUPTED);
  }
}

/**
 * Check every spec before starting anything (a SpecError is exit status 2), then start all
 * gateways at once. Returns the gateways, or the exit status when any could not start.
 */
async function startGateways(
  session: Session,
  specs: readonly string[],
  streams: Streams,
): Promise<Gateway[] | number> {
  const ids = new Set<string>();
  for (const text of specs) {
    let id: string | undefined;
    try {
      id = checkSpec(text).id;
    } catch (error) {
      if (error instanceof SpecError) {
        streams.stderr.write(`execnet: bad gateway spec '${text}': ${error.message}\n`);
        return EXIT_USAGE;
      }
      throw error;
    }
    if (id !== undefined && ids.has(id)) {
      streams.stderr.write(`execnet: two gateways have the id '${id}': ids must differ\n`);
      return EXIT_USAGE;
    }
    if (id !== undefined) {
      ids.add(id);
    }
  }
  // a spec with slurm_tasks=N is N gateways on one allocation
  const starting = Promise.allSettled(specs.map((spec) => session.group.makeGateways(spec)));
  const results = await Promise.race([starting, session.aborted]);
  if (typeof results === 'number') {
    // stopped while starting: end the gateways that come up after the group was terminated
    void starting.then((all) => {
      for (const result of all) {
        if (result.status === 'fulfilled') {
          for (const gateway of result.value) {
            void gateway.terminate(0).catch(() => undefined);
          }
        }
      }
    });
    return results;
  }
  let status = EXIT_OK;
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      const error = result.reason as Error;
      const what = error instanceof GatewayStartError ? '' : `${error.name}: `;
      // name the spec once: most start errors name it already
      const which = error.message.includes(`'${specs[i]}'`) ? '' : ` '${specs[i]}'`;
      streams.stderr.write(`execnet: gateway${which} did not start: ${what}${error.message}\n`);
      status = EXIT_START;
    }
  });
  return status === EXIT_OK
    ? results.flatMap((r) => (r as PromiseFulfilledResult<Gateway[]>).value)
    : status;
}

/** Run code on every gateway of the request; resolves with the exit status. */
export async function runCode(request: RunRequest, streams: Streams): Promise<number> {
  const session = new Session(streams);
  try {
    const gateways = await startGateways(session, request.specs, streams);
    if (typeof gateways === 'number') {
      return gateways;
    }
    const options = { prefix: gateways.length > 1, grouped: request.grouped };
    const runs = gateways.map((gateway) =>
      runOn(session, gateway, request, new GatewaySink(gateway.id, streams, options)),
    );
    const statuses = Promise.all(runs).then((all) => Math.max(...all));
    return await Promise.race([statuses, session.aborted]);
  } finally {
    await session.close();
  }
}

async function runOn(
  session: Session,
  gateway: Gateway,
  request: RunRequest,
  sink: GatewaySink,
): Promise<number> {
  const output = gateway.onOutput(({ stream, data }) => sink.write(stream, data));
  try {
    const channel = gateway.remoteExec(scriptRun(gateway, request));
    session.track(channel);
    request.feed?.attach(channel);
    channel.setCallback((item) => sink.item(formatValue(item)));
    await channel.waitClose();
    return EXIT_OK;
  } catch (error) {
    if (session.stopping) {
      // the gateways are being stopped on the user's request: that is no news
      return EXIT_INTERRUPTED;
    }
    return reportFailure(error, sink, session.interrupted);
  } finally {
    output.dispose();
    sink.close();
  }
}

/**
 * What `python FILE ARGS` gives the code: sys.argv, and on a gateway that shares this machine's
 * files the file's directory first on sys.path (its sibling modules import).
 */
function scriptRun(gateway: Gateway, request: RunRequest): RemoteSource {
  const local = onThisMachine(gateway.spec);
  const code = request.code;
  return {
    ...code,
    argv: request.argv,
    stdin: request.feed?.forwards,
    sysPath0: local && 'file' in code ? path.dirname(path.resolve(code.file)) : undefined,
  };
}

/** How a run that did not end normally maps to an exit status, with what to tell the user. */
function reportFailure(error: unknown, sink: GatewaySink, interrupted: boolean): number {
  if (error instanceof RemoteError) {
    if (error.type === 'SystemExit' && error.exitCode !== undefined) {
      // like Python: sys.exit('message') prints the message, sys.exit(3) prints nothing
      if (error.remoteMessage && error.remoteMessage !== String(error.exitCode)) {
        sink.message('stderr', `${error.remoteMessage}\n`);
      }
      return ((error.exitCode % 256) + 256) % 256;
    }
    sink.message('stderr', error.traceback || `${error.summary}\n`);
    return error.type === 'KeyboardInterrupt' && interrupted ? EXIT_INTERRUPTED : EXIT_FAILED;
  }
  if (error instanceof GatewayClosedError) {
    sink.message('stderr', `execnet: the gateway ended while the code ran: ${error.message}\n`);
    return EXIT_FAILED;
  }
  sink.message('stderr', `execnet: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT_FAILED;
}

/** `execnet status`: start the gateways and print what each one runs. */
export async function showStatus(specs: readonly string[], streams: Streams): Promise<number> {
  const session = new Session(streams);
  try {
    const gateways = await startGateways(session, specs, streams);
    if (typeof gateways === 'number') {
      return gateways;
    }
    const reports = Promise.all(gateways.map((gw, i) => describeGateway(gw, specs[i])));
    const texts = await Promise.race([reports, session.aborted]);
    if (typeof texts === 'number') {
      return texts;
    }
    streams.stdout.write(texts.join('\n'));
    return EXIT_OK;
  } finally {
    await session.close();
  }
}

async function describeGateway(gateway: Gateway, spec: string): Promise<string> {
  const info = gateway.info;
  const status = await gateway.remoteStatus(30);
  const rows: Array<[string, string]> = [
    ['spec', spec],
    ['executable', info.executable],
    ['version', `${info.version.join('.')} (${info.implementation})`],
    ['platform', info.platform],
    ['pid', String(info.pid)],
    ['cwd', info.cwd],
    ['host', info.hostname],
    ['execmodel', info.execmodel],
    ['channels', `${status.numchannels} open, ${status.numexecuting} executing`],
  ];
  return `[${gateway.id}]\n${rows.map(([k, v]) => `  ${`${k}:`.padEnd(12)}${v}\n`).join('')}`;
}

/** Why a local file cannot be read, if it cannot (checked before any gateway starts). */
export function unreadable(file: string): string | undefined {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    if (fs.statSync(file).isDirectory()) {
      return `cannot run '${file}': it is a directory`;
    }
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return `cannot read '${file}': ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`;
  }
}
