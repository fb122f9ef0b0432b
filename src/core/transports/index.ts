// Picks the transport a spec asks for. Every transport carries the same protocol; only how the
// pipe to the remote interpreter is opened differs.

import { GatewayStartError } from '../errors';
import type { GatewayOptions } from '../gateway';
import type { GatewaySpec } from '../spec';
import { interpreterArgv, sshBinaryArgv, vagrantArgv } from './command';
import { defaultPythonCommand, openPopen, spawnTransport } from './popen';
import { openSsh } from './ssh';
import { passSudo } from './sudo';
import type { Transport } from './transport';

export interface TransportContext {
  /** Another gateway of the same group, for `via=` and `installvia=`. */
  readonly lookup: (id: string) => unknown;
  /** The gateway's options: prompts, ssh settings. */
  readonly options?: GatewayOptions;
}

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

  if (spec.via !== undefined) {
    const what = `${spec.type} via=${spec.via}`;
    throw new GatewayStartError(
      `gateway type '${what}' (${spec.raw}) is not available in this version`,
    );
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
            `popen ${spec.python?.join(' ') ?? defaultPythonCommand().join(' ')}`,
          ),
          'local',
        );
      }
      return openPopen(spec, bootstrapLine);
    case 'ssh':
      if (spec.sshBinary !== undefined) {
        const argv = sshBinaryArgv(spec, bootstrapLine, canAskSudo);
        return sudo(
          spawnTransport(argv, process.env, `${spec.sshBinary} ${spec.ssh?.raw ?? ''}`),
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
      break;
  }
  throw new GatewayStartError(
    `gateway type '${spec.type}' (${spec.raw}) is not available in this version`,
  );
}
