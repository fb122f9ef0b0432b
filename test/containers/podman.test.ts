// podman gateways against real podman and the test image (test/containers/system.ts): exec
// into a running container, or run a fresh one of an image; both run code and stream output,
// fan out, and leave nothing behind: no process in the container, no container of ours.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { ContainerError } from '../../src/core/errors';
import { Group } from '../../src/core/group';
import { leftoverProcesses, newMark, processesWithMark } from '../helpers/processes';
import { defaultPython } from '../helpers/pythons';
import { until } from '../helpers/wait';
import { containersNamed, podman, runningContainer } from '../helpers/podman';

const image = (): string => process.env.EXECNET_TEST_IMAGE ?? '';

let container: { name: string; remove(): Promise<void> };
before(async () => {
  container = await runningContainer();
});
after(() => container.remove());

/** A group of marked gateways; close() terminates it and checks processes and containers. */
function containerGroup() {
  const group = new Group('containers');
  const mark = newMark();
  const fresh = new Set<string>();
  return {
    group,
    mark,
    exec: (options = '') =>
      `podman=${container.name}//env:EXECNET_TEST_MARK=${mark}${options ? `//${options}` : ''}`,
    run: (options = '') =>
      `podman//image=${image()}//env:EXECNET_TEST_MARK=${mark}${options ? `//${options}` : ''}`,
    /** Remember fresh containers, to check that they are gone at the end. */
    saw(name: string | undefined) {
      if (name) {
        fresh.add(name);
      }
    },
    async close() {
      await group.terminate(5);
      assert.deepEqual(await leftoverProcesses(mark), [], 'processes left in containers');
      const left = (await containersNamed('execnet-')).filter((n) => fresh.has(n));
      assert.deepEqual(left, [], 'containers left behind');
    },
  };
}

describe('podman=CONTAINER: exec into a running container', () => {
  const t = containerGroup();
  after(() => t.close());

  test('runs code there, streams its output, and says where it runs', async () => {
    const gateway = await t.group.makeGateway(t.exec());
    const placement = gateway.info.container;
    assert.deepEqual(
      { ...placement, pid: undefined },
      { engine: 'podman', container: container.name, image: undefined, pid: undefined },
    );
    const channel = gateway.remoteExec(
      'import os, sys\nprint("inside", flush=True)\nchannel.send((os.getpid(), sys.executable, open("/etc/debian_version").read().strip()))',
    );
    const output: string[] = [];
    channel.onOutput(({ data }) => output.push(data.toString()));
    const [pid, executable, debian] = (await channel.receive(10)) as [number, string, string];
    assert.equal(pid, placement?.pid, 'the announced pid is the interpreter inside');
    assert.equal(executable, '/usr/bin/python3');
    assert.match(debian, /^12\./);
    await channel.waitClose(10);
    assert.equal(output.join(''), 'inside\n');
    assert.match(gateway.description, new RegExp(`^podman ${container.name} python3`));
  });

  test('bytes cross intact both ways', async () => {
    const gateway = await t.group.makeGateway(t.exec());
    const channel = gateway.remoteExec('for item in channel: channel.send(item)');
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = Buffer.alloc(4 << 20, 0);
    await channel.send(all);
    await channel.send(big);
    assert.deepEqual(await channel.receive(10), all);
    assert.ok(big.equals((await channel.receive(30)) as Buffer));
    channel.close();
  });

  test('fans out: three gateways in one container, the group collects from each', async () => {
    const gateways = await t.group.makeGateways(t.exec('id=worker'), 3);
    assert.deepEqual(
      gateways.map((g) => g.id),
      ['worker-0', 'worker-1', 'worker-2'],
    );
    const pids = await t.group.remoteExec('import os; channel.send(os.getpid())').receiveEach(10);
    assert.equal(new Set(pids).size, t.group.size, 'an interpreter each');
  });
});

describe('ending what runs in the container', () => {
  test('terminate ends the interpreter and what it started inside', async () => {
    const t = containerGroup();
    try {
      const gateway = await t.group.makeGateway(t.exec());
      const channel = gateway.remoteExec(
        'import subprocess\nsubprocess.Popen(["sleep", "300"])\nchannel.send("up")\nchannel.receive()',
      );
      assert.equal(await channel.receive(10), 'up');
      // the sleep's /proc entry may lag a moment behind Popen's return under load
      await until('the interpreter and its sleep', () => processesWithMark(t.mark).length === 2);
      await gateway.terminate(5);
      assert.deepEqual(await leftoverProcesses(t.mark), []);
    } finally {
      await t.close();
    }
  });

  test('a gateway that does not exit is killed inside the container, not just its client', async () => {
    const t = containerGroup();
    try {
      const gateway = await t.group.makeGateway(t.exec());
      const channel = gateway.remoteExec(
        'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nchannel.send(1)\nwhile True: time.sleep(1)',
      );
      await channel.receive(10);
      await gateway.terminate(0.5);
      assert.deepEqual(await leftoverProcesses(t.mark), []);
    } finally {
      await t.close();
    }
  });
});

