// Shared test fixtures for the keyring tests: a cheap KDF profile, scripted prompters, temp dirs.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { FileBackend, type FileBackendOptions } from '../../src/keyring/file-store.js';
import { type KdfCost } from '../../src/keyring/kdf.js';
import { Keyring } from '../../src/keyring/keyring.js';
import type {
  ConfirmRequest,
  PassphraseRequest,
  PinRequest,
  Prompter,
  PrompterNotice,
} from '../../src/keyring/types.js';

/** The cheapest cost READ_LIMITS allows: unit tests must not burn CPU on argon2id. */
export const TEST_COST: KdfCost = {
  profile: 'custom',
  memoryKiB: 8 * 1024,
  iterations: 1,
  parallelism: 1,
};

export const NOW = Date.parse('2025-06-01T12:00:00Z');

export async function tempTrustDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trustdesk-keyring-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Answers passphrase requests from queues: `existing` answers in order (the last one repeats),
 * `fresh` for mode 'new'. Records every request so tests can assert what was asked.
 */
export class ScriptedPrompter implements Prompter {
  readonly asked: PassphraseRequest[] = [];
  readonly confirms: ConfirmRequest[] = [];
  readonly notices: PrompterNotice[] = [];
  constructor(
    public existing: string[],
    public fresh: string[] = existing,
    public answerConfirm = true,
  ) {}

  passphrase(req: PassphraseRequest): Promise<string> {
    this.asked.push(req);
    const q = req.mode === 'new' ? this.fresh : this.existing;
    const v = q.length > 1 ? q.shift() : q[0];
    if (v === undefined) return Promise.reject(new TrustdeskError('ERR_NO_TTY', 'no answer'));
    return Promise.resolve(v);
  }

  pin(_req: PinRequest): Promise<string> {
    return Promise.reject(new TrustdeskError('ERR_NO_TTY', 'no PIN in this test'));
  }

  confirm(req: ConfirmRequest): Promise<boolean> {
    this.confirms.push(req);
    return Promise.resolve(this.answerConfirm);
  }

  notice(n: PrompterNotice): void {
    this.notices.push(n);
  }
}

export function fileBackend(
  trustDir: string,
  extra: Partial<FileBackendOptions> = {},
): FileBackend {
  return new FileBackend({ trustDir, costFor: () => TEST_COST, ...extra });
}

export function fileKeyring(trustDir: string, prompter: Prompter): Keyring {
  return new Keyring({ prompter, backends: [fileBackend(trustDir)] });
}
