// How the built-in client logs in, in OpenSSH's order: the agent's keys (only those matching the
// identity files when IdentitiesOnly is set), then the key files (an encrypted one asks for its
// passphrase through the prompts), then keyboard-interactive and password through the prompts.
// Every method tried is recorded, so a refusal can say what was attempted.

import * as fs from 'node:fs';
import { OpenSSHAgent, utils, type ParsedKey } from 'ssh2';
import type { AnyAuthMethod, AuthenticationType, NextAuthHandler } from 'ssh2';
import type { Prompts } from '../prompts';
import type { SshHostConfig } from './config';

type IdentityCallback = Parameters<OpenSSHAgent['getIdentities']>[0];
type AgentKey = NonNullable<Parameters<IdentityCallback>[1]>[number];

/** The public blob of a key the agent lists. */
function agentKeyBlob(key: AgentKey): Buffer | undefined {
  const entry = 'pubKey' in key ? key.pubKey : key;
  const parsed = 'pubKey' in entry ? entry.pubKey : entry;
  if (Buffer.isBuffer(parsed) || typeof parsed === 'string') {
    const key2 = parseOne(parsed);
    return key2 instanceof Error ? undefined : key2.getPublicSSH();
  }
  return parsed.getPublicSSH();
}

/** An agent that only offers some of its keys (IdentitiesOnly with IdentityFile). */
class FilteredAgent extends OpenSSHAgent {
  constructor(
    socketPath: string,
    private readonly allowed: readonly Buffer[],
  ) {
    super(socketPath);
  }

  override getIdentities(cb: IdentityCallback): void {
    super.getIdentities((error, keys) => {
      if (error || !keys) {
        cb(error, keys);
        return;
      }
      cb(
        undefined,
        keys.filter((key) => {
          const blob = agentKeyBlob(key);
          return blob !== undefined && this.allowed.some((pub) => pub.equals(blob));
        }),
      );
    });
  }
}

function parseOne(data: Buffer | string, passphrase?: string): ParsedKey | Error {
  const parsed = utils.parseKey(data, passphrase);
  return Array.isArray(parsed) ? parsed[0] : parsed;
}

/** The public half of an identity file: from `file.pub`, or the key itself when unencrypted. */
function publicKeyOf(file: string): Buffer | undefined {
  for (const candidate of [`${file}.pub`, file]) {
    try {
      const key = parseOne(fs.readFileSync(candidate));
      if (!(key instanceof Error)) {
        return key.getPublicSSH();
      }
    } catch {
      // missing or unreadable: no public key from here
    }
  }
  return undefined;
}

function isEncryptedKeyError(error: Error): boolean {
  return /encrypted|passphrase/i.test(error.message);
}

export interface AuthState {
  /** What was tried, in order, for AuthenticationFailed. */
  readonly tried: string[];
  /** What the server said it would accept, after the last refusal. */
  serverMethods: readonly string[];
  /** A prompt was cancelled: stop rather than try the next method. */
  cancelled: boolean;
  /** Waiting on a person: connection timers should not run. */
  prompting: number;
}

interface Step {
  readonly method: AuthenticationType;
  next(): Promise<AnyAuthMethod | undefined>;
}

