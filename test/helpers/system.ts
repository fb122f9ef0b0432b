// A system a test tier needs (a Slurm cluster, podman with its image), started once for the
// tier by scripts/run-tests.mjs: the tier's `system.ts` calls serveSystem(), which starts it,
// prints its environment as one JSON line and stops it when its stdin ends (the runner is done,
// or gone). A system that cannot start on this machine throws SystemUnavailable: the runner
// then skips the tier and says so loudly in the summary.

export interface RunningSystem {
  /** Variables the tier's tests need (SLURM_CONF, CONTAINERS_CONF...). */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/** This machine cannot run the system (not installed, cannot start): skip the tier. */
export class SystemUnavailable extends Error {}

export function serveSystem(start: () => Promise<RunningSystem>): void {
  start().then(
    (system) => {
      process.stdout.write(`${JSON.stringify({ env: system.env })}\n`);
      let stopping = false;
      const stop = (): void => {
        if (!stopping) {
          stopping = true;
          void system.stop().finally(() => process.exit(0));
        }
      };
      process.stdin.on('end', stop);
      process.stdin.on('error', stop);
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      process.stdin.resume();
    },
    (error: unknown) => {
      if (error instanceof SystemUnavailable) {
        process.stdout.write(`${JSON.stringify({ unavailable: error.message })}\n`);
        process.exit(0);
      }
      console.error(error);
      process.exit(1);
    },
  );
}
