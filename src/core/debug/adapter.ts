// A debug adapter for one session on a gateway, for any DAP client (the editor's inline adapter,
// a test): messages pass through a DebugRelay to debugpy's adapter on the gateway's host, but for
// the launch request, whose local paths become the gateway's (debugpy maps every later path with
// `pathMappings`). The session ends with the relay: when the gateway or the adapter goes away the
// client still gets answers to what it asked and a `terminated` event, and once the client has
// disconnected the relay is closed, which ends the adapter and the program.
// The program gets a terminal (debugpy's `integratedTerminal` console, the default): debugpy's
// runInTerminal request is answered here, not by the client, whose terminals are on this machine:
// the launcher starts on the gateway's host, and its stdin and output are a ProgramConsole of the
// editor, so input() reads what is typed there. Its output also reaches the debug console.

import { StringDecoder } from 'node:string_decoder';
import { OutputEvent, Response, TerminatedEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { Emitter, type Event } from '../events';
import { Disposable } from '../lifecycle';
import { toRemotePath, type PathMapping } from '../pathMapping';
import type { DebugRelay, DebugRelayEnd } from './relay';

/** The launch configuration of the `execnet` debug type, as the client sends it. */
export interface LaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** The program to debug: a local path (found on the gateway through the path mappings). */
  readonly program: string;
  readonly args?: readonly string[] | string;
  /** Working directory: local (mapped) or a path on the gateway; default the program's folder. */
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | null>>;
  readonly justMyCode?: boolean;
  readonly stopOnEntry?: boolean;
  /** Where local folders are on the gateway's host; none when it sees this machine's files. */
  readonly pathMappings?: readonly PathMapping[];
  /**
   * `integratedTerminal` (default): the program reads its stdin from a terminal of the editor;
   * `internalConsole`: it has no stdin (input() raises EOFError).
   */
  readonly console?: 'integratedTerminal' | 'internalConsole';
}

/** What typed keys reach: the program's stdin, its end of file, Ctrl+C. */
export interface ProgramInput {
  write(text: string): void;
  eof(): void;
  interrupt(): void;
}

/** The terminal of a debugged program, on the client's side. */
export interface ProgramConsole {
  /** What the program writes (stdout and stderr, as a terminal shows them). */
  output(text: string): void;
  /** Where typed text goes from now on. */
  attach(input: ProgramInput): void;
  /** The session is over: the program reads no more. */
  end(): void;
}

export interface GatewayDebugAdapterOptions {
  /** A terminal for the program (its title: debugpy's); without one it reads end of file. */
  readonly openConsole?: (title: string) => ProgramConsole;
}

/** Keys of ours that debugpy has no use for. */
const OWN_KEYS = ['gateway', 'sync', 'pathMappings', 'program', 'cwd'];

export class GatewayDebugAdapter extends Disposable {
  private readonly sendEmitter = this.register(new Emitter<DebugProtocol.ProtocolMessage>());
  /** A message for the client. */
  readonly onDidSendMessage: Event<DebugProtocol.ProtocolMessage> = this.sendEmitter.event;
  private readonly pending = new Map<number, DebugProtocol.Request>();
  private terminated = false;
  private disconnected = false;

  private console: ProgramConsole | undefined;
  private readonly decoder = new StringDecoder('utf8');
  private adapterSeq = 1;

  constructor(
    private readonly relay: DebugRelay,
    private readonly options: GatewayDebugAdapterOptions = {},
  ) {
    super();
    this.register(relay);
    this.register(relay.onMessage((message) => this.fromAdapter(message)));
    this.register(relay.onDidEnd((end) => this.onRelayEnd(end)));
    this.register(relay.onTerminalOutput((data) => this.console?.output(this.decoder.write(data))));
  }

  /** A message from the client. */
  handleMessage(message: DebugProtocol.ProtocolMessage): void {
    if (message.type !== 'request') {
      this.relay.send(message);
      return;
    }
    const request = message as DebugProtocol.Request;
    if (this.relay.ended) {
      this.answer(request, request.command === 'disconnect' ? undefined : 'the session has ended');
      return;
    }
    let forward = request;
    if (request.command === 'initialize') {
      // the program's terminal is ours to give, whatever the client can do
      forward = {
        ...request,
        arguments: { ...request.arguments, supportsRunInTerminalRequest: true },
      };
    } else if (request.command === 'launch') {
      try {
        forward = { ...request, arguments: debugpyLaunch(request.arguments as LaunchArguments) };
      } catch (error) {
        this.answer(request, (error as Error).message);
        return;
      }
    } else if (request.command === 'disconnect') {
      this.disconnected = true;
    }
    this.pending.set(request.seq, request);
    this.relay.send(forward);
  }

