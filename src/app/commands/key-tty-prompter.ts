// The terminal Prompter for `trustdesk key …` (the TUI brings its own): prompts on stderr, reads
// secrets from stdin with echo off (raw mode), Ctrl-C / Ctrl-D or an aborted signal cancel with
// ERR_ABORTED. New passphrases are asked twice and must match (up to 3 tries, as Go retries);
// dangerous confirmations need the word "yes" typed out, others accept y/yes.

import { TrustdeskError } from '../../tuf/errors.js';
import { shortId } from '../../keyring/prompter.js';
import {
  MIN_PASSPHRASE_LENGTH,
  type ConfirmRequest,
  type PassphraseRequest,
  type PinRequest,
  type Prompter,
  type PrompterNotice,
} from '../../keyring/types.js';

export interface TtyInput {
  on(event: 'data', fn: (chunk: Buffer | string) => void): unknown;
  off(event: 'data', fn: (chunk: Buffer | string) => void): unknown;
  setRawMode?(raw: boolean): unknown;
  isRaw?: boolean;
  resume(): unknown;
  pause(): unknown;
}

export interface TtyOutput {
  write(s: string): unknown;
}

const NEW_TRIES = 3;

export class TtyPrompter implements Prompter {
  constructor(
    readonly input: TtyInput,
    readonly output: TtyOutput,
  ) {}

  /** Reads one line; `secret` turns echo off. Resolves without the line terminator. */
  readLine(prompt: string, secret: boolean, signal?: AbortSignal): Promise<string> {
    if (signal?.aborted) return Promise.reject(new TrustdeskError('ERR_ABORTED', 'cancelled'));
    this.output.write(prompt);
    const raw = secret && typeof this.input.setRawMode === 'function';
    const wasRaw = this.input.isRaw === true;
    if (raw) this.input.setRawMode?.(true);
    return new Promise<string>((resolve, reject) => {
      let line = '';
      const finish = (err?: TrustdeskError) => {
        this.input.off('data', onData);
        signal?.removeEventListener('abort', onAbort);
        if (raw) this.input.setRawMode?.(wasRaw);
        this.input.pause();
        if (secret) this.output.write('\n');
        if (err) reject(err);
        else resolve(line);
      };
      const onAbort = () => finish(new TrustdeskError('ERR_ABORTED', 'cancelled'));
      const onData = (chunk: Buffer | string) => {
        for (const ch of chunk.toString()) {
          if (ch === '\u0003' || ch === '\u0004')
            return finish(new TrustdeskError('ERR_ABORTED', 'cancelled at the prompt'));
          if (ch === '\r' || ch === '\n') return finish();
          if (ch === '\u007f' || ch === '\b') line = [...line].slice(0, -1).join('');
          else line += ch;
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.input.on('data', onData);
      this.input.resume();
    });
  }

  async passphrase(req: PassphraseRequest): Promise<string> {
    const what = `${req.role || 'key'} key${req.keyId ? ` ${shortId(req.keyId)}` : ''}${req.gun ? ` (${req.gun})` : ''}`;
    if (req.mode === 'existing') {
      if (req.attempt > 0) this.output.write('Passphrase incorrect. Please retry.\n');
      return this.readLine(`Enter passphrase for ${what}: `, true, req.signal);
    }
    for (let i = 0; i < NEW_TRIES; i++) {
      const a = await this.readLine(`Enter passphrase for new ${what}: `, true, req.signal);
      if ([...a].length < MIN_PASSPHRASE_LENGTH) {
        this.output.write(
          `Passphrase is too short (at least ${MIN_PASSPHRASE_LENGTH} characters). Use a password manager to generate one.\n`,
        );
        continue;
      }
      const b = await this.readLine(`Repeat passphrase for new ${what}: `, true, req.signal);
      if (a === b) return a;
      this.output.write('Passphrases do not match. Please retry.\n');
    }
    throw new TrustdeskError(
      'ERR_WEAK_PASSPHRASE',
      `no acceptable new passphrase for the ${what} after ${NEW_TRIES} tries`,
    );
  }

  pin(req: PinRequest): Promise<string> {
    if (req.attempt > 0) this.output.write('PIN incorrect.\n');
    if (req.retries === 'final')
      this.output.write('Warning: this is the LAST try before the PIN locks.\n');
    else if (req.retries === 'low') this.output.write('Warning: few PIN tries are left.\n');
    return this.readLine(
      `Enter the ${req.kind === 'new' ? 'new ' : ''}PIN for token "${req.tokenLabel}": `,
      true,
      req.signal,
    );
  }

  async confirm(req: ConfirmRequest): Promise<boolean> {
    const answer = (
      await this.readLine(
        `${req.message} ${req.dangerous ? 'Type "yes" to continue: ' : '[y/N] '}`,
        false,
        req.signal,
      )
    )
      .trim()
      .toLowerCase();
    return req.dangerous ? answer === 'yes' : answer === 'y' || answer === 'yes';
  }

  notice(n: PrompterNotice): void {
    this.output.write(
      n.kind === 'touch'
        ? `Touch the token "${n.tokenLabel}" to sign with key ${shortId(n.keyId)}…\n`
        : `${n.message}\n`,
    );
  }
}
