// The local half of remote/debug_relay.py: a DAP connection to debugpy's adapter on a gateway's
// host, carried by one channel of that gateway. Opening it finds debugpy there (or first ships this
// machine's copy into the gateway's per-user cache with the rsync engine) and starts the adapter;
// DAP messages then flow both ways, one per channel item, until the relay is disposed, which ends
// the adapter and the program it started.

import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Channel } from '../channel';
import { ExecnetError } from '../errors';
import { Emitter, type Disposable, type Event } from '../events';
import type { Gateway } from '../gateway';
import { RemoteModule } from '../remoteModule';
import { RSync } from '../rsync';
import { trace } from '../trace';
import { BUNDLE_MARKER, localDebugpy, type DebugpyBundle, type DebugpyOptions } from './debugpy';

/** The debug relay could not start on the gateway; the message says why and what to do. */
export class DebugStartError extends ExecnetError {}

export interface DebugRelayOptions extends DebugpyOptions {
  /** Told what is going on while the relay opens (shipping debugpy takes a moment). */
  readonly progress?: (message: string) => void;
  /** Seconds to wait for the gateway at each step; default 60. */
  readonly timeout?: number;
}

/** The debugger's side of the gateway. */
export interface RemoteDebugInfo {
  readonly executable: string;
  readonly version: readonly number[];
  /** `own`: the interpreter imports debugpy; `cached`: a copy shipped earlier; `shipped`: now. */
  readonly debugpy: 'own' | 'cached' | 'shipped';
  /** Where a cached or shipped copy is, on the gateway's host. */
  readonly folder?: string;
}

/** How the relay ended: debugpy's adapter exited (with what it printed), or the channel failed. */
export interface DebugRelayEnd {
  readonly status?: number;
  readonly stderr?: string;
  readonly error?: Error;
}

/** debugpy 1.6 (the oldest this is tested with) runs on Python 3.7 and later. */
const OLDEST_PYTHON = [3, 7];

const debugRelayModule = new RemoteModule('debug_relay.py', 'serve');
const ENDED = Symbol('ended');

/** Seconds the remote gets to end the adapter after the relay is closed, before the channel is. */
const CLOSE_TIMEOUT = 10;

export class DebugRelay implements Disposable {
  private readonly messageEmitter = new Emitter<DebugProtocol.ProtocolMessage>();
  private readonly endEmitter = new Emitter<DebugRelayEnd>();
  /** A DAP message from debugpy's adapter. */
  readonly onMessage: Event<DebugProtocol.ProtocolMessage> = this.messageEmitter.event;
  /** Fires once, when the adapter and the program are gone (or the gateway is). */
  readonly onDidEnd: Event<DebugRelayEnd> = this.endEmitter.event;
  private readonly outputEmitter = new Emitter<Buffer>();
  /** What the program started with spawn() writes to its terminal (stdout and stderr). */
  readonly onTerminalOutput: Event<Buffer> = this.outputEmitter.event;
  private spawning: { resolve(pid: number): void; reject(error: Error): void } | undefined;
  private endValue: DebugRelayEnd | undefined;
  private exit: { status: number; stderr: string } | undefined;
  private closing: NodeJS.Timeout | undefined;

  private constructor(
    private readonly channel: Channel,
    readonly gateway: Gateway,
    readonly info: RemoteDebugInfo,
  ) {
    channel.setCallback((item) => this.onItem(item), ENDED);
  }

