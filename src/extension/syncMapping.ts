// The local workspace ↔ remote mirror mapping of a gateway's last sync: which local folder went
// where on the remote (an absolute path there), so that local paths can be found on the gateway
// (a program to debug, a breakpoint's file) and remote paths back here (a traceback's frames).

import * as path from 'node:path';

export interface SyncMapping {
  /** The local folder that was synced. */
  readonly localRoot: string;
  /** Its mirror on the remote, absolute (`~` and relative targets resolved there). */
  readonly remoteRoot: string;
  /** The target as it was given (e.g. `~/execnet-sync/project`). */
  readonly target: string;
  readonly syncedAt: Date;
}

function isInside(relative: string, p: typeof path.posix): boolean {
  return relative !== '..' && !relative.startsWith(`..${p.sep}`) && !p.isAbsolute(relative);
}

/** Where a local file is on the remote, or undefined when it is outside the synced folder. */
export function toRemotePath(mapping: SyncMapping, localPath: string): string | undefined {
  const relative = path.relative(mapping.localRoot, path.resolve(localPath));
  return isInside(relative, path)
    ? path.posix.join(mapping.remoteRoot, ...relative.split(path.sep))
    : undefined;
}

/** Where a remote file of the mirror is locally, or undefined when it is outside the mirror. */
export function toLocalPath(mapping: SyncMapping, remotePath: string): string | undefined {
  const relative = path.posix.relative(mapping.remoteRoot, remotePath);
  return isInside(relative, path.posix)
    ? path.join(mapping.localRoot, ...relative.split('/'))
    : undefined;
}
