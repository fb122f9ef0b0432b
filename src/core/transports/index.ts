// Picks the transport a spec asks for. Every transport carries the same protocol; only how the
// pipe to the remote interpreter is opened differs.

import { GatewayStartError } from '../errors';
import type { GatewaySpec } from '../spec';
import { openPopen } from './popen';
import type { Transport } from './transport';

export interface TransportContext {
  /** Another gateway of the same group, for `via=` and `installvia=`. */
  readonly lookup: (id: string) => unknown;
}

export async function openTransport(
  spec: GatewaySpec,
  bootstrapLine: string,
  _context: TransportContext,
): Promise<Transport> {
  switch (spec.type) {
    case 'popen':
      if (spec.via === undefined) {
        return openPopen(spec, bootstrapLine);
      }
      break;
    default:
      break;
  }
  const what = spec.via !== undefined ? `${spec.type} via=${spec.via}` : spec.type;
  throw new GatewayStartError(
    `gateway type '${what}' (${spec.raw}) is not available in this version: use popen`,
  );
}
