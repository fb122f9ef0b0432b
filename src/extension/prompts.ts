// The engine's connection questions (src/core/prompts.ts) answered with VS Code inputs. Answers the
// user asks to remember go to SecretStorage (the OS keychain), never to settings; a remembered
// answer that fails is forgotten and asked for again.

import * as vscode from 'vscode';
import type {
  HostKeyRequest,
  PassphraseRequest,
  PasswordRequest,
  Prompts,
  SecretRequest,
} from '../core/prompts';

const REMEMBER = 'Remember in the keychain';

export class EditorPrompts implements Prompts {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  passphrase(request: PassphraseRequest): Promise<string | undefined> {
    return this.ask(`passphrase:${request.keyFile}`, request.attempt, {
      title: `Passphrase for ${request.keyFile}`,
      prompt: `The key to ${request.host} is encrypted${request.attempt > 1 ? ' (the last passphrase was wrong)' : ''}`,
      password: true,
    });
  }

  password(request: PasswordRequest): Promise<string | undefined> {
    const what =
      request.kind === 'sudo' ? `sudo on ${request.host}` : `${request.user}@${request.host}`;
    return this.ask(
      request.echo ? undefined : `password:${request.kind}:${request.user}@${request.host}`,
      request.attempt,
      {
        title: `${request.prompt.trim() || 'Password'} (${what})`,
        prompt:
          request.instructions ||
          (request.attempt > 1 ? 'That was not accepted: try again' : undefined),
        password: !request.echo,
      },
    );
  }

  async confirmHostKey(request: HostKeyRequest): Promise<boolean> {
    const host = request.host;
    const trust = 'Trust and Connect';
    const choice = await vscode.window.showWarningMessage(
      `The authenticity of host ${host} can't be established.`,
      {
        modal: true,
        detail: `${request.keyType} key fingerprint is ${request.fingerprint}.\n\nIf you trust it, it is added to ${request.knownHostsFile}.`,
      },
      trust,
    );
    return choice === trust;
  }

  secret(request: SecretRequest): Promise<string | undefined> {
    return this.ask(`secret:${request.kind}:${request.address}`, 1, {
      title: `Secret of the socket server ${request.address}`,
      password: true,
    });
  }

  /** A stored answer on the first attempt; otherwise ask, offering to remember it. */
  private async ask(
    key: string | undefined,
    attempt: number,
    options: { title: string; prompt?: string; password: boolean },
  ): Promise<string | undefined> {
    if (key) {
      if (attempt === 1) {
        const stored = await this.secrets.get(key);
        if (stored !== undefined) {
          return stored;
        }
      } else {
        await this.secrets.delete(key);
      }
    }
    const answer = await vscode.window.showInputBox({
      title: options.title,
      prompt: options.prompt,
      password: options.password,
      ignoreFocusOut: true,
    });
    if (answer !== undefined && key) {
      // asked on the side: the connection goes on meanwhile
      const storeKey = key;
      void vscode.window
        .showInformationMessage(`Execnet: remember the answer to "${options.title}"?`, REMEMBER)
        .then((choice) => (choice === REMEMBER ? this.secrets.store(storeKey, answer) : undefined));
    }
    return answer;
  }
}
