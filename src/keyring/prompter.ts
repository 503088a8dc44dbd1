// The script-mode Prompter (no terminal: env vars and files, never argv) and the retry loop
// every backend uses to unlock with a passphrase.
//
// Passphrase sources, first match wins:
//   mode 'new' only:   newPassphraseFile, then TRUSTDESK_NEW_PASSPHRASE (for `key passwd`);
//                      when `distinctNew` is set these are the ONLY sources for 'new'
//   both modes:        passphraseFile (--passphrase-file), TRUSTDESK_<ALIAS>_PASSPHRASE,
//                      NOTARY_<ALIAS>_PASSPHRASE (Go's names: root/targets/snapshot/delegation),
//                      then for non-base roles NOTARY_DELEGATION_PASSPHRASE /
//                      TRUSTDESK_DELEGATION_PASSPHRASE (as Go's getPassphraseRetriever does).
// ALIAS is the upper-cased role for base roles, DELEGATION otherwise. A file's secret is its
// first line (trailing CR/LF removed). A repeated ask (attempt > 0) means the supplied secret
// was wrong: asking again would return the same, so it fails with ERR_BAD_PASSPHRASE/ERR_BAD_PIN.
// PIN sources: pinFile, then TRUSTDESK_PKCS11_PIN. confirm() is true only with `assumeYes`.

import { readFile } from 'node:fs/promises';
import { TrustdeskError } from '../tuf/errors.js';
import {
  MAX_PASSPHRASE_ATTEMPTS,
  MIN_PASSPHRASE_LENGTH,
  passphraseAlias,
  throwIfAborted,
  type ConfirmRequest,
  type PassphraseRequest,
  type PinRequest,
  type Prompter,
  type PrompterNotice,
} from './types.js';

export interface ScriptPrompterOptions {
  env: Readonly<Record<string, string | undefined>>;
  passphraseFile?: string;
  newPassphraseFile?: string;
  /** `key passwd`: the new passphrase must come from a 'new' source, not the unlock one. */
  distinctNew?: boolean;
  pinFile?: string;
  /** Answer yes to confirmations (an explicit flag such as --yes). */
  assumeYes?: boolean;
  /** Where notices go (stderr in the CLI); ignored when absent. */
  onNotice?: (n: PrompterNotice) => void;
}

