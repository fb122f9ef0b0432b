// sudo=USER: the interpreter runs as another user, locally or on an ssh host; sudo's password
// question goes through the prompts. Needs root (to create the test user and let it use sudo).

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AuthenticationFailed } from '../../src/core/errors';
import { forgeHello } from '../helpers/hostile';
import { Group } from '../../src/core/group';
import { leftoverProcesses, newMark } from '../helpers/processes';
import { recordingPrompts } from '../helpers/prompts';
import {
  ensureTestUser,
  isRoot,
  sshdAvailable,
  startSshd,
  TEST_USER,
  TEST_USER_PASSWORD,
  type Sshd,
} from '../helpers/sshd';
import { sshGroup } from '../helpers/sshGroups';

/** The test user cannot enter root's home, where pyenv's interpreters live. */
const SYSTEM_PYTHON = '/usr/bin/python3';

const skip =
  !isRoot() || !fs.existsSync('/usr/bin/sudo') || !fs.existsSync(SYSTEM_PYTHON)
    ? 'needs root, sudo and /usr/bin/python3'
    : false;

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

describe('sudo= on the local host', { skip }, () => {
  before(() => {
    ensureTestUser();
  });

  it('runs the interpreter as the named user', async () => {
    const mark = newMark();
    const group = new Group('sudo');
    const gw = await group.makeGateway(
      `popen//sudo=${TEST_USER}//python=${SYSTEM_PYTHON}//env:EXECNET_TEST_MARK=${mark}//chdir=/tmp`,
    );
    const ch = gw.remoteExec(
      'import os\nchannel.send((os.getuid(), os.environ["EXECNET_TEST_MARK"]))',
    );
    assert.deepEqual([...((await ch.receive()) as unknown[])], [uidOf(TEST_USER), mark]);
    await group.terminate(2);
    assert.deepEqual(await leftoverProcesses(mark), []);
  });
});

describe('sudo= on an ssh host', { skip: skip || (sshdAvailable() ? false : 'needs sshd') }, () => {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd({ testUser: true });
  });
  after(() => sshd?.stop());

  const spec = (mark: string): string =>
    `ssh=-p ${sshd.port} ${TEST_USER}@127.0.0.1//python=${SYSTEM_PYTHON}//sudo=root//env:EXECNET_TEST_MARK=${mark}`;

  it('answers sudo password questions through the prompts, again after a wrong one', async () => {
    const prompts = recordingPrompts({ password: ['wrong', TEST_USER_PASSWORD] });
    const tg = sshGroup(sshd, { prompts });
    const gw = await tg.group.makeGateway(spec(tg.mark));
    const ch = gw.remoteExec('import os\nchannel.send(os.getuid())');
    assert.equal(await ch.receive(), 0);
    assert.deepEqual(
      prompts.asked.password.map((q) => [q.kind, q.user, q.attempt]),
      [
        ['sudo', 'root', 1],
        ['sudo', 'root', 2],
      ],
    );
    assert.match(prompts.asked.password[0].host, new RegExp(`${TEST_USER}@127.0.0.1`));
    await tg.close();
  });

  it('code planted by remote code of an unprivileged session never runs in a later sudo=root gateway', async () => {
    const prompts = recordingPrompts({ password: [TEST_USER_PASSWORD] });
    const tg = sshGroup(sshd, { prompts });
    const marker = `/tmp/execnet-planted-${tg.mark}`;
    const plain = await tg.group.makeGateway(
      tg.marked(`ssh=-p ${sshd.port} ${TEST_USER}@127.0.0.1//python=${SYSTEM_PYTHON}`),
    );
    await plain
      .remoteExec(forgeHello(marker))
      .waitClose(10)
      .catch(() => undefined);
    const root = await tg.group.makeGateway(spec(tg.mark));
    assert.equal(await root.remoteExec('import os\nchannel.send(os.getuid())').receive(), 0);
    assert.equal(fs.existsSync(marker), false, 'the planted code never ran');
    assert.equal(plain.state, 'dead', 'the forged handshake frame closed its gateway');
    await tg.close();
  });

  it('fails with AuthenticationFailed when the question is cancelled, or nobody can answer', async () => {
    const prompts = recordingPrompts({ password: [undefined] });
    const tg = sshGroup(sshd, { prompts });
    await assert.rejects(tg.group.makeGateway(spec(tg.mark)), AuthenticationFailed);
    assert.equal(prompts.asked.password.length, 1);
    const silent = sshGroup(sshd);
    await assert.rejects(silent.group.makeGateway(spec(silent.mark)), (error: unknown) => {
      assert.ok(error instanceof AuthenticationFailed, String(error));
      assert.match(error.message, /password is required/);
      return true;
    });
    await tg.close();
    await silent.close();
  });
});
