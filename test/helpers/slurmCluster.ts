// A private single-node Slurm cluster on 127.0.0.1 for the slurm tier (Debian's slurm-wlm and
// munge): munged, slurmctld and slurmd run in the foreground as our children, with every file
// (munge key and socket, slurm.conf, spool, state, logs) in a temporary folder and free ports,
// so it never touches a system Slurm. No systemd or cgroups: proctrack/linuxproc + task/none.
// The node claims 8 CPUs (config_overrides) so that fan-outs of 8 tasks get their own CPU each.
// stop() leaves nothing of the cluster behind: its jobs are cancelled, its daemons stopped, and
// any process still using it (a client such as salloc or srun, a task of one of its jobs, a
// slurmstepd) is killed and named on stderr, since a client whose controller is gone can wait
// for it for ever.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './sshd';
import { SystemUnavailable, type RunningSystem } from './system';

export const SLURM_CPUS = 8;
/** A group (Debian's) no user of the tests is in: the `closed` partition allows only it. */
const CLOSED_GROUP = 'nogroup';
const COMMANDS = ['munged', 'slurmctld', 'slurmd', 'srun', 'salloc', 'squeue', 'scancel', 'sinfo'];

function onPath(command: string): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])
    .some((dir) => fs.existsSync(path.join(dir, command)));
}