async function firstLine(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TrustdeskError(
      'ERR_IO',
      `cannot read the ${what} file ${path}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const nl = text.search(/\r?\n/);
  return nl === -1 ? text : text.slice(0, nl);
}

export function shortId(id: string): string {
  return id.slice(0, 7);
}

function describe(req: { role: string; gun: string; keyId: string }): string {
  const gun = req.gun ? ` for ${req.gun}` : '';
  const id = req.keyId ? ` ${shortId(req.keyId)}` : '';
  return `${req.role || 'unknown-role'} key${id}${gun}`;
}

export class ScriptPrompter implements Prompter {
  readonly unattended = true;

  constructor(readonly opts: ScriptPrompterOptions) {}

  async passphrase(req: PassphraseRequest): Promise<string> {
    throwIfAborted(req.signal);
    const found = await this.#find(req);
    if (!found) {
      const alias = passphraseAlias(req.role).toUpperCase();
      throw new TrustdeskError(
        'ERR_NO_TTY',
        `no terminal to ask for the ${req.mode === 'new' ? 'new ' : ''}passphrase of the ${describe(req)}`,
        {
          hint:
            req.mode === 'new' && this.opts.distinctNew
              ? 'Give the new passphrase with --new-passphrase-file or TRUSTDESK_NEW_PASSPHRASE (run in a terminal to be asked).'
              : `Set TRUSTDESK_${alias}_PASSPHRASE (or NOTARY_${alias}_PASSPHRASE), use --passphrase-file, or run in a terminal.`,
        },
      );
    }
    if (req.attempt > 0) {
      throw new TrustdeskError(
        'ERR_BAD_PASSPHRASE',
        `the passphrase from ${found.source} does not unlock the ${describe(req)}`,
      );
    }
    return found.value;
  }

  async #find(req: PassphraseRequest): Promise<{ value: string; source: string } | undefined> {
    const { env } = this.opts;
    const fromEnv = (name: string) => {
      const v = env[name];
      return v !== undefined && v !== '' ? { value: v, source: `$${name}` } : undefined;
    };
    if (req.mode === 'new') {
      if (this.opts.newPassphraseFile !== undefined) {
        return {
          value: await firstLine(this.opts.newPassphraseFile, 'new passphrase'),
          source: this.opts.newPassphraseFile,
        };
      }
      const n = fromEnv('TRUSTDESK_NEW_PASSPHRASE');
      if (n || this.opts.distinctNew) return n;
    }
    if (this.opts.passphraseFile !== undefined) {
      return {
        value: await firstLine(this.opts.passphraseFile, 'passphrase'),
        source: this.opts.passphraseFile,
      };
    }
    const alias = passphraseAlias(req.role).toUpperCase();
    const names = [`TRUSTDESK_${alias}_PASSPHRASE`, `NOTARY_${alias}_PASSPHRASE`];
    for (const name of names) {
      const v = fromEnv(name);
      if (v) return v;
    }
    return undefined;
  }

  async pin(req: PinRequest): Promise<string> {
    throwIfAborted(req.signal);
    let found: { value: string; source: string } | undefined;
    if (this.opts.pinFile !== undefined) {
      found = { value: await firstLine(this.opts.pinFile, 'PIN'), source: this.opts.pinFile };
    } else {
      const v = this.opts.env.TRUSTDESK_PKCS11_PIN;
      if (v !== undefined && v !== '') found = { value: v, source: '$TRUSTDESK_PKCS11_PIN' };
    }
    if (!found) {
      throw new TrustdeskError(
        'ERR_NO_TTY',
        `no terminal to ask for the PIN of token ${JSON.stringify(req.tokenLabel)}`,
        { hint: 'Set TRUSTDESK_PKCS11_PIN, give a PIN file, or run in a terminal.' },
      );
    }
    if (req.attempt > 0) {
      throw new TrustdeskError(
        'ERR_BAD_PIN',
        `the PIN from ${found.source} is not accepted by token ${JSON.stringify(req.tokenLabel)}`,
      );
    }
    return found.value;
  }

  confirm(req: ConfirmRequest): Promise<boolean> {
    throwIfAborted(req.signal);
    if (this.opts.assumeYes) return Promise.resolve(true);
    return Promise.reject(
      new TrustdeskError('ERR_NO_TTY', `no terminal to confirm: ${req.message}`, {
        hint: 'Run in a terminal to be asked, or pass the explicit confirmation flag (see --help).',
      }),
    );
  }

  notice(n: PrompterNotice): void {
    this.opts.onNotice?.(n);
  }
}

/** A new passphrase from the prompter, checked for length (Go requires ≥ 8 characters). */
export async function askNewPassphrase(
  prompter: Prompter,
  req: Omit<PassphraseRequest, 'mode' | 'attempt'>,
): Promise<string> {
  const pass = await prompter.passphrase({ ...req, mode: 'new', attempt: 0 });
  if ([...pass].length < MIN_PASSPHRASE_LENGTH) {
    throw new TrustdeskError(
      'ERR_WEAK_PASSPHRASE',
      `the new passphrase for the ${describe(req)} is shorter than ${MIN_PASSPHRASE_LENGTH} characters`,
    );
  }
  return pass;
}

/**
 * Asks for the existing passphrase until `unlock` stops failing with ERR_BAD_PASSPHRASE, at most
 * MAX_PASSPHRASE_ATTEMPTS times. Any other error ends the loop at once.
 */
export async function unlockWithPassphrase<T>(
  prompter: Prompter,
  req: Omit<PassphraseRequest, 'mode' | 'attempt'>,
  unlock: (passphrase: string) => Promise<T>,
): Promise<T> {
  let last: TrustdeskError | undefined;
  for (let attempt = 0; attempt < MAX_PASSPHRASE_ATTEMPTS; attempt++) {
    throwIfAborted(req.signal);
    const pass = await prompter.passphrase({ ...req, mode: 'existing', attempt });
    try {
      return await unlock(pass);
    } catch (e) {
      if (!(e instanceof TrustdeskError) || e.code !== 'ERR_BAD_PASSPHRASE') throw e;
      last = e;
    }
  }
  throw new TrustdeskError(
    'ERR_BAD_PASSPHRASE',
    `${MAX_PASSPHRASE_ATTEMPTS} wrong passphrases for the ${describe(req)}; giving up`,
    { cause: last },
  );
}

/**
 * Asks `first` and falls back to `second` when `first` cannot answer (ERR_NO_TTY): env vars and
 * files take precedence over the terminal, as in Go's passphrase retriever.
 */
export function chainPrompters(first: Prompter, second: Prompter): Prompter {
  const orNext = async <T>(a: () => Promise<T>, b: () => Promise<T>): Promise<T> => {
    try {
      return await a();
    } catch (e) {
      if (e instanceof TrustdeskError && e.code === 'ERR_NO_TTY') return b();
      throw e;
    }
  };
  return {
    passphrase: (r) =>
      orNext(
        () => first.passphrase(r),
        () => second.passphrase(r),
      ),
    pin: (r) =>
      orNext(
        () => first.pin(r),
        () => second.pin(r),
      ),
    confirm: (r) =>
      orNext(
        () => first.confirm(r),
        () => second.confirm(r),
      ),
    notice: (n) => second.notice(n),
  };
}
