// via= and installvia=: gateways started from another gateway's host, their bytes relayed
// through it; terminating the master takes down what hangs from it.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { GatewayStartError, HostNotFound } from '../../src/core/errors';
import type { Gateway } from '../../src/core/gateway';
import { defaultPython } from '../helpers/pythons';
import { sshdAvailable, startSshd, type Sshd } from '../helpers/sshd';
import { connectionsTo, gone, sshGroup, type SshTestGroup } from '../helpers/sshGroups';

const skip = sshdAvailable() ? false : 'needs /usr/sbin/sshd (openssh-server)';

function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function roundTrip(gw: Gateway, value: number): Promise<unknown> {
  const ch = gw.remoteExec('channel.send(channel.receive() + 1)');
  await ch.send(value);
  return ch.receive();
}

describe('via= and installvia=', { skip }, () => {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(() => sshd?.stop());

  const popen = (tg: SshTestGroup, extra: string): string =>
    tg.marked(`popen//python=${defaultPython()}//${extra}`);

  it('popen via popen: the new interpreter is the master’s child', async () => {
    const tg = sshGroup(sshd);
    const master = await tg.group.makeGateway(popen(tg, 'id=master'));
    const sub = await tg.group.makeGateway(tg.marked('popen//via=master//id=sub'));
    assert.equal(sub.pid, undefined, 'no local process');
    assert.equal(
      sub.info.executable,
      master.info.executable,
      'the master’s interpreter by default',
    );
    assert.equal(parentOf(sub.info.pid), master.info.pid);
    assert.equal(await roundTrip(sub, 1), 2);
    const big = sub.remoteExec('channel.send(channel.receive())');
    await big.send(Buffer.alloc(5_000_000, 7));
    assert.equal(((await big.receive()) as Buffer).length, 5_000_000);
    await tg.close();
  });

  it('ssh via popen: the TCP connection to sshd is the master’s, not ours', async () => {
    const tg = sshGroup(sshd);
    const master = await tg.group.makeGateway(popen(tg, 'id=m'));
    const gw = await tg.group.makeGateway(tg.spec('via=m'));
    assert.equal(await roundTrip(gw, 41), 42);
    assert.equal(connectionsTo(sshd.port), 0, 'this process has no connection to sshd');
    assert.ok(master.info.pid > 0);
    await tg.close();
  });

  it('chains: popen via ssh via popen, and ssh via ssh', async () => {
    const tg = sshGroup(sshd);
    await tg.group.makeGateway(popen(tg, 'id=a'));
    const b = await tg.group.makeGateway(tg.spec('via=a//id=b'));
    const c = await tg.group.makeGateway(tg.marked(`popen//via=b//id=c//python=${sshd.python}`));
    const d = await tg.group.makeGateway(tg.spec('via=b//id=d'));
    assert.equal(parentOf(c.info.pid), b.info.pid);
    assert.equal(await roundTrip(c, 1), 2);
    assert.equal(await roundTrip(d, 2), 3);
    await tg.close();
  });

  it('terminating the master takes down every gateway that hangs from it, and their processes', async () => {
    const tg = sshGroup(sshd);
    const master = await tg.group.makeGateway(popen(tg, 'id=top'));
    const sub = await tg.group.makeGateway(tg.marked('popen//via=top//id=sub'));
    const ssh = await tg.group.makeGateway(tg.spec('via=top//id=ssh'));
    const deeper = await tg.group.makeGateway(tg.marked(`popen//via=ssh//python=${sshd.python}`));
    const busy = sub.remoteExec('import time\nchannel.send(1)\ntime.sleep(60)');
    await busy.receive();
    const pids = [sub.info.pid, ssh.info.pid, deeper.info.pid];
    await master.terminate(1);
    for (const gw of [sub, ssh, deeper]) {
      const deadline = Date.now() + 5000;
      while (gw.state !== 'dead' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(gw.state, 'dead', `${gw.id} died with its master`);
    }
    for (const pid of pids) {
      assert.ok(await gone(pid, 5000), `remote pid ${pid} is gone`);
    }
    await tg.close();
  });

  it('reports a missing or dead master, and an unreachable host behind it', async () => {
    const tg = sshGroup(sshd);
    await assert.rejects(
      tg.group.makeGateway('popen//via=nobody'),
      (error: unknown) =>
        error instanceof GatewayStartError && /no gateway 'nobody'/.test(error.message),
    );
    await tg.group.makeGateway(popen(tg, 'id=m'));
    await assert.rejects(
      tg.group.makeGateway(`ssh=-p 1 127.0.0.1//via=m//python=${sshd.python}`),
      (error: unknown) => error instanceof HostNotFound && /from m/.test(error.message),
    );
    await tg.close();
  });

  it('installvia starts a one-client socket server on the gateway and connects to it', async () => {
    const tg = sshGroup(sshd);
    const local = await tg.group.makeGateway(popen(tg, 'id=p'));
    const viaLocal = await tg.group.makeGateway(tg.marked('socket//installvia=p'));
    assert.equal(parentOf(viaLocal.info.pid), local.info.pid);
    assert.equal(await roundTrip(viaLocal, 1), 2);
    const remote = await tg.group.makeGateway(tg.spec('id=r'));
    const viaRemote = await tg.group.makeGateway(tg.marked('socket//installvia=r'));
    assert.equal(parentOf(viaRemote.info.pid), remote.info.pid);
    assert.equal(await roundTrip(viaRemote, 2), 3);
    // each server served its one client and returned; the remote master still relays the
    // connection to its server's interpreter
    for (const [master, running] of [
      [local, 0],
      [remote, 1],
    ] as const) {
      const deadline = Date.now() + 3000;
      let status = await master.remoteStatus();
      while (status.numexecuting !== running && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        status = await master.remoteStatus();
      }
      assert.equal(status.numexecuting, running, `execs running on ${master.id}`);
    }
    await tg.close();
  });
});