function run(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { env, timeout: 15_000 }, (error, stdout) =>
      resolve({ code: error ? 1 : 0, stdout: String(stdout) }),
    );
  });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms: number) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen within ${ms / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface SlurmCluster extends RunningSystem {
  /** Its slurm.conf (SLURM_CONF for clients). */
  readonly conf: string;
  /** SIGKILLs slurmctld alone: clients can no longer reach the controller. */
  killController(): void;
}

export async function startSlurmCluster(): Promise<SlurmCluster> {
  const missing = COMMANDS.filter((c) => !onPath(c));
  if (missing.length > 0) {
    throw new SystemUnavailable(
      `Slurm is not installed (no ${missing.join(', ')}): run scripts/setup.sh (slurm-wlm, munge)`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new SystemUnavailable('the private Slurm cluster runs its daemons as root');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-slurm-'));
  fs.chmodSync(dir, 0o755); // munged refuses group/other-writable dirs; slurm needs traversal
  for (const sub of ['munge', 'spool', 'state', 'log']) {
    fs.mkdirSync(path.join(dir, sub));
  }
  // other users' clients (a test's login node runs as another user) must reach the socket
  fs.chmodSync(path.join(dir, 'munge'), 0o711);
  const daemons: ChildProcess[] = [];
  const conf = path.join(dir, 'slurm.conf');
  const alive = (child: ChildProcess): boolean =>
    child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  const logs = (): string =>
    fs
      .readdirSync(path.join(dir, 'log'))
      .map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, 'log', f), 'utf8').slice(-1500)}`)
      .join('\n');
  const daemon = (argv: string[], log: string, env: NodeJS.ProcessEnv = process.env): void => {
    const out = fs.openSync(path.join(dir, 'log', log), 'a');
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', out, out],
      detached: true, // a process group of its own: stop() ends it and whatever it forked
      env,
    });
    fs.closeSync(out);
    daemons.push(child);
  };
  const controller = (): ChildProcess | undefined =>
    daemons.find((child) => child.spawnargs[0] === 'slurmctld');
  const stop = async (): Promise<void> => {
    const ctld = controller();
    if (ctld && alive(ctld)) {
      await run(['scancel', '--partition=debug'], { ...process.env, SLURM_CONF: conf });
    }
    for (const child of [...daemons].reverse()) {
      if (alive(child)) {
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          // gone already
        }
      }
    }
    await waitFor('the Slurm daemons to exit', () => !daemons.some(alive), 10_000).catch(() =>
      daemons.forEach((c) => c.pid !== undefined && killQuietly(-c.pid)),
    );
    const left = clusterUsers(dir, conf);
    for (const { pid } of left) {
      killQuietly(pid);
    }
    if (left.length > 0) {
      process.stderr.write(
        `the Slurm cluster in ${dir} killed what still used it when it stopped:\n${left
          .map(({ pid, command }) => `  ${pid} ${command}\n`)
          .join('')}`,
      );
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const killController = (): void => {
    const ctld = controller();
    if (ctld && alive(ctld)) {
      killQuietly(-ctld.pid!);
    }
  };

  try {
    const key = path.join(dir, 'munge', 'munge.key');
    fs.writeFileSync(key, randomBytes(1024), { mode: 0o400 });
    const socket = path.join(dir, 'munge', 'munge.socket');
    daemon(
      [
        'munged',
        '-F',
        '--force',
        '-S',
        socket,
        '--key-file',
        key,
        '--pid-file',
        path.join(dir, 'munge', 'munged.pid'),
        '--log-file',
        path.join(dir, 'log', 'munged.log'),
        '--seed-file',
        path.join(dir, 'munge', 'munge.seed'),
      ],
      'munged.out',
    );
    await waitFor('munged to listen', () => fs.existsSync(socket), 10_000);

    const ctldPort = await freePort();
    let dPort = await freePort();
    while (dPort === ctldPort) {
      dPort = await freePort();
    }
    fs.writeFileSync(path.join(dir, 'job_submit.lua'), JOB_SUBMIT_LUA);
    fs.writeFileSync(
      conf,
      [
        'ClusterName=execnet',
        'SlurmctldHost=localhost(127.0.0.1)',
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${dPort}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${socket}`,
        `StateSaveLocation=${dir}/state`,
        `SlurmdSpoolDir=${dir}/spool`,
        `SlurmctldPidFile=${dir}/slurmctld.pid`,
        `SlurmdPidFile=${dir}/slurmd.pid`,
        `SlurmctldLogFile=${dir}/log/slurmctld.log`,
        `SlurmdLogFile=${dir}/log/slurmd.log`,
        `PlugStackConfig=${dir}/plugstack.conf`,
        // job_submit.lua beside slurm.conf refuses the account INVALID_ACCOUNT the way Slurm's
        // accounting does (there is no slurmdbd here)
        'JobSubmitPlugins=lua',
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'JobCompType=jobcomp/none',
        'MpiDefault=none',
        'SwitchType=switch/none',
        'SchedulerType=sched/backfill',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_CPU',
        // the node claims more CPUs than this machine may have
        'SlurmdParameters=config_overrides',
        'ReturnToService=2',
        'SlurmdTimeout=300',
        'InactiveLimit=0',
        'KillWait=2',
        'MinJobAge=2',
        `NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=${SLURM_CPUS} State=UNKNOWN`,
        'PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO',
        // a partition nobody may use: Slurm's refusal of access
        `PartitionName=closed Nodes=localhost MaxTime=INFINITE State=UP AllowGroups=${CLOSED_GROUP}`,
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(dir, 'plugstack.conf'), '');
    const env = { ...process.env, SLURM_CONF: conf };
    daemon(['slurmctld', '-D', '-i', '-f', conf], 'slurmctld.out', env);
    daemon(['slurmd', '-D', '-N', 'localhost', '-f', conf], 'slurmd.out', env);
    await waitFor(
      'the Slurm node to be idle',
      // one line per partition the node is in
      async () =>
        /^(idle\n?)+$/.test((await run(['sinfo', '-h', '-N', '-o', '%t'], env)).stdout.trim()),
      60_000,
    );
    return { env: { SLURM_CONF: conf }, conf, stop, killController };
  } catch (error) {
    const detail = fs.existsSync(path.join(dir, 'log')) ? logs() : '';
    await stop().catch(() => undefined);
    throw new SystemUnavailable(
      `the private Slurm cluster did not start: ${(error as Error).message}\n${detail}`,
    );
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** An account the cluster refuses with Slurm's own error (ESLURM_INVALID_ACCOUNT). */
export const INVALID_ACCOUNT = 'nosuchaccount';

const JOB_SUBMIT_LUA = `
function slurm_job_submit(job_desc, part_list, submit_uid)
  if job_desc.account == "${INVALID_ACCOUNT}" then
    return slurm.ESLURM_INVALID_ACCOUNT
  end
  return slurm.SUCCESS
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
  return slurm.SUCCESS
end
`;

/** Slurm's client commands: one still running on a stopped cluster waits for it for ever. */
const CLIENTS = new Set(['salloc', 'srun', 'sbatch', 'sattach', 'scancel', 'squeue', 'sinfo']);

/**
 * Processes still using the cluster: a file under `dir` open (slurmstepd), or the cluster's
 * SLURM_CONF in their environment and a Slurm client (salloc, srun...) or a job's process (they
 * have SLURM_JOB_ID: salloc's command, the tasks). Not this process or its ancestors.
 */
function clusterUsers(dir: string, conf: string): Array<{ pid: number; command: string }> {
  const ours = ancestors();
  const confVar = Buffer.from(`SLURM_CONF=${conf}\0`);
  const users: Array<{ pid: number; command: string }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!/^\d+$/.test(entry) || ours.has(pid)) {
      continue;
    }
    try {
      if (/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))) {
        continue;
      }
      const environ = fs.readFileSync(`/proc/${pid}/environ`);
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      const client =
        environ.includes(confVar) && (CLIENTS.has(comm) || hasVariable(environ, 'SLURM_JOB_ID'));
      if (client || usesFileUnder(pid, dir)) {
        const command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        users.push({ pid, command: command.trim().slice(0, 160) });
      }
    } catch {
      // not ours to read, or gone
    }
  }
  return users;
}

function hasVariable(environ: Buffer, name: string): boolean {
  return (
    environ.includes(Buffer.from(`\0${name}=`)) ||
    environ.subarray(0, name.length + 1).toString() === `${name}=`
  );
}

/** This process and its ancestors. */
function ancestors(): Set<number> {
  const pids = new Set<number>();
  for (let pid = process.pid; pid > 1 && !pids.has(pid);) {
    pids.add(pid);
    const stat = safeRead(`/proc/${pid}/stat`);
    // the command in parentheses may hold spaces: the ppid is the second field after it
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return pids;
}

function usesFileUnder(pid: number, dir: string): boolean {
  return fs
    .readdirSync(`/proc/${pid}/fd`)
    .some((fd) => safeReadlink(`/proc/${pid}/fd/${fd}`).startsWith(`${dir}/`));
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function safeReadlink(file: string): string {
  try {
    return fs.readlinkSync(file);
  } catch {
    return '';
  }
}
