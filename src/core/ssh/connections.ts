// SSH connections of the built-in client, and the pool that shares them: every gateway to the
// same host (same user, port, route) opens one SSH channel on one connection, so only the first
// pays for the handshake. A connection closes when its last channel does. It is reached over
// TCP, a ProxyCommand, or a channel of the previous ProxyJump hop.

import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { Client, type ClientChannel } from 'ssh2';
import {
  AuthenticationFailed,
  ExecnetError,
  GatewayStartError,
  HostKeyMismatch,
  HostKeyNotTrusted,
  HostNotFound,
} from '../errors';
import type { Prompts } from '../prompts';
import type { SshTarget } from '../spec';
import { trace } from '../trace';
import { keepAliveSwitch } from '../transports/popen';
import { makeAuthHandler } from './auth';
import { jumpTarget, resolveHost, type ResolveOptions, type SshHostConfig } from './config';
import {
  addKnownHost,
  checkHostKey,
  fingerprint,
  keyTypeOf,
  knownHostsName,
  lookupKnownHosts,
  preferredHostKeyAlgorithms,
} from './knownHosts';

/** Seconds for the handshake and login, not counting time spent waiting on prompts. */
const HANDSHAKE_TIMEOUT = 30;

export interface ConnectOptions extends ResolveOptions {
  readonly prompts?: Prompts;
  /** An already open byte stream to the server (a relay through another gateway). */
  readonly sock?: Duplex;
  /** What `sock` is, for the pool key and messages: `via gw0`. */
  readonly route?: string;
  /** Keeps whatever carries `sock` running while this connection must (see SshConnection.setKeepAlive). */
  readonly holdRoute?: (keepAlive: boolean) => void;
}

/** Something the connection must end when it ends (a jump connection, a ProxyCommand child). */
interface Resource {
  dispose(): void;
  setKeepAlive?(keepAlive: boolean): void;
}

/** One authenticated SSH connection; channels opened on it count as its users. */
export class SshConnection {
  private users = 0;
  private readonly keepAlive = new Set<object>();
  /** Whether the resources are ref'd: they are while connecting, until a channel decides. */
  private refState = true;
  private closedValue = false;
  private readonly closedPromise: Promise<void>;
  /** Set when the server refused another session on this connection (MaxSessions). */
  full = false;

  constructor(
    readonly client: Client,
    readonly host: SshHostConfig,
    /** `user@host:port`, for messages. */
    readonly label: string,
    private readonly resources: Resource[],
    private readonly onIdle: (connection: SshConnection) => void,
  ) {
    this.closedPromise = new Promise((resolve) => {
      client.once('close', () => {
        this.closedValue = true;
        this.disposeResources();
        resolve();
      });
    });
    client.on('error', (error) => trace(`[ssh ${label}] ${error.message}`));
  }

  get closed(): boolean {
    return this.closedValue;
  }

  /** Resolves when the connection is gone. */
  get whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  get channelCount(): number {
    return this.users;
  }

  /** Holds the connection open for a channel about to be opened (the pool hands it out so). */
  reserve(): void {
    this.users++;
    this.setKeepAlive(this, true);
  }

  /** Undoes reserve() once the channel is open (it counts itself) or could not be opened. */
  unreserve(): void {
    this.setKeepAlive(this, false);
    this.release();
  }

  /** Runs a command on a new session channel (one per gateway). */
  exec(command: string): Promise<ClientChannel> {
    return this.open((done) => this.client.exec(command, done));
  }

  /** A TCP stream from the server to host:port (what the next ProxyJump hop travels on). */
  forwardOut(host: string, port: number): Promise<ClientChannel> {
    return this.open((done) => this.client.forwardOut('127.0.0.1', 0, host, port, done));
  }

  private open(
    start: (done: (error: Error | undefined, channel: ClientChannel) => void) => void,
  ): Promise<ClientChannel> {
    if (this.closedValue) {
      return Promise.reject(new ExecnetError(`ssh connection to ${this.label} is closed`));
    }
    this.users++;
    return new Promise<ClientChannel>((resolve, reject) => {
      try {
        start((error, channel) => {
          if (error) {
            if (/open failed|prohibited/i.test(error.message)) {
              this.full = true;
            }
            this.release();
            reject(error);
            return;
          }
          channel.once('close', () => {
            this.setKeepAlive(channel, false);
            this.release();
          });
          resolve(channel);
        });
      } catch (error) {
        this.release();
        reject(error as Error);
      }
    });
  }

