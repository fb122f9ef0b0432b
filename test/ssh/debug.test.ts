// Debugging over ssh and through a via= chain, against the loopback sshd: the program runs from a
// synced mirror, breakpoints set on local paths bind there and stops show local paths (debugpy's
// path mappings), the gateway's Python has no debugpy so it is shipped over the connection, and
// nothing the session started is left on the remote.

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/core/gateway';
import { RSync } from '../../src/core/rsync';
import {
  evaluate,
  launchToFirstStop,
  localsOf,
  runToEnd,
  stackOf,
  writeFixture,
  type DebugFixture,
} from '../helpers/debug';
import { othersLeft } from '../helpers/processes';
import { defaultPython } from '../helpers/pythons';
import {
  ensureTestUser,
  isRoot,
  sshdAvailable,
  startSshd,
  TEST_USER,
  type Sshd,
} from '../helpers/sshd';
import { sshGroup, type SshTestGroup } from '../helpers/sshGroups';

const skip = sshdAvailable() ? false : 'needs /usr/sbin/sshd (openssh-server)';
/** Debian's Python, with debugpy; the sudo test's user cannot enter root's pyenv. */
const SYSTEM_PYTHON = '/usr/bin/python3';
const sudoSkip = !isRoot() || !fs.existsSync('/usr/bin/sudo') ? 'needs root and sudo' : false;

describe('debugging over ssh', { skip }, () => {
  let sshd: Sshd;
  let fixture: DebugFixture;
  let scratch: string;
  const groups: SshTestGroup[] = [];
  before(async () => {
    sshd = await startSshd();
    fixture = writeFixture();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-debug-ssh-'));
  });
  after(async () => {
    await Promise.all(groups.map((tg) => tg.group.terminate(2)));
    await sshd?.stop();
    fixture?.remove();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  /** Sync the fixture to a mirror on the gateway, and debug it there to the module's breakpoint. */
  async function debugFromMirror(tg: SshTestGroup, gw: Gateway, label: string): Promise<void> {
    const mirror = path.join(scratch, `mirror-${gw.id}`);
    const rsync = new RSync(fixture.dir);
    rsync.addTarget(gw, mirror);
    await rsync.send();
    const session = await launchToFirstStop(
      gw,
      {
        program: fixture.program,
        cwd: fixture.dir,
        pathMappings: [{ localRoot: fixture.dir, remoteRoot: mirror }],
      },
      { [fixture.module]: [fixture.line('gross')] },
      { cacheDir: path.join(scratch, 'local-cache') },
    );
    const { dap, relay, stopped } = session;
    console.log(
      `# ${label} (debugpy ${relay.info.debugpy}): open → first stop ${session.msToFirstStop.toFixed(0)} ms`,
    );
    const thread = stopped.body.threadId!;
    const { frames, text } = await stackOf(dap, thread);
    // the remote runs the mirror's files; the client sees its own
    assert.deepEqual(text, [
      `price_with_tax ${fixture.module}:${fixture.line('gross')}`,
      `<module> ${fixture.program}:${fixture.line('call')}`,
    ]);
    assert.equal(
      await evaluate(dap, frames[0].id, '__file__'),
      `'${path.join(mirror, 'pricing.py')}'`,
    );
    assert.equal((await localsOf(dap, frames[0].id)).get('net'), '1.5');
    await dap.request('next', { threadId: thread });
    await dap.waitEvent('stopped');
    assert.equal((await stackOf(dap, thread)).frames[0].line, fixture.line('return'));
    assert.match(await runToEnd(session, fixture.module), /total 3\.76/);
    const gateways = [...tg.group].map((g) => g.info.pid);
    assert.deepEqual(
      await othersLeft(tg.mark, gateways),
      [],
      'nothing of the session is left on the remote',
    );
  }

  it('an ssh gateway whose Python lacks debugpy: shipped over the connection, breakpoints bound through the mirror', async () => {
    const tg = sshGroup(sshd);
    groups.push(tg);
    const cache = path.join(scratch, 'remote-cache');
    const gw = await tg.group.makeGateway(tg.spec(`env:XDG_CACHE_HOME=${cache}`));
    await debugFromMirror(tg, gw, `ssh, Python ${gw.info.version.join('.')}`);
    assert.ok(fs.existsSync(path.join(cache, 'execnet')), 'debugpy went into the remote cache');
    await tg.close();
  });

  /** Debug the fixture in place (a gateway on this host sees its files) to the module's stop. */
  async function debugInPlace(gw: Gateway): Promise<string> {
    const session = await launchToFirstStop(
      gw,
      { program: fixture.program },
      { [fixture.module]: [fixture.line('gross')] },
      { cacheDir: path.join(scratch, 'local-cache') },
    );
    const { frames } = await stackOf(session.dap, session.stopped.body.threadId!);
    assert.equal(frames[0].source?.path, fixture.module);
    const uid = await evaluate(session.dap, frames[0].id, '__import__("os").getuid()');
    await runToEnd(session, fixture.module);
    return uid;
  }

  it('a socket gateway (a server installed through a local gateway)', async () => {
    const tg = sshGroup(sshd);
    groups.push(tg);
    await tg.group.makeGateway(tg.marked(`popen//python=${SYSTEM_PYTHON}//id=server-host`));
    const gw = await tg.group.makeGateway(tg.marked('socket//installvia=server-host'));
    await debugInPlace(gw);
    await tg.close();
  });

  it('a sudo= gateway: the program runs as the other user', { skip: sudoSkip }, async () => {
    ensureTestUser();
    // the other user reads the program and its module
    fs.chmodSync(fixture.dir, 0o755);
    const tg = sshGroup(sshd);
    groups.push(tg);
    const gw = await tg.group.makeGateway(
      tg.marked(`popen//sudo=${TEST_USER}//python=${SYSTEM_PYTHON}//chdir=/tmp`),
    );
    const uid = await debugInPlace(gw);
    assert.equal(uid, execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());
    await tg.close();
  });

  it('through a via= chain: ssh via a popen master', async () => {
    const tg = sshGroup(sshd);
    groups.push(tg);
    await tg.group.makeGateway(tg.marked(`popen//python=${defaultPython()}//id=master`));
    const cache = path.join(scratch, 'via-cache');
    const gw = await tg.group.makeGateway(tg.spec(`via=master//env:XDG_CACHE_HOME=${cache}`));
    await debugFromMirror(tg, gw, 'ssh via popen');
    await tg.close();
  });
});
