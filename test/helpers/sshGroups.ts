// Groups of ssh gateways for tests, each gateway marked like the popen ones (the mark reaches the
// remote's environment through the command line), each group with its own connection pool so
// that tests do not share connections, and a check that nothing is left running afterwards.

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { GatewayOptions } from '../../src/core/gateway';
import { Group } from '../../src/core/group';
import { SshConnectionPool } from '../../src/core/ssh/connections';
import { leftoverProcesses, newMark } from './processes';
import type { Sshd } from './sshd';

export interface SshTestGroup {
  readonly group: Group;
  readonly mark: string;
  readonly pool: SshConnectionPool;
  /** `ssh=-p PORT user@127.0.0.1//python=...//env:EXECNET_TEST_MARK=...` plus options. */
  spec(options?: string): string;
  /** Marks any spec (appends the env item). */
  marked(spec: string): string;
  close(timeout?: number): Promise<void>;
}

export function sshGroup(sshd: Sshd, options: GatewayOptions = {}): SshTestGroup {
  const mark = newMark();
  const pool = new SshConnectionPool();
  const group = new Group('ssh-test', {
    ...options,
    ssh: { configFile: sshd.config, pool, ...options.ssh },
  });
  const marked = (spec: string): string => `${spec}//env:EXECNET_TEST_MARK=${mark}`;
  return {
    group,
    mark,
    pool,
    marked,
    spec: (extra) => marked(sshd.spec(extra)),
    async close(timeout = 5) {
      await group.terminate(timeout);
      const left = await leftoverProcesses(mark);
      assert.deepEqual(left, [], `processes left running after terminate: ${left.join(', ')}`);
    },
  };
}

/** Established TCP connections from this process to 127.0.0.1:port, as `ss` lists them. */
export function connectionsTo(port: number): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${port} )`], {
    encoding: 'utf8',
  });
  return out.split('\n').filter((line) => line.includes(`pid=${process.pid},`)).length;
}

export { alive, gone } from './processes';