  /** A channel that wants the Node process kept alive (or no longer). */
  setKeepAlive(owner: object, keepAlive: boolean): void {
    const before = this.keepAlive.size > 0;
    if (keepAlive) {
      this.keepAlive.add(owner);
    } else {
      this.keepAlive.delete(owner);
    }
    const after = this.keepAlive.size > 0;
    if (before !== after || this.refState !== after) {
      this.refState = after;
      for (const resource of this.resources) {
        resource.setKeepAlive?.(after);
      }
    }
  }

  private release(): void {
    this.users--;
    if (this.users <= 0) {
      this.users = 0;
      this.onIdle(this);
    }
  }

  /** Ends the connection (and the hops and commands it travels through). */
  close(): void {
    if (!this.closedValue) {
      this.client.end();
      // a server that does not answer the disconnect must not keep us waiting
      setTimeout(() => this.client.destroy(), 2000).unref();
    }
  }

  private disposeResources(): void {
    for (const resource of this.resources.splice(0).reverse()) {
      try {
        resource.dispose();
      } catch {
        // already gone
      }
    }
  }
}

/** Turns a child process's stdio into the stream a connection travels on (ProxyCommand). */
function proxyCommandStream(
  command: string,
  label: string,
): { stream: Duplex; resource: Resource } {
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const stream = new Duplex({
    read() {
      child.stdout.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      child.stdin.write(chunk, (error) => callback(error ?? null));
    },
    final(callback) {
      child.stdin.end();
      callback();
    },
    destroy(error, callback) {
      child.kill();
      callback(error);
    },
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) {
      child.stdout.pause();
    }
  });
  child.stdout.on('end', () => stream.push(null));
  child.stdin.on('error', () => undefined);
  child.once('error', (error) =>
    stream.destroy(
      new HostNotFound(`ProxyCommand for ${label} could not start: ${error.message}`, label),
    ),
  );
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) {
      stream.destroy(
        new HostNotFound(
          `ProxyCommand for ${label} exited with status ${code}${stderr ? `: ${stderr.trim()}` : ''}`,
          label,
        ),
      );
    }
  });
  return {
    stream,
    resource: {
      dispose: () => child.kill(),
      setKeepAlive: keepAliveSwitch(child),
    },
  };
}

function tcpConnect(host: SshHostConfig, label: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: host.hostName, port: host.port });
    const timeout = host.connectTimeout;
    let timer: NodeJS.Timeout | undefined;
    if (timeout !== undefined && timeout > 0) {
      timer = setTimeout(() => {
        socket.destroy();
        reject(
          new HostNotFound(
            `cannot reach ${label}: no answer within ConnectTimeout ${timeout}s`,
            host.alias,
          ),
        );
      }, timeout * 1000);
    }
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN'
          ? `unknown host ${host.hostName}`
          : error.code === 'ECONNREFUSED'
            ? `connection refused on port ${host.port}`
            : error.code === 'ETIMEDOUT' ||
                error.code === 'EHOSTUNREACH' ||
                error.code === 'ENETUNREACH'
              ? `no route or no answer (${error.code})`
              : error.message;
      reject(new HostNotFound(`cannot reach ${label}: ${why}`, host.alias, { cause: error }));
    });
  });
}

function labelOf(host: SshHostConfig): string {
  const name = host.alias === host.hostName ? host.hostName : `${host.alias} (${host.hostName})`;
  return `${host.user}@${name}${host.port === 22 ? '' : `:${host.port}`}`;
}

