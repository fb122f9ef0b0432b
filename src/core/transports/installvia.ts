// socket//installvia=ID: start the socket server inside gateway ID (loopback, a random port, a
// fresh secret that only this side learns), then connect to it: directly when that gateway runs
// on this machine, else through a TCP relay of that gateway. The server serves this one client.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { remoteSourceDir } from '../bootstrap';
import { GatewayStartError, HostNotFound } from '../errors';
import type { Gateway } from '../gateway';
import { onThisMachine, type GatewaySpec } from '../spec';
import { relayTcp } from './relay';
import { openSocket } from './socket';
import type { Transport } from './transport';

let serverSource: string | undefined;

function source(): string {
  serverSource ??= fs.readFileSync(path.join(remoteSourceDir(), 'socketserver.py'), 'utf8');
  return serverSource;
}

/** Seconds the server waits for us to connect. */
const ACCEPT_TIMEOUT = 60;

function connectLocal(port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (error) =>
      reject(
        new HostNotFound(
          `cannot reach the installed socket server on port ${port}: ${error.message}`,
          '127.0.0.1',
        ),
      ),
    );
  });
}

export async function openInstallvia(
  spec: GatewaySpec,
  bootstrapLine: string,
  lookup: (id: string) => unknown,
): Promise<Transport> {
  const id = spec.installvia ?? '';
  const master = lookup(id) as Gateway | undefined;
  if (!master || master.state !== 'alive') {
    throw new GatewayStartError(
      `installvia=${id}: ${master ? `gateway '${id}' is ${master.state}` : `there is no gateway '${id}' in this group`}`,
    );
  }
  const token = crypto.randomBytes(32).toString('hex');
  const server = master.remoteExec({
    source: source(),
    filename: '<execnet-socketserver>',
    call: 'serve_installvia',
    kwargs: { token, host: '127.0.0.1', port: 0, timeout: ACCEPT_TIMEOUT },
  });
  const port = Number(await server.receive(ACCEPT_TIMEOUT));
  // the same machine: a popen gateway not started through another one
  const local = onThisMachine(master.spec);
  let stream: Duplex;
  if (local) {
    stream = await connectLocal(port);
  } else {
    const relay = await relayTcp(lookup, id, '127.0.0.1', port, 'installvia');
    stream = relay.stream;
  }
  const transport = await openSocket(spec, bootstrapLine, {
    secret: Buffer.from(token, 'utf8'),
    stream,
    address: `127.0.0.1:${port} on ${master.id}`,
  });
  void server.waitClose().catch(() => undefined);
  if (local) {
    return transport;
  }
  // keep the relay's master held while this gateway wants to be
  const relayed = stream as Duplex & { setKeepAlive?: (keepAlive: boolean) => void };
  return { ...transport, setKeepAlive: (keepAlive) => relayed.setKeepAlive?.(keepAlive) };
}
