// The terminal answers the engine's connection questions (key passphrases, passwords, unknown
// host keys), as OpenSSH does: on the controlling terminal, with typed secrets not echoed.
// Without a terminal nothing is asked, and the connection fails with the engine's typed error.

import * as fs from 'node:fs';
import * as tty from 'node:tty';
import type { Prompts } from '../core/prompts';

/** Ask one question on /dev/tty; resolves undefined when there is no terminal or on Ctrl-D. */
function ask(question: string, echo: boolean): Promise<string | undefined> {
  let fd: number;
  try {
    fd = fs.openSync('/dev/tty', 'r+');
  } catch {
    return Promise.resolve(undefined);
  }
  const input = new tty.ReadStream(fd);
  const output = new tty.WriteStream(fd);
  return new Promise((resolve) => {
    let answer = '';
    const finish = (value: string | undefined): void => {
      input.setRawMode(false);
      input.removeAllListeners('data');
      output.write('\n');
      input.destroy();
      output.destroy();
      resolve(value);
    };
    output.write(question);
    input.setRawMode(true);
    input.on('data', (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          finish(answer);
          return;
        }
        if (char === '\u0003' || char === '\u0004') {
          finish(undefined); // Ctrl-C or Ctrl-D: cancelled
          return;
        }
        if (char === '\u007f' || char === '\b') {
          if (answer) {
            answer = answer.slice(0, -1);
            if (echo) {
              output.write('\b \b');
            }
          }
          continue;
        }
        answer += char;
        if (echo) {
          output.write(char);
        }
      }
    });
  });
}

export const terminalPrompts: Prompts = {
  passphrase: ({ keyFile, attempt }) =>
    ask(`${attempt > 1 ? 'Wrong passphrase. ' : ''}Enter passphrase for key '${keyFile}': `, false),
  password: ({ kind, user, host, prompt, echo }) =>
    ask(
      kind === 'sudo'
        ? `[sudo] ${prompt || `password for ${user}: `}`
        : `${user}@${host} ${prompt || 'password: '}`,
      echo,
    ),
  confirmHostKey: async ({ host, keyType, fingerprint, knownHostsFile }) => {
    const answer = await ask(
      `The authenticity of host '${host}' can't be established.\n` +
        `${keyType} key fingerprint is ${fingerprint}.\n` +
        `Are you sure you want to continue connecting and add it to ${knownHostsFile} (yes/no)? `,
      true,
    );
    return answer?.trim().toLowerCase() === 'yes';
  },
  secret: ({ address }) => ask(`Secret of the socket server at ${address}: `, false),
};
