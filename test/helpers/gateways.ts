// Gateways for tests: every one is marked (see processes.ts) and terminated afterwards, and the
// test fails if anything it started is still running.

import * as assert from 'node:assert/strict';
import { Group } from '../../src/core/group';
import type { Gateway } from '../../src/core/gateway';
import { defaultPython } from './pythons';
import { leftoverProcesses, newMark } from './processes';

export interface TestGroup {
  readonly group: Group;
  readonly mark: string;
  /** Start a gateway; `options` are appended to `popen//python=...//env:EXECNET_TEST_MARK=...`. */
  gateway(options?: string, python?: string): Promise<Gateway>;
  /** The spec string `gateway()` would use. */
  spec(options?: string, python?: string): string;
  /** Terminate everything and assert that no marked process is left. */
  close(timeout?: number): Promise<void>;
}

export function testGroup(): TestGroup {
  const group = new Group('test');
  const mark = newMark();
  const spec = (options?: string, python = defaultPython()): string =>
    `popen//python=${python}//env:EXECNET_TEST_MARK=${mark}${options ? `//${options}` : ''}`;
  return {
    group,
    mark,
    spec,
    gateway: (options, python) => group.makeGateway(spec(options, python)),
    async close(timeout = 5) {
      await group.terminate(timeout);
      const left = await leftoverProcesses(mark);
      assert.deepEqual(left, [], `processes left running after terminate: ${left.join(', ')}`);
    },
  };
}
