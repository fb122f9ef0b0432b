// What activate() builds once and hands to every command and feature: the session, settings and
// log (GatewayServices), the views that show runs, and the editor features. Types only, so any
// module may name it without importing the command registry.

import type { GroupOutputs } from '../views/groupOutput';
import type { PlotsPanel } from '../views/plots';
import type { RunOutputs } from '../views/runOutput';
import type { TracebackNavigation } from '../views/tracebackLinks';
import type { GatewayDebugging } from './debug';
import type { GatewayServices } from './gateways';
import type { NotebookKernels } from './notebook';
import type { RecentSpecs } from './organize';
import type { ReplTerminals } from './repl';
import type { RunLoop } from './run/loop';

export interface Services extends GatewayServices {
  readonly outputs: RunOutputs;
  readonly groupOutputs: GroupOutputs;
  readonly plots: PlotsPanel;
  readonly runLoop: RunLoop;
  readonly recents: RecentSpecs;
  readonly traceback: TracebackNavigation;
  readonly repls: ReplTerminals;
  readonly notebooks: NotebookKernels;
  readonly debugging: GatewayDebugging;
}
