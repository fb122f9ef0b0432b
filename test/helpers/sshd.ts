// A private OpenSSH server on 127.0.0.1 for the ssh tests: its own host key, config,
// authorized_keys and known_hosts in a temporary folder, on a free port, run in the foreground
// as our child (never the system sshd, never port 22). Sessions get SHLVL=1 so that bash skips
// root's ~/.bashrc (pyenv init), which keeps logins fast; tests always pass an explicit python=.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultPython } from './pythons';

export const SSHD_BIN = process.env.SSHD_BIN ?? '/usr/sbin/sshd';
/** A user with a password that sudo asks for, created by `ensureTestUser()` when root. */
export const TEST_USER = 'execnettest';
export const TEST_USER_PASSWORD = 'execnet-test-password';

export interface Sshd {
  readonly dir: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The login user (the one running the tests). */
  readonly user: string;
  /** An unencrypted ed25519 key that may log in. */
  readonly key: string;
  /** An ed25519 key that may log in, encrypted with `passphrase`. */
  readonly encryptedKey: string;
  readonly passphrase: string;
  /** A key the server does not accept. */
  readonly wrongKey: string;
  /** `[127.0.0.1]:PORT <host key>`, the line a known_hosts file needs. */
  readonly knownHostsLine: string;
  /** A known_hosts file holding `knownHostsLine`. */
  readonly knownHosts: string;
  /**
   * A client ssh_config: `Host alias` (HostName, Port, User) and `Host *` with the key,
   * IdentitiesOnly, the private known_hosts and no global one.
   */
  readonly config: string;
  /** The `Host` alias in `config`. */
  readonly alias: string;
  /** The interpreter the remote runs: explicit, so no login shell start-up is needed. */
  readonly python: string;
  /** The sshd's pid. */
  readonly pid: number;
  /** `ssh=-p PORT USER@127.0.0.1//python=PY` plus options. */
  spec(options?: string): string;
  /** The server log so far (for assertion messages). */
  log(): string;
  stop(): Promise<void>;
}

export function sshdAvailable(): boolean {
  return fs.existsSync(SSHD_BIN);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function keygen(file: string, comment: string, passphrase = ''): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', comment, '-f', file], {
    stdio: 'ignore',
  });
}

