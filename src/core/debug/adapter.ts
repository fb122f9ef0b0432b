// A debug adapter for one session on a gateway, for any DAP client (the editor's inline adapter,
// a test): messages pass through a DebugRelay to debugpy's adapter on the gateway's host, but for
// the launch request, whose local paths become the gateway's (debugpy maps every later path with
// `pathMappings`). The session ends with the relay: when the gateway or the adapter goes away the
// client still gets answers to what it asked and a `terminated` event, and once the client has
// disconnected the relay is closed, which ends the adapter and the program.

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

  constructor(private readonly relay: DebugRelay) {
    super();
    this.register(relay);
    this.register(relay.onMessage((message) => this.fromAdapter(message)));
    this.register(relay.onDidEnd((end) => this.onRelayEnd(end)));
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
    if (request.command === 'launch') {
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
    if (message.type === 'event' && (message as DebugProtocol.Event).event === 'terminated') {
      this.terminated = true;
    }
    this.emit(message);
  }

  private onRelayEnd(end: DebugRelayEnd): void {
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
  launch.console = 'internalConsole';
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
