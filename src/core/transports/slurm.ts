// slurm: the interpreter runs as a Slurm task, through `srun -u` (unbuffered: the only way a
// binary protocol crosses slurmstepd intact). One gateway is a job of its own:
// `srun [options] -n1 -u python`. A fan-out is one allocation (SlurmAllocation: salloc holding
// the job for as long as its stdin is open) and one `srun --jobid=J -n1 -u --overlap` step per
// gateway. A job we created is cancelled when we are done with it; the reaper of the host it
// was submitted from cancels it too if this process dies first, even while it is still pending.

import * as fs from 'node:fs';
import { ExecnetError, SlurmError, SpecError } from '../errors';
import { Emitter, type Event } from '../events';
import type { GatewaySpec } from '../spec';
import { trace } from '../trace';
import {
  announcedCommand,
  endGently,
  launchedInterpreter,
  launcherMissing,
  launchHost,
  waitAnnouncement,
  withCleanup,
  within,
  type LaunchHost,
  type Launched,
} from './launch';
import type { SlurmPlacement, Transport, TransportExit } from './transport';

/** Seconds a job may wait in the queue, unless the spec says otherwise (slurm_pending=). */
export const DEFAULT_PENDING_SECONDS = 300;

/**
 * Seconds the controller may stay out of reach before a held allocation is given up: its holder
 * (salloc) and its steps (srun) are ended here, since none of them can end on its own — salloc
 * cannot give a job back to a controller that is gone, and srun keeps waiting for it.
 */
export const CONTROLLER_LOST_SECONDS = 20;

/** Seconds a step of a given-up allocation gets to end on its own before srun is killed. */
const STEP_END_SECONDS = 3;

/** Seconds between two looks (squeue) at a held allocation's controller. */
const CONTROLLER_CHECK_SECONDS = 5;

/** What the wrapper announces inside a task: job, step, node. */
const TASK_FIELDS = '$SLURM_JOB_ID $SLURM_STEP_ID $SLURMD_NODENAME';

export interface SlurmContext {
  readonly lookup: (id: string) => unknown;
  /** The allocation a fan-out runs its steps on (made by Group.makeGateways). */
  readonly allocation?: SlurmAllocation;
  /** Progress while the job waits: `job 12 pending: Resources`. */
  readonly onProgress?: (message: string) => void;
  /** Gives up waiting: the job is cancelled. */
  readonly signal?: AbortSignal;
}

