// socket=host:port: a gateway served by src/core/remote/socketserver.py. Before the bootstrap,
// both sides prove they know the shared secret (HMAC-SHA256 over each other's random
// challenge; the secret itself is never sent), then the server starts `python -c <line>` on the
// connection. Optionally inside TLS. The remote exits when the connection closes.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { AuthenticationFailed, ExecnetError, GatewayStartError, HostNotFound } from '../errors';
import type { Prompts } from '../prompts';
import type { GatewaySpec } from '../spec';
import { expandHome } from '../ssh/config';
import type { Transport, TransportExit } from './transport';

const PROTOCOL = 'EXECNET-SOCKET 1';
const HANDSHAKE_TIMEOUT = 30;
/** A server that says nothing this long is probably waiting for a TLS client. */
const GREETING_TIMEOUT = 10;
/** The environment variable holding the secret when the spec names no socket_key file. */
export const TOKEN_ENV = 'EXECNET_SOCKET_TOKEN';

function mac(secret: Buffer, label: string, first: string, second: string): string {
  return crypto.createHmac('sha256', secret).update(`${label}|${first}|${second}`).digest('hex');
}

/** Reads `\n`-terminated lines from a stream, leaving later bytes unread. */
class LineReader {
  private buffered = Buffer.alloc(0);
  private waiter: { resolve: (line: string) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.once('end', () => this.fail(new ExecnetError('the connection closed')));
    stream.once('error', (error: Error) => this.fail(error));
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.deliver();
  };

  private deliver(): void {
    const newline = this.buffered.indexOf(10);
    if (newline === -1 || !this.waiter) {
      return;
    }
    const line = this.buffered.subarray(0, newline).toString('utf8');
    this.buffered = this.buffered.subarray(newline + 1);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter.resolve(line);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  next(): Promise<string> {
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.deliver();
    });
  }

  /**
   * Stops reading lines; whatever came after the last line goes back to the stream, which
   * flows again for the next 'data' listener (an explicitly paused stream would not).
   */
  detach(): void {
    const stream = this.stream;
    stream.off('data', this.onData);
    stream.pause();
    if (this.buffered.length > 0) {
      stream.unshift(this.buffered);
    }
    const onListener = (event: string | symbol): void => {
      if (event === 'data') {
        stream.off('newListener', onListener);
        process.nextTick(() => stream.resume());
      }
    };
    stream.on('newListener', onListener);
  }
}

export interface SocketTransportOptions {
  readonly prompts?: Prompts;
  /** The secret, when the caller has it (installvia). */
  readonly secret?: Buffer;
  /** An open stream to the server (installvia through a remote gateway). */
  readonly stream?: Duplex;
  /** The address for messages when `stream` is given. */
  readonly address?: string;
}

/** The shared secret, and whether a person was asked for it (which takes a while). */
async function readSecret(
  spec: GatewaySpec,
  address: string,
  prompts?: Prompts,
): Promise<{ secret: Buffer; asked: boolean }> {
  if (spec.socketKey !== undefined) {
    const file = expandHome(spec.socketKey);
    try {
      return { secret: Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'utf8'), asked: false };
    } catch (error) {
      throw new GatewayStartError(
        `cannot read the socket key ${file} (socket_key=): ${(error as Error).message}`,
      );
    }
  }
  const fromEnv = process.env[TOKEN_ENV];
  if (fromEnv) {
    return { secret: Buffer.from(fromEnv, 'utf8'), asked: false };
  }
  const asked = prompts?.secret ? await prompts.secret({ kind: 'socket', address }) : undefined;
  if (asked === undefined || asked === '') {
    throw new AuthenticationFailed(
      `no secret for the socket server at ${address}: give socket_key=FILE in the spec or set ${TOKEN_ENV}`,
      address,
      [],
    );
  }
  return { secret: Buffer.from(asked, 'utf8'), asked: true };
}

function connectTcp(spec: GatewaySpec, address: string): Promise<Duplex> {
  const { host, port } = spec.socket ?? { host: '', port: 0 };
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    const failed = (error: NodeJS.ErrnoException): void => {
      const why =
        error.code === 'ECONNREFUSED'
          ? 'connection refused (is the socket server running?)'
          : error.code === 'ENOTFOUND'
            ? `unknown host ${host}`
            : error.message;
      if (
        spec.tls &&
        (error.code?.startsWith('ERR_SSL') || /certificate|SSL|TLS/i.test(error.message))
      ) {
        reject(
          new GatewayStartError(
            `TLS with the socket server at ${address} failed: ${error.message} (does the server run with --tls-cert, and does tls_ca= name its certificate or CA?)`,
            { cause: error },
          ),
        );
        return;
      }
      reject(
        error instanceof ExecnetError
          ? error
          : new HostNotFound(`cannot reach the socket server at ${address}: ${why}`, host, {
              cause: error,
            }),
      );
    };
    if (spec.tls) {
      let ca: Buffer | undefined;
      if (spec.tlsCa !== undefined) {
        try {
          ca = fs.readFileSync(expandHome(spec.tlsCa));
        } catch (error) {
          reject(
            new GatewayStartError(`cannot read tls_ca ${spec.tlsCa}: ${(error as Error).message}`),
          );
          return;
        }
      }
      socket = tls.connect({ host, port, ca, servername: net.isIP(host) ? undefined : host });
      socket.once('secureConnect', () => resolve(socket));
    } else {
      socket = net.connect({ host, port });
      socket.once('connect', () => resolve(socket));
    }
    socket.setNoDelay(true);
    socket.once('error', failed);
  });
}

