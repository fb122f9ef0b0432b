// The program the debug tests debug: a loop calling a function of a sibling module (for a
// breakpoint in a module other than the program), printing, and raising when asked; written to a
// temporary folder or into a workspace. `line(name)` finds the line marked `# @name`.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The program: a loop calling a function of a sibling module; `line(name)` finds marked lines. */
export const PROGRAM = `import sys
import time
from pricing import price_with_tax

items = [("apple", 3, 0.5), ("pear", 2, 0.75)]
total = 0.0
for name, count, unit in items:
    cost = price_with_tax(count * unit)  # @call
    total += cost  # @add
    print("%s %.2f" % (name, cost))
print("total %.2f" % total, "argv", sys.argv[1:])  # @total
if "--fail" in sys.argv:
    ratio = total / 0  # @raise
while "--wait" in sys.argv:  # @loop
    time.sleep(0.01)  # @wait
`;

export const MODULE = `TAX = 0.25


def price_with_tax(net):
    gross = net * (1 + TAX)  # @gross
    return round(gross, 2)  # @return
`;

/** The 1-based line of `# @name` in the program or the module. */
export function fixtureLine(name: string): number {
  for (const text of [PROGRAM, MODULE]) {
    const index = text.split('\n').findIndex((l) => l.endsWith(`# @${name}`));
    if (index >= 0) {
      return index + 1;
    }
  }
  throw new Error(`no line marked @${name}`);
}

export interface DebugFixture {
  readonly dir: string;
  readonly program: string;
  readonly module: string;
  /** The 1-based line of `# @name` in the program or the module. */
  line(name: string): number;
  /** Delete what writeFixture wrote. */
  remove(): void;
}

/** Write the program and its module into `into` (default: a new temporary folder). */
export function writeFixture(into?: string): DebugFixture {
  const dir = into ?? fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'execnet-debug-')));
  const program = path.join(dir, 'inventory.py');
  const module = path.join(dir, 'pricing.py');
  fs.writeFileSync(program, PROGRAM);
  fs.writeFileSync(module, MODULE);
  return {
    dir,
    program,
    module,
    line: fixtureLine,
    // a folder of its own goes; in a given folder only the two files do
    remove: () =>
      into
        ? [program, module].forEach((file) => fs.rmSync(file, { force: true }))
        : fs.rmSync(dir, { recursive: true, force: true }),
  };
}