export async function openSlurm(
  spec: GatewaySpec,
  bootstrapLine: string,
  context: SlurmContext,
): Promise<Transport> {
  const allocation = context.allocation;
  const host = allocation?.host ?? launchHost(spec.via, context.lookup);
  const python = launchedInterpreter(spec);
  const command = [...python.argv, '-c', bootstrapLine];
  if (!allocation) {
    checkOneTask(spec);
  }
  const task = allocation?.claim();
  const argv = srunArgv(spec, command, allocation, task);
  const label = `srun ${python.shown}`;
  let launched: Launched;
  try {
    launched = await spawnLauncher(host, argv, label, 'srun');
  } catch (error) {
    if (task) {
      allocation?.release(task.index);
    }
    throw error;
  }

  // A job of its own: its id comes from srun's queue messages or from the task itself.
  const ownJob = allocation === undefined && spec.slurmJob === undefined;
  let jobId = allocation?.jobId ?? spec.slurmJob;
  const learnJob = (id: string): void => {
    if (jobId === undefined) {
      jobId = id;
      if (ownJob) {
        host.watchJob(id, true);
      }
    }
  };
  void launched.exited.then(() => {
    if (ownJob && jobId !== undefined) {
      host.watchJob(jobId, false);
    }
    if (task) {
      allocation?.release(task.index);
    }
  });

  const pendingSeconds = spec.slurmPending ?? DEFAULT_PENDING_SECONDS;
  const pending = followPending(host, context.onProgress);
  const announced = await waitAnnouncement(launched, {
    timeout: pendingSeconds,
    onLine: (line) => {
      const queued = /\bjob (\d+) queued and waiting for resources/.exec(line);
      if (queued) {
        learnJob(queued[1]);
        pending.start(queued[1]);
      }
    },
    timedOut: () => pendingTimeout(host, jobId, pendingSeconds, 'srun'),
    signal: context.signal,
    failed: (exit, said) => slurmFailure('srun', spec, exit, said, host),
    cleanup: () => (ownJob && jobId !== undefined ? scancel(host, jobId) : Promise.resolve()),
  }).finally(() => pending.stop());
  const [announcedJob, stepId, node] = announced.fields;
  learnJob(announcedJob);
  const placement: SlurmPlacement = {
    jobId: announcedJob,
    stepId,
    node,
    procId: task?.index ?? 0,
    tasks: task?.tasks ?? 1,
    owned: allocation ? allocation.owned : ownJob,
  };
  const step = `${announcedJob}.${stepId}`;
  trace(`slurm: ${label} runs as step ${step} on ${node}`);
  const transport = withCleanup(announced.launched, {
    // a job of its own ends with its only step; in an allocation only this step ends (scancel
    // needs the controller: not when the allocation was given up because it is gone)
    kill: () =>
      allocation?.lost !== undefined
        ? Promise.resolve()
        : scancel(host, ownJob ? announcedJob : step),
  });
  const lost = allocation?.onDidChangeState((state) => {
    if (state === 'ended' && allocation.lost !== undefined) {
      // srun passes the end of its input on to the task without the controller (a signal would
      // need it): the interpreter ends, and srun with it; killed if not
      announced.launched.input.end();
      void within(transport.exited, STEP_END_SECONDS * 1000).then(
        (outcome) => outcome === 'late' && transport.kill(),
      );
    }
  });
  return {
    ...transport,
    exited: transport.exited.then((exit) => {
      lost?.dispose();
      const why = allocation?.lost;
      return why !== undefined && !exit.error ? { ...exit, error: new ExecnetError(why) } : exit;
    }),
    description: `slurm step ${step} on ${node}${host.via} ${python.shown}`,
    placement: { slurm: placement },
  };
}

/**
 * A job of its own (`srun --job-name=execnet OPTIONS -n1 -u`), a step in the job slurm_job= names
 * (with the options: they are the step's), or a step of a fan-out's allocation, ranked `task`.
 */
function srunArgv(
  spec: GatewaySpec,
  command: readonly string[],
  allocation: SlurmAllocation | undefined,
  task: { index: number; tasks: number } | undefined,
): string[] {
  const options = spec.slurm?.options ?? [];
  if (allocation && task) {
    return [
      'srun',
      `--jobid=${allocation.jobId}`,
      ...(allocation.owned ? [] : options),
      ...allocation.placeTask(task.index),
      '-n1',
      '-u',
      '--overlap',
      ...announcedCommand(TASK_FIELDS, command, {
        SLURM_PROCID: String(task.index),
        SLURM_NTASKS: String(task.tasks),
        SLURM_NPROCS: String(task.tasks),
      }),
    ];
  }
  const job = spec.slurmJob;
  return [
    'srun',
    ...(job !== undefined ? [`--jobid=${job}`, '--overlap'] : ['--job-name=execnet']),
    ...options,
    '-n1',
    '-u',
    ...announcedCommand(TASK_FIELDS, command),
  ];
}

/** One gateway is one task: `-n 8` without a fan-out would feed one stdin to eight interpreters. */
function checkOneTask(spec: GatewaySpec): void {
  const ntasks = requestedTasks(spec.slurm?.options ?? []);
  if (ntasks !== undefined && ntasks > 1) {
    throw new SpecError(
      `'slurm=${spec.slurm?.raw}' asks for ${ntasks} tasks, but a gateway is one task — for ${ntasks} gateways on one allocation add slurm_tasks=${ntasks} (or use Group.makeGateways)`,
      `slurm=${spec.slurm?.raw}`,
    );
  }
}

/** The task count of `-n N`, `-nN`, `--ntasks=N` or `--ntasks N` among srun/salloc options. */
export function requestedTasks(options: readonly string[]): number | undefined {
  let tasks: number | undefined;
  for (let i = 0; i < options.length; i++) {
    const option = options[i];
    let value: string | undefined;
    if (option === '-n' || option === '--ntasks') {
      value = options[++i];
    } else if (/^-n\d/.test(option)) {
      value = option.slice(2);
    } else if (option.startsWith('--ntasks=')) {
      value = option.slice('--ntasks='.length);
    }
    if (value !== undefined && /^\d+$/.test(value)) {
      tasks = Number(value);
    }
  }
  return tasks;
}

