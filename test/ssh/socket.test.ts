// socket= gateways against the shipped server (src/core/remote/socketserver.py): the secret is
// proven, never sent; clients without it are refused while the server keeps serving; TLS; the
// server will not listen beyond loopback unless told to.

import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuthenticationFailed, GatewayStartError, HostNotFound } from '../../src/core/errors';
import { Group } from '../../src/core/group';
import { askExecnet } from '../helpers/execnet';
import { leftoverProcesses, newMark } from '../helpers/processes';
import { recordingPrompts } from '../helpers/prompts';
import { defaultPython } from '../helpers/pythons';
import { gone } from '../helpers/sshGroups';

const SERVER = path.resolve(__dirname, '..', '..', 'src', 'core', 'remote', 'socketserver.py');

interface Server {
  readonly port: number;
  readonly child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Starts the server on a free loopback port and waits for its "listening on" line. */
function startServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const child = spawn(defaultPython(), [SERVER, '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on [\d.]+:(\d+)/.exec(stdout);
      if (match) {
        resolve({
          port: Number(match[1]),
          child,
          log: () => stderr,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) {
                done();
                return;
              }
              child.once('exit', () => done());
              child.kill();
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
}

describe('the socket server', () => {
  let dir: string;
  let keyFile: string;
  let wrongKeyFile: string;
  let server: Server;
  let token: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-socket-'));
    token = crypto.randomBytes(24).toString('hex');
    keyFile = path.join(dir, 'key');
    wrongKeyFile = path.join(dir, 'wrong');
    fs.writeFileSync(keyFile, `${token}\n`, { mode: 0o600 });
    fs.writeFileSync(wrongKeyFile, crypto.randomBytes(24).toString('hex'));
    server = await startServer(['--key-file', keyFile]);
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves an authenticated client, and its interpreter exits with the connection', async () => {
    const mark = newMark();
    const group = new Group('socket');
    const gw = await group.makeGateway(
      `socket=127.0.0.1:${server.port}//socket_key=${keyFile}//env:EXECNET_TEST_MARK=${mark}//dont_write_bytecode`,
    );
    assert.equal(gw.pid, undefined);
    const ch = gw.remoteExec(
      'import os, sys\nchannel.send((os.getpid(), sys.dont_write_bytecode))',
    );
    assert.deepEqual([...((await ch.receive()) as unknown[])], [gw.info.pid, true]);
    assert.match(server.log(), new RegExp(`started pid ${gw.info.pid}`));
    const pid = gw.info.pid;
    await group.terminate(2);
    assert.ok(await gone(pid), 'the remote interpreter is gone');
    assert.deepEqual(await leftoverProcesses(mark), []);
  });

  it('refuses a wrong or missing secret clearly, and keeps serving', async () => {
    const group = new Group('socket');
    await assert.rejects(
      group.makeGateway(`socket=127.0.0.1:${server.port}//socket_key=${wrongKeyFile}`),
      (error: unknown) => {
        assert.ok(error instanceof AuthenticationFailed, String(error));
        assert.match(error.message, /refused the secret \(authentication failed\)/);
        return true;
      },
    );
    const saved = process.env.EXECNET_SOCKET_TOKEN;
    delete process.env.EXECNET_SOCKET_TOKEN;
    try {
      await assert.rejects(
        group.makeGateway(`socket=127.0.0.1:${server.port}`),
        (error: unknown) => {
          assert.ok(error instanceof AuthenticationFailed, String(error));
          assert.match(error.message, /no secret .* socket_key=FILE .* EXECNET_SOCKET_TOKEN/);
          return true;
        },
      );
      // a client that is not one of ours at all
      await new Promise<void>((resolve) => {
        const socket = net.connect(server.port, '127.0.0.1', () => {
          socket.end('GET / HTTP/1.0\r\n\r\n');
        });
        socket.resume();
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
      // the secret can come from the prompts (the editor keeps it in its secret storage)
      const prompts = recordingPrompts({ secret: [token] });
      const asking = new Group('socket', { prompts });
      const gw = await asking.makeGateway(`socket=127.0.0.1:${server.port}`);
      assert.equal(gw.state, 'alive');
      assert.deepEqual(prompts.asked.secret, [
        { kind: 'socket', address: `127.0.0.1:${server.port}` },
      ]);
      await asking.terminate(2);
    } finally {
      if (saved !== undefined) {
        process.env.EXECNET_SOCKET_TOKEN = saved;
      }
    }
    assert.match(server.log(), /refused 127\.0\.0\.1:\d+: authentication failed/);
    // a TLS client meets a plain server: refused at once, not after a timeout
    await assert.rejects(
      group.makeGateway(`socket=127.0.0.1:${server.port}//socket_key=${keyFile}//tls`),
      GatewayStartError,
    );
    assert.equal(server.child.exitCode, null, 'the server is still running');
    await group.terminate(2);
  });

  it('an unreachable host is HostNotFound before a missing secret is reported, as execnet reports the address', async () => {
    // execnet (which has no secret) raises its HostNotFound
    const execnetError = askExecnet<string[]>(`
try:
    execnet.makegateway("socket=no.such.host.invalid:8888")
except Exception as e:
    json.dump([c.__name__ for c in type(e).__mro__], sys.stdout)
`);
    assert.equal(execnetError[0], 'HostNotFound');
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const saved = process.env.EXECNET_SOCKET_TOKEN;
    delete process.env.EXECNET_SOCKET_TOKEN;
    try {
      const group = new Group('socket');
      for (const [spec, host, why] of [
        [
          'socket=no.such.host.invalid:8888',
          'no.such.host.invalid',
          /cannot reach the socket server at no\.such\.host\.invalid:8888/,
        ],
        [
          `socket=127.0.0.1:${closed}`,
          '127.0.0.1',
          /connection refused \(is the socket server running\?\)/,
        ],
      ] as const) {
        await assert.rejects(group.makeGateway(spec), (error: unknown) => {
          assert.ok(error instanceof HostNotFound, `${spec}: ${String(error)}`);
          assert.equal(error.host, host);
          assert.match(error.message, why);
          return true;
        });
      }
      assert.equal(group.size, 0);
    } finally {
      if (saved !== undefined) {
        process.env.EXECNET_SOCKET_TOKEN = saved;
      }
    }
  });

  it('300 idle clients cost no thread, a slow one is dropped at the deadline, a good one still gets in', async () => {
    const guarded = await startServer(['--key-file', keyFile, '--handshake-timeout', '2']);
    const pid = guarded.child.pid!;
    const threads = (): number =>
      Number(/Threads:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    const opened: net.Socket[] = [];
    const open = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(guarded.port, '127.0.0.1', () => resolve(socket));
        socket.on('error', () => undefined);
        socket.once('error', reject);
        socket.resume();
        opened.push(socket);
      });
    const mark = newMark();
    const group = new Group('socket');
    try {
      const idle = threads();
      for (let i = 0; i < 300; i += 50) {
        await Promise.all(Array.from({ length: 50 }, open));
      }
      // one byte every 300 ms: never 30 s without a byte, but no handshake either
      const slow = await open();
      const slowPort = slow.localPort;
      const slowStart = Date.now();
      const slowClosed = new Promise<number>((resolve) =>
        slow.once('close', () => resolve(Date.now() - slowStart)),
      );
      const drip = setInterval(() => slow.write('A'), 300);
      let most = 0;
      const sampler = setInterval(() => (most = Math.max(most, threads())), 50);
      try {
        const gw = await group.makeGateway(
          `socket=127.0.0.1:${guarded.port}//socket_key=${keyFile}//env:EXECNET_TEST_MARK=${mark}`,
        );
        assert.equal(await gw.remoteExec('channel.send(6 * 7)').receive(), 42);
        const slowFor = await slowClosed;
        assert.ok(slowFor >= 1500 && slowFor < 10_000, `slow client dropped after ${slowFor} ms`);
        assert.match(
          guarded.log(),
          new RegExp(`dropped 127\\.0\\.0\\.1:${slowPort}: no handshake within 2s`),
        );
      } finally {
        clearInterval(drip);
        clearInterval(sampler);
      }
      assert.ok(
        most <= idle + 3,
        `server threads while 300 clients did not authenticate: ${most} (idle ${idle})`,
      );
      await group.terminate(2);
      assert.deepEqual(await leftoverProcesses(mark), []);
    } finally {
      for (const socket of opened) {
        socket.destroy();
      }
      await guarded.stop();
    }
  });

  it('never sends the secret: the bytes on the wire do not contain it', async () => {
    const seen: Buffer[] = [];
    const proxy = net.createServer((client) => {
      const upstream = net.connect(server.port, '127.0.0.1');
      client.on('data', (data) => {
        seen.push(Buffer.from(data));
        upstream.write(data);
      });
      upstream.on('data', (data) => {
        seen.push(Buffer.from(data));
        client.write(data);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as net.AddressInfo).port;
    const group = new Group('socket');
    const gw = await group.makeGateway(`socket=127.0.0.1:${port}//socket_key=${keyFile}`);
    const ch = gw.remoteExec('channel.send(1)');
    assert.equal(await ch.receive(), 1);
    await group.terminate(2);
    proxy.close();
    const wire = Buffer.concat(seen);
    assert.ok(wire.includes('EXECNET-SOCKET 1'));
    assert.ok(!wire.includes(token), 'the token itself never crossed the wire');
  });

  it('will not listen beyond loopback without --allow-remote', async () => {
    const refused = (() => {
      try {
        execFileSync(defaultPython(), [SERVER, '--listen', '0.0.0.0:0', '--key-file', keyFile], {
          stdio: 'pipe',
          encoding: 'utf8',
          timeout: 10_000,
        });
        return undefined;
      } catch (error) {
        return error as { status: number; stderr: string };
      }
    })();
    assert.ok(refused, 'the server refused to start');
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /not a loopback address.*--allow-remote/s);
    const open = await startServer([
      '--key-file',
      keyFile,
      '--allow-remote',
      '--listen',
      '0.0.0.0:0',
    ]);
    assert.ok(open.port > 0);
    await open.stop();
  });

  it('will not start without a secret', () => {
    assert.throws(
      () =>
        execFileSync(defaultPython(), [SERVER], {
          stdio: 'pipe',
          env: { ...process.env, EXECNET_SOCKET_TOKEN: '' },
          timeout: 10_000,
        }),
      (error: { status: number; stderr: Buffer }) =>
        error.status === 2 && /no secret/.test(error.stderr.toString()),
    );
  });
});

describe('the socket server over TLS', () => {
  let dir: string;
  let server: Server;
  let cert: string;
  const token = crypto.randomBytes(24).toString('hex');
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-tls-'));
    cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=execnet-test',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    server = await startServer(['--tls-cert', cert, '--tls-key', key], {
      EXECNET_SOCKET_TOKEN: token,
    });
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves a client that verifies the server certificate', async () => {
    const saved = process.env.EXECNET_SOCKET_TOKEN;
    process.env.EXECNET_SOCKET_TOKEN = token;
    try {
      const group = new Group('tls');
      const gw = await group.makeGateway(`socket=127.0.0.1:${server.port}//tls_ca=${cert}`);
      const ch = gw.remoteExec('channel.send(channel.receive() * 2)');
      await ch.send(Buffer.alloc(300_000, 1));
      assert.equal(((await ch.receive()) as Buffer).length, 600_000);
      // a certificate nobody vouches for is refused
      await assert.rejects(
        group.makeGateway(`socket=127.0.0.1:${server.port}//tls`),
        /certificate/,
      );
      await group.terminate(2);
      assert.equal(server.child.exitCode, null);
    } finally {
      if (saved === undefined) {
        delete process.env.EXECNET_SOCKET_TOKEN;
      } else {
        process.env.EXECNET_SOCKET_TOKEN = saved;
      }
    }
  });
});
