// Picks the transport a spec asks for. Every transport carries the same protocol; only how the
// pipe to the remote interpreter is opened differs.

import { GatewayStartError } from '../errors';
import type { Gateway, GatewayOptions } from '../gateway';
import type { GatewaySpec } from '../spec';
import { resolveHost } from '../ssh/config';
import { interpreterArgv, REMOTE_DEFAULT_PYTHON, sshBinaryArgv, vagrantArgv } from './command';
import { openInstallvia } from './installvia';
import { defaultPythonCommand, openPopen, spawnTransport } from './popen';
import { relayProcess, relayTcp } from './relay';
import { openSocket } from './socket';
import { openContainer } from './container';
import { openSlurm } from './slurm';
import { openSsh } from './ssh';
import { passSudo } from './sudo';
import type { Transport } from './transport';

export interface TransportContext {
  /** Another gateway of the same group, for `via=` and `installvia=`. */
  readonly lookup: (id: string) => unknown;
  /** The gateway's options: prompts, ssh settings. */
  readonly options?: GatewayOptions;
}

let viaRoutes = 0;

export async function openTransport(
  spec: GatewaySpec,
  bootstrapLine: string,
  context: TransportContext,
): Promise<Transport> {
  const options = context.options ?? {};
  const prompts = options.prompts;
  const canAskSudo = prompts?.password !== undefined;
  const sudo = (transport: Transport, host: string): Promise<Transport> | Transport =>
    spec.sudo === undefined ? transport : passSudo(transport, { user: spec.sudo, host, prompts });

  // these run their launcher through via= themselves
  if (spec.type === 'slurm') {
    return openSlurm(spec, bootstrapLine, {
      lookup: context.lookup,
      allocation: options.allocation,
      onProgress: options.onProgress,
      signal: options.signal,
    });
  }
  if (spec.type === 'docker' || spec.type === 'podman') {
    return openContainer(spec, bootstrapLine, { lookup: context.lookup, signal: options.signal });
  }
  if (spec.via !== undefined) {
    return openVia(spec, bootstrapLine, context, sudo, canAskSudo);
  }
  switch (spec.type) {
    case 'popen':
      if (spec.sudo !== undefined) {
        const argv = interpreterArgv(spec, {
          defaultPython: defaultPythonCommand(),
          envPrefix: false,
          canAskSudo,
        });
        return sudo(
          spawnTransport(
            [...argv, '-c', bootstrapLine],
            { ...process.env, ...spec.env },
            `popen ${(spec.python ?? defaultPythonCommand()).join(' ')}`,
          ),
          'local',
        );
      }
      return openPopen(spec, bootstrapLine);
    case 'ssh':
      if (spec.sshBinary !== undefined) {
        return sudo(
          spawnTransport(
            sshBinaryArgv(spec, bootstrapLine, canAskSudo),
            process.env,
            `${spec.sshBinary} ${spec.ssh?.raw ?? ''}`,
          ),
          spec.ssh?.host ?? '',
        );
      }
      return openSsh(spec, bootstrapLine, {
        prompts,
        configFile: options.ssh?.configFile,
        pool: options.ssh?.pool,
      });
    case 'vagrant_ssh':
      return sudo(
        spawnTransport(
          vagrantArgv(spec, bootstrapLine, canAskSudo),
          process.env,
          `vagrant ssh ${spec.vagrantSsh ?? ''}`,
        ),
        spec.vagrantSsh ?? '',
      );
    case 'socket':
      if (spec.installvia !== undefined) {
        return openInstallvia(spec, bootstrapLine, context.lookup);
      }
      return openSocket(spec, bootstrapLine, { prompts });
    default:
      break;
  }
  throw new GatewayStartError(`unknown gateway type in '${spec.raw}'`);
}

/**
 * via=ID: the process starts on gateway ID's host (popen, the system ssh, vagrant), or for the
 * built-in ssh client the TCP connection to the ssh server is opened there.
 */
async function openVia(
  spec: GatewaySpec,
  bootstrapLine: string,
  context: TransportContext,
  sudo: (transport: Transport, host: string) => Promise<Transport> | Transport,
  canAskSudo: boolean,
): Promise<Transport> {
  const via = spec.via ?? '';
  const options = context.options ?? {};
  const master = context.lookup(via) as Gateway | undefined;
  switch (spec.type) {
    case 'popen': {
      // the master's own interpreter, unless the spec names one
      const fallback = master?.state === 'alive' ? [master.info.executable] : REMOTE_DEFAULT_PYTHON;
      const argv = interpreterArgv(spec, { defaultPython: fallback, envPrefix: false, canAskSudo });
      const label = `popen ${(spec.python ?? fallback).join(' ')}`;
      const transport = await relayProcess(
        context.lookup,
        via,
        [...argv, '-c', bootstrapLine],
        spec.env,
        label,
      );
      return sudo(transport, `${via}`);
    }
    case 'vagrant_ssh':
    case 'ssh': {
      if (spec.type === 'vagrant_ssh' || spec.sshBinary !== undefined) {
        const argv =
          spec.type === 'vagrant_ssh'
            ? vagrantArgv(spec, bootstrapLine, canAskSudo)
            : sshBinaryArgv(spec, bootstrapLine, canAskSudo);
        const transport = await relayProcess(context.lookup, via, argv, {}, argv[0]);
        return sudo(transport, `${via}`);
      }
      const target = spec.ssh;
      if (!target) {
        break;
      }
      const host = resolveHost(target, { configFile: spec.sshConfig ?? options.ssh?.configFile });
      const relay = await relayTcp(context.lookup, via, host.hostName, host.port);
      return openSsh(spec, bootstrapLine, {
        prompts: options.prompts,
        configFile: options.ssh?.configFile,
        pool: options.ssh?.pool,
        sock: relay.stream,
        route: `via ${via} #${++viaRoutes}`,
        holdRoute: relay.hold,
      });
    }
    default:
      break;
  }
  throw new GatewayStartError(`'${spec.raw}': via= does not work with ${spec.type} gateways`);
}
