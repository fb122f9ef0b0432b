// What activate() returns: a read-only window on the extension's state for other extensions and
// for the integration tests (which cannot read an output channel's text through the editor API).

import type { Run, Session } from './session';

export interface ExecnetApi {
  /** Milliseconds activate() took. */
  readonly activationMs: number;
  /** Gateways, groups and runs. Treat as read-only; act through the `execnet.*` commands. */
  readonly session: Session;
  /** Everything written to a run's output channel so far. */
  transcript(run: Run): string;
  /** The status-bar item's text. */
  statusText(): string;
}
