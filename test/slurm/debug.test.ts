// Debugging on a Slurm compute node (the real private cluster, test/slurm/system.ts): the program
// runs inside the gateway's job, its DAP reaches the editor's side through the gateway's channel
// (the node needs no open port), debugpy is shipped to the node's Python, and ending the session
// leaves the job's gateway alone and nothing else running.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  evaluate,
  launchToFirstStop,
  localsOf,
  runToEnd,
  stackOf,
  writeFixture,
} from '../helpers/debug';
import { othersLeft } from '../helpers/processes';
import { requireCluster, slurmGroup } from '../helpers/slurm';

before(() => {
  requireCluster();
});

describe('debugging on a slurm gateway', () => {
  const t = slurmGroup('slurm-debug');
  const fixture = writeFixture();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-debug-slurm-'));
  after(async () => {
    await t.close();
    fixture.remove();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  test('stops at a breakpoint in the job, reads variables, runs to the end', async () => {
    const gateway = await t.group.makeGateway(t.spec(`env:XDG_CACHE_HOME=${scratch}/node-cache`));
    t.saw(gateway);
    const session = await launchToFirstStop(
      gateway,
      { program: fixture.program },
      { [fixture.module]: [fixture.line('gross')] },
      { cacheDir: path.join(scratch, 'local-cache') },
    );
    console.log(
      `# slurm (debugpy ${session.relay.info.debugpy}): open → first stop ${session.msToFirstStop.toFixed(0)} ms`,
    );
    const { dap, stopped } = session;
    const { frames } = await stackOf(dap, stopped.body.threadId!);
    assert.equal(frames[0].source?.path, fixture.module);
    assert.equal(
      await evaluate(dap, frames[0].id, '__import__("os").environ["SLURM_JOB_ID"]'),
      `'${gateway.info.slurm?.jobId}'`,
      'the program runs in the job',
    );
    assert.equal((await localsOf(dap, frames[0].id)).get('net'), '1.5');
    assert.match(await runToEnd(session, fixture.module), /total 3\.76/);
    assert.deepEqual(
      await othersLeft(t.mark, [gateway.info.pid]),
      [],
      'only the gateway is left in the job',
    );
  });
});
