// A minimal typed event emitter with disposable subscriptions, shaped like the editor's own
// `Event<T>` so that views can subscribe to engine state without the engine knowing the editor.

export interface Disposable {
  dispose(): void;
}

export type Event<T> = (listener: (value: T) => void) => Disposable;

export class Emitter<T> implements Disposable {
  private listeners: Array<(value: T) => void> = [];

  readonly event: Event<T> = (listener) => {
    this.listeners.push(listener);
    return {
      dispose: () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
      },
    };
  };

  get hasListeners(): boolean {
    return this.listeners.length > 0;
  }

  fire(value: T): void {
    // Copy first: a listener may unsubscribe while we iterate.
    for (const listener of this.listeners.slice()) {
      listener(value);
    }
  }

  dispose(): void {
    this.listeners = [];
  }
}
