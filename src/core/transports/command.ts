// The command lines that start a remote interpreter: `python -c <bootstrap>` with the spec's
// environment and, for sudo=, wrapped so that sudo's password question and the moment sudo hands
// over are both visible on stderr. Also the argv of the system ssh and of `vagrant ssh`.

import type { GatewaySpec, SshTarget } from '../spec';

/** What sudo prints (with -p) when it wants a password; no `%`, which sudo would expand. */
export const SUDO_PROMPT = '[execnet-sudo] password required:';
/** What the wrapped command prints once sudo has let it run. */
export const SUDO_READY = '[execnet-sudo] ready';

/** The interpreter on a remote host when the spec names none. */
export const REMOTE_DEFAULT_PYTHON = ['python3'];

/** Quotes one word for a POSIX shell (and csh, as long as it has no `!` or newline). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/**
 * sudo in front of a command: -S reads the password from stdin (we answer the -p prompt there
 * before any protocol byte is sent), -n fails at once when nobody can be asked.
 */
export function sudoPrefix(user: string, canAsk: boolean): string[] {
  return [
    'sudo',
    ...(canAsk ? ['-S', '-p', SUDO_PROMPT] : ['-n']),
    '-u',
    user,
    '--',
    '/bin/sh',
    '-c',
    `echo '${SUDO_READY}' >&2; exec "$@"`,
    'execnet-sudo',
  ];
}

export interface InterpreterOptions {
  /** The interpreter when the spec has no python=. */
  readonly defaultPython: readonly string[];
  /** Put the spec's env: in front (`env K=V ...`); popen passes it to spawn instead. */
  readonly envPrefix: boolean;
  /** Whether a sudo password question can be answered (prompts exist). */
  readonly canAskSudo: boolean;
}

/** The interpreter a remote spec runs, as the user wrote it: python= or `python3`. */
export function pythonCommand(spec: GatewaySpec): readonly string[] {
  return spec.python && spec.python.length > 0 ? spec.python : REMOTE_DEFAULT_PYTHON;
}

/** The interpreter argv before `-c <line>`: sudo, env, python, -B. */
export function interpreterArgv(spec: GatewaySpec, options: InterpreterOptions): string[] {
  const argv: string[] = [];
  if (spec.sudo !== undefined) {
    argv.push(...sudoPrefix(spec.sudo, options.canAskSudo));
  }
  const env = Object.entries(spec.env);
  // sudo resets the environment: env goes after it (the remote applies it again anyway)
  if (env.length > 0 && (options.envPrefix || spec.sudo !== undefined)) {
    argv.push('env', ...env.map(([name, value]) => `${name}=${value}`));
  }
  argv.push(...(spec.python && spec.python.length > 0 ? spec.python : options.defaultPython));
  if (spec.dontWriteBytecode) {
    argv.push('-B');
  }
  return argv;
}

/** The shell command an ssh server runs: `exec [sudo...] [env K=V] python [-B] -c '<line>'`. */
export function remoteShellCommand(
  spec: GatewaySpec,
  bootstrapLine: string,
  canAskSudo: boolean,
): string {
  const argv = interpreterArgv(spec, {
    defaultPython: REMOTE_DEFAULT_PYTHON,
    envPrefix: true,
    canAskSudo,
  });
  return `exec ${shellJoin([...argv, '-c', bootstrapLine])}`;
}

/** ssh's own arguments for a parsed ssh= target, as the spec wrote them. */
export function sshArguments(target: SshTarget): string[] {
  const args = [...target.extraArgs];
  if (target.port !== undefined) {
    args.push('-p', String(target.port));
  }
  if (target.user !== undefined) {
    args.push('-l', target.user);
  }
  for (const file of target.identityFiles) {
    args.push('-i', file);
  }
  for (const [key, value] of Object.entries(target.options)) {
    args.push('-o', `${key}=${value}`);
  }
  if (target.jump !== undefined) {
    args.push('-J', target.jump);
  }
  if (target.configFile !== undefined) {
    args.push('-F', target.configFile);
  }
  args.push('--', target.host);
  return args;
}

/** The system ssh running the interpreter, like execnet: `ssh -C [-F cfg] ARGS -- host CMD`. */
export function sshBinaryArgv(
  spec: GatewaySpec,
  bootstrapLine: string,
  canAskSudo: boolean,
): string[] {
  if (!spec.ssh) {
    throw new Error('sshBinaryArgv: not an ssh spec');
  }
  const config =
    spec.sshConfig !== undefined && spec.ssh.configFile === undefined ? ['-F', spec.sshConfig] : [];
  return [
    spec.sshBinary ?? 'ssh',
    '-C',
    ...config,
    ...sshArguments(spec.ssh),
    remoteShellCommand(spec, bootstrapLine, canAskSudo),
  ];
}

/** `vagrant ssh NAME -- -C [-F cfg] CMD`, as execnet runs it. */
export function vagrantArgv(
  spec: GatewaySpec,
  bootstrapLine: string,
  canAskSudo: boolean,
): string[] {
  if (spec.vagrantSsh === undefined) {
    throw new Error('vagrantArgv: not a vagrant_ssh spec');
  }
  return [
    'vagrant',
    'ssh',
    spec.vagrantSsh,
    '--',
    '-C',
    ...(spec.sshConfig !== undefined ? ['-F', spec.sshConfig] : []),
    remoteShellCommand(spec, bootstrapLine, canAskSudo),
  ];
}
