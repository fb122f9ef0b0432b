// A local folder and where it is on a gateway's host (a sync mirror, a shared mount): local paths
// under it find their remote copies and back. Remote paths are POSIX.

import * as path from 'node:path';

export interface PathMapping {
  /** A local folder. */
  readonly localRoot: string;
  /** The same folder on the remote, absolute. */
  readonly remoteRoot: string;
}

function isInside(relative: string, p: typeof path.posix): boolean {
  return relative !== '..' && !relative.startsWith(`..${p.sep}`) && !p.isAbsolute(relative);
}

/** Where a local file is on the remote, or undefined when it is outside the mapped folder. */
export function toRemotePath(mapping: PathMapping, localPath: string): string | undefined {
  const relative = path.relative(mapping.localRoot, path.resolve(localPath));
  return isInside(relative, path)
    ? path.posix.join(mapping.remoteRoot, ...relative.split(path.sep))
    : undefined;
}

/** Where a remote file of the mapped folder is locally, or undefined when it is outside it. */
export function toLocalPath(mapping: PathMapping, remotePath: string): string | undefined {
  const relative = path.posix.relative(mapping.remoteRoot, remotePath);
  return isInside(relative, path.posix)
    ? path.join(mapping.localRoot, ...relative.split('/'))
    : undefined;
}