/** `2(x3),1` (SLURM_TASKS_PER_NODE) as tasks per node: [2, 2, 2, 1]. */
export function tasksPerNode(text: string): number[] {
  const counts: number[] = [];
  for (const part of text.split(',')) {
    const match = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim());
    if (match) {
      for (let i = 0; i < Number(match[2] ?? 1); i++) {
        counts.push(Number(match[1]));
      }
    }
  }
  return counts;
}

/**
 * Here, srun and salloc get SIGTERM from the kernel when this process goes, even if its reaper
 * goes with it (a whole process tree killed): setpriv's PR_SET_PDEATHSIG, where util-linux has
 * it. A salloc still waiting in the queue ignores the end of its input and would wait for ever;
 * on SIGTERM it cancels its job and leaves. (SIGTERM, not SIGKILL: a granted salloc gives its job
 * back when cat's input ends, which a SIGKILL would prevent.)
 */
function dieWithUs(): string[] {
  setprivPath ??= ['/usr/bin/setpriv', '/bin/setpriv'].find((file) => fs.existsSync(file)) ?? '';
  return setprivPath ? [setprivPath, '--pdeathsig', 'TERM', '--'] : [];
}

let setprivPath: string | undefined;

async function spawnLauncher(
  host: LaunchHost,
  argv: readonly string[],
  label: string,
  command: 'srun' | 'salloc',
): Promise<Launched> {
  try {
    return await host.spawn(host.name === 'local' ? [...dieWithUs(), ...argv] : argv, label);
  } catch (error) {
    throw missingCommand(command, host, (error as Error).message);
  }
}

function missingCommand(command: string, host: LaunchHost, said: string): SlurmError {
  return new SlurmError(
    `cannot run ${command} ${host.where}: ${said} — is Slurm installed there? With via=, run it on a login node`,
    'missing',
    undefined,
    said,
  );
}

/** srun/salloc ended before the interpreter started: a typed error naming the cause. */
function slurmFailure(
  command: 'srun' | 'salloc',
  spec: GatewaySpec,
  exit: TransportExit,
  said: string,
  host: LaunchHost,
): SlurmError {
  const missing = launcherMissing(exit, said);
  if (missing !== undefined) {
    return missingCommand(command, host, missing);
  }
  const errors = said
    .split('\n')
    .filter((line) => /error|denied|invalid|unrecognized|not available/i.test(line));
  const detail = (errors.length > 0 ? errors : said.split('\n')).join('; ').trim();
  const jobId = /\bjob (?:allocation )?(\d+)/i.exec(said)?.[1];
  const options = spec.slurm ? `'slurm=${spec.slurm.raw}'` : 'the slurm options';
  const known: Array<[RegExp, SlurmError['kind'], string]> = [
    [
      /invalid partition|partition.*not (?:valid|available)|not allowed to use partition/i,
      'partition',
      `check -p/--partition in ${options} (sinfo lists the partitions)`,
    ],
    [
      /invalid account|account\/partition combination/i,
      'account',
      `check -A/--account in ${options} (sacctmgr show assoc user=$USER lists yours)`,
    ],
    [
      /access\/permission denied|permission denied|not permitted|denied/i,
      'denied',
      'the cluster does not let this user run there',
    ],
    [
      /invalid job id|expired or invalid job|job.*already completing or completed/i,
      'job',
      spec.slurmJob !== undefined
        ? `job ${spec.slurmJob} is not running: check slurm_job= (squeue lists yours)`
        : 'the job ended',
    ],
    [
      /unrecognized option|invalid option|invalid .* specification|invalid argument|requires an argument/i,
      'options',
      `check ${options}`,
    ],
  ];
  for (const [pattern, kind, hint] of known) {
    if (pattern.test(said)) {
      return new SlurmError(`Slurm refused the job: ${detail} — ${hint}`, kind, jobId, detail);
    }
  }
  const status = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  return new SlurmError(
    `${command} ${status} before Python started${detail ? `: ${detail}` : ''}`,
    'failed',
    jobId,
    detail || undefined,
  );
}