/** Opens a connection to `target`: its route (hops, proxy command, TCP), host key, login. */
export async function connect(
  target: SshTarget,
  options: ConnectOptions,
  onIdle: (connection: SshConnection) => void,
): Promise<SshConnection> {
  const host = resolveHost(target, options);
  const label = labelOf(host);
  const resources: Resource[] = [];
  try {
    let sock: Duplex;
    if (options.sock) {
      sock = options.sock;
      if (options.holdRoute) {
        const hold = options.holdRoute;
        resources.push({ dispose: () => sock.destroy(), setKeepAlive: hold });
      } else {
        resources.push({ dispose: () => sock.destroy() });
      }
    } else if (host.proxyJump.length > 0) {
      const hops = host.proxyJump;
      const last = jumpTarget(hops[hops.length - 1], target.configFile ?? options.configFile);
      const jumpOptions: ConnectOptions = { ...options, sock: undefined, route: undefined };
      const jump = await connect(
        { ...last, jump: hops.length > 1 ? hops.slice(0, -1).join(',') : 'none' },
        jumpOptions,
        (idle) => idle.close(),
      );
      resources.push({
        dispose: () => jump.close(),
        setKeepAlive: (k) => jump.setKeepAlive(jump, k),
      });
      try {
        sock = await jump.forwardOut(host.hostName, host.port);
      } catch (error) {
        throw new HostNotFound(
          `cannot reach ${label} from jump host ${jump.label}: ${(error as Error).message}`,
          host.alias,
          { cause: error },
        );
      }
    } else if (host.proxyCommand !== undefined) {
      const proxy = proxyCommandStream(host.proxyCommand, label);
      resources.push(proxy.resource);
      sock = proxy.stream;
    } else {
      const socket = await tcpConnect(host, label);
      resources.push({
        dispose: () => socket.destroy(),
        setKeepAlive: (keepAlive) => (keepAlive ? socket.ref() : socket.unref()),
      });
      sock = socket;
    }
    const client = await handshake(host, label, sock, options.prompts);
    const connection = new SshConnection(client, host, label, resources, onIdle);
    keepAlive(client, host, label);
    return connection;
  } catch (error) {
    for (const resource of resources.reverse()) {
      resource.dispose();
    }
    throw error;
  }
}

interface PingableClient {
  _protocol?: { ping?: () => void };
  _callbacks?: Array<(...args: unknown[]) => void>;
}

/** Whether ssh2's internals that its own keepalive uses are there for ours. */
function canPing(client: Client): boolean {
  const internals = client as unknown as PingableClient;
  return typeof internals._protocol?.ping === 'function' || internals._protocol === undefined;
}

/**
 * ServerAliveInterval/CountMax as OpenSSH does them, on an unref'd timer: ssh2's own keepalive
 * timer would keep a script with idle gateways from exiting. Uses the same request ssh2 sends
 * (keepalive@openssh.com) and the same reply bookkeeping.
 */
function keepAlive(client: Client, host: SshHostConfig, label: string): void {
  const internals = client as unknown as PingableClient;
  if (host.serverAliveInterval <= 0) {
    return;
  }
  if (typeof internals._protocol?.ping !== 'function') {
    trace(`[ssh ${label}] this ssh2 has no ping(): ServerAliveInterval is ignored`);
    return;
  }
  let unanswered = 0;
  const timer = setInterval(() => {
    const callbacks = internals._callbacks;
    if (!callbacks || !internals._protocol?.ping) {
      clearInterval(timer);
      return;
    }
    if (++unanswered > host.serverAliveCountMax) {
      clearInterval(timer);
      trace(`[ssh ${label}] no answer to ${host.serverAliveCountMax} keepalives: closing`);
      client.destroy();
      return;
    }
    callbacks.push(() => {
      unanswered = 0;
    });
    internals._protocol.ping();
  }, host.serverAliveInterval * 1000);
  timer.unref();
  client.once('close', () => clearInterval(timer));
}

