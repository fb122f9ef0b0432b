// `execnet repl -g SPEC`: a Python prompt in a gateway's interactive session. On a terminal the
// console edits lines itself (raw mode); with piped input it reads lines like `python < file`.
// The gateway is ended before the command returns, whatever happened.

import { GatewayStartError, Group, SpecError, type Gateway } from '../core';
import { ReplConsole } from '../repl/console';
import { terminalPrompts } from './prompts';
import { EXIT_OK, EXIT_START, EXIT_USAGE } from './run';

const TERMINATE_TIMEOUT = 2;

export async function runRepl(spec: string): Promise<number> {
  const group = new Group('cli', { prompts: terminalPrompts });
  let gateway: Gateway;
  try {
    gateway = await group.makeGateway(spec);
  } catch (error) {
    await group.terminate(TERMINATE_TIMEOUT);
    if (error instanceof SpecError) {
      process.stderr.write(`execnet: bad gateway spec '${spec}': ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof GatewayStartError) {
      process.stderr.write(`execnet: ${error.message}\n`);
      return EXIT_START;
    }
    throw error;
  }
  try {
    await prompt(gateway);
    return EXIT_OK;
  } finally {
    await group.terminate(TERMINATE_TIMEOUT);
  }
}

function banner(gateway: Gateway): string {
  const info = gateway.info;
  return (
    `Python ${info.versionString.split('\n')[0]} on ${info.platform}\n` +
    `execnet session on ${gateway.id} (${gateway.description}, ${info.hostname}); ` +
    'Ctrl-C interrupts, Ctrl-D leaves.'
  );
}

function prompt(gateway: Gateway): Promise<void> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const interactive = Boolean(stdin.isTTY && stdout.isTTY);
  return new Promise<void>((resolve) => {
    const session = gateway.session();
    const console = new ReplConsole(
      session,
      {
        write: (text) => stdout.write(text),
        close: () => {
          cleanup();
          resolve();
        },
      },
      { banner: banner(gateway), columns: stdout.columns || 80, interactive },
    );
    const onData = (data: Buffer): void => console.input(data.toString('utf8'));
    const onEnd = (): void => console.end();
    const onResize = (): void => console.resize(stdout.columns || 80);
    // without a terminal in raw mode, Ctrl-C is a signal: it interrupts the running statement
    const onSigint = (): void => session.interrupt();
    const cleanup = (): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdout.off('resize', onResize);
      process.off('SIGINT', onSigint);
      if (interactive) {
        stdin.setRawMode(false);
      }
      stdin.pause();
    };
    if (interactive) {
      stdin.setRawMode(true);
    }
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdout.on('resize', onResize);
    process.on('SIGINT', onSigint);
    console.start();
  });
}
