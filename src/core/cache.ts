// The user's cache folder for what the engine keeps between runs (compiled remote code, staged
// debugpy copies): `$XDG_CACHE_HOME/execnet`, else `~/.cache/execnet`.

import * as os from 'node:os';
import * as path from 'node:path';

export function userCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'execnet');
}
