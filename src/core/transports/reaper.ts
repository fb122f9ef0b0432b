// The reaper: a small detached shell that outlives even a SIGKILL of this process. It is told
// every process group we start (remotes, warm interpreters, ssh and sudo commands) and every one
// that ended; when its input ends — this process is gone, however it went — it ends the groups
// still listed: SIGTERM, then SIGKILL after a short grace for what ignored it. A remote stuck in
// a C call that holds the GIL, and its children, go too. (The exit hook in popen.ts does the
// same at once when this process exits normally.) It also cancels the Slurm jobs it was told of
// (scancel), which no signal to a local process ends. On a via= host the same script runs
// through that gateway for the launchers and jobs started there (launch.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { trace } from '../trace';

/** Seconds a group gets between SIGTERM and SIGKILL. */
export const GROUP_GRACE_SECONDS = 1;
/** Seconds the reaper's scancel may take (it gives up sooner when the controller is gone). */
const SCANCEL_SECONDS = 10;

// Lines on stdin: `+ PGID` (tracked) or `- PGID` (ended), `+job ID` / `-job ID` for Slurm
// jobs. Signals that reach the shell by accident (a terminal's Ctrl-C, a hang-up) are ignored;
// it ends only when its input does. scancel runs beside the group kill (a granted salloc ignores
// SIGTERM and leaves only when its job is revoked, or by SIGKILL); it gives up by itself when the
// controller cannot be reached, and `timeout` bounds it where there is one. The shell stays
// until scancel is done, so nothing it started outlives it.
export const REAPER_SCRIPT = `
trap '' INT HUP TERM QUIT PIPE
groups=' '
slurm_jobs=' '
while read -r op id; do
  case $op in
    +) groups="$groups$id " ;;
    -) case $groups in *" $id "*) groups="\${groups%% $id *} \${groups#* $id }" ;; esac ;;
    +job) slurm_jobs="$slurm_jobs$id " ;;
    -job) case $slurm_jobs in *" $id "*) slurm_jobs="\${slurm_jobs%% $id *} \${slurm_jobs#* $id }" ;; esac ;;
  esac
done
if [ "$slurm_jobs" != ' ' ]; then
  bound=
  command -v timeout >/dev/null 2>&1 && bound="timeout -s KILL ${SCANCEL_SECONDS}"
  $bound scancel $slurm_jobs >/dev/null 2>&1 &
fi
alive=
for g in $groups; do kill -TERM -$g 2>/dev/null && alive=1; done
i=0
while [ -n "$alive" ] && [ $i -lt ${GROUP_GRACE_SECONDS * 10} ]; do
  sleep 0.1
  i=$((i + 1))
  alive=
  for g in $groups; do kill -0 -$g 2>/dev/null && alive=1; done
done
[ -z "$alive" ] || for g in $groups; do kill -KILL -$g 2>/dev/null; done
wait
`;

let reaper: ChildProcess | undefined;

function start(): ChildProcess | undefined {
  try {
    const child = spawn('/bin/sh', ['-c', REAPER_SCRIPT], {
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

/** Tell the reaper that a group (`+`/`-`) or a Slurm job (`+job`/`-job`) started or ended. */
export function tellReaper(op: '+' | '-' | '+job' | '-job', id: number | string): void {
  if (process.platform === 'win32') {
    return;
  }
  if (op.startsWith('+') && !reaper) {
    reaper = start();
  }
  reaper?.stdin?.write(`${op} ${id}\n`);
}
