// Jobs outlive nothing of ours: an allocation someone else made is left to them, srun runs on a
// login node reached through via=, and a Node process killed with SIGKILL leaves no job in
// squeue (its watchdog cancels them), whether running, a fan-out, or still pending.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { leftoverProcesses, newMark } from '../helpers/processes';
import { defaultPython } from '../helpers/pythons';
import { SshConnectionPool } from '../../src/core/ssh/connections';
import { sshdAvailable, startSshd } from '../helpers/sshd';
import {
  jobSteps,
  jobsLeft,
  listedJobs,
  requireCluster,
  slurmGroup,
  slurmSpec,
  stepsBecome,
} from '../helpers/slurm';
import { SLURM_CPUS } from '../helpers/slurmCluster';

before(() => {
  requireCluster();
});

/** `salloc -n1 -- cat`: an allocation held by someone else, given back when we end its input. */
async function foreignAllocation(): Promise<{ job: string; release: () => void }> {
  const holder = spawn('salloc', ['-n1', '--', 'cat'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let said = '';
  const job = await new Promise<string>((resolve, reject) => {
    holder.stderr.on('data', (d: Buffer) => {
      said += d.toString();
      const granted = /Granted job allocation (\d+)/.exec(said);
      if (granted) {
        resolve(granted[1]);
      }
    });
    holder.once('exit', () => reject(new Error(`salloc ended: ${said}`)));
  });
  return { job, release: () => holder.stdin.end() };
}

describe('joining an existing allocation', () => {
  test('slurm_job= runs steps in it and leaves the job to its owner', async () => {
    const t = slurmGroup();
    const { job, release } = await foreignAllocation();
    try {
      const gateways = await t.group.makeGateways(t.spec(`slurm_job=${job}`), 2);
      for (const gateway of gateways) {
        assert.equal(gateway.info.slurm?.jobId, job);
        assert.equal(gateway.info.slurm?.owned, false);
      }
      assert.equal(jobSteps(job).length, 2);
      await t.group.terminate(5);
      assert.deepEqual(await stepsBecome(job, []), [], 'our steps ended');
      assert.deepEqual(listedJobs([job]), [`${job} RUNNING`], 'the job is left to its owner');
      await t.close();
    } finally {
      release();
    }
    assert.deepEqual(await jobsLeft([job]), []);
  });
});

describe('via= a login node', () => {
  test('srun and salloc run on the master, a popen standing in for the login node', async () => {
    const t = slurmGroup();
    try {
      await t.group.makeGateway(`popen//id=login//python=${defaultPython()}`);
      const one = await t.group.makeGateway(t.spec('via=login'));
      t.saw(one);
      assert.match(one.description, /via login/);
      const fanout = await t.group.makeGateways(t.spec('via=login'), 2);
      t.saw(...fanout);
      assert.match(fanout[0].description, /via login/);
      const ranks = await t.group
        .remoteExec('import os; channel.send(os.environ.get("SLURM_PROCID", "login"))')
        .receiveEach(10);
      assert.deepEqual([...ranks].sort(), ['0', '0', '1', 'login']);
    } finally {
      await t.close();
    }
  });
});

describe('via= a login node over ssh', { skip: sshdAvailable() ? false : 'needs sshd' }, () => {
  test('srun and salloc run on the loopback sshd host, reached with the built-in client', async () => {
    const sshd = await startSshd();
    const t = slurmGroup('ssh', {
      ssh: { configFile: sshd.config, pool: new SshConnectionPool() },
    });
    try {
      // the login node's sessions know the cluster through SLURM_CONF, as a login shell would
      await t.group.makeGateway(
        sshd.spec(`id=login//env:SLURM_CONF=${process.env.SLURM_CONF ?? ''}`),
      );
      const one = await t.group.makeGateway(t.spec('via=login'));
      const fanout = await t.group.makeGateways(t.spec('via=login'), 2);
      t.saw(one, ...fanout);
      assert.match(one.description, /^slurm step \d+\.0 on localhost via login/);
      const jobs = await t.group
        .remoteExec('import os; channel.send(os.environ.get("SLURM_JOB_ID", "login"))')
        .receiveEach(10);
      assert.equal(new Set(jobs).size, 3, 'the login node, a job of its own, the fan-out job');
    } finally {
      await t.close();
      await sshd.stop();
    }
  });
});

/**
 * Starts, in a Node process of its own, a gateway in a job of its own, a fan-out of two and a
 * job that stays pending (through `via` when given), then SIGKILLs that process: squeue must
 * list none of the jobs soon after, and no task process may be left.
 */
async function killedWithJobs(via?: string): Promise<void> {
  const mark = newMark();
  const options = (more = '') =>
    slurmSpec(mark, [via ? `via=${via}` : '', more].filter(Boolean).join('//'));
  const group = JSON.stringify(require.resolve('../../src/core/group'));
  const login = via
    ? `await group.makeGateway(${JSON.stringify(`popen//id=${via}//python=${defaultPython()}`)});`
    : '';
  const script = `
    const { Group } = require(${group});
    setInterval(() => {}, 1000); // alive until killed
    (async () => {
      const group = new Group('doomed', {
        onProgress: (message) => console.log(message.replace(/^job (\\d+) pending.*/, 'pending $1')),
      });
      ${login}
      const one = await group.makeGateway(${JSON.stringify(options())});
      const many = await group.makeGateways(${JSON.stringify(options())}, 2);
      one.remoteExec('import time; time.sleep(600)');
      console.log('jobs ' + [one, ...many].map((g) => g.info.slurm.jobId).join(' '));
      group.makeGateway(${JSON.stringify(options(`slurm=-c ${SLURM_CPUS * 8}`))}).catch(() => {});
    })();
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await jobsGoWithIt(child, mark);
  } finally {
    child.kill('SIGKILL');
  }
}

/** Waits for the script's jobs, SIGKILLs it, and checks that none of them is left. */
async function jobsGoWithIt(child: ReturnType<typeof spawn>, mark: string): Promise<void> {
  let out = '';
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const ours = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no job ids from the script within 40 s; it printed:\n${out}`)),
      40_000,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const jobs = /^jobs (.*)$/m.exec(out)?.[1].split(' ');
      // the fan-out's allocation may wait a moment too: the pending job is another one
      const pending = [...out.matchAll(/^pending (\d+)$/gm)]
        .map((match) => match[1])
        .find((id) => !jobs?.includes(id));
      if (jobs && pending) {
        clearTimeout(timer);
        resolve([...jobs, pending]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the script ended (${code}): ${out}`));
    });
  });
  assert.equal(
    new Set(ours).size,
    3,
    `a job each for one, the fan-out and the pending one: ${ours}`,
  );
  assert.equal(
    listedJobs(ours).length,
    3,
    `squeue lists ${listedJobs(ours)}; the script printed:\n${out}`,
  );
  child.kill('SIGKILL');
  assert.deepEqual(await jobsLeft(ours, 20_000), [], 'squeue still lists jobs of the dead process');
  assert.deepEqual(await leftoverProcesses(mark, 10_000), []);
}

describe('a Node process that dies', () => {
  test('SIGKILL leaves no job in squeue: running, fan-out and pending', () => killedWithJobs());

  test('the same through a login node (via=): its reaper cancels them', () =>
    killedWithJobs('login'));
});
