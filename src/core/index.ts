// The engine's public API: what the editor, the CLI and users' scripts import.

import { Group } from './group';
import type { Gateway } from './gateway';
import type { ParsedSpec } from './spec';

export { Channel } from './channel';
export type { ChannelOrigin, ChannelOutput, ChannelState, OutputStream } from './channel';
export * from './errors';
export { Emitter } from './events';
export type { Disposable, Event } from './events';
export { DEFAULT_TERMINATE_TIMEOUT, Gateway } from './gateway';
export type {
  GatewayOptions,
  GatewayOutput,
  GatewayState,
  ExecOptions,
  RemoteInfo,
  RemoteSource,
  RemoteStatus,
} from './gateway';
export { Group, MultiChannel } from './group';
export type { GroupChange } from './group';
export type {
  HostKeyRequest,
  PassphraseRequest,
  PasswordRequest,
  Prompts,
  SecretRequest,
} from './prompts';
export { Execution, Session } from './session';
export type {
  DisplayData,
  ExecutionEvent,
  ExecutionOutcome,
  InputRequest,
  MimeBundle,
  RunOptions,
  SessionOptions,
  SessionState,
} from './session';
export { Complex, dumps, Float, FrozenSet, loads, Tuple } from './serializer';
export { checkSpec, formatSpec, parseSpec, validateSpec } from './spec';
export type { GatewaySpec, ParsedSpec } from './spec';
export { defaultSshPool, SshConnectionPool } from './ssh/connections';
export { ExecStdin } from './stdin';
export type { Timeout } from './timers';
export { setTraceSink } from './trace';

/** The group `makeGateway()` adds to, like execnet's `default_group`. */
export const defaultGroup = new Group('default');

/** Start a gateway in the default group: `await makeGateway('popen//python=python3.12')`. */
export function makeGateway(spec?: string | ParsedSpec): Promise<Gateway> {
  return defaultGroup.makeGateway(spec);
}
export * from './rsync';
