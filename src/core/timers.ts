// Timers for timeouts users give in seconds. `undefined`, `null` and `Infinity` mean "wait for
// ever" (execnet's timeout=None); NaN and negative values mean "now"; anything beyond Node's
// timer range (2^31-1 ms, about 24.8 days, past which setTimeout fires at once) is waited out in
// steps, so a timeout never fires early.

/** The longest delay setTimeout honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timeout in seconds, or none. */
export type Timeout = number | null | undefined;

/** Whether a timeout means waiting for ever. */
export function isForever(seconds: Timeout): seconds is null | undefined {
  return seconds === undefined || seconds === null || seconds === Infinity;
}

/** Milliseconds from now until a timeout in seconds ends (Infinity for ever, 0 for now). */
export function timeoutMs(seconds: Timeout): number {
  if (isForever(seconds)) {
    return Infinity;
  }
  return seconds > 0 ? seconds * 1000 : 0;
}

/** A pending call that can be cancelled, or moved to an earlier time. */
export interface Timer {
  /** Call it `seconds` from now instead, if that is earlier than now planned. */
  shorten(seconds: Timeout): void;
  clear(): void;
}

/**
 * Call `fn` once, `seconds` from now (never, for a timeout of for ever). Keeps the Node process
 * alive until then, like setTimeout.
 */
export function after(seconds: Timeout, fn: () => void): Timer {
  let deadline = performance.now() + timeoutMs(seconds);
  let handle: NodeJS.Timeout | undefined;
  let done = false;
  const arm = (): void => {
    clearTimeout(handle);
    handle = undefined;
    if (done || deadline === Infinity) {
      return;
    }
    const left = deadline - performance.now();
    if (left > MAX_TIMER_MS) {
      handle = setTimeout(arm, MAX_TIMER_MS);
    } else {
      handle = setTimeout(
        () => {
          done = true;
          fn();
        },
        Math.max(0, left),
      );
    }
  };
  arm();
  return {
    shorten(next) {
      const candidate = performance.now() + timeoutMs(next);
      if (candidate < deadline) {
        deadline = candidate;
        arm();
      }
    },
    clear() {
      done = true;
      clearTimeout(handle);
    },
  };
}
