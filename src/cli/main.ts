// Command-line entry point (`execnet`): runs Python code on gateways from the terminal.
// Every path sets an exit status (see USAGE); gateways are always ended before the process is.

import { version } from '../../package.json';
import { parseCommand, USAGE, UsageError, type Command } from './args';
import { runRepl } from './repl';
import { EXIT_USAGE, runCode, showStatus, unreadable } from './run';
import { LineFeed, StdinForward, type StdinFeed } from './stdin';

const streams = { stdout: process.stdout, stderr: process.stderr };

async function main(argv: readonly string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`execnet: ${error.message}\nTry 'execnet --help'.\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  switch (command.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
      process.stdout.write(`execnet ${version}\n`);
      return 0;
    case 'status':
      return showStatus(command.specs, streams);
    case 'repl':
      return runRepl(command.spec);
    case 'run': {
      const problem = unreadable(command.file);
      if (problem) {
        process.stderr.write(`execnet: ${problem}\n`);
        return EXIT_USAGE;
      }
      return runCode(
        {
          specs: command.specs,
          grouped: command.grouped,
          code: { file: command.file },
          argv: [command.file, ...command.args],
          feed: inputFeed(command.stdin),
        },
        streams,
      );
    }
    case 'exec': {
      const source = command.source === '-' ? await readStdin() : command.source;
      return runCode(
        {
          specs: command.specs,
          grouped: command.grouped,
          code: { source, filename: '<string>' },
          argv: ['-c', ...command.args],
          // with `-c -` the input was the source
          feed: command.source === '-' ? undefined : inputFeed(command.stdin),
        },
        streams,
      );
    }
  }
}

/** Standard input for the code's sys.stdin, or piped lines for its channel (a terminal is not read then). */
function inputFeed(forward: boolean): StdinFeed | undefined {
  if (forward) {
    return new StdinForward(process.stdin);
  }
  return process.stdin.isTTY ? undefined : new LineFeed(process.stdin);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// A reader that goes away (`execnet run x.py | head`) is no reason to fail.
process.stdout.on('error', () => undefined);

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
    // input that has not ended (a terminal) must not keep us alive once the code is done
    process.stdin.destroy();
  },
  (error: unknown) => {
    process.stderr.write(
      `execnet: internal error: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exitCode = 70;
  },
);
