// docker= and podman=: the interpreter runs in a container, through `exec -i CONTAINER` (a
// running container) or `run --rm -i IMAGE` (a fresh one, named so that it can be removed
// whatever happens). No -t: the pipe stays binary. Killing the exec client does not end the
// process inside, so the wrapper announces its pid in the container (it leads its own process
// group there) and ending the gateway kills that group inside; a fresh container is removed.

import { randomBytes } from 'node:crypto';
import { ContainerError } from '../errors';
import type { GatewaySpec } from '../spec';
import { trace } from '../trace';
import { pythonCommand } from './command';
import {
  announcedCommand,
  launchedInterpreter,
  launcherMissing,
  launchHost,
  waitAnnouncement,
  withCleanup,
  type LaunchHost,
  type Launched,
} from './launch';
import type { Transport, TransportExit } from './transport';

/** Seconds `run` may take to start (and pull) the image before it is given up. */
const START_SECONDS = 300;

export interface ContainerContext {
  readonly lookup: (id: string) => unknown;
  /** Gives up waiting for the container: it is ended (a fresh one removed). */
  readonly signal?: AbortSignal;
}

export async function openContainer(
  spec: GatewaySpec,
  bootstrapLine: string,
  context: ContainerContext,
): Promise<Transport> {
  const engine = spec.type === 'docker' ? 'docker' : 'podman';
  const host = launchHost(spec.via, context.lookup);
  const python = launchedInterpreter(spec);
  const command = announcedCommand('$$', [...python.argv, '-c', bootstrapLine]);
  const extra = spec.containerArgs ?? [];
  const image = spec.image;
  // the image form names its container, to remove it even when `run` itself is gone
  const container = spec.container ?? `execnet-${randomBytes(6).toString('hex')}`;
  const argv =
    image === undefined
      ? [engine, 'exec', '-i', ...extra, container, ...command]
      : [engine, 'run', '--rm', '-i', '--name', container, ...extra, image, ...command];
  const label = `${engine} ${image === undefined ? `exec ${container}` : `run ${image}`}`;
  let launched: Launched;
  try {
    launched = await host.spawn(argv, label);
  } catch (error) {
    throw missingEngine(engine, host, (error as Error).message);
  }
  const removeContainer = (): Promise<unknown> =>
    // docker rm has no -t: -f kills at once anyway
    host
      .run([engine, 'rm', '-f', ...(engine === 'podman' ? ['-t', '0'] : []), container], 60)
      .then((result) => {
        trace(`${engine}: removed ${container} (status ${result.code})`);
      });
  const { fields, launched: running } = await waitAnnouncement(launched, {
    timeout: START_SECONDS,
    timedOut: () =>
      Promise.resolve(
        new ContainerError(
          `${label} did not start the interpreter within ${START_SECONDS} s`,
          'failed',
        ),
      ),
    failed: (exit, said) => containerFailure(engine, spec, container, exit, said, host),
    signal: context.signal,
    cleanup: image === undefined ? undefined : removeContainer,
  });
  const pid = Number(fields[0]);
  // The interpreter leads its process group in the container: kill the group inside, with the
  // interpreter itself (dash's kill builtin cannot signal a group).
  const killInside = (): Promise<unknown> =>
    host.run(
      [
        engine,
        'exec',
        container,
        ...pythonCommand(spec),
        '-c',
        `import os\ntry: os.killpg(${pid}, 9)\nexcept OSError: pass`,
      ],
      60,
    );
  return {
    ...withCleanup(running, {
      kill: image === undefined ? killInside : removeContainer,
      // what the code started may outlive the interpreter: end it too (for a fresh container
      // `run --rm` removed it, unless `run` did not end by itself)
      afterExit: (exit, killed) =>
        image === undefined ? killInside() : killed || exit.signal ? removeContainer() : undefined,
    }),
    description: `${engine} ${container}${image === undefined ? '' : ` (${image})`}${host.via} ${python.shown}`,
    placement: { container: { engine, container, image, pid } },
  };
}

function missingEngine(engine: string, host: LaunchHost, said: string): ContainerError {
  return new ContainerError(`cannot run ${engine} ${host.where}: ${said}`, 'missing', said);
}

/** docker/podman ended before the interpreter started: a typed error naming the cause. */
function containerFailure(
  engine: 'docker' | 'podman',
  spec: GatewaySpec,
  container: string,
  exit: TransportExit,
  said: string,
  host: LaunchHost,
): ContainerError {
  const missing = launcherMissing(exit, said);
  if (missing !== undefined) {
    return missingEngine(engine, host, missing);
  }
  const lines = said.split('\n').filter((line) => !/level=warning|^Trying to pull/.test(line));
  const detail = (lines.filter((l) => /error/i.test(l)).pop() ?? lines.join('; ')).trim();
  const where = host.name === 'local' ? '' : ` ${host.where}`;
  if (
    /cannot connect to the docker daemon|is the docker daemon running|connect: no such file/i.test(
      said,
    )
  ) {
    return new ContainerError(
      `${engine}${where} cannot reach its daemon: ${detail} — start it, or point DOCKER_HOST at one`,
      'missing',
      detail,
    );
  }
  if (/no (?:such )?container|no container with name/i.test(said)) {
    return new ContainerError(
      `no container '${container}'${where}: ${detail} — \`${engine} ps\` lists the running ones`,
      'no-container',
      detail,
    );
  }
  if (/state improper|is not running|container .* is paused|is restarting/i.test(said)) {
    return new ContainerError(
      `container '${container}'${where} is not running: ${detail} — start it first (\`${engine} start ${container}\`)`,
      'not-running',
      detail,
    );
  }
  if (
    spec.image !== undefined &&
    /image not known|initializing source|pull access denied|manifest unknown|repository does not exist|unable to find image|no such image/i.test(
      said,
    )
  ) {
    return new ContainerError(
      `no image '${spec.image}'${where}, and it could not be pulled: ${detail} — \`${engine} images\` lists the local ones`,
      'no-image',
      detail,
    );
  }
  const status = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  return new ContainerError(
    `${engine} ${status} before Python started${detail ? `: ${detail}` : ''}`,
    'failed',
    detail || undefined,
  );
}
