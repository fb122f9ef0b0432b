// Questions the engine cannot answer itself while it opens a connection: a key's passphrase, a
// password, whether to trust a host key never seen before. The editor answers them with its own
// input boxes; the CLI from the terminal; tests with canned answers. Nothing asked here is kept
// by the engine beyond the connection attempt that needed it.

/** Resolving to `undefined` means "cancelled": the attempt that asked fails, nothing is retried. */
export interface Prompts {
  /** The passphrase of an encrypted private key file. */
  passphrase?(request: PassphraseRequest): Promise<string | undefined>;
  /** A password, a keyboard-interactive answer, or what sudo asks for. */
  password?(request: PasswordRequest): Promise<string | undefined>;
  /** A host not in known_hosts: accept its key (and remember it there)? */
  confirmHostKey?(request: HostKeyRequest): Promise<boolean>;
  /** The shared secret of a socket server, when neither the spec nor the environment gives one. */
  secret?(request: SecretRequest): Promise<string | undefined>;
}

export interface PassphraseRequest {
  readonly host: string;
  readonly keyFile: string;
  /** 1 for the first question; more after a wrong passphrase. */
  readonly attempt: number;
}

export interface PasswordRequest {
  /** `password` and `keyboard-interactive` are ssh methods; `sudo` is sudo asking. */
  readonly kind: 'password' | 'keyboard-interactive' | 'sudo';
  readonly host: string;
  readonly user: string;
  /** What the server asked, e.g. `Password: `, or a keyboard-interactive prompt. */
  readonly prompt: string;
  /** Whether the answer may be shown while typed (keyboard-interactive says so per prompt). */
  readonly echo: boolean;
  readonly attempt: number;
  /** Keyboard-interactive's name and instructions, when the server sends them. */
  readonly instructions?: string;
}

export interface HostKeyRequest {
  /** `host` or `[host]:port`, as known_hosts writes it. */
  readonly host: string;
  readonly port: number;
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`... */
  readonly keyType: string;
  /** `SHA256:...`, as OpenSSH prints it. */
  readonly fingerprint: string;
  /** Where the key goes when accepted. */
  readonly knownHostsFile: string;
}

export interface SecretRequest {
  readonly kind: 'socket';
  /** `host:port` of the socket server. */
  readonly address: string;
}
