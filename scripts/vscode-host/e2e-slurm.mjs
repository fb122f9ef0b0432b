// UI walk of a Slurm fan-out in the browser workbench, against the packaged .vsix, on the private
// cluster of the slurm tier (test/slurm/system.ts): New Gateway… starts a configured fan-out of
// four tasks (the group row shows the job, each task its job.step and node), Run File on Group
// runs a file on every task, a fan-out that cannot be granted shows squeue's reason while it
// waits and is cancelled from its row, and Terminate Group gives the allocation back. A
// screenshot of every step goes to <dir>/screenshots; the fan-out's is also <dir>/slurm.png.

import fs from 'node:fs';
import path from 'node:path';
import { openFile, runCommand, textOf } from './e2e.mjs';
import { log, makeWorkspace, ROOT, uiWalk } from './host.mjs';
import { startSystem, stopSystem } from '../systems.mjs';

const PYTHON = '/usr/bin/python3';

const SHARD_PY = `# Each task of the fan-out takes its share of the work, as under srun -n 4.
import os
import socket

rank = int(os.environ["SLURM_PROCID"])
tasks = int(os.environ["SLURM_NTASKS"])
mine = range(rank, 100, tasks)
print(f"task {rank} of {tasks} on {socket.gethostname()}: {len(mine)} items, sum {sum(mine)}")
`;

export async function runSlurmE2E({ dir, vsix }) {
  const cluster = await startSystem(path.join(ROOT, 'test', 'slurm', 'system.ts'));
  if (cluster.unavailable !== undefined) {
    log(`e2e-slurm: SKIPPED: ${cluster.unavailable}`);
    return 'skipped';
  }
  try {
    return await uiWalk(
      {
        name: 'e2e-slurm',
        dir,
        vsix,
        env: cluster.env,
        workspace: (outside) => {
          const workspace = makeWorkspace(outside, {
            'execnet.gateways': [
              { name: 'cluster', spec: `slurm=--time=10//python=${PYTHON}//slurm_tasks=4` },
              { name: 'big', spec: `slurm=-c 64//python=${PYTHON}//slurm_tasks=2` },
            ],
          });
          fs.writeFileSync(path.join(workspace, 'shard.py'), SHARD_PY);
          return workspace;
        },
      },
      (walk) => walkFanOut(walk, dir),
    );
  } finally {
    await stopSystem(cluster.child);
  }
}

async function walkFanOut({ page, shot }, dir) {
  const pick = async (text) => {
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
  };
  const activity = page.locator('.activitybar .action-item a[aria-label^="Execnet"]');
  await activity.waitFor({ timeout: 60_000 });
  await activity.click();
  const view = page.locator('.pane', {
    has: page.locator('.pane-header', { hasText: 'Gateways' }),
  });
  // a wider side bar: the rows' descriptions (job, step, node, state) show whole
  const sidebar = await page.locator('.part.sidebar').boundingBox();
  if (sidebar) {
    const y = sidebar.y + sidebar.height / 2;
    await page.mouse.move(sidebar.x + sidebar.width, y);
    await page.mouse.down();
    await page.mouse.move(620, y, { steps: 5 });
    await page.mouse.up();
  }
  const groupRow = (name) =>
    view.locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: name }) });

  // 1. New Gateway… → "cluster": four tasks on one allocation, each row with its job and node
  await openFile(page, 'shard.py');
  await runCommand(page, 'Execnet: New Gateway…');
  await pick('cluster');
  const cluster = groupRow(/^cluster$/).first();
  await cluster
    .locator('.label-description', { hasText: /job \d+ running · 4 of 4 alive/ })
    .waitFor({ timeout: 60_000 });
  for (let i = 0; i < 4; i++) {
    await view
      .locator('.monaco-list-row', { hasText: `cluster-${i}` })
      .locator('.label-description', { hasText: /alive · job \d+\.\d+ on localhost · Python/ })
      .waitFor({ timeout: 30_000 });
  }
  await shot('fanout-in-tree');

  // 2. Run File on Group (from the group row): the file runs on every task
  await cluster.hover();
  await cluster.locator('.action-label[aria-label="Run File on Group"]').click();
  for (let i = 0; i < 4; i++) {
    await view
      .locator('.monaco-list-row', { hasText: 'shard.py' })
      .nth(i)
      .waitFor({ timeout: 30_000 });
  }
  const output = page.locator('.part.panel .monaco-editor .view-lines').first();
  const deadline = Date.now() + 30_000;
  while (!/on group cluster: 4 finished/.test(await textOf(output).catch(() => ''))) {
    if (Date.now() > deadline) {
      throw new Error(`the group's output never ended:\n${await textOf(output).catch(() => '')}`);
    }
    await page.waitForTimeout(200);
  }
  await page.waitForTimeout(1000);
  fs.copyFileSync(await shot('run-file-on-group'), path.join(dir, 'slurm.png'));

  // 3. a fan-out the cluster cannot grant: its rows say why they wait; cancel it from a row
  await runCommand(page, 'Execnet: New Gateway…');
  await pick('big');
  const waiting = view.locator('.monaco-list-row', { hasText: 'big-0' }).first();
  await waiting
    .locator('.label-description', { hasText: /connecting · job \d+ pending: PartitionConfig/ })
    .waitFor({ timeout: 30_000 });
  await shot('pending-with-reason');
  await waiting.hover();
  await waiting.locator('.action-label[aria-label="Terminate Gateway"]').click();
  // the fan-out starts as one: both its rows are cancelled
  for (const row of ['big-0', 'big-1']) {
    await view
      .locator('.monaco-list-row', { hasText: row })
      .locator('.label-description', { hasText: /dead: cancelled while it started/ })
      .waitFor({ timeout: 30_000 });
  }
  await shot('pending-cancelled');

  // 4. Terminate Group: the tasks end and the allocation is given back
  await cluster.hover();
  await cluster.locator('.action-label[aria-label="Terminate Group"]').click();
  await cluster
    .locator('.label-description', { hasText: /job \d+ ended · 0 of 4 alive/ })
    .waitFor({ timeout: 60_000 });
  await shot('group-terminated');
}
