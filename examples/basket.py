# Debug me on any gateway: set a breakpoint in prices.py (click left of the `gross = ` line), then
# choose "Execnet: Debug File on Gateway" from the editor's Run menu, or press F5 with an "execnet"
# launch configuration. Step, read the variables, evaluate in the debug console, continue.
#
#   node dist/cli.js run examples/basket.py 2     -- runs it without a debugger
import sys

from prices import price_with_tax

basket = [("apple", 3, 0.50), ("pear", 2, 0.75), ("plum", 12, 0.20)]
quantity = int(sys.argv[1]) if len(sys.argv) > 1 else 1
total = 0.0
for name, count, unit in basket:
    cost = price_with_tax(count * quantity * unit)
    total += cost
    print("%-6s %3d x %.2f = %6.2f" % (name, count * quantity, unit, cost))
print("total %.2f" % total)
