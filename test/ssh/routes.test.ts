// Other ways to reach an ssh host: ProxyJump through a second sshd, ProxyCommand, the system ssh
// binary (ssh_binary), and `vagrant ssh` (a stand-in vagrant that runs ssh).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HostNotFound } from '../../src/core/errors';
import { sshdAvailable, startSshd, type Sshd } from '../helpers/sshd';
import { connectionsTo, gone, sshGroup } from '../helpers/sshGroups';

const skip = sshdAvailable() ? false : 'needs /usr/sbin/sshd (openssh-server)';
const relay = path.resolve(__dirname, '..', 'fixtures', 'tcp_relay.py');

describe('routes to an ssh host', { skip }, () => {
  let target: Sshd;
  let jump: Sshd;
  let config: string;
  let dir: string;
  before(async () => {
    [target, jump] = await Promise.all([startSshd(), startSshd()]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-routes-'));
    config = path.join(dir, 'ssh_config');
    // both servers accept both keys; the known_hosts files of both are read
    fs.appendFileSync(
      path.join(jump.dir, `${jump.user}.authorized_keys`),
      fs.readFileSync(`${target.key}.pub`),
    );
    fs.writeFileSync(
      config,
      [
        'Host target',
        '  HostName 127.0.0.1',
        `  Port ${target.port}`,
        '  ProxyJump jumphost',
        'Host jumphost',
        '  HostName 127.0.0.1',
        `  Port ${jump.port}`,
        'Host *',
        `  IdentityFile ${target.key}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${target.knownHosts} ${jump.knownHosts}`,
        '  GlobalKnownHostsFile /dev/null',
        '  ServerAliveInterval 15',
        '  ConnectTimeout 5',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await Promise.all([target?.stop(), jump?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('goes through a ProxyJump host given with -J: the only TCP connection is to the jump host', async () => {
    const tg = sshGroup(target, { ssh: { configFile: config } });
    const gw = await tg.group.makeGateway(
      tg.marked(
        `ssh=-J ${jump.user}@127.0.0.1:${jump.port} -p ${target.port} 127.0.0.1//python=${target.python}`,
      ),
    );
    const second = await tg.group.makeGateway(
      tg.marked(
        `ssh=-J ${jump.user}@127.0.0.1:${jump.port} -p ${target.port} 127.0.0.1//python=${target.python}`,
      ),
    );
    assert.equal(connectionsTo(jump.port), 1);
    assert.equal(connectionsTo(target.port), 0, 'the target is reached from the jump host');
    assert.match(jump.log(), /Accepted publickey/);
    assert.match(target.log(), /Accepted publickey/);
    const ch = second.remoteExec('channel.send(channel.receive() * 2)');
    await ch.send(21);
    assert.equal(await ch.receive(), 42);
    const pid = gw.info.pid;
    await tg.close();
    assert.ok(await gone(pid));
    const deadline = Date.now() + 3000;
    while (connectionsTo(jump.port) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(connectionsTo(jump.port), 0, 'the jump connection closed with the last gateway');
  });

  it('follows ProxyJump from the ssh config', async () => {
    const tg = sshGroup(target, { ssh: { configFile: config } });
    const gw = await tg.group.makeGateway(tg.marked(`ssh=target//python=${target.python}`));
    assert.equal(gw.state, 'alive');
    assert.equal(connectionsTo(target.port), 0);
    await tg.close();
  });

  it('chains ProxyJump hops: -J a,b goes through a, then b, then to the host', async () => {
    const tg = sshGroup(target, { ssh: { configFile: config } });
    // the jump server twice: the second hop is reached through the first
    const gw = await tg.group.makeGateway(
      tg.marked(`ssh=-J jumphost,jumphost -p ${target.port} 127.0.0.1//python=${target.python}`),
    );
    assert.equal(await gw.remoteExec('channel.send(5)').receive(), 5);
    assert.equal(connectionsTo(jump.port), 1, 'one TCP connection: the first hop');
    const accepted = jump.log().match(/Accepted publickey/g) ?? [];
    assert.ok(accepted.length >= 2, 'the jump server logged in both hops');
    await tg.close();
  });

  it('reports an unreachable target behind the jump host as HostNotFound', async () => {
    const tg = sshGroup(target, { ssh: { configFile: config } });
    await assert.rejects(
      tg.group.makeGateway(`ssh=-J jumphost -p 1 127.0.0.1//python=${target.python}`),
      (error: unknown) => {
        assert.ok(error instanceof HostNotFound, String(error));
        assert.match(error.message, /from jump host/);
        return true;
      },
    );
    await tg.close();
  });

  it('runs a ProxyCommand and talks ssh over its stdin/stdout', async () => {
    const tg = sshGroup(target, { ssh: { configFile: config } });
    const gw = await tg.group.makeGateway(
      tg.marked(
        `ssh=-o "ProxyCommand=${target.python} ${relay} %h %p" -p ${target.port} 127.0.0.1//python=${target.python}`,
      ),
    );
    assert.equal(gw.state, 'alive');
    assert.equal(connectionsTo(target.port), 0, 'the relay holds the TCP connection, not us');
    await tg.close();
  });

  it('runs the system ssh with ssh_binary, like execnet', async () => {
    const tg = sshGroup(target);
    const gw = await tg.group.makeGateway(
      tg.marked(`ssh=-F ${target.config} ${target.alias}//ssh_binary//python=${target.python}`),
    );
    assert.ok(gw.pid !== undefined, 'a local ssh process carries it');
    const ch = gw.remoteExec('import os\nchannel.send(os.getpid())');
    assert.equal(await ch.receive(), gw.info.pid);
    await tg.close();
    assert.ok(await gone(gw.info.pid));
  });

  it('runs `vagrant ssh NAME -- -C CMD` for vagrant_ssh (a stand-in vagrant that runs ssh)', async () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-vagrant-'));
    const calls = path.join(bin, 'calls');
    fs.writeFileSync(
      path.join(bin, 'vagrant'),
      [
        '#!/bin/sh',
        `printf '%s\\n' "$@" > ${calls}`,
        '[ "$1" = ssh ] && [ "$3" = -- ] || exit 2',
        'shift 3',
        `exec ssh -F ${target.config} ${target.alias} "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    try {
      const tg = sshGroup(target);
      const gw = await tg.group.makeGateway(
        tg.marked(`vagrant_ssh=devbox//python=${target.python}`),
      );
      const ch = gw.remoteExec('channel.send(7)');
      assert.equal(await ch.receive(), 7);
      const argv = fs.readFileSync(calls, 'utf8').split('\n');
      assert.deepEqual(argv.slice(0, 4), ['ssh', 'devbox', '--', '-C']);
      assert.match(
        argv[4],
        new RegExp(`^exec env EXECNET_TEST_MARK=${tg.mark} ${target.python} -c `),
      );
      await tg.close();
    } finally {
      process.env.PATH = savedPath;
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});
