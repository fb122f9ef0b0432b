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

/** Where Slurm runs a gateway's interpreter. */
export interface SlurmPlacement {
  readonly jobId: string;
  readonly stepId: string;
  /** The compute node (SLURMD_NODENAME). */
  readonly node: string;
  /** The gateway's rank among the tasks of its fan-out, as SLURM_PROCID tells it; 0 alone. */
  readonly procId: number;
  /** How many tasks the fan-out has (SLURM_NTASKS); 1 alone. */
  readonly tasks: number;
  /** Whether the job is ours (cancelled when done) or an allocation the spec joined. */
  readonly owned: boolean;
}

/** Where docker or podman runs a gateway's interpreter. */
export interface ContainerPlacement {
  readonly engine: 'docker' | 'podman';
  /** The container's name (or id, as the spec gave it). */
  readonly container: string;
  /** For the image form: the image the fresh container runs. */
  readonly image?: string;
  /** The interpreter's pid inside the container. */
  readonly pid: number;
}

/** Where a launcher placed the interpreter, for `gateway.info`. */
export interface Placement {
  readonly slurm?: SlurmPlacement;
  readonly container?: ContainerPlacement;
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
  /** Where a scheduler or container runtime placed the interpreter. */
  readonly placement?: Placement;
}
