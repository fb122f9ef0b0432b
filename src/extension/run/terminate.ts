// Ending gateways whose code is running: the runs are interrupted first (most code ends at once,
// and its gateway with it), and a notification says what is being waited for and until when,
// instead of sitting silent until the terminate timeout kills them.

import * as vscode from 'vscode';
import type { GatewayServices } from '../gateways';
import type { GatewayEntry } from '../session';

/** Seconds the interrupted runs get to end before their gateways are asked to exit. */
const INTERRUPT_GRACE = 2;

export async function terminateEntries(
  services: GatewayServices,
  entries: readonly GatewayEntry[],
): Promise<void> {
  const { session, log } = services;
  const live = entries.filter((e) => e.state !== 'dead');
  const runs = live.flatMap((e) => e.openRuns);
  if (runs.length === 0) {
    await Promise.all(live.map((e) => session.terminate(e)));
    return;
  }
  const timeout = services.settings.terminateTimeout();
  const grace = Math.min(INTERRUPT_GRACE, timeout);
  const names = live.map((e) => e.id).join(', ');
  log.info(
    `terminating ${names}: ${runs.length} run(s) interrupted first, killed after ${grace + timeout} s`,
  );
  await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Execnet: terminating ${names}`,
    },
    async (progress) => {
      const deadline = Date.now() + (grace + timeout) * 1000;
      const tick = (): void => {
        const left = live.flatMap((e) => e.openRuns);
        const seconds = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
        progress.report({
          message:
            left.length > 0
              ? `${left.map((r) => r.label).join(', ')} still running: killed in ${seconds} s`
              : 'waiting for the interpreters to exit…',
        });
      };
      tick();
      const timer = setInterval(tick, 500);
      try {
        // the code ends by itself when it can: its outputs say it was interrupted
        for (const run of runs) {
          run.interrupt();
        }
        await Promise.all(runs.map((run) => run.ended(grace)));
        await Promise.all(live.map((e) => session.terminate(e)));
      } finally {
        clearInterval(timer);
      }
    },
  );
}

/** Terminate All asks first (it ends every interpreter, and the code running there). */
export async function confirmTerminateAll(entries: readonly GatewayEntry[]): Promise<boolean> {
  const live = entries.filter((e) => e.state !== 'dead');
  if (live.length === 0) {
    return true;
  }
  const runs = live.flatMap((e) => e.openRuns);
  const action = live.length === 1 ? 'Terminate' : `Terminate All ${live.length}`;
  const choice = await vscode.window.showWarningMessage(
    `Terminate ${live.length === 1 ? `gateway ${live[0].id}` : `all ${live.length} gateways`}?`,
    {
      modal: true,
      detail:
        `${live.map((e) => e.id).join(', ')}` +
        (runs.length > 0
          ? `\n${runs.length} run(s) still going will be interrupted: ${runs.map((r) => `${r.label} on ${r.entry.id}`).join(', ')}`
          : ''),
    },
    action,
  );
  return choice === action;
}
