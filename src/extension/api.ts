// What activate() returns: a read-only window on the extension's state for other extensions and
// for the integration tests (which cannot read an output channel's text through the editor API).

import type { Plot } from '../views/plots';
import type { Run, Session } from './session';

export interface ExecnetApi {
  /** Milliseconds activate() took. */
  readonly activationMs: number;
  /** Gateways, groups and runs. Treat as read-only; act through the `execnet.*` commands. */
  readonly session: Session;
  /** Everything written to a run's output channel or terminal so far (typed lines included). */
  transcript(run: Run): string;
  /** The name of the output channel or terminal a run writes to (undefined once disposed). */
  paneName(run: Run): string | undefined;
  /** The names of the run output channels and terminals there are now. */
  paneNames(): string[];
  /** The combined output of the Run File on Group a run belongs to ('' when none). */
  groupTranscript(run: Run): string;
  /** The default gateway status-bar item's text. */
  statusText(): string;
  /** The runs status-bar item's text ('' while nothing runs). */
  runStatusText(): string;
  /** The last hint a failed run got (a module missing on the gateway, input() without a terminal). */
  lastHint(): string | undefined;
  /** Specs typed into New Gateway lately, newest first (it offers them again). */
  recentSpecs(): string[];
  /** The figures Execnet Plots keeps, newest first. */
  plots(): readonly Plot[];
}