/** The error for a job that is still pending when its time is up (it is cancelled after). */
async function pendingTimeout(
  host: LaunchHost,
  jobId: string | undefined,
  seconds: number,
  command: string,
): Promise<SlurmError> {
  const reason = jobId !== undefined ? await pendingReason(host, jobId) : undefined;
  const job = jobId !== undefined ? `job ${jobId}` : `the ${command} request`;
  return new SlurmError(
    `Slurm ${job} was still pending after ${seconds} s (pending: ${reason ?? 'no reason given'}) and was cancelled — ask for resources the cluster can give now, or wait longer with slurm_pending=SECONDS`,
    'pending',
    jobId,
    reason,
  );
}

/** Seconds between two looks at a pending job's reason. */
const PENDING_POLL_SECONDS = 5;

/**
 * While a job waits in the queue, tell `onProgress` so, with squeue's reason (`job 12 pending:
 * Resources`), at once and every few seconds, until stopped.
 */
function followPending(host: LaunchHost, onProgress: ((message: string) => void) | undefined) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    start(jobId: string): void {
      if (!onProgress || timer !== undefined || stopped) {
        return;
      }
      onProgress(`job ${jobId} pending`);
      const look = async (): Promise<void> => {
        const reason = await pendingReason(host, jobId);
        if (!stopped && reason !== undefined) {
          onProgress(`job ${jobId} pending: ${reason}`);
        }
      };
      void look();
      timer = setInterval(() => void look(), PENDING_POLL_SECONDS * 1000);
      timer.unref();
    },
    stop(): void {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** squeue's reason for a pending job (`Resources`, `Priority`, `PartitionConfig`...). */
async function pendingReason(host: LaunchHost, jobId: string): Promise<string | undefined> {
  const result = await host
    .run(['squeue', '-h', '-j', jobId, '-o', '%r'], 15)
    .catch(() => undefined);
  const reason = result?.code === 0 ? result.stdout.trim() : '';
  return reason || undefined;
}

function scancel(host: LaunchHost, id: string): Promise<unknown> {
  trace(`slurm: scancel ${id} on ${host.name}`);
  return host.run(['scancel', id], 30).catch(() => undefined);
}

/**
 * Looks at a job (squeue) every few seconds until stopped; `lost` is called once, with what
 * squeue said last, when the controller has been out of reach for CONTROLLER_LOST_SECONDS.
 */
function watchController(
  host: LaunchHost,
  jobId: string,
  lost: (said: string) => void,
): { stop(): void } {
  let reached = Date.now();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const next = (): void => {
    timer = setTimeout(() => void look(), CONTROLLER_CHECK_SECONDS * 1000);
    timer.unref();
  };
  const look = async (): Promise<void> => {
    const result = await host
      .run(['squeue', '-h', '-j', jobId, '-o', '%T'], CONTROLLER_CHECK_SECONDS)
      .catch(() => undefined);
    if (stopped) {
      return;
    }
    const unreachable =
      !result || result.code === null || /contact|connect|timed? ?out/i.test(result.stderr);
    if (!unreachable) {
      reached = Date.now();
    } else if (Date.now() - reached >= CONTROLLER_LOST_SECONDS * 1000) {
      lost(result?.stderr.trim().split('\n').pop() || 'squeue did not answer');
      return;
    }
    next();
  };
  next();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

// -- fan-out: one allocation, a step per gateway --------------------------------------------

export type AllocationState = 'pending' | 'running' | 'ended';

/**
 * A Slurm job holding resources for a fan-out's steps. An allocation we create is held by
 * `salloc --kill-command ... -- cat`: when cat's input ends (we release it, or this process
 * dies) salloc gives the job back; when the job ends under it, salloc ends cat and leaves. A
 * granted salloc ignores SIGTERM and hangs while it cannot reach the controller to give the job
 * back, so whoever ends it (release, the reaper) follows with scancel and SIGKILL. It is
 * released when its creator and every step have let go of it.
 */
export class SlurmAllocation {
  private stateValue: AllocationState;
  private reasonValue: string | undefined;
  private readonly claimed = new Set<number>();
  private holds = 1; // the creator's
  private ending: Promise<void> | undefined;
  private lostValue: string | undefined;
  private readonly stateEmitter = new Emitter<AllocationState>();
  /** pending → running → ended. */
  readonly onDidChangeState: Event<AllocationState> = this.stateEmitter.event;

  private constructor(
    readonly jobId: string,
    readonly host: LaunchHost,
    /** Ours (created here, cancelled when done), or an existing job the spec joined. */
    readonly owned: boolean,
    /** How many tasks the fan-out has. */
    readonly tasks: number,
    /** Tasks per node, in node order, when the allocation spans nodes. */
    private readonly layout: readonly number[],
    private readonly holder?: Launched,
  ) {
    this.stateValue = 'running';
    void holder?.exited.then(() => this.setState('ended'));
    if (holder) {
      this.watchController();
    }
  }

  /** Why the allocation was given up: its controller could not be reached (undefined if not). */
  get lost(): string | undefined {
    return this.lostValue;
  }

  /**
   * While the allocation is held, its controller is watched: when it stays out of reach the
   * allocation is given up (end()), and its steps with it, with a reason that says so.
   */
  private watchController(): void {
    const watch = watchController(this.host, this.jobId, (said) => {
      if (this.ending || this.stateValue === 'ended') {
        return;
      }
      this.lostValue = `the Slurm controller of job ${this.jobId} could not be reached for ${CONTROLLER_LOST_SECONDS} s (${said}): the allocation was given up and its steps ended${this.host.via}`;
      this.reasonValue = this.lostValue;
      trace(`slurm: ${this.lostValue}`);
      void this.end();
    });
    this.onDidChangeState((state) => state === 'ended' && watch.stop());
  }

  get state(): AllocationState {
    return this.stateValue;
  }

  /** squeue's reason while pending; why it ended once ended early. */
  get reason(): string | undefined {
    return this.reasonValue;
  }

  /**
   * Make an allocation for `tasks` gateways (the spec's options go to salloc; `--ntasks` is
   * added unless they give one), or join the one `slurm_job=` names. Waits while the job is
   * pending, up to `slurm_pending=` seconds; then it is cancelled with a SlurmError('pending').
   */
  static async open(
    spec: GatewaySpec,
    tasks: number,
    context: Omit<SlurmContext, 'allocation'>,
  ): Promise<SlurmAllocation> {
    const host = launchHost(spec.via, context.lookup);
    if (spec.slurmJob !== undefined) {
      return new SlurmAllocation(spec.slurmJob, host, false, tasks, []);
    }
    const options = spec.slurm?.options ?? [];
    const argv = [
      'salloc',
      '--job-name=execnet',
      // a job that ends under us (scancel, time limit, the cluster going) ends cat, so salloc
      '--kill-command',
      ...options,
      ...(requestedTasks(options) === undefined ? [`--ntasks=${tasks}`] : []),
      '--',
      ...announcedCommand('$SLURM_JOB_ID $SLURM_TASKS_PER_NODE', ['cat']),
    ];
    const holder = await spawnLauncher(host, argv, 'salloc', 'salloc');
    holder.setKeepAlive(false);
    let jobId: string | undefined;
    const made: { allocation?: SlurmAllocation } = {};
    const unreachable = new AbortController();
    void holder.exited.then(() => {
      // a job given up on an unreachable controller stays on the reaper's list: if the
      // controller comes back before this process goes, the reaper cancels it then
      if (
        jobId !== undefined &&
        !unreachable.signal.aborted &&
        made.allocation?.lost === undefined
      ) {
        host.watchJob(jobId, false);
      }
    });
    const seconds = spec.slurmPending ?? DEFAULT_PENDING_SECONDS;
    const pending = followPending(host, context.onProgress);
    // a job waiting for a controller that is gone would wait out slurm_pending=: given up sooner
    let watch: { stop(): void } | undefined;
    const watchPending = (id: string): void => {
      watch ??= watchController(host, id, (said) =>
        unreachable.abort(
          new SlurmError(
            `the Slurm controller of job ${id} could not be reached for ${CONTROLLER_LOST_SECONDS} s while the job was pending (${said}): the request was given up${host.via}`,
            'failed',
            id,
            said,
          ),
        ),
      );
    };
    const { fields } = await waitAnnouncement(holder, {
      timeout: seconds,
      onLine: (line) => {
        const queued = /Pending job allocation (\d+)|job (\d+) queued and waiting/.exec(line);
        const id = queued?.[1] ?? queued?.[2] ?? /Granted job allocation (\d+)/.exec(line)?.[1];
        if (id !== undefined && jobId === undefined) {
          jobId = id;
          host.watchJob(id, true);
        }
        if (queued) {
          pending.start(jobId!);
          watchPending(jobId!);
        }
      },
      timedOut: () => pendingTimeout(host, jobId, seconds, 'salloc'),
      signal: context.signal
        ? AbortSignal.any([context.signal, unreachable.signal])
        : unreachable.signal,
      failed: (exit, said) => slurmFailure('salloc', spec, exit, said, host),
      cleanup: () => {
        // granted meanwhile (salloc then ignores SIGTERM): cat's input ends, so salloc gives the
        // job back even before it said which it is
        holder.input.end();
        return jobId !== undefined && !unreachable.signal.aborted
          ? scancel(host, jobId)
          : Promise.resolve();
      },
    }).finally(() => {
      pending.stop();
      watch?.stop();
    });
    const [granted, perNode] = fields;
    if (jobId === undefined) {
      jobId = granted;
      host.watchJob(granted, true);
    }
    trace(`slurm: allocation ${granted} for ${tasks} tasks (${perNode} per node)`);
    const layout = tasksPerNode(perNode ?? '');
    made.allocation = new SlurmAllocation(granted, host, true, tasks, layout, holder);
    return made.allocation;
  }

  /** The state of a job while it waits: polled by whoever shows it. */
  async queueState(): Promise<{ state: string; reason: string } | undefined> {
    const result = await this.host
      .run(['squeue', '-h', '-j', this.jobId, '-o', '%T|%r'], 15)
      .catch(() => undefined);
    const [state, reason] = (result?.code === 0 ? result.stdout.trim() : '').split('|');
    return state ? { state, reason: reason ?? '' } : undefined;
  }

  /** The next free task index, held until `release(index)`. */
  claim(): { index: number; tasks: number } {
    let index = 0;
    while (this.claimed.has(index)) {
      index++;
    }
    this.claimed.add(index);
    this.holds++;
    return { index, tasks: Math.max(this.tasks, index + 1) };
  }

  /** srun options that put task `index` on its node (block distribution, as srun -n would). */
  placeTask(index: number): string[] {
    if (this.layout.length < 2) {
      return [];
    }
    let node = 0;
    for (let first = 0; node < this.layout.length - 1; node++) {
      first += this.layout[node];
      if (index < first) {
        break;
      }
    }
    return ['-N1', `--relative=${node}`];
  }

  /** A task's step ended. */
  release(index: number): void {
    if (this.claimed.delete(index)) {
      this.unhold();
    }
  }

  /** The creator is done starting steps: the allocation goes once its last step has. */
  unhold(): void {
    this.holds--;
    if (this.holds <= 0) {
      void this.end();
    }
  }

  /** Give the job back (ours) now, whatever still runs on it; resolves when it is gone. */
  end(): Promise<void> {
    this.ending ??= this.doEnd();
    return this.ending;
  }

  private async doEnd(): Promise<void> {
    const holder = this.holder;
    if (!holder || !this.owned) {
      this.setState('ended');
      return;
    }
    trace(`slurm: releasing allocation ${this.jobId}`);
    // cat sees the end of its input and exits; salloc then relinquishes the job at once
    holder.input.end();
    if (this.lostValue !== undefined) {
      // salloc cannot relinquish it: it would keep trying, and ignores SIGTERM meanwhile
      await endGently(holder);
      this.setState('ended');
      return;
    }
    if ((await within(holder.exited, 5000)) === 'late') {
      await endGently(holder, () => scancel(this.host, this.jobId));
    }
    this.setState('ended');
  }

  private setState(state: AllocationState): void {
    if (this.stateValue !== state) {
      this.stateValue = state;
      this.stateEmitter.fire(state);
    }
  }
}
