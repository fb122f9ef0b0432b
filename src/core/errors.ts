// Typed errors of the engine. Each message names the thing that failed and, where it helps, what to do.

/** Base class of every error the engine raises on purpose. */
export class ExecnetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A gateway spec string that cannot be parsed or names an unknown option. */
export class SpecError extends ExecnetError {
  constructor(
    message: string,
    /** The offending part of the spec, e.g. `nice=abc`. */
    readonly part?: string,
  ) {
    super(message);
  }
}

/** A wait (receive, waitClose, terminate) ran out of time. The channel stays usable. */
export class TimeoutError extends ExecnetError {}

/**
 * No more items will arrive on a channel: it was closed by the other side or locally.
 * execnet raises Python's EOFError in this case.
 */
export class EOFError extends ExecnetError {}

/** The gateway's connection ended (the remote exited, was killed, or was terminated). */
export class GatewayClosedError extends EOFError {}

/**
 * A value that cannot cross: bytes on the wire or given to `loads` that are corrupt, truncated,
 * oversized or of an unknown version, and (as DumpError) a value that cannot be serialized.
 */
export class DataFormatError extends ExecnetError {}

/**
 * A value that cannot be serialized (a function, a symbol, a class instance...). A
 * DataFormatError, as in execnet, so one `instanceof DataFormatError` catches both directions.
 */
export class DumpError extends DataFormatError {}

/** The interpreter could not be started or did not complete the handshake. */
export class GatewayStartError extends ExecnetError {}

/** A frame of a remote traceback: file, line, function. */
export interface RemoteFrame {
  readonly file: string;
  readonly line: number;
  readonly function: string;
}

export interface RemoteErrorInfo {
  /** Python exception type name, e.g. `NameError`. Empty when the other side closed with a plain message. */
  readonly type: string;
  /** `str(exception)`. */
  readonly message: string;
  /** The full traceback text as Python formats it. */
  readonly traceback: string;
  /** Parsed frames, outermost first. */
  readonly frames: readonly RemoteFrame[];
  /** Set when the remote raised SystemExit: the exit status it asked for. */
  readonly exitCode?: number;
}

/** Remote code raised an exception (or the other side closed the channel with an error). */
export class RemoteError extends ExecnetError implements RemoteErrorInfo {
  readonly type: string;
  readonly traceback: string;
  readonly frames: readonly RemoteFrame[];
  readonly exitCode?: number;
  /** The remote exception's own message (Error.message holds the whole traceback, like execnet's str()). */
  readonly remoteMessage: string;

  constructor(info: RemoteErrorInfo) {
    super(info.traceback || info.message);
    this.type = info.type;
    this.traceback = info.traceback;
    this.frames = info.frames;
    this.exitCode = info.exitCode;
    this.remoteMessage = info.message;
  }

  /**
   * The error as the remote reports it: a map of a failed exec (`type`, `message`, `traceback`,
   * `frames` as [file, line, function], `exit_code`), or a plain message.
   */
  static fromWire(value: unknown): RemoteError {
    if (!(value instanceof Map)) {
      const text = String(value);
      return new RemoteError({ type: '', message: text, traceback: text, frames: [] });
    }
    const frames: RemoteFrame[] = [];
    const raw = value.get('frames');
    if (Array.isArray(raw)) {
      for (const frame of raw) {
        if (Array.isArray(frame)) {
          frames.push({
            file: String(frame[0]),
            line: Number(frame[1]),
            function: String(frame[2]),
          });
        }
      }
    }
    const exitCode = value.get('exit_code');
    return new RemoteError({
      type: String(value.get('type') ?? ''),
      message: String(value.get('message') ?? ''),
      traceback: String(value.get('traceback') ?? ''),
      frames,
      exitCode: typeof exitCode === 'number' ? exitCode : undefined,
    });
  }

  /** The last line of the traceback, e.g. `NameError: name 'x' is not defined`. */
  get summary(): string {
    if (this.type) {
      return this.remoteMessage ? `${this.type}: ${this.remoteMessage}` : this.type;
    }
    return this.remoteMessage;
  }
}

/** A send on a channel that is already closed (execnet raises IOError here). */
export class ChannelClosedError extends ExecnetError {}

/** The host could not be reached: unknown name, connection refused, or no answer in time. */
export class HostNotFound extends GatewayStartError {
  constructor(
    message: string,
    /** The host as the spec names it. */
    readonly host: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server (ssh, socket server, sudo) refused every way of logging in that was tried. */
export class AuthenticationFailed extends GatewayStartError {
  constructor(
    message: string,
    readonly host: string,
    /** What was tried, in order: `publickey (agent)`, `publickey (~/.ssh/id_ed25519)`, `password`... */
    readonly methodsTried: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The host presented a key other than the one known_hosts holds for it: refused. */
export class HostKeyMismatch extends GatewayStartError {
  constructor(
    message: string,
    readonly host: string,
    /** Where the expected key is written: `file:line`. */
    readonly knownHostsEntry: string,
  ) {
    super(message);
  }
}

/** The host is not in known_hosts and nobody accepted its key. */
export class HostKeyNotTrusted extends GatewayStartError {
  constructor(
    message: string,
    readonly host: string,
    /** `SHA256:...`, as OpenSSH shows it. */
    readonly fingerprint: string,
  ) {
    super(message);
  }
}

/** The interpreter named by `python=` (or the default one) does not exist where it should run. */
export class PythonNotFound extends GatewayStartError {
  constructor(
    message: string,
    /** Where it was looked for: `local`, or the remote host. */
    readonly host: string,
  ) {
    super(message);
  }
}

/** Why Slurm would not run a gateway's job. */
export type SlurmFailure =
  | 'partition' // no such partition, or not allowed there
  | 'account' // invalid account or account/partition combination
  | 'denied' // access or permission denied
  | 'job' // slurm_job= names no running job
  | 'options' // srun/salloc refused the options
  | 'pending' // still pending when the timeout ran out (then cancelled)
  | 'missing' // no srun/salloc where they should run
  | 'failed'; // anything else before the interpreter started

/** srun or salloc refused the job, failed, or it waited in the queue too long. */
export class SlurmError extends GatewayStartError {
  constructor(
    message: string,
    readonly kind: SlurmFailure,
    /** The job, when Slurm gave it an id. */
    readonly jobId?: string,
    /** What srun/salloc said, or squeue's reason for a pending job (`Resources`). */
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** Why a container gateway could not start. */
export type ContainerFailure =
  | 'no-container' // no such container
  | 'not-running' // the container exists but is stopped
  | 'no-image' // no such image (and none could be pulled)
  | 'missing' // no docker/podman (or no daemon for docker) where it should run
  | 'failed'; // anything else before the interpreter started

/** docker/podman could not run the interpreter in the container or image. */
export class ContainerError extends GatewayStartError {
  constructor(
    message: string,
    readonly kind: ContainerFailure,
    /** What docker/podman said. */
    readonly reason?: string,
  ) {
    super(message);
  }
}
