// The reaper: a small detached shell that outlives even a SIGKILL of this process. It is told
// every process group we start (remotes, warm interpreters, ssh and sudo commands) and every one
// that ended; when its input ends — this process is gone, however it went — it ends the groups
// still listed: SIGTERM, then SIGKILL after a short grace for what ignored it. A remote stuck in
// a C call that holds the GIL, and its children, go too. (The exit hook in popen.ts does the
// same at once when this process exits normally.)

import { spawn, type ChildProcess } from 'node:child_process';
import { trace } from '../trace';

/** Seconds a group gets between SIGTERM and SIGKILL. */
export const GROUP_GRACE_SECONDS = 1;

// Lines on stdin: `+ PGID` (tracked) or `- PGID` (ended). Signals that reach the shell by
// accident (a terminal's Ctrl-C, a hang-up) are ignored; it ends only when its input does.
const SCRIPT = `
trap '' INT HUP TERM QUIT PIPE
groups=' '
while read -r op pgid; do
  case $op in
    +) groups="$groups$pgid " ;;
    -) case $groups in *" $pgid "*) groups="\${groups%% $pgid *} \${groups#* $pgid }" ;; esac ;;
  esac
done
alive=
for g in $groups; do kill -TERM -$g 2>/dev/null && alive=1; done
[ -n "$alive" ] || exit 0
i=0
while [ $i -lt ${GROUP_GRACE_SECONDS * 10} ]; do
  alive=
  for g in $groups; do kill -0 -$g 2>/dev/null && alive=1; done
  [ -n "$alive" ] || exit 0
  sleep 0.1
  i=$((i + 1))
done
for g in $groups; do kill -KILL -$g 2>/dev/null; done
`;

let reaper: ChildProcess | undefined;

function start(): ChildProcess | undefined {
  try {
    const child = spawn('/bin/sh', ['-c', SCRIPT], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    child.on('error', (error) => {
      trace(`the process-group reaper did not start: ${error.message}`);
      reaper = undefined;
    });
    child.once('exit', () => {
      if (reaper === child) {
        reaper = undefined;
      }
    });
    child.stdin?.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return child;
  } catch (error) {
    trace(`the process-group reaper did not start: ${(error as Error).message}`);
    return undefined;
  }
}

/** Tell the reaper that a group started (`+`) or ended (`-`). */
export function tellReaper(op: '+' | '-', pgid: number): void {
  if (process.platform === 'win32') {
    return;
  }
  if (op === '+' && !reaper) {
    reaper = start();
  }
  reaper?.stdin?.write(`${op} ${pgid}\n`);
}
