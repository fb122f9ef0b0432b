// Lifetimes: a long-lived object extends Disposable, registers what it owns, and releases it all
// in reverse order (LIFO) exactly once, even when one of the releases throws.

import type { Disposable as DisposableLike } from './events';

export abstract class Disposable implements DisposableLike {
  private owned: DisposableLike[] = [];
  private disposedValue = false;

  get isDisposed(): boolean {
    return this.disposedValue;
  }

  /** Own `thing`: it is disposed with this object (at once if this one is disposed already). */
  protected register<T extends DisposableLike>(thing: T): T {
    if (this.disposedValue) {
      thing.dispose();
    } else {
      this.owned.push(thing);
    }
    return thing;
  }

  dispose(): void {
    if (this.disposedValue) {
      return;
    }
    this.disposedValue = true;
    const owned = this.owned.reverse();
    this.owned = [];
    const errors: unknown[] = [];
    for (const thing of owned) {
      try {
        thing.dispose();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) {
      throw errors[0];
    }
    if (errors.length > 1) {
      throw new AggregateError(errors, `${errors.length} errors while disposing`);
    }
  }
}

/** A Disposable from a function, called once. */
export function toDisposable(fn: () => void): DisposableLike {
  let done = false;
  return {
    dispose: () => {
      if (!done) {
        done = true;
        fn();
      }
    },
  };
}
