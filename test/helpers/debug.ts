// Debug sessions for tests: a DAP client on a gateway's debug adapter that goes through the start
// sequence the editor uses (initialize → launch → initialized → breakpoints → configurationDone →
// first stop), and readers of the stack and the variables.

import * as assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import {
  GatewayDebugAdapter,
  type GatewayDebugAdapterOptions,
  type LaunchArguments,
} from '../../src/core/debug/adapter';
import { DebugRelay, type DebugRelayEnd, type DebugRelayOptions } from '../../src/core/debug/relay';
import type { Gateway } from '../../src/core/gateway';
import { DapClient } from './dap';

export { writeFixture, type DebugFixture } from './debugProgram';

export interface Session {
  readonly relay: DebugRelay;
  readonly adapter: GatewayDebugAdapter;
  readonly dap: DapClient;
  /** The first `stopped` event, and ms from opening the relay to it. */
  readonly stopped: DebugProtocol.StoppedEvent;
  readonly msToFirstStop: number;
}

/**
 * Open a debug session on the gateway and launch the program, with breakpoints
 * (`{ file: [line or breakpoint] }`) and exception filters set before configurationDone.
 */
export async function launchToFirstStop(
  gateway: Gateway,
  launch: LaunchArguments,
  breakpoints: Breakpoints,
  options: DebugRelayOptions & GatewayDebugAdapterOptions & { exceptions?: string[] } = {},
): Promise<Session> {
  const started = performance.now();
  const relay = await DebugRelay.open(gateway, options);
  const adapter = new GatewayDebugAdapter(relay, options);
  const dap = new DapClient(adapter);
  const stopped = await runToFirstStop(dap, launch, breakpoints, options.exceptions);
  return { relay, adapter, dap, stopped, msToFirstStop: performance.now() - started };
}

export type Breakpoints = Record<string, (number | DebugProtocol.SourceBreakpoint)[]>;

/** The editor's start sequence on any adapter, up to the first `stopped` event. */
export async function runToFirstStop(
  dap: DapClient,
  launch: object,
  breakpoints: Breakpoints,
  exceptions: string[] = [],
): Promise<DebugProtocol.StoppedEvent> {
  const init = await dap.request<DebugProtocol.InitializeResponse>('initialize', {
    clientID: 'execnet-test',
    adapterID: 'execnet',
    linesStartAt1: true,
    columnsStartAt1: true,
    pathFormat: 'path',
    supportsVariableType: true,
  });
  assert.ok(init.body?.supportsConfigurationDoneRequest);
  const launched = dap.request('launch', launch);
  await dap.waitEvent('initialized');
  for (const [file, lines] of Object.entries(breakpoints)) {
    const set = await dap.request<DebugProtocol.SetBreakpointsResponse>('setBreakpoints', {
      source: { path: file },
      breakpoints: lines.map((line) => (typeof line === 'number' ? { line } : line)),
    });
    assert.deepEqual(
      set.body.breakpoints.map((b) => b.verified),
      lines.map(() => true),
      `breakpoints in ${file}`,
    );
  }
  await dap.request('setExceptionBreakpoints', { filters: exceptions });
  await dap.request('configurationDone');
  await launched;
  return dap.waitEvent<DebugProtocol.StoppedEvent>('stopped');
}

/** The stack of the stopped thread: `name file:line`, innermost first. */
export async function stackOf(
  dap: DapClient,
  threadId: number,
): Promise<{ frames: DebugProtocol.StackFrame[]; text: string[] }> {
  const stack = await dap.request<DebugProtocol.StackTraceResponse>('stackTrace', {
    threadId,
    startFrame: 0,
    levels: 20,
  });
  const frames = stack.body.stackFrames;
  return {
    frames,
    text: frames.map((f) => `${f.name} ${f.source?.path}:${f.line}`),
  };
}

/** The local variables of a frame, by name. */
export async function localsOf(dap: DapClient, frameId: number): Promise<Map<string, string>> {
  const scopes = await dap.request<DebugProtocol.ScopesResponse>('scopes', { frameId });
  const locals = scopes.body.scopes.find((s) => /local/i.test(s.name)) ?? scopes.body.scopes[0];
  const variables = await dap.request<DebugProtocol.VariablesResponse>('variables', {
    variablesReference: locals.variablesReference,
  });
  return new Map(variables.body.variables.map((v) => [v.name, v.value]));
}

/** Resolves when the relay has ended: the adapter and the program are gone (or the gateway is). */
export function relayEnded(relay: DebugRelay): Promise<DebugRelayEnd> {
  const end = relay.ended;
  return end ? Promise.resolve(end) : new Promise((resolve) => relay.onDidEnd(resolve));
}

/** What an expression evaluates to in a frame (its repr), as the debug console shows it. */
export async function evaluate(
  dap: DapClient,
  frameId: number,
  expression: string,
  context = 'repl',
): Promise<string> {
  const response = await dap.request<DebugProtocol.EvaluateResponse>('evaluate', {
    expression,
    frameId,
    context,
  });
  return response.body.result;
}

/**
 * Clear the breakpoints of `file`, continue to the program's end, disconnect and wait until the
 * relay is gone; resolves with the program's stdout.
 */
export async function runToEnd(session: Session, file: string): Promise<string> {
  const { dap, stopped } = session;
  await dap.request('setBreakpoints', { source: { path: file }, breakpoints: [] });
  await dap.request('continue', { threadId: stopped.body.threadId });
  await dap.waitEvent('terminated');
  await dap.request('disconnect', {});
  await relayEnded(session.relay);
  session.adapter.dispose();
  return dap.output('stdout');
}
