// podman for the container tier (test/containers/system.ts): a private containers.conf that
// makes rootful podman work here without touching /etc (runc, since crun refuses hybrid
// cgroups; no default ulimits, which exceed the hard nofile limit; no network namespace), and
// the test image: Debian with python3, built by test/fixtures/containers/image.sh with no
// registry and cached under a tag derived from that recipe, so it is built once per recipe.

import { createHash } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SystemUnavailable, type RunningSystem } from './system';

const RECIPE = path.join(__dirname, '..', 'fixtures', 'containers', 'image.sh');

const CONTAINERS_CONF = `[containers]
default_ulimits = []
netns = "none"

[engine]
runtime = "runc"
`;

export function podman(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('podman', args, { env, timeout: timeoutMs }, (error, stdout, stderr) =>
      resolve({
        code: error ? Number((error as NodeJS.ErrnoException).code) || 1 : 0,
        stdout: String(stdout),
        stderr: String(stderr),
      }),
    );
  });
}

/** The image tag for the recipe as it is now. */
export function imageTag(): string {
  const hash = createHash('sha256').update(fs.readFileSync(RECIPE)).digest('hex').slice(0, 12);
  return `localhost/execnet-python:${hash}`;
}

export async function startPodman(): Promise<RunningSystem> {
  if ((await podman(['--version']).catch(() => undefined))?.code !== 0) {
    throw new SystemUnavailable('podman is not installed: run scripts/setup.sh (podman, runc)');
  }
  if (process.getuid?.() !== 0) {
    throw new SystemUnavailable('the container tier runs rootful podman');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-podman-'));
  const conf = path.join(dir, 'containers.conf');
  fs.writeFileSync(conf, CONTAINERS_CONF);
  const env = { ...process.env, CONTAINERS_CONF: conf };
  // the docker CLI talks to podman's Docker-compatible API on a private socket
  const socket = path.join(dir, 'docker.sock');
  const service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    env,
    stdio: 'ignore',
    detached: true,
  });
  const stop = async (): Promise<void> => {
    if (service.exitCode === null && service.pid !== undefined) {
      const gone = new Promise((resolve) => service.once('exit', resolve));
      process.kill(-service.pid, 'SIGTERM');
      await gone;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const image = imageTag();
    if ((await podman(['image', 'exists', image], env)).code !== 0) {
      await buildImage(image, env);
    }
    const smoke = await podman(['run', '--rm', image, 'python3', '-c', 'print(6 * 7)'], env);
    if (smoke.stdout.trim() !== '42') {
      throw new Error(`a container of ${image} does not run python3: ${smoke.stderr.trim()}`);
    }
    const dockerHost = `unix://${socket}`;
    await waitForDocker({ ...env, DOCKER_HOST: dockerHost });
    return {
      env: { CONTAINERS_CONF: conf, EXECNET_TEST_IMAGE: image, DOCKER_HOST: dockerHost },
      stop,
    };
  } catch (error) {
    await stop();
    throw error instanceof SystemUnavailable
      ? error
      : new SystemUnavailable(`podman cannot run the test image: ${(error as Error).message}`);
  }
}

/** Waits until the docker CLI gets an answer from podman's API service. */
async function waitForDocker(env: NodeJS.ProcessEnv): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answer = await new Promise<{ ok: boolean; said: string }>((resolve) =>
      execFile(
        'docker',
        ['version', '--format', '{{.Server.Version}}'],
        { env },
        (error, out, err) =>
          resolve({
            ok: !error,
            said:
              (error as NodeJS.ErrnoException | null)?.code === 'ENOENT'
                ? 'ENOENT'
                : `${out}${err}`,
          }),
      ),
    );
    if (answer.ok) {
      return;
    }
    if (answer.said === 'ENOENT') {
      throw new SystemUnavailable('no docker CLI: run scripts/setup.sh (docker.io)');
    }
    if (Date.now() > deadline) {
      throw new Error(`docker cannot reach podman's API service: ${answer.said.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function buildImage(image: string, env: NodeJS.ProcessEnv): Promise<void> {
  const started = Date.now();
  process.stderr.write(`# building ${image} from Debian (takes minutes, cached after)\n`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [RECIPE, image], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    child.stderr.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-3000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) {
        process.stderr.write(
          `# built ${image} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
        );
        resolve();
      } else {
        reject(
          new SystemUnavailable(`the test image could not be built (${code}): ${said.trim()}`),
        );
      }
    });
  });
}

/** A running container of the test image for exec tests; remove() takes it away. */
export async function runningContainer(): Promise<{ name: string; remove(): Promise<void> }> {
  const image = process.env.EXECNET_TEST_IMAGE;
  if (!image || !process.env.CONTAINERS_CONF) {
    throw new Error('no test image: run these tests through `npm run test:containers`');
  }
  const name = `execnet-test-${Math.random().toString(36).slice(2, 10)}`;
  const started = await podman(['run', '-d', '--name', name, image, 'sleep', 'infinity']);
  if (started.code !== 0) {
    throw new Error(`cannot start a test container: ${started.stderr}`);
  }
  return {
    name,
    remove: async () => {
      await podman(['rm', '-f', '-t', '0', name]);
    },
  };
}

/** Names of containers (running or not) whose name starts with `prefix`. */
export async function containersNamed(prefix: string): Promise<string[]> {
  const listed = await podman(['ps', '-a', '--format', '{{.Names}}']);
  return listed.stdout
    .split('\n')
    .map((n) => n.trim())
    .filter((n) => n.startsWith(prefix));
}