function handshake(
  host: SshHostConfig,
  label: string,
  sock: Duplex,
  prompts: Prompts | undefined,
): Promise<Client> {
  const client = new Client();
  const auth = makeAuthHandler(host, prompts);
  const knownHostsFiles = [...host.userKnownHostsFiles, ...host.globalKnownHostsFiles];
  const name = knownHostsName(host.hostKeyAlias ?? host.hostName, host.port);
  const names = host.hostKeyAlias ? [host.hostKeyAlias, name] : [name];
  const entries = lookupKnownHosts(knownHostsFiles, names);
  let hostKeyError: Error | undefined;

  const hostVerifier = (key: Buffer, accept: (ok: boolean) => void): void => {
    const verdict = checkHostKey(entries, key);
    const print = fingerprint(key);
    const type = keyTypeOf(key);
    switch (verdict.kind) {
      case 'trusted':
        accept(true);
        return;
      case 'revoked':
        hostKeyError = new HostKeyMismatch(
          `the ${type} host key of ${label} (${print}) is marked revoked in ${verdict.entry.file}:${verdict.entry.line}`,
          host.alias,
          `${verdict.entry.file}:${verdict.entry.line}`,
        );
        accept(false);
        return;
      case 'changed': {
        const at = `${verdict.entry.file}:${verdict.entry.line}`;
        hostKeyError = new HostKeyMismatch(
          `HOST KEY CHANGED for ${name} (${label}): it now presents ${type} ${print}, but ${at} holds a different ${verdict.entry.keyType} key. ` +
            `This may be an attack, or the host was reinstalled. If you are sure, remove the old key (line ${verdict.entry.line} of ${verdict.entry.file}, or ssh-keygen -R '${name}' -f ${verdict.entry.file}) and connect again.`,
          host.alias,
          at,
        );
        accept(false);
        return;
      }
      case 'unknown':
        break;
    }
    const file = host.userKnownHostsFiles[0];
    const remember = (): void => {
      if (file !== undefined) {
        try {
          addKnownHost(file, name, key, host.hashKnownHosts);
        } catch (error) {
          trace(
            `[ssh ${label}] could not add the host key to ${file}: ${(error as Error).message}`,
          );
        }
      }
    };
    const notTrusted = (why: string): void => {
      hostKeyError = new HostKeyNotTrusted(
        `the host key of ${label} is not known (${type} ${print}) and ${why}. Check the fingerprint with the host's administrator, then add it to ${file ?? 'known_hosts'} (e.g. connect once with ssh) and try again.`,
        host.alias,
        print,
      );
      accept(false);
    };
    if (host.strictHostKeyChecking === 'no' || host.strictHostKeyChecking === 'accept-new') {
      remember();
      accept(true);
      return;
    }
    if (host.strictHostKeyChecking === 'yes') {
      notTrusted('StrictHostKeyChecking is yes');
      return;
    }
    const confirm = host.batchMode ? undefined : prompts?.confirmHostKey;
    if (!confirm) {
      notTrusted(host.batchMode ? 'BatchMode forbids asking' : 'nobody can be asked to accept it');
      return;
    }
    auth.state.prompting++;
    confirm({
      host: name,
      port: host.port,
      keyType: type,
      fingerprint: print,
      knownHostsFile: file ?? '',
    })
      .then(
        (ok) => {
          if (ok) {
            remember();
            accept(true);
          } else {
            notTrusted('it was not accepted');
          }
        },
        (error: unknown) => notTrusted(`asking failed: ${String(error)}`),
      )
      .finally(() => auth.state.prompting--);
  };

  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    const deadlineMs = Math.max(HANDSHAKE_TIMEOUT, host.connectTimeout ?? 0) * 1000;
    let deadline = Date.now() + deadlineMs;
    const watchdog = setInterval(() => {
      if (auth.state.prompting > 0) {
        deadline = Date.now() + deadlineMs;
      } else if (Date.now() > deadline) {
        fail(
          new HostNotFound(
            `${label} did not complete the ssh handshake in ${deadlineMs / 1000}s`,
            host.alias,
          ),
        );
        client.destroy();
      }
    }, 250);
    const fail = (error: Error): void => {
      if (!settled) {
        settled = true;
        clearInterval(watchdog);
        reject(error);
      }
    };
    client.once('handshake', (n: { kex: string; cs: { cipher: string; mac: string } }) => {
      // what caps bulk throughput: the cipher (and whether ssh2 runs it natively)
      trace(
        `[ssh ${label}] negotiated ${n.kex}, ${n.cs.cipher}${n.cs.mac ? ` + ${n.cs.mac}` : ''}`,
      );
    });
    client.once('ready', () => {
      settled = true;
      clearInterval(watchdog);
      trace(`[ssh ${label}] connected`);
      resolve(client);
    });
    client.on('error', (error: Error & { level?: string }) => {
      if (hostKeyError) {
        fail(hostKeyError);
      } else if (error.level === 'client-authentication') {
        const tried = auth.state.tried;
        const offered = auth.state.serverMethods.join(', ') || 'unknown';
        fail(
          new AuthenticationFailed(
            `${label} refused every login tried: ${tried.length ? tried.join('; ') : 'nothing to try (no key files, agent or prompts)'}. The server accepts: ${offered}.`,
            host.alias,
            tried,
            { cause: error },
          ),
        );
      } else if (error instanceof ExecnetError) {
        fail(error);
      } else if (error.level === 'client-socket' || error.level === 'client-timeout') {
        fail(
          new HostNotFound(`lost ${label} during the ssh handshake: ${error.message}`, host.alias, {
            cause: error,
          }),
        );
      } else {
        fail(new GatewayStartError(`ssh to ${label} failed: ${error.message}`, { cause: error }));
      }
    });
    client.once('close', () =>
      fail(
        hostKeyError ??
          new HostNotFound(`${label} closed the connection during the ssh handshake`, host.alias),
      ),
    );
    sock.once('error', (error: Error) => {
      fail(
        error instanceof ExecnetError
          ? error
          : new HostNotFound(`lost ${label}: ${error.message}`, host.alias),
      );
    });
    client.connect({
      sock,
      username: host.user,
      host: host.hostName,
      port: host.port,
      readyTimeout: 0,
      // our own keepalive (see keepAlive()) does not hold the Node process open
      keepaliveInterval: canPing(client) ? 0 : host.serverAliveInterval * 1000,
      keepaliveCountMax: host.serverAliveCountMax,
      hostVerifier: hostVerifier as unknown as (key: Buffer) => boolean,
      authHandler: auth.handler,
      algorithms: { serverHostKey: preferredHostKeyAlgorithms(entries) as never },
    });
  });
}