  /**
   * Start debugpy's adapter on the gateway's host, shipping debugpy there first if its Python
   * has none. Rejects with DebugStartError saying what is missing.
   */
  static async open(gateway: Gateway, options: DebugRelayOptions = {}): Promise<DebugRelay> {
    const timeout = options.timeout ?? 60;
    const channel = debugRelayModule.exec(gateway, {});
    try {
      const hello = helloInfo(await channel.receive(timeout));
      debugRelayModule.kept(gateway);
      const python = `${gateway.id}'s Python ${hello.version.join('.')} (${hello.executable})`;
      if (compareVersions(hello.version, OLDEST_PYTHON) < 0) {
        throw new DebugStartError(
          `${python} is too old to debug: debugpy needs Python ${OLDEST_PYTHON.join('.')} or newer`,
        );
      }
      let info: RemoteDebugInfo = { ...hello, debugpy: 'own' };
      if (!hello.debugpy) {
        // a copy of this machine's debugpy: cached there already, or shipped now
        let bundle: DebugpyBundle;
        try {
          bundle = await localDebugpy(options);
        } catch (error) {
          throw new DebugStartError(
            `${python} has no debugpy, and there is none here to ship: ${(error as Error).message}`,
            { cause: error },
          );
        }
        if (compareVersions(hello.version, bundle.minimumPython) < 0) {
          throw new DebugStartError(
            `${python} has no debugpy, and the one here (${bundle.version} from ${bundle.source}) needs Python ${bundle.minimumPython.join('.')} or newer: install debugpy on the gateway (\`pip install "debugpy<1.7"\` for Python 3.7)`,
          );
        }
        await channel.send(['find', bundle.key]);
        const [, folder, complete] = (await channel.receive(timeout)) as [string, string, boolean];
        if (!complete) {
          await ship(gateway, bundle, folder, options.progress);
          await channel.send(['shipped', bundle.key]);
        }
        info = { ...hello, debugpy: complete ? 'cached' : 'shipped', folder };
      }
      await channel.send(['start']);
      trace(`[${gateway.id}] debug relay: debugpy (${info.debugpy}) ${info.folder ?? ''}`);
      return new DebugRelay(channel, gateway, info);
    } catch (error) {
      channel.close();
      if (error instanceof DebugStartError) {
        throw error;
      }
      throw new DebugStartError(
        `the debugger could not start on ${gateway.id}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** How it ended, once it has. */
  get ended(): DebugRelayEnd | undefined {
    return this.endValue;
  }

  /** Send a DAP message to debugpy's adapter (dropped once the relay is closing). */
  send(message: DebugProtocol.ProtocolMessage): void {
    if (!this.endValue && !this.closing) {
      void this.channel.send(Buffer.from(JSON.stringify(message), 'utf8'));
    }
  }

  /**
   * Start a command on the gateway's host for debugpy's runInTerminal (its launcher, which starts
   * the program): its stdin is what terminalInput() sends, its output onTerminalOutput.
   * Resolves with its pid.
   */
  spawn(
    args: readonly string[],
    cwd: string | undefined,
    env: Readonly<Record<string, string | null>>,
  ): Promise<number> {
    if (this.endValue || this.closing) {
      return Promise.reject(new ExecnetError('the debug session has ended'));
    }
    if (this.spawning) {
      return Promise.reject(new ExecnetError('the debug session starts one program at a time'));
    }
    return new Promise<number>((resolve, reject) => {
      this.spawning = { resolve, reject };
      void this.channel.send(['spawn', [...args], cwd ?? null, { ...env }]);
    });
  }

  /** Typed text for the spawned program's stdin, its end of file, or Ctrl+C (a SIGINT). */
  terminalInput(input: { text: string } | 'eof' | 'interrupt'): void {
    if (!this.endValue && !this.closing) {
      void this.channel.send(
        typeof input === 'string' ? [input] : ['stdin', Buffer.from(input.text, 'utf8')],
      );
    }
  }

  /**
   * End the session: the adapter's input ends, so it stops the program and exits, and the
   * remote kills what is left; onDidEnd fires once all of it is gone.
   */
  dispose(): void {
    if (this.endValue || this.closing) {
      return;
    }
    this.channel.endSending();
    // a gateway that does not answer any more still gets the channel closed
    this.closing = setTimeout(() => this.channel.close(), CLOSE_TIMEOUT * 1000);
    this.closing.unref();
  }

  private onItem(item: unknown): void {
    if (item === ENDED) {
      clearTimeout(this.closing);
      const error = this.channel.error;
      this.endValue = { ...this.exit, error };
      trace(`[${this.gateway.id}] debug relay ended (${this.exit?.status ?? error?.message})`);
      this.spawning?.reject(new ExecnetError('the debug session ended'));
      this.spawning = undefined;
      this.endEmitter.fire(this.endValue);
      this.endEmitter.dispose();
      this.messageEmitter.dispose();
      this.outputEmitter.dispose();
      return;
    }
    if (item instanceof Uint8Array) {
      this.messageEmitter.fire(JSON.parse(Buffer.from(item).toString('utf8')));
    } else if (Array.isArray(item) && item[0] === 'exit') {
      this.exit = { status: Number(item[1]), stderr: String(item[2] ?? '') };
    } else if (Array.isArray(item) && item[0] === 'output' && item[1] instanceof Uint8Array) {
      this.outputEmitter.fire(Buffer.from(item[1]));
    } else if (Array.isArray(item) && (item[0] === 'spawned' || item[0] === 'spawn-failed')) {
      const spawning = this.spawning;
      this.spawning = undefined;
      if (item[0] === 'spawned') {
        spawning?.resolve(Number(item[1]));
      } else {
        spawning?.reject(new ExecnetError(`the program could not start: ${String(item[1])}`));
      }
    }
  }
}

/** Copy the staged debugpy into `folder` on the gateway; the relay marks it complete afterwards. */
async function ship(
  gateway: Gateway,
  bundle: DebugpyBundle,
  folder: string,
  progress: ((message: string) => void) | undefined,
): Promise<void> {
  progress?.(`shipping debugpy ${bundle.version} to ${gateway.id}`);
  const started = performance.now();
  const rsync = new RSync(bundle.dir, { gitignore: false, exclude: [BUNDLE_MARKER] });
  rsync.addTarget(gateway, folder);
  const summary = await rsync.send();
  if (summary && summary.errors > 0) {
    const first = summary.errorList[0];
    throw new DebugStartError(
      `shipping debugpy to ${gateway.id}:${folder} failed: ${first ? `${first.path}: ${first.message}` : `${summary.errors} error(s)`}`,
    );
  }
  trace(
    `[${gateway.id}] shipped debugpy ${bundle.version} to ${folder}: ${summary?.filesSent} files in ${(performance.now() - started).toFixed(0)} ms`,
  );
}

function helloInfo(hello: unknown): { executable: string; version: number[]; debugpy: boolean } {
  const map = Array.isArray(hello) && hello[0] === 'hello' ? hello[1] : undefined;
  if (!(map instanceof Map)) {
    throw new DebugStartError(`unexpected answer from the debug relay: ${String(hello)}`);
  }
  return {
    executable: String(map.get('executable')),
    version: (map.get('version') as number[]).map(Number),
    debugpy: map.get('debugpy') === true,
  };
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return 0;
}
