// Debugging a program on a gateway's host: debugpy found or shipped there, its adapter reached
// through a channel (DebugRelay), and a DAP endpoint for a client (GatewayDebugAdapter).

export { debugpyLaunch, GatewayDebugAdapter } from './adapter';
export type { LaunchArguments } from './adapter';
export { DebugpyNotFound, defaultCacheDir, localDebugpy } from './debugpy';
export type { DebugpyBundle, DebugpyOptions } from './debugpy';
export { DebugRelay, DebugStartError } from './relay';
export type { DebugRelayEnd, DebugRelayOptions, RemoteDebugInfo } from './relay';