function withTimeout<T>(promise: Promise<T>, what: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new GatewayStartError(`${what}: no answer within ${HANDSHAKE_TIMEOUT}s`));
      }, HANDSHAKE_TIMEOUT * 1000);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function openSocket(
  spec: GatewaySpec,
  bootstrapLine: string,
  options: SocketTransportOptions = {},
): Promise<Transport> {
  const address =
    options.address ?? (spec.socket ? `${spec.socket.host}:${spec.socket.port}` : 'socket');
  // An unreachable host is reported before a missing secret: connect first.
  let stream = options.stream ?? (await connectTcp(spec, address));
  let secret = options.secret;
  if (secret === undefined) {
    try {
      const found = await readSecret(spec, address, options.prompts);
      secret = found.secret;
      if (found.asked && options.stream === undefined) {
        // the server gives a handshake a few seconds; a person typing may have taken longer
        stream.destroy();
        stream = await connectTcp(spec, address);
      }
    } catch (error) {
      if (options.stream === undefined) {
        stream.destroy();
      }
      throw error;
    }
  }
  const reader = new LineReader(stream);
  let pid: number;
  try {
    pid = await withTimeout(
      handshake(stream, reader, secret, address, spec, bootstrapLine),
      `the socket server at ${address}`,
      () => stream.destroy(),
    );
  } catch (error) {
    stream.destroy();
    throw error instanceof ExecnetError
      ? error
      : new GatewayStartError(`socket server at ${address}: ${(error as Error).message}`, {
          cause: error,
        });
  }
  reader.detach();
  stream.on('error', () => undefined);
  const exited = new Promise<TransportExit>((resolve) => {
    // the remote closing its side means it is gone
    stream.once('end', () => resolve({ code: null, signal: null }));
    stream.once('close', () => resolve({ code: null, signal: null }));
  });
  const socket = stream as Partial<net.Socket>;
  return {
    description: `socket ${address}${spec.tls ? ' (TLS)' : ''} (remote pid ${pid})`,
    input: stream,
    output: stream,
    exited,
    kill: () => stream.destroy(),
    setKeepAlive: (keepAlive) => {
      if (keepAlive) {
        socket.ref?.();
      } else {
        socket.unref?.();
      }
    },
  };
}

async function handshake(
  stream: Duplex,
  reader: LineReader,
  secret: Buffer,
  address: string,
  spec: GatewaySpec,
  bootstrapLine: string,
): Promise<number> {
  const refused = (why: string): AuthenticationFailed =>
    new AuthenticationFailed(`the socket server at ${address} ${why}`, address, [
      spec.socketKey !== undefined ? `socket_key ${spec.socketKey}` : 'shared secret',
    ]);
  let timer: NodeJS.Timeout | undefined;
  const greeting = await Promise.race([
    reader.next(),
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new GatewayStartError(
              `${address} sent no greeting within ${GREETING_TIMEOUT}s: is it an execnet socket server, and does it expect TLS (add tls or tls_ca= to the spec)?`,
            ),
          ),
        GREETING_TIMEOUT * 1000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  if (!greeting.startsWith(`${PROTOCOL} `)) {
    throw new GatewayStartError(
      `${address} is not an execnet socket server (it said '${greeting.slice(0, 60)}'); start src/core/remote/socketserver.py there`,
    );
  }
  const serverNonce = greeting.slice(PROTOCOL.length + 1).trim();
  const clientNonce = crypto.randomBytes(32).toString('hex');
  stream.write(
    `AUTH ${clientNonce} ${mac(secret, 'execnet-socket client', serverNonce, clientNonce)}\n`,
  );
  const answer = await reader.next().catch(() => 'ERR closed the connection');
  if (answer.startsWith('ERR')) {
    throw refused(
      `refused the secret (${answer.slice(4)}): check socket_key= or ${TOKEN_ENV} against the server's`,
    );
  }
  const proof = answer.startsWith('OK ') ? answer.slice(3).trim() : '';
  const expected = mac(secret, 'execnet-socket server', clientNonce, serverNonce);
  if (
    proof.length !== expected.length ||
    !crypto.timingSafeEqual(Buffer.from(proof), Buffer.from(expected))
  ) {
    throw refused('could not prove that it knows the secret: it is not the server you meant');
  }
  const args = spec.dontWriteBytecode ? ['-B'] : [];
  stream.write(`EXEC ${JSON.stringify({ line: bootstrapLine, args })}\n`);
  const run = await reader.next();
  const match = /^RUN (\d+)$/.exec(run);
  if (!match) {
    throw new GatewayStartError(`the socket server at ${address} could not start Python: ${run}`);
  }
  return Number(match[1]);
}
