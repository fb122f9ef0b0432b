// The pipe to a remote interpreter, whatever opened it (a child process, an SSH channel, a
// socket). The gateway only needs a byte stream each way, a way to force an end, and to know
// when the other end is gone.

import type { Readable, Writable } from 'node:stream';

export interface TransportExit {
  /** Exit status of the remote process, when known. */
  readonly code: number | null;
  /** Signal that ended the remote process, when known. */
  readonly signal: string | null;
  /** Why the transport could not be opened or broke (spawn error, connection reset...). */
  readonly error?: Error;
}

export interface Transport {
  /** What this is, for messages: `popen python3 (pid 1234)`. */
  readonly description: string;
  /** Bytes to the remote interpreter. */
  readonly input: Writable;
  /** Bytes from the remote interpreter. */
  readonly output: Readable;
  /** The remote's stderr before the protocol takes over (start-up errors, level-2 traces). */
  readonly stderr?: Readable;
  /** Local process id of what runs the remote (the interpreter, ssh...), if there is one. */
  readonly pid?: number;
  /** Resolves when the remote end is gone. Never rejects. */
  readonly exited: Promise<TransportExit>;
  /** End the remote forcefully, with everything it started. Safe to call more than once. */
  kill(): void;
  /** Let the Node process exit while this transport is open (or not). */
  setKeepAlive(keepAlive: boolean): void;
}