/** The `type base64` part of a public key file. */
export function publicKey(file: string): string {
  return fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

/** Creates the test user (password, sudo rights that ask for the password) if it is missing. */
export function ensureTestUser(): boolean {
  if (!isRoot()) {
    return false;
  }
  try {
    execFileSync('id', [TEST_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/bash', TEST_USER], { stdio: 'ignore' });
  }
  execFileSync('chpasswd', { input: `${TEST_USER}:${TEST_USER_PASSWORD}\n` });
  const sudoers = '/etc/sudoers.d/execnettest';
  if (fs.existsSync('/etc/sudoers.d') && !fs.existsSync(sudoers)) {
    fs.writeFileSync(sudoers, `${TEST_USER} ALL=(ALL) ALL\n`, { mode: 0o440 });
  }
  return true;
}

export interface SshdOptions {
  /** Also let TEST_USER log in with `key` (needs root; see ensureTestUser). */
  readonly testUser?: boolean;
  /** Allow password authentication (for TEST_USER). */
  readonly passwords?: boolean;
  /** Keyboard-interactive login through PAM (for TEST_USER). */
  readonly keyboardInteractive?: boolean;
  /** Extra sshd_config lines. */
  readonly extraConfig?: readonly string[];
  /**
   * Let sessions run the login user's shell start-up (~/.bashrc), like a real host. By default
   * sshd sets SHLVL=1, so bash skips it (root's runs pyenv init, ~1 s).
   */
  readonly shellStartup?: boolean;
}

async function waitForBanner(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`sshd exited with ${child.exitCode}:\n${readLog(logFile)}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setTimeout(1000);
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('SSH-'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`sshd did not come up on port ${port}:\n${readLog(logFile)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

function readLog(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-sshd-'));
  // sshd reads authorized_keys as the login user: the folder must let other users through.
  fs.chmodSync(dir, 0o711);
  const user = os.userInfo().username;
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const key = path.join(dir, 'id_ed25519');
  const encryptedKey = path.join(dir, 'id_encrypted');
  const wrongKey = path.join(dir, 'id_wrong');
  const passphrase = 'correct horse';
  keygen(hostKey, 'execnet-test-host');
  keygen(key, 'execnet-test-client');
  keygen(encryptedKey, 'execnet-test-encrypted', passphrase);
  keygen(wrongKey, 'execnet-test-wrong');
  const authorized = `${publicKey(key)}\n${publicKey(encryptedKey)}\n`;
  const users = [user];
  fs.writeFileSync(path.join(dir, `${user}.authorized_keys`), authorized, { mode: 0o644 });
  if (options.testUser && ensureTestUser()) {
    users.push(TEST_USER);
    fs.writeFileSync(path.join(dir, `${TEST_USER}.authorized_keys`), authorized, { mode: 0o644 });
  }
  const port = await freePort();
  const logFile = path.join(dir, 'sshd.log');
  const sshdConfig = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    sshdConfig,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${dir}/%u.authorized_keys`,
      `AllowUsers ${users.join(' ')}`,
      'PubkeyAuthentication yes',
      `PasswordAuthentication ${options.passwords ? 'yes' : 'no'}`,
      `KbdInteractiveAuthentication ${options.keyboardInteractive ? 'yes' : 'no'}`,
      'PermitRootLogin prohibit-password',
      `UsePAM ${options.keyboardInteractive ? 'yes' : 'no'}`,
      'StrictModes no',
      'PrintMotd no',
      'X11Forwarding no',
      'AllowAgentForwarding no',
      // ProxyJump through this server needs direct-tcpip
      'AllowTcpForwarding yes',
      'PermitUserEnvironment no',
      'MaxStartups 64:30:128',
      'MaxSessions 64',
      'LogLevel VERBOSE',
      ...(options.shellStartup ? [] : ['SetEnv SHLVL=1']),
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  if (isRoot() && !fs.existsSync('/run/sshd')) {
    fs.mkdirSync('/run/sshd', { mode: 0o755, recursive: true });
  }
  execFileSync(SSHD_BIN, ['-t', '-f', sshdConfig], { stdio: 'pipe' });
  const child = spawn(SSHD_BIN, ['-D', '-f', sshdConfig, '-E', logFile], { stdio: 'ignore' });
  child.unref();
  await waitForBanner(port, child, logFile);

  const knownHostsLine = `[127.0.0.1]:${port} ${publicKey(hostKey)}`;
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `${knownHostsLine}\n`);
  const alias = 'execnet-loopback';
  const config = path.join(dir, 'ssh_config');
  fs.writeFileSync(
    config,
    [
      `Host ${alias}`,
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      `  User ${user}`,
      'Host *',
      `  IdentityFile ${key}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  BatchMode yes',
      '  LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const python = defaultPython();
  let stopped: Promise<void> | undefined;
  return {
    dir,
    host: '127.0.0.1',
    port,
    user,
    key,
    encryptedKey,
    passphrase,
    wrongKey,
    knownHostsLine,
    knownHosts,
    config,
    alias,
    python,
    pid: child.pid ?? 0,
    spec: (extra) =>
      `ssh=-p ${port} ${user}@127.0.0.1//python=${python}${extra ? `//${extra}` : ''}`,
    log: () => readLog(logFile),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.ref(); // waiting for it must keep the process alive
        child.kill('SIGTERM');
      }).then(() => fs.rmSync(dir, { recursive: true, force: true }));
      return stopped;
    },
  };
}

/** An ssh-agent of our own (not the user's), holding the given keys. */
export async function startAgent(keys: readonly string[]): Promise<{
  readonly socket: string;
  stop(): Promise<void>;
}> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-agent-'));
  const socket = path.join(dir, 'agent.sock');
  const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  child.unref();
  const deadline = Date.now() + 5000;
  while (!fs.existsSync(socket)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error('ssh-agent did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const key of keys) {
    execFileSync('ssh-add', ['-q', key], {
      env: { ...process.env, SSH_AUTH_SOCK: socket },
      stdio: 'ignore',
    });
  }
  return {
    socket,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.ref(); // waiting for it must keep the process alive
        child.kill('SIGTERM');
      }).then(() => fs.rmSync(dir, { recursive: true, force: true })),
  };
}