  private fromAdapter(message: DebugProtocol.ProtocolMessage): void {
    if (message.type === 'response') {
      const response = message as DebugProtocol.Response;
      this.pending.delete(response.request_seq);
      this.emit(message);
      if (response.command === 'disconnect') {
        // the client is done with the session: end the adapter and whatever it still runs
        this.relay.dispose();
      }
      return;
    }
    if (
      message.type === 'request' &&
      (message as DebugProtocol.Request).command === 'runInTerminal'
    ) {
      void this.runInTerminal(message as DebugProtocol.RunInTerminalRequest);
      return;
    }
    if (message.type === 'event' && (message as DebugProtocol.Event).event === 'terminated') {
      this.terminated = true;
    }
    this.emit(message);
  }

  /** debugpy asks for its launcher to be started in a terminal: on the gateway's host. */
  private async runInTerminal(request: DebugProtocol.RunInTerminalRequest): Promise<void> {
    const { args, cwd, env, title } = request.arguments;
    const respond = (
      body: DebugProtocol.RunInTerminalResponse['body'] | undefined,
      error?: string,
    ) =>
      this.relay.send({
        type: 'response',
        seq: this.adapterSeq++,
        request_seq: request.seq,
        command: request.command,
        success: error === undefined,
        ...(error === undefined ? { body } : { message: error }),
      } as DebugProtocol.Response);
    try {
      const processId = await this.relay.spawn(args, cwd || undefined, env ?? {});
      const console = this.options.openConsole?.(title ?? 'Python Debug Console');
      if (console) {
        this.console = console;
        console.attach({
          write: (text) => this.relay.terminalInput({ text }),
          eof: () => this.relay.terminalInput('eof'),
          interrupt: () => this.relay.terminalInput('interrupt'),
        });
      } else {
        // nobody types: input() reads end of file at once
        this.relay.terminalInput('eof');
      }
      respond({ processId });
    } catch (error) {
      respond(undefined, (error as Error).message);
    }
  }

  private onRelayEnd(end: DebugRelayEnd): void {
    const rest = this.decoder.end();
    if (rest) {
      this.console?.output(rest);
    }
    this.console?.end();
    this.console = undefined;
    for (const request of this.pending.values()) {
      this.answer(
        request,
        request.command === 'disconnect' ? undefined : 'the debugger on the gateway has ended',
      );
    }
    this.pending.clear();
    if (this.terminated || this.disconnected) {
      return;
    }
    const why = end.error
      ? end.error.message
      : end.status
        ? `debugpy's adapter exited with status ${end.status}${end.stderr ? `:\n${end.stderr.trim()}` : ''}`
        : 'the debugger on the gateway has ended';
    this.emit(new OutputEvent(`${why}\n`, 'stderr'));
    this.terminated = true;
    this.emit(new TerminatedEvent());
  }

  private answer(request: DebugProtocol.Request, error?: string): void {
    const response = new Response(request, error);
    response.success = error === undefined;
    this.emit(response);
  }

  private emit(message: DebugProtocol.ProtocolMessage): void {
    if (!this.isDisposed) {
      this.sendEmitter.fire(message);
    }
  }
}

/** debugpy's launch arguments for ours: paths on the gateway, output to the debug console. */
export function debugpyLaunch(args: LaunchArguments): Record<string, unknown> {
  if (typeof args.program !== 'string' || args.program === '') {
    throw new Error('the launch configuration names no program to debug');
  }
  const mappings = args.pathMappings ?? [];
  const remote = (local: string): string | undefined => {
    if (mappings.length === 0) {
      return local;
    }
    for (const mapping of mappings) {
      const found = toRemotePath(mapping, local);
      if (found !== undefined) {
        return found;
      }
    }
    return undefined;
  };
  const program = remote(args.program);
  if (program === undefined) {
    throw new Error(
      `${args.program} is outside the folders the gateway has (${mappings.map((m) => m.localRoot).join(', ')}): sync it there, or add a pathMappings entry for it`,
    );
  }
  const launch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (!OWN_KEYS.includes(key)) {
      launch[key] = value;
    }
  }
  launch.program = program;
  // a cwd outside the mapped folders is taken as a path on the gateway
  launch.cwd = args.cwd ? (remote(args.cwd) ?? args.cwd) : program.replace(/\/[^/]*$/, '') || '/';
  launch.console = args.console === 'internalConsole' ? 'internalConsole' : 'integratedTerminal';
  // the debug console shows the output too, with a terminal or without
  launch.redirectOutput = true;
  launch.justMyCode = args.justMyCode ?? true;
  if (mappings.length > 0) {
    launch.pathMappings = mappings.map((m) => ({
      localRoot: m.localRoot,
      remoteRoot: m.remoteRoot,
    }));
  }
  return launch;
}
