// Where the local trust service's passphrase comes from (it encrypts the server-held timestamp
// and snapshot private keys in the database; see key-vault.ts).
//
//   1. env TRUSTDESK_SERVER_KEY_PASSPHRASE (non-empty) — the one way for real deployments. Every
//      replica sharing a database must use the same value. Never in the config file or argv.
//   2. Only for the embedded dev setup (no config file: the app passes `devDataDir`): if the env
//      var is unset, a random passphrase is generated once into <dataDir>/server-key-passphrase
//      (mode 0600, refused if group/other can read it) and reused on later starts; a notice says
//      so. Deleting that file makes the stored keys unreadable.
//   3. Otherwise: refuse to start, naming the env var.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustdeskError } from '../../src/tuf/errors.js';

export const PASSPHRASE_ENV = 'TRUSTDESK_SERVER_KEY_PASSPHRASE';
export const DEV_PASSPHRASE_FILE = 'server-key-passphrase';

export interface PassphraseSource {
  passphrase: string;
  /** For messages: "env TRUSTDESK_SERVER_KEY_PASSPHRASE" or the file path. */
  source: string;
}

export function resolvePassphrase(opts: {
  env: NodeJS.ProcessEnv;
  devDataDir?: string;
  notice?: (message: string) => void;
}): PassphraseSource {
  const fromEnv = opts.env[PASSPHRASE_ENV];
  if (fromEnv) return { passphrase: fromEnv, source: `env ${PASSPHRASE_ENV}` };
  if (opts.devDataDir === undefined) {
    throw new TrustdeskError(
      'ERR_USAGE',
      `trust_service.type "local" needs a passphrase for the server's keys: set ${PASSPHRASE_ENV}`,
      { hint: `Set ${PASSPHRASE_ENV} (the same value on every replica), or use a remote signer.` },
    );
  }
  mkdirSync(opts.devDataDir, { recursive: true, mode: 0o700 });
  const file = join(opts.devDataDir, DEV_PASSPHRASE_FILE);
  const generated = randomBytes(32).toString('base64url');
  try {
    writeFileSync(file, `${generated}\n`, { mode: 0o600, flag: 'wx' });
    opts.notice?.(
      `${PASSPHRASE_ENV} is not set: generated a passphrase for the server's keys in ${file} ` +
        `(dev setup only; keep that file, or set ${PASSPHRASE_ENV} in production)`,
    );
    return { passphrase: generated, source: file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new TrustdeskError('ERR_USAGE', `${file} is readable by other users; chmod 600 it`);
  }
  const passphrase = readFileSync(file, 'utf8').trim();
  if (!passphrase)
    throw new TrustdeskError('ERR_USAGE', `${file} is empty; write the passphrase into it`);
  opts.notice?.(`${PASSPHRASE_ENV} is not set: using the passphrase in ${file} (dev setup)`);
  return { passphrase, source: file };
}
