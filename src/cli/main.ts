// Command-line entry point (`execnet`): runs Python code on gateways from the terminal.

const USAGE = `usage: execnet <command> [options]

commands:
  run [--gateway SPEC] FILE.py [ARGS...]   run FILE.py on a gateway (default: popen)
`;

function main(argv: readonly string[]): number {
  const [command] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  process.stderr.write(`execnet: unknown command '${command}'\n\n${USAGE}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
