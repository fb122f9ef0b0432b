// The sudo step of a sudo= gateway: before the bootstrap is sent, watch stderr for sudo's
// password question (answered through the prompts, on stdin) until the wrapped command says it
// runs. The transport handed on has its stderr from that point on.

import { PassThrough } from 'node:stream';
import { AuthenticationFailed, GatewayStartError, PythonNotFound } from '../errors';
import type { Prompts } from '../prompts';
import { SUDO_PROMPT, SUDO_READY } from './command';
import type { Transport, TransportExit } from './transport';

/** Seconds sudo may take to answer, not counting time waiting for a person. */
const SUDO_TIMEOUT = 60;

export interface SudoContext {
  readonly user: string;
  /** Where sudo runs: `local`, or the ssh host. */
  readonly host: string;
  readonly prompts?: Prompts;
}

export function passSudo(transport: Transport, context: SudoContext): Promise<Transport> {
  const stderr = transport.stderr;
  if (!stderr) {
    return Promise.resolve(transport);
  }
  const rest = new PassThrough();
  let text = '';
  let attempts = 0;
  let asking = false;
  let done = false;
  const where = context.host === 'local' ? '' : ` on ${context.host}`;

  return new Promise<Transport>((resolve, reject) => {
    let deadline = Date.now() + SUDO_TIMEOUT * 1000;
    const watchdog = setInterval(() => {
      if (asking) {
        deadline = Date.now() + SUDO_TIMEOUT * 1000;
      } else if (Date.now() > deadline) {
        finish(
          new GatewayStartError(
            `sudo -u ${context.user}${where} did not answer within ${SUDO_TIMEOUT}s`,
          ),
        );
      }
    }, 250);

    const finish = (error?: Error, remainder?: string): void => {
      if (done) {
        return;
      }
      done = true;
      clearInterval(watchdog);
      stderr.off('data', onData);
      if (error) {
        transport.input.destroy();
        transport.kill();
        reject(error);
        return;
      }
      if (remainder) {
        rest.write(remainder);
      }
      stderr.pipe(rest);
      resolve({
        ...transport,
        description: `${transport.description} as ${context.user}`,
        stderr: rest,
        kill: () => {
          // the interpreter runs as another user: it may be beyond our signals, not beyond EOF
          transport.input.destroy();
          transport.kill();
        },
      });
    };

    const ask = async (): Promise<void> => {
      attempts++;
      const password = context.prompts?.password;
      const answer = password
        ? await password({
            kind: 'sudo',
            host: context.host,
            user: context.user,
            prompt: `[sudo] password to run Python as ${context.user}${where}:`,
            echo: false,
            attempt: attempts,
          })
        : undefined;
      if (answer === undefined) {
        finish(
          new AuthenticationFailed(
            `sudo -u ${context.user}${where} needs a password and none was given`,
            context.host,
            [`sudo (${attempts} question${attempts === 1 ? '' : 's'})`],
          ),
        );
        return;
      }
      transport.input.write(`${answer}\n`);
    };

    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      for (;;) {
        const prompt = text.indexOf(SUDO_PROMPT);
        const ready = text.indexOf(SUDO_READY);
        if (ready !== -1 && (prompt === -1 || ready < prompt)) {
          finish(undefined, text.slice(ready + SUDO_READY.length).replace(/^\r?\n/, ''));
          return;
        }
        if (prompt === -1) {
          return;
        }
        text = text.slice(prompt + SUDO_PROMPT.length);
        asking = true;
        void ask().finally(() => {
          asking = false;
        });
      }
    };
    stderr.on('data', onData);
    void transport.exited.then((exit: TransportExit) => finish(sudoFailure(exit, text, context)));
  });
}

function sudoFailure(exit: TransportExit, stderr: string, context: SudoContext): Error {
  const said = stderr.replace(new RegExp(SUDO_PROMPT.replace(/[[\]]/g, '\\$&'), 'g'), '').trim();
  const where = context.host === 'local' ? '' : ` on ${context.host}`;
  if (exit.code === 127 || /No such file or directory|command not found/.test(said)) {
    return new PythonNotFound(
      `cannot run sudo${where} (or the interpreter behind it): ${said || `exit status ${exit.code}`}`,
      context.host,
    );
  }
  if (
    /incorrect password|password is required|not in the sudoers|not allowed|may not run/i.test(said)
  ) {
    return new AuthenticationFailed(
      `sudo -u ${context.user}${where} refused: ${said}`,
      context.host,
      ['sudo'],
    );
  }
  const status = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  return new GatewayStartError(
    `sudo -u ${context.user}${where} ${status} before starting Python${said ? `: ${said}` : ''}`,
  );
}