/** Shares connections between gateways to the same destination. */
export class SshConnectionPool {
  private readonly entries = new Map<string, Array<Promise<SshConnection>>>();

  /** A connection to `target` with room for another channel: a shared one, or a new one. */
  async acquire(target: SshTarget, options: ConnectOptions): Promise<SshConnection> {
    const host = resolveHost(target, options);
    const key = JSON.stringify([
      options.route ?? '',
      host.user,
      host.hostName,
      host.port,
      host.proxyJump,
      host.proxyCommand ?? '',
      host.identityFiles,
      host.configFiles,
    ]);
    const list = this.entries.get(key) ?? [];
    this.entries.set(key, list);
    for (const pending of [...list]) {
      const connection = await pending.catch(() => undefined);
      if (connection && !connection.closed && !connection.full) {
        connection.reserve();
        return connection;
      }
    }
    const pending = connect(target, options, (idle) => {
      this.forget(key, pending);
      idle.close();
    });
    list.push(pending);
    pending.then(
      (connection) => void connection.whenClosed.then(() => this.forget(key, pending)),
      () => this.forget(key, pending),
    );
    const connection = await pending;
    connection.reserve();
    return connection;
  }

  private forget(key: string, pending: Promise<SshConnection>): void {
    const list = this.entries.get(key);
    if (!list) {
      return;
    }
    const index = list.indexOf(pending);
    if (index !== -1) {
      list.splice(index, 1);
    }
    if (list.length === 0) {
      this.entries.delete(key);
    }
  }

  /**
   * Drops every connection at once, as if the network went away: the gateways on them die (with
   * GatewayClosedError) and their remotes exit when their input ends. For "disconnect all".
   */
  async closeAll(): Promise<void> {
    const pending = [...this.entries.values()].flat();
    const connections = await Promise.all(pending.map((p) => p.catch(() => undefined)));
    for (const connection of connections) {
      connection?.client.destroy();
    }
    await Promise.all(connections.map((c) => c?.whenClosed));
  }

  /** How many connections are open or opening (for tests). */
  get size(): number {
    let n = 0;
    for (const list of this.entries.values()) {
      n += list.length;
    }
    return n;
  }
}

/** The pool gateways use unless their options name another. */
export const defaultSshPool = new SshConnectionPool();
