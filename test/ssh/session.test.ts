// The interactive session over ssh= (a real sshd on 127.0.0.1): the remote half is shipped on
// first use, the namespace persists, input() and completion travel the connection, an interrupt
// reaches the statement, and nothing is left running afterwards.

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Execution } from '../../src/core/session';
import * as fs from 'node:fs';
import { Group } from '../../src/core/group';
import { leftoverProcesses, newMark } from '../helpers/processes';
import {
  ensureTestUser,
  isRoot,
  sshdAvailable,
  startSshd,
  TEST_USER,
  type Sshd,
} from '../helpers/sshd';
import { sshGroup } from '../helpers/sshGroups';
import { defaultPython } from '../helpers/pythons';

const skip = sshdAvailable() ? false : 'needs /usr/sbin/sshd (openssh-server)';

function text(execution: Execution, kind: 'stream' | 'result'): string {
  return execution.events
    .map((e) =>
      e.kind === 'stream' && kind === 'stream'
        ? e.text
        : e.kind === 'result' && kind === 'result'
          ? `${String(e.data['text/plain'])}\n`
          : '',
    )
    .join('');
}

describe('a session on an ssh gateway', { skip }, () => {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(() => sshd?.stop());

  it('keeps state, completes, reads input() and is interrupted, over ssh', async () => {
    const tg = sshGroup(sshd);
    try {
      const gw = await tg.group.makeGateway(tg.spec());
      const session = gw.session();
      await session.run('import os\nremote_pid = os.getpid()').done;
      const shown = session.run('remote_pid');
      await shown.done;
      assert.equal(text(shown, 'result'), `${gw.info.pid}\n`);
      assert.deepEqual(await session.complete('remote_p'), ['remote_pid']);

      const asking = session.run('print(input("? ").upper())');
      asking.onEvent((e) => e.kind === 'input' && e.request.answer('over ssh'));
      await asking.done;
      assert.equal(text(asking, 'stream'), 'OVER SSH\n');

      const sleeping = session.run('import time\nprint("zz", flush=True)\ntime.sleep(100)');
      await new Promise<void>((resolve) =>
        sleeping.onEvent((e) => e.kind === 'stream' && resolve()),
      );
      session.interrupt();
      assert.equal((await sleeping.done).kind, 'interrupted');
      const still = session.run('remote_pid == os.getpid()');
      await still.done;
      assert.equal(text(still, 'result'), 'True\n');
    } finally {
      await tg.close();
    }
  });

  it('works through via= and installvia= (a socket server on the master) as well', async () => {
    const tg = sshGroup(sshd);
    try {
      await tg.group.makeGateway(tg.marked(`popen//python=${defaultPython()}//id=master`));
      for (const spec of ['popen//via=master//id=sub', 'socket//installvia=master//id=sock']) {
        const gw = await tg.group.makeGateway(tg.marked(spec));
        const session = gw.session();
        await session.run('import os\nhere = os.getpid()').done;
        const shown = session.run('here == os.getpid(), here');
        await shown.done;
        assert.equal(text(shown, 'result'), `(True, ${gw.info.pid})\n`, spec);
        const asking = session.run('print(input() + "!")');
        asking.onEvent((e) => e.kind === 'input' && e.request.answer(spec));
        await asking.done;
        assert.equal(text(asking, 'stream'), `${spec}!\n`);
      }
    } finally {
      await tg.close();
    }
  });
});

describe(
  'a session on a sudo= gateway',
  {
    skip:
      !isRoot() || !fs.existsSync('/usr/bin/sudo') || !fs.existsSync('/usr/bin/python3')
        ? 'needs root, sudo and /usr/bin/python3'
        : false,
  },
  () => {
    it('runs as the other user, keeps its names and reads input()', async () => {
      ensureTestUser();
      const mark = newMark();
      const group = new Group('sudo-session');
      try {
        const gw = await group.makeGateway(
          `popen//sudo=${TEST_USER}//python=/usr/bin/python3//env:EXECNET_TEST_MARK=${mark}//chdir=/tmp`,
        );
        const session = gw.session();
        await session.run('import getpass\nwho = getpass.getuser()').done;
        const asking = session.run('print(who, input())');
        asking.onEvent((e) => e.kind === 'input' && e.request.answer('via sudo'));
        await asking.done;
        assert.equal(text(asking, 'stream'), `${TEST_USER} via sudo\n`);
      } finally {
        await group.terminate(2);
      }
      assert.deepEqual(await leftoverProcesses(mark), []);
    });
  },
);
