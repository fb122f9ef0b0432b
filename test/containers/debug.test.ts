// Debugging in a container (real podman and the test image, test/containers/system.ts): the
// fixture is synced into a running container, the container's Python (no debugpy) gets it
// shipped, the program stops at a breakpoint bound through the mapping, and nothing of the
// session is left in the container afterwards.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Group } from '../../src/core/group';
import { RSync } from '../../src/core/rsync';
import {
  evaluate,
  launchToFirstStop,
  localsOf,
  runToEnd,
  stackOf,
  writeFixture,
} from '../helpers/debug';
import { leftoverProcesses, newMark, othersLeft, processesWithMark } from '../helpers/processes';
import { runningContainer } from '../helpers/podman';

let container: { name: string; remove(): Promise<void> };
before(async () => {
  container = await runningContainer();
});
after(() => container.remove());

describe('debugging in a podman container', () => {
  const group = new Group('containers-debug');
  const mark = newMark();
  const fixture = writeFixture();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-debug-podman-'));
  after(async () => {
    await group.terminate(5);
    assert.deepEqual(await leftoverProcesses(mark), [], 'processes left in the container');
    fixture.remove();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  test('stops at a breakpoint in the synced copy, reads variables, runs to the end', async () => {
    const gateway = await group.makeGateway(
      `podman=${container.name}//env:EXECNET_TEST_MARK=${mark}`,
    );
    // the gateway's own processes (host pids of what runs in the container)
    const before = processesWithMark(mark);
    const mirror = '/tmp/execnet-debug-mirror';
    const rsync = new RSync(fixture.dir);
    rsync.addTarget(gateway, mirror);
    await rsync.send();
    const session = await launchToFirstStop(
      gateway,
      { program: fixture.program, pathMappings: [{ localRoot: fixture.dir, remoteRoot: mirror }] },
      { [fixture.module]: [fixture.line('gross')] },
      { cacheDir: path.join(scratch, 'local-cache') },
    );
    console.log(
      `# podman exec (debugpy ${session.relay.info.debugpy}): open → first stop ${session.msToFirstStop.toFixed(0)} ms`,
    );
    const { dap, stopped } = session;
    const { frames } = await stackOf(dap, stopped.body.threadId!);
    assert.equal(frames[0].source?.path, fixture.module);
    assert.equal(await evaluate(dap, frames[0].id, '__file__'), `'${mirror}/pricing.py'`);
    assert.equal((await localsOf(dap, frames[0].id)).get('net'), '1.5');
    assert.match(await runToEnd(session, fixture.module), /total 3\.76/);
    assert.deepEqual(await othersLeft(mark, before), [], 'only the gateway is left');
  });
});