describe('podman//image=IMAGE: a fresh container', () => {
  test('runs code in a container of its own, removed when the gateway ends', async () => {
    const t = containerGroup();
    try {
      const gateway = await t.group.makeGateway(t.run());
      const placement = gateway.info.container;
      t.saw(placement?.container);
      assert.equal(placement?.image, image());
      assert.match(placement?.container ?? '', /^execnet-[0-9a-f]{12}$/);
      assert.deepEqual(await containersNamed(placement?.container ?? ''), [placement?.container]);
      const channel = gateway.remoteExec('import os; channel.send(os.getpid())');
      assert.equal(await channel.receive(10), 1, 'the interpreter is the container itself');
      await gateway.terminate(5);
      assert.deepEqual(await containersNamed(placement?.container ?? ''), [], 'removed');
    } finally {
      await t.close();
    }
  });

  test('fans out to a container each; a killed one is removed too', async () => {
    const t = containerGroup();
    try {
      const gateways = await t.group.makeGateways(t.run(), 2);
      const names = gateways.map((g) => g.info.container?.container);
      names.forEach((name) => t.saw(name));
      assert.equal(new Set(names).size, 2);
      const stuck = gateways[0].remoteExec(
        'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nchannel.send(1)\nwhile True: time.sleep(1)',
      );
      await stuck.receive(10);
      await gateways[0].terminate(0.5);
      assert.deepEqual(await containersNamed(names[0] ?? ''), []);
    } finally {
      await t.close();
    }
  });
});

describe('via= another host', () => {
  test('podman runs on the master, a popen standing in for the remote host', async () => {
    const t = containerGroup();
    try {
      await t.group.makeGateway(`popen//id=box//python=${defaultPython()}`);
      const exec = await t.group.makeGateway(t.exec('via=box'));
      assert.match(exec.description, /via box/);
      const fresh = await t.group.makeGateway(t.run('via=box'));
      t.saw(fresh.info.container?.container);
      const answers = await t.group
        .remoteExec('import os; channel.send(os.path.exists("/etc/debian_version"))')
        .receiveEach(10);
      assert.deepEqual(answers, [true, true, true]);
    } finally {
      await t.close();
    }
  });
});

describe('errors', () => {
  test('no such container is a ContainerError naming it', async () => {
    await assert.rejects(new Group('e').makeGateway('podman=execnet-nosuch'), (error: unknown) => {
      assert.ok(error instanceof ContainerError, String(error));
      assert.equal(error.kind, 'no-container');
      assert.match(error.message, /no container 'execnet-nosuch'/);
      return true;
    });
  });

  test('a stopped container is a ContainerError saying so', async () => {
    const stopped = await runningContainer();
    try {
      await podman(['stop', '-t', '0', stopped.name]);
      await assert.rejects(
        new Group('e').makeGateway(`podman=${stopped.name}`),
        (error: unknown) =>
          error instanceof ContainerError &&
          error.kind === 'not-running' &&
          error.message.includes(`podman start ${stopped.name}`),
      );
    } finally {
      await stopped.remove();
    }
  });

  test('an image that is nowhere is a ContainerError of kind no-image', async () => {
    await assert.rejects(
      new Group('e').makeGateway('podman//image=localhost/execnet-nosuch:1'),
      (error: unknown) =>
        error instanceof ContainerError &&
        error.kind === 'no-image' &&
        /no image 'localhost\/execnet-nosuch:1'/.test(error.message),
    );
  });
});

describe('a Node process that dies', () => {
  test('SIGKILL leaves no process in the container and no fresh container behind', async () => {
    const mark = newMark();
    const group = JSON.stringify(require.resolve('../../src/core/group'));
    const script = `
      const { Group } = require(${group});
      setInterval(() => {}, 1000); // alive until killed
      (async () => {
        const group = new Group('doomed');
        const exec = await group.makeGateway(${JSON.stringify(`podman=${container.name}//env:EXECNET_TEST_MARK=${mark}`)});
        const fresh = await group.makeGateway(${JSON.stringify(`podman//image=${image()}//env:EXECNET_TEST_MARK=${mark}`)});
        for (const g of [exec, fresh]) {
          g.remoteExec('import subprocess, time; subprocess.Popen(["sleep", "300"]); time.sleep(300)');
        }
        console.log('fresh ' + fresh.info.container.container);
      })();
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const fresh = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = /^fresh (\S+)$/m.exec(out);
        if (line) {
          resolve(line[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`the script ended (${code}): ${out}`)));
    });
    const deadline = Date.now() + 10_000;
    while (processesWithMark(mark).length < 4 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(processesWithMark(mark).length, 4, 'two interpreters, a sleep each');
    child.kill('SIGKILL');
    assert.deepEqual(await leftoverProcesses(mark, 15_000), []);
    const deadlineGone = Date.now() + 15_000;
    while ((await containersNamed(fresh)).length > 0 && Date.now() < deadlineGone) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(await containersNamed(fresh), [], 'the fresh container was removed');
  });
});
