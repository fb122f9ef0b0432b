// How a file runs on a gateway, as `python FILE ARGS` would run it there: sys.argv is [file,
// *args], the file's folder is first on sys.path (sibling modules import), it runs as __main__,
// and the working directory is the workspace folder. On a gateway on this machine that is the
// local file; on a synced remote the mirror's copy (its __file__, folder and root), as on any
// gateway with execnet.syncBeforeRun; on a remote that was never synced the code still runs, under
// its local name, without the folder.

import * as path from 'node:path';
import type { ExecOptions } from '../../core/gateway';
import type { GatewayEntry, RunOptions, RunSource } from '../session';
import { toRemotePath } from '../syncMapping';

/**
 * The RunOptions for running `source` (a workspace file or a selection of one) on `entry`.
 * `workspaceRoot` is the local folder the file belongs to, if any; a terminal gives the code a
 * sys.stdin of its own; `inMirror` runs the mirror's copy even on a local gateway.
 */
export function scriptRunOptions(
  entry: GatewayEntry,
  source: RunSource,
  workspaceRoot: string | undefined,
  presentation: 'output' | 'terminal',
  inMirror = false,
): RunOptions {
  const file = source.file;
  const ownChdir = entry.gateway?.spec.chdir !== undefined;
  const main = !source.text.includes('__channelexec__');
  const stdin = presentation === 'terminal';
  const common: ExecOptions = { main, stdin };
  if (!file) {
    return { presentation, exec: { ...common, argv: [''] } };
  }
  // where the file is for the gateway: its folder and the workspace's root there
  const mirrored = entry.sync ? toRemotePath(entry.sync, file) : undefined;
  const where =
    mirrored && entry.sync && (inMirror || !entry.isLocal)
      ? { file: mirrored, folder: path.posix.dirname(mirrored), root: entry.sync.remoteRoot }
      : entry.isLocal
        ? { file, folder: path.dirname(file), root: workspaceRoot }
        : // a remote with no copy of the workspace: the code runs, its folder is not there
          { file, folder: undefined, root: undefined };
  return {
    presentation,
    filename: where.file,
    exec: {
      ...common,
      argv: [where.file, ...(source.args ?? [])],
      sysPath0: where.folder,
      cwd: ownChdir ? undefined : where.root,
    },
  };
}

/**
 * Where the gateway's interactive session (Run Selection, cells, the REPL, notebooks) works, as
 * a file run would: the workspace folder on a gateway on this machine, the mirror's root on a
 * synced remote; undefined (the gateway's own directory) when its spec has `chdir=` or the remote
 * has no copy of the workspace.
 */
export function sessionDirectory(
  entry: GatewayEntry,
  workspaceRoot: string | undefined,
): string | undefined {
  if (entry.gateway?.spec.chdir !== undefined) {
    return undefined;
  }
  return entry.isLocal ? workspaceRoot : entry.sync?.remoteRoot;
}
