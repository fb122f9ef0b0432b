// `execnet run` with a slurm spec: `slurm_tasks=N` fans the file out to N tasks of one
// allocation, their lines prefixed by gateway, and the job is gone when the command is.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { leftoverProcesses, newMark } from '../helpers/processes';
import { allJobIds, jobsLeft, requireCluster, slurmSpec } from '../helpers/slurm';

const root = path.resolve(__dirname, '..', '..');

before(() => {
  requireCluster();
});

test('execnet run -g "slurm//slurm_tasks=3" runs the file on 3 tasks of one job', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-slurm-cli-'));
  const file = path.join(dir, 'rank.py');
  fs.writeFileSync(
    file,
    'import os\nprint("task", os.environ["SLURM_PROCID"], "of", os.environ["SLURM_NTASKS"], "job", os.environ["SLURM_JOB_ID"])\n',
  );
  const mark = newMark();
  const before = new Set(allJobIds());
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'run', '-g', slurmSpec(mark, 'slurm_tasks=3'), file],
    { cwd: root, encoding: 'utf8', timeout: 50_000 },
  );
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout
    .split('\n')
    .filter((line) => line.includes('task'))
    .sort();
  assert.equal(lines.length, 3, run.stdout);
  const job = /job (\d+)$/.exec(lines[0])?.[1] ?? '';
  assert.ok(job && !before.has(job), 'a new job');
  assert.deepEqual(lines, [0, 1, 2].map((i) => `[gw${i}] task ${i} of 3 job ${job}`).sort());
  assert.deepEqual(await jobsLeft([job]), []);
  assert.deepEqual(await leftoverProcesses(mark), []);
});
