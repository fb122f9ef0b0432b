// The local workspace ↔ remote mirror mapping of a gateway's last sync: which local folder went
// where on the remote, so that local paths can be found on the gateway (a program to debug, a
// breakpoint's file) and remote paths back here (a traceback's frames).

import type { PathMapping } from '../core/pathMapping';

export { toLocalPath, toRemotePath } from '../core/pathMapping';

export interface SyncMapping extends PathMapping {
  /** The target as it was given (e.g. `~/execnet-sync/project`); `remoteRoot` is it resolved. */
  readonly target: string;
  readonly syncedAt: Date;
}
