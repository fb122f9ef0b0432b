// The command line of `execnet`, parsed into a Command. Like `python FILE ARGS...`, everything
// after the file of `run` belongs to the script (its sys.argv), options included.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closestMatch } from '../core/suggest';

export const USAGE = `usage: execnet run [options] FILE.py [ARGS...]
       execnet exec [options] -c SOURCE [--] [ARGS...]
       execnet status [options]
       execnet repl [options]
       execnet --help | --version

Run Python code on gateways (execnet's remote_exec) from the terminal.

commands:
  run FILE.py    run a local Python file on each gateway; ARGS become its sys.argv[1:]
  exec -c SRC    run source text (-c - reads it from standard input); ARGS after it or after
                 -- become sys.argv[1:] (sys.argv[0] is '-c')
  status         start the gateways and print what runs there
  repl           a Python prompt in the gateway's interactive session (line editing, history,
                 Tab completion from the remote namespace, Ctrl-C interrupts, Ctrl-D leaves)

options:
  -g, --gateway SPEC   a gateway spec, e.g. popen//python=python3.12 (default: popen);
                       repeat it to run the same code on several gateways at once
      --python PATH    shortcut for --gateway popen//python=PATH
                       (the default interpreter is $EXECNET_PYTHON, else python3)
      --group          hold each gateway's output back until it ends, then print it together
  -i, --stdin          forward standard input (typed or piped) to the code's sys.stdin, for
                       input() and sys.stdin.readline(); without it, piped lines are sent to
                       the code's channel as items
  -h, --help           show this help
  -V, --version        show the version

The code gets \`channel\`: every item it sends is printed as "[gw0] channel: <repr>".
Piped standard input becomes channel items (one str per line), or with --stdin the code's
sys.stdin. In a fan-out every gateway gets the same input, and every line is prefixed with its
gateway's id. A file run sees its own directory first on sys.path on local gateways.
Ctrl-C interrupts the running code (KeyboardInterrupt); a second Ctrl-C stops the gateways.

exit status: 0 when the code ends normally; the code of SystemExit; 1 when it raised (its
traceback goes to stderr) or its interpreter died; 2 for usage and spec errors; 3 when a gateway
cannot start; 130 when stopped by Ctrl-C. With several gateways, the highest status of all.
`;

/** A mistake on the command line: printed with a hint to --help, exit status 2. */
export class UsageError extends Error {}

interface GatewayOptions {
  /** Spec strings, at least one. */
  readonly specs: readonly string[];
}

interface RunOptions {
  readonly grouped: boolean;
  /** Standard input goes to the code's sys.stdin (else piped lines are channel items). */
  readonly stdin: boolean;
}

export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | (GatewayOptions &
      RunOptions & {
        readonly kind: 'run';
        readonly file: string;
        readonly args: readonly string[];
      })
  | (GatewayOptions &
      RunOptions & {
        readonly kind: 'exec';
        /** Source text, or `-` for standard input. */
        readonly source: string;
        readonly args: readonly string[];
      })
  | (GatewayOptions & { readonly kind: 'status' })
  | { readonly kind: 'repl'; readonly spec: string };

const COMMANDS = ['run', 'exec', 'status', 'repl', 'help'];

const GATEWAY_OPTIONS = {
  gateway: { type: 'string', short: 'g', multiple: true },
  python: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const RUN_OPTIONS = {
  ...GATEWAY_OPTIONS,
  group: { type: 'boolean' },
  stdin: { type: 'boolean', short: 'i' },
} as const satisfies ParseArgsConfig['options'];

const EXEC_OPTIONS = {
  ...RUN_OPTIONS,
  command: { type: 'string', short: 'c' },
} as const satisfies ParseArgsConfig['options'];

export function parseCommand(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '-h':
    case '--help':
      return { kind: 'help' };
    case '-V':
    case '--version':
      return { kind: 'version' };
    case 'run':
      return parseRun(rest);
    case 'exec':
      return parseExec(rest);
    case 'status':
      return parseStatus(rest);
    case 'repl':
      return parseRepl(rest);
    default:
      if (!command.startsWith('-')) {
        const meant = closestMatch(command, COMMANDS);
        throw new UsageError(
          `unknown command '${command}'${meant ? ` — did you mean '${meant}'?` : ''}`,
        );
      }
      if (command.startsWith('--') && Object.hasOwn(EXEC_OPTIONS, command.slice(2))) {
        throw new UsageError(
          `'${command}' goes after the command, e.g. execnet run ${command} ... FILE.py`,
        );
      }
      throw unknownOption(command, ['help', 'version']);
  }
}

