// A DAP client for tests, driving a debug adapter object (handleMessage / onDidSendMessage) the
// way the editor does: requests answered by seq, events kept in order and waited for by name.

import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Event } from '../../src/core/events';

export interface AdapterLike {
  handleMessage(message: DebugProtocol.ProtocolMessage): void;
  readonly onDidSendMessage: Event<DebugProtocol.ProtocolMessage>;
}

export class DapClient {
  private seq = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: DebugProtocol.Response) => void; reject: (e: Error) => void }
  >();
  /** Every event received, in order. */
  readonly events: DebugProtocol.Event[] = [];
  private readonly waiters: {
    name: string;
    from: number;
    resolve: (e: DebugProtocol.Event) => void;
  }[] = [];
  private read = 0;

  constructor(private readonly adapter: AdapterLike) {
    adapter.onDidSendMessage((message) => this.receive(message));
  }

  /** Send a request; resolves with the response, rejects when it failed. */
  request<R extends DebugProtocol.Response = DebugProtocol.Response>(
    command: string,
    args?: unknown,
  ): Promise<R> {
    const seq = this.seq++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(seq, {
        resolve: resolve as (r: DebugProtocol.Response) => void,
        reject,
      });
      this.adapter.handleMessage({ seq, type: 'request', command, arguments: args } as never);
    });
  }

  /**
   * The next event of this name after the ones already waited for (events that came earlier
   * are found too), within `timeout` ms.
   */
  waitEvent<E extends DebugProtocol.Event = DebugProtocol.Event>(
    name: string,
    timeout = 30_000,
  ): Promise<E> {
    const index = this.events.findIndex((e, i) => i >= this.read && e.event === name);
    if (index >= 0) {
      this.read = index + 1;
      return Promise.resolve(this.events[index] as E);
    }
    return new Promise<E>((resolve, reject) => {
      const timer = setTimeout(() => {
        const seen = this.events.map((e) => e.event).join(', ');
        reject(new Error(`no '${name}' event within ${timeout} ms (seen: ${seen})`));
      }, timeout);
      this.waiters.push({
        name,
        from: this.read,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e as E);
        },
      });
    });
  }

  /** Text of every `output` event of these categories so far. */
  output(...categories: string[]): string {
    return this.events
      .filter((e) => e.event === 'output')
      .map((e) => e.body as DebugProtocol.OutputEvent['body'])
      .filter((b) => categories.length === 0 || categories.includes(b.category ?? 'console'))
      .map((b) => b.output)
      .join('');
  }

  private receive(message: DebugProtocol.ProtocolMessage): void {
    if (message.type === 'response') {
      const response = message as DebugProtocol.Response;
      const waiter = this.pending.get(response.request_seq);
      this.pending.delete(response.request_seq);
      if (response.success) {
        waiter?.resolve(response);
      } else {
        waiter?.reject(new Error(`${response.command} failed: ${response.message}`));
      }
    } else if (message.type === 'event') {
      const event = message as DebugProtocol.Event;
      this.events.push(event);
      const i = this.waiters.findIndex((w) => w.name === event.event);
      if (i >= 0) {
        const [waiter] = this.waiters.splice(i, 1);
        this.read = this.events.length;
        waiter.resolve(event);
      }
    }
  }
}
