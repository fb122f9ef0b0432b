// ssh=: the interpreter runs on a session channel of a (shared) connection of the built-in
// client. No local process: kill() signals and closes the channel, and the remote exits as soon
// as its protocol input ends, which closing the channel (or losing the connection) causes.

import { PassThrough } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { ExecnetError, GatewayStartError, PythonNotFound } from '../errors';
import type { Prompts } from '../prompts';
import type { GatewaySpec } from '../spec';
import {
  defaultSshPool,
  type ConnectOptions,
  type SshConnection,
  type SshConnectionPool,
} from '../ssh/connections';
import { REMOTE_DEFAULT_PYTHON, remoteShellCommand } from './command';
import { passSudo } from './sudo';
import type { Transport, TransportExit } from './transport';

export interface SshTransportOptions {
  readonly prompts?: Prompts;
  /** Used when the spec names no config file (ssh_config= or -F). */
  readonly configFile?: string;
  readonly pool?: SshConnectionPool;
  /** A stream to the ssh server opened by someone else (via=): skips TCP, ProxyJump, ProxyCommand. */
  readonly sock?: ConnectOptions['sock'];
  readonly route?: string;
  readonly holdRoute?: (keepAlive: boolean) => void;
}

export async function openSsh(
  spec: GatewaySpec,
  bootstrapLine: string,
  options: SshTransportOptions,
): Promise<Transport> {
  const target = spec.ssh;
  if (!target) {
    throw new GatewayStartError(`spec '${spec.raw}' has no ssh target`);
  }
  const pool = options.pool ?? defaultSshPool;
  const connectOptions: ConnectOptions = {
    configFile: spec.sshConfig ?? options.configFile,
    prompts: options.prompts,
    sock: options.sock,
    route: options.route,
    holdRoute: options.holdRoute,
  };
  const canAskSudo = options.prompts?.password !== undefined;
  const command = remoteShellCommand(spec, bootstrapLine, canAskSudo);
  let connection = await pool.acquire(target, connectOptions);
  let channel: ClientChannel;
  try {
    channel = await connection.exec(command);
  } catch (error) {
    connection.unreserve();
    if (!connection.full || options.sock) {
      throw new GatewayStartError(
        `ssh ${connection.label}: cannot start a session: ${(error as Error).message}`,
        { cause: error },
      );
    }
    // the server allows no more sessions on that connection (MaxSessions): open another
    connection = await pool.acquire(target, connectOptions);
    try {
      channel = await connection.exec(command);
    } finally {
      connection.unreserve();
    }
  }
  connection.unreserve();
  const transport = channelTransport(channel, connection, spec);
  if (spec.sudo !== undefined) {
    return passSudo(transport, {
      user: spec.sudo,
      host: connection.label,
      prompts: options.prompts,
    });
  }
  return transport;
}

function channelTransport(
  channel: ClientChannel,
  connection: SshConnection,
  spec: GatewaySpec,
): Transport {
  const python = (spec.python ?? REMOTE_DEFAULT_PYTHON).join(' ');
  const label = connection.label;
  let stderrTail = '';
  const stderr = new PassThrough();
  channel.stderr.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
    stderr.write(chunk);
  });
  channel.stderr.on('end', () => stderr.end());
  // the remote sends nothing before the bootstrap arrives, which the gateway writes only after
  // it listens: this listener cannot take a chunk from it
  let sawOutput = false;
  channel.once('data', () => {
    sawOutput = true;
  });
  let status: { code: number | null; signal: string | null } | undefined;
  channel.on('exit', (code: number | null, signal?: string) => {
    status = { code: typeof code === 'number' ? code : null, signal: signal ?? null };
  });
  channel.on('error', () => undefined);
  const exited = new Promise<TransportExit>((resolve) => {
    channel.once('close', () => {
      stderr.end();
      const notFound =
        !sawOutput &&
        (status?.code === 127 ||
          (status === undefined && /No such file or directory|command not found/.test(stderrTail)));
      if (notFound) {
        resolve({
          code: status?.code ?? null,
          signal: status?.signal ?? null,
          error: new PythonNotFound(
            `no interpreter '${python}' on ${label} (spec '${spec.raw}'): ${stderrTail.trim() || 'command not found'}. Check python=.`,
            connection.host.alias,
          ),
        });
        return;
      }
      if (!status) {
        const error = connection.closed
          ? new ExecnetError(`ssh connection to ${label} was lost`)
          : undefined;
        resolve({ code: null, signal: null, error });
        return;
      }
      resolve(status);
    });
  });
  return {
    description: `ssh ${label} ${python}`,
    input: channel,
    output: channel,
    stderr,
    exited,
    kill: () => {
      channel.signal('KILL');
      channel.close();
    },
    setKeepAlive: (keepAlive) => connection.setKeepAlive(channel, keepAlive),
  };
}
