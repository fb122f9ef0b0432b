// One Run File on Group: the same file on every gateway of a group, looked at together (the
// combined output, the summary of how each ended).

import { Emitter, type Event } from '../../core/events';
import type { Run } from '../session';

export class GroupRun {
  readonly startedAt = new Date();
  endedAt: Date | undefined;
  private readonly endEmitter = new Emitter<GroupRun>();
  /** Fires once, when every run has ended. */
  readonly onDidEnd: Event<GroupRun> = this.endEmitter.event;

  constructor(
    /** The group's name. */
    readonly group: string,
    /** The file's label, as its runs show it. */
    readonly label: string,
    readonly runs: readonly Run[],
  ) {
    for (const run of runs) {
      void run.ended().then(() => this.check());
    }
    this.check();
  }

  get isOpen(): boolean {
    return this.endedAt === undefined;
  }

  private check(): void {
    if (this.endedAt === undefined && this.runs.every((r) => !r.isOpen)) {
      this.endedAt = new Date();
      this.endEmitter.fire(this);
      this.endEmitter.dispose();
    }
  }
}