function parseRun(argv: readonly string[]): Command {
  // Find the file with a lenient pass, then parse only what comes before it strictly.
  const { tokens } = parseArgs({
    args: [...argv],
    options: RUN_OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const file = tokens.find((t) => t.kind === 'positional');
  const head = file ? argv.slice(0, file.index) : argv;
  const { values } = strict(RUN_OPTIONS, () =>
    parseArgs({ args: [...head], options: RUN_OPTIONS }),
  );
  if (values.help) {
    return { kind: 'help' };
  }
  if (!file) {
    throw new UsageError('run: which file? e.g. execnet run examples/hello.py');
  }
  return {
    kind: 'run',
    specs: gatewaySpecs(values),
    grouped: values.group ?? false,
    stdin: values.stdin ?? false,
    file: file.value,
    args: argv.slice(file.index + 1),
  };
}

function parseExec(argv: readonly string[]): Command {
  const { values, positionals } = strict(EXEC_OPTIONS, () =>
    parseArgs({ args: [...argv], options: EXEC_OPTIONS, allowPositionals: true }),
  );
  if (values.help) {
    return { kind: 'help' };
  }
  if (values.command === undefined) {
    throw new UsageError('exec: give the source with -c SOURCE (or -c - to read it from stdin)');
  }
  if (values.command === '-' && values.stdin) {
    throw new UsageError('exec: -c - reads the source from standard input, so --stdin cannot');
  }
  return {
    kind: 'exec',
    specs: gatewaySpecs(values),
    grouped: values.group ?? false,
    stdin: values.stdin ?? false,
    source: values.command,
    args: positionals,
  };
}

function parseStatus(argv: readonly string[]): Command {
  const { values } = strict(GATEWAY_OPTIONS, () =>
    parseArgs({ args: [...argv], options: GATEWAY_OPTIONS }),
  );
  if (values.help) {
    return { kind: 'help' };
  }
  return { kind: 'status', specs: gatewaySpecs(values) };
}

function parseRepl(argv: readonly string[]): Command {
  const { values } = strict(GATEWAY_OPTIONS, () =>
    parseArgs({ args: [...argv], options: GATEWAY_OPTIONS }),
  );
  if (values.help) {
    return { kind: 'help' };
  }
  const specs = gatewaySpecs(values);
  if (specs.length > 1) {
    throw new UsageError('repl: one gateway at a time (give -g once)');
  }
  return { kind: 'repl', spec: specs[0] };
}

/**
 * Runs a strict parseArgs, turning its complaints into usage errors worded like the others:
 * lower-case, and a misspelled option gets "did you mean" as a misspelled spec key does.
 */
function strict<T>(options: ParseArgsConfig['options'], parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    if (unknown) {
      throw unknownOption(unknown[1], Object.keys(options ?? {}));
    }
    throw new UsageError(message.charAt(0).toLowerCase() + message.slice(1));
  }
}

function unknownOption(option: string, names: readonly string[]): UsageError {
  const meant = option.startsWith('--') ? closestMatch(option.slice(2), names) : undefined;
  return new UsageError(
    `unknown option '${option}'${meant ? ` — did you mean '--${meant}'?` : ''}`,
  );
}

function gatewaySpecs(values: { gateway?: string[]; python?: string }): string[] {
  const specs = values.gateway ?? [];
  if (values.python !== undefined) {
    if (specs.length > 0) {
      throw new UsageError(
        `--python applies to the default gateway only: add //python=${values.python} to each --gateway instead`,
      );
    }
    return [`popen//python=${values.python}`];
  }
  return specs.length > 0 ? specs : ['popen'];
}
