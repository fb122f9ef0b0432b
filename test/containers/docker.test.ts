// docker gateways: the same transport as podman with the docker CLI, here talking to podman's
// Docker-compatible API (test/containers/system.ts sets DOCKER_HOST), so the docker command
// lines (no `rm -t`, docker's own messages) run for real.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ContainerError } from '../../src/core/errors';
import { Group } from '../../src/core/group';
import { leftoverProcesses, newMark } from '../helpers/processes';
import { containersNamed, runningContainer } from '../helpers/podman';

const image = (): string => process.env.EXECNET_TEST_IMAGE ?? '';

let container: { name: string; remove(): Promise<void> };
before(async () => {
  container = await runningContainer();
});
after(() => container.remove());

describe('docker=CONTAINER and docker//image=IMAGE', () => {
  test('exec runs code and streams output; terminate ends what it started inside', async () => {
    const mark = newMark();
    const group = new Group('docker');
    try {
      const gateway = await group.makeGateway(
        `docker=${container.name}//env:EXECNET_TEST_MARK=${mark}`,
      );
      assert.equal(gateway.info.container?.engine, 'docker');
      const channel = gateway.remoteExec(
        'import subprocess\nsubprocess.Popen(["sleep", "300"])\nprint("started", flush=True)\nchannel.send(open("/etc/debian_version").read()[:2])\nchannel.receive()',
      );
      const output: string[] = [];
      channel.onOutput(({ data }) => output.push(data.toString()));
      assert.equal(await channel.receive(10), '12');
      assert.equal(output.join(''), 'started\n');
      await gateway.terminate(5);
      assert.deepEqual(await leftoverProcesses(mark), []);
    } finally {
      await group.terminate(0);
    }
  });

  test('a fresh container is removed, also when its gateway has to be killed', async () => {
    const mark = newMark();
    const group = new Group('docker-run');
    try {
      const [calm, stuck] = await group.makeGateways(
        `docker//image=${image()}//env:EXECNET_TEST_MARK=${mark}`,
        2,
      );
      const names = [calm, stuck].map((g) => g.info.container?.container ?? '');
      const channel = stuck.remoteExec(
        'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nchannel.send(1)\nwhile True: time.sleep(1)',
      );
      await channel.receive(10);
      await stuck.terminate(0.5);
      await calm.terminate(5);
      for (const name of names) {
        assert.deepEqual(await containersNamed(name), [], `${name} is gone`);
      }
      assert.deepEqual(await leftoverProcesses(mark), []);
    } finally {
      await group.terminate(0);
    }
  });

  test('docker without a daemon to talk to is a ContainerError saying so', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      await assert.rejects(
        new Group('docker-down').makeGateway(`docker=${container.name}`),
        (error: unknown) =>
          error instanceof ContainerError &&
          error.kind === 'missing' &&
          /docker cannot reach its daemon/.test(error.message),
      );
    } finally {
      process.env.DOCKER_HOST = saved;
    }
  });
});