/** An ssh2 `authHandler` for this host, and the record of what it tried. */
export function makeAuthHandler(
  host: SshHostConfig,
  prompts: Prompts | undefined,
): {
  handler: (
    methodsLeft: AuthenticationType[] | null,
    partial: boolean | null,
    next: NextAuthHandler,
  ) => void;
  state: AuthState;
} {
  const state: AuthState = { tried: [], serverMethods: [], cancelled: false, prompting: 0 };
  const username = host.user;
  const where = `${username}@${host.alias}`;
  const ask = prompts && !host.batchMode ? prompts : undefined;
  const prompted = async <T>(question: () => Promise<T>): Promise<T> => {
    state.prompting++;
    try {
      return await question();
    } finally {
      state.prompting--;
    }
  };

  const steps: Step[] = [];
  const offered: Buffer[] = [];

  if (host.pubkeyAuthentication && host.identityAgent) {
    const agentSocket = host.identityAgent;
    steps.push({
      method: 'publickey',
      async next() {
        if (!fs.existsSync(agentSocket)) {
          return undefined;
        }
        let agent: OpenSSHAgent = new OpenSSHAgent(agentSocket);
        if (host.identitiesOnly) {
          const allowed = host.identityFiles
            .map(publicKeyOf)
            .filter((key): key is Buffer => key !== undefined);
          if (allowed.length === 0) {
            return undefined;
          }
          agent = new FilteredAgent(agentSocket, allowed);
        }
        // keys the agent holds need not be offered again from their files
        await new Promise<void>((resolve) => {
          agent.getIdentities((_error, keys) => {
            for (const key of keys ?? []) {
              const blob = agentKeyBlob(key);
              if (blob) {
                offered.push(blob);
              }
            }
            resolve();
          });
        });
        state.tried.push(`publickey (agent ${agentSocket})`);
        return { type: 'agent', username, agent } as AnyAuthMethod;
      },
    });
  }

  if (host.pubkeyAuthentication) {
    for (const file of host.identityFiles) {
      steps.push({
        method: 'publickey',
        async next() {
          let data: Buffer;
          try {
            data = fs.readFileSync(file);
          } catch {
            return undefined; // OpenSSH skips missing identity files silently too
          }
          const pub = publicKeyOf(file);
          if (pub && offered.some((key) => key.equals(pub))) {
            return undefined;
          }
          let key = parseOne(data);
          if (key instanceof Error && isEncryptedKeyError(key)) {
            if (!ask?.passphrase) {
              state.tried.push(`publickey (${file}: encrypted, no passphrase asked)`);
              return undefined;
            }
            for (let attempt = 1; key instanceof Error && attempt <= 3; attempt++) {
              const passphrase = await prompted(() =>
                ask.passphrase!({ host: where, keyFile: file, attempt }),
              );
              if (passphrase === undefined) {
                state.tried.push(`publickey (${file}: passphrase cancelled)`);
                return undefined;
              }
              key = parseOne(data, passphrase);
            }
          }
          if (key instanceof Error) {
            state.tried.push(`publickey (${file}: ${key.message})`);
            return undefined;
          }
          offered.push(key.getPublicSSH());
          state.tried.push(`publickey (${file})`);
          return { type: 'publickey', username, key } as AnyAuthMethod;
        },
      });
    }
  }

  if (host.kbdInteractiveAuthentication) {
    for (let attempt = 1; attempt <= host.numberOfPasswordPrompts; attempt++) {
      steps.push({
        method: 'keyboard-interactive',
        async next() {
          if (!ask?.password || state.cancelled) {
            return undefined;
          }
          state.tried.push('keyboard-interactive');
          return {
            type: 'keyboard-interactive',
            username,
            prompt: (name, instructions, _lang, questions, finish) => {
              void (async () => {
                const answers: string[] = [];
                for (const question of questions) {
                  const answer = await prompted(() =>
                    ask.password!({
                      kind: 'keyboard-interactive',
                      host: host.alias,
                      user: username,
                      prompt: question.prompt,
                      echo: question.echo ?? false,
                      attempt,
                      instructions: [name, instructions].filter(Boolean).join('\n') || undefined,
                    }),
                  );
                  if (answer === undefined) {
                    state.cancelled = true;
                    break;
                  }
                  answers.push(answer);
                }
                finish(state.cancelled ? [] : answers);
              })();
            },
          } as AnyAuthMethod;
        },
      });
    }
  }

  if (host.passwordAuthentication) {
    for (let attempt = 1; attempt <= host.numberOfPasswordPrompts; attempt++) {
      steps.push({
        method: 'password',
        async next() {
          if (!ask?.password || state.cancelled) {
            return undefined;
          }
          const password = await prompted(() =>
            ask.password!({
              kind: 'password',
              host: host.alias,
              user: username,
              prompt: `${where}'s password: `,
              echo: false,
              attempt,
            }),
          );
          if (password === undefined) {
            state.cancelled = true;
            return undefined;
          }
          state.tried.push('password');
          return { type: 'password', username, password } as AnyAuthMethod;
        },
      });
    }
  }

  let index = 0;
  let askedNone = false;
  let known: readonly string[] | undefined;
  const handler = (
    methodsLeft: AuthenticationType[] | null,
    _partial: boolean | null,
    next: NextAuthHandler,
  ): void => {
    // ssh2 passes no list after an agent's keys fail: keep the last one the server sent
    if (methodsLeft) {
      known = methodsLeft;
      state.serverMethods = methodsLeft;
    }
    if (!askedNone) {
      // as OpenSSH does: a 'none' request first tells which methods the server takes
      askedNone = true;
      next({ type: 'none', username } as AnyAuthMethod);
      return;
    }
    const allowed = methodsLeft ?? known;
    void (async () => {
      while (index < steps.length && !state.cancelled) {
        const step = steps[index++];
        if (allowed && !allowed.includes(step.method)) {
          continue;
        }
        try {
          const method = await step.next();
          if (method) {
            next(method);
            return;
          }
        } catch (error) {
          state.tried.push(`${step.method} (${(error as Error).message})`);
        }
      }
      next(false as unknown as AnyAuthMethod);
    })();
  };
  return { handler, state };
}
