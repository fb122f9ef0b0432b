// Asks the real execnet (Debian's python3-execnet, importable by /usr/bin/python3) how it
// behaves, so a fidelity test states execnet's answer next to ours instead of a remembered one.

import { execFileSync } from 'node:child_process';

/** The interpreter that has Debian's python3-execnet. */
export const EXECNET_PYTHON = '/usr/bin/python3';

/**
 * Runs `script` (Python, with `execnet`, `json` and `sys` imported and the JSON-decoded `input`
 * bound to `data`) and returns what it printed as JSON (`json.dump(result, sys.stdout)`).
 */
export function askExecnet<T>(script: string, input: unknown = null): T {
  const prelude = 'import execnet, json, sys\ndata = json.loads(sys.stdin.read())\n';
  const out = execFileSync(EXECNET_PYTHON, ['-c', prelude + script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(out) as T;
}
