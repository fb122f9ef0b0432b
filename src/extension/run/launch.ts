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

/** True for gateways that see this machine's files: popen, not through another gateway. */
export function isLocalGateway(entry: GatewayEntry): boolean {
  const spec = entry.gateway?.spec;
  return spec !== undefined && spec.type === 'popen' && spec.via === undefined;
}

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
  const mirrored = entry.sync ? toRemotePath(entry.sync, file) : undefined;
  if (mirrored && entry.sync && (inMirror || !isLocalGateway(entry))) {
    return {
      presentation,
      filename: mirrored,
      exec: {
        ...common,
        argv: [mirrored, ...(source.args ?? [])],
        sysPath0: path.posix.dirname(mirrored),
        cwd: ownChdir ? undefined : entry.sync.remoteRoot,
      },
    };
  }
  if (isLocalGateway(entry)) {
    return {
      presentation,
      filename: file,
      exec: {
        ...common,
        argv: [file, ...(source.args ?? [])],
        sysPath0: path.dirname(file),
        cwd: ownChdir ? undefined : workspaceRoot,
      },
    };
  }
  // a remote that has no copy of the workspace: the code runs, its own folder is not there
  return {
    presentation,
    filename: file,
    exec: { ...common, argv: [file, ...(source.args ?? [])] },
  };
}
