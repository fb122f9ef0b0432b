// The engine's connection machinery (gateways, transports with ssh2, rsync) is loaded on first
// use, not at activation: activation stays fast, and a window that never starts a gateway never
// pays for it. Everything else imports the light core modules (errors, events, spec, repr)
// directly, never `../core` (whose index pulls all of it in).

import type * as DebugModule from '../core/debug';
import type * as GroupModule from '../core/group';
import type * as RSyncModule from '../core/rsync';

/* eslint-disable @typescript-eslint/no-require-imports -- a require() in a function is what keeps the bundle's module lazy */

export function loadGroups(): typeof GroupModule {
  return require('../core/group') as typeof GroupModule;
}

export function loadRSync(): typeof RSyncModule {
  return require('../core/rsync') as typeof RSyncModule;
}

export function loadDebug(): typeof DebugModule {
  return require('../core/debug') as typeof DebugModule;
}
