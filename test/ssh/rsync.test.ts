// RSync over an ssh= gateway against a real sshd on 127.0.0.1: the same remote half as popen,
// through the ssh channel.

import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RSync, type RSyncEvent } from '../../src/core/rsync';
import { sshdAvailable, startSshd, type Sshd } from '../helpers/sshd';
import { sshGroup } from '../helpers/sshGroups';

const skip = sshdAvailable() ? false : 'needs /usr/sbin/sshd (openssh-server)';

describe('rsync over ssh', { skip }, () => {
  let sshd: Sshd;
  let scratch: string;
  before(async () => {
    sshd = await startSshd();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-rsync-ssh-'));
  });
  after(async () => {
    await sshd?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('mirrors a tree with a large file and a link, then syncs only what changed, with delete', async () => {
    const tg = sshGroup(sshd);
    try {
      const gw = await tg.group.makeGateway(tg.spec());
      const source = path.join(scratch, 'src');
      const dest = path.join(scratch, 'dst');
      fs.mkdirSync(path.join(source, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(source, 'a.txt'), 'alpha');
      fs.writeFileSync(path.join(source, 'sub/big.bin'), crypto.randomBytes(5 * 1024 * 1024 + 1));
      fs.symlinkSync('../a.txt', path.join(source, 'sub/link'));
      fs.chmodSync(path.join(source, 'a.txt'), 0o640);

      // the sshd is on this host: the target would copy the files itself; make them travel
      const rsync = new RSync(source);
      rsync.addTarget(gw, dest, undefined, { delete: true, copyLocally: false });
      const first = (await rsync.send())!;
      assert.equal(first.filesSent, 2);
      assert.equal(first.targets[0].filesCopiedLocally, 0);
      assert.equal(first.linksMade, 1);
      assert.ok(
        fs
          .readFileSync(path.join(dest, 'sub/big.bin'))
          .equals(fs.readFileSync(path.join(source, 'sub/big.bin'))),
      );
      assert.equal(fs.statSync(path.join(dest, 'a.txt')).mode & 0o777, 0o640);
      assert.equal(fs.readlinkSync(path.join(dest, 'sub/link')), '../a.txt');

      fs.rmSync(path.join(source, 'a.txt'));
      fs.writeFileSync(path.join(source, 'b.txt'), 'beta');
      const events: RSyncEvent[] = [];
      const again = new RSync(source, (event) => events.push(event));
      again.addTarget(gw, dest, undefined, { delete: true, copyLocally: false });
      const second = (await again.send())!;
      assert.equal(second.filesSent, 1);
      assert.equal(second.deleted, 1);
      assert.deepEqual(
        events.flatMap((e) => (e.type === 'change' ? [`${e.action} ${e.path}`] : [])).sort(),
        ['delete a.txt', 'send b.txt'],
      );
      assert.deepEqual(fs.readdirSync(dest).sort(), ['b.txt', 'sub']);
    } finally {
      await tg.close();
    }
  });
});
