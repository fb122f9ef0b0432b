// Prompts with canned answers that record every question, so a test can assert that each
// callback fired exactly as often as expected.

import type {
  HostKeyRequest,
  PassphraseRequest,
  PasswordRequest,
  Prompts,
  SecretRequest,
} from '../../src/core/prompts';

export interface RecordingPrompts extends Prompts {
  readonly asked: {
    passphrase: PassphraseRequest[];
    password: PasswordRequest[];
    confirmHostKey: HostKeyRequest[];
    secret: SecretRequest[];
  };
}

export interface Answers {
  /** Answers in order; the last one repeats. `undefined` cancels. */
  readonly passphrase?: ReadonlyArray<string | undefined>;
  readonly password?: ReadonlyArray<string | undefined>;
  readonly confirmHostKey?: readonly boolean[];
  readonly secret?: ReadonlyArray<string | undefined>;
}

function nth<T>(list: readonly T[] | undefined, index: number): T | undefined {
  if (!list || list.length === 0) {
    return undefined;
  }
  return list[Math.min(index, list.length - 1)];
}

export function recordingPrompts(answers: Answers = {}): RecordingPrompts {
  const asked: RecordingPrompts['asked'] = {
    passphrase: [],
    password: [],
    confirmHostKey: [],
    secret: [],
  };
  return {
    asked,
    passphrase: async (request) => {
      asked.passphrase.push(request);
      return nth(answers.passphrase, asked.passphrase.length - 1);
    },
    password: async (request) => {
      asked.password.push(request);
      return nth(answers.password, asked.password.length - 1);
    },
    confirmHostKey: async (request) => {
      asked.confirmHostKey.push(request);
      return nth(answers.confirmHostKey, asked.confirmHostKey.length - 1) ?? false;
    },
    secret: async (request) => {
      asked.secret.push(request);
      return nth(answers.secret, asked.secret.length - 1);
    },
  };
}
