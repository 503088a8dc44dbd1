// `trustdesk-signer rotate-passphrase -config f.json --to <alias>`: re-seals every software key
// in the key DB under the passphrase of <alias> (TRUSTDESK_SIGNER_<ALIAS> or Go's
// NOTARY_SIGNER_<ALIAS>), so an operator can retire a passphrase:
//   1. set the new alias's passphrase in the environment (old aliases' ones stay set);
//   2. run this — keys already under <alias> are left alone; every other key is opened with its
//      own alias's passphrase, checked against its public key, and sealed again;
//   3. ALL updates are written in ONE transaction, each only if the row still holds what was
//      read (a key changed by a running signer meanwhile aborts everything, nothing written);
//   4. then point storage.default_alias at <alias> and drop the old passphrase.
// A key that does not open stops the rotation before anything is written, naming key and alias.
// Go's RotateKeyPassphrase does one key per call; this is the whole DB at once.

import { wipe } from '../src/keyring/types.js';
import { TrustdeskError } from '../src/tuf/errors.js';
import { PublicKey } from '../src/tuf/keys.js';
import { type SignerConfig } from './config.js';
import { ENCRYPTION_ALG, KEYWRAP_ALG, openPrivate, sealPrivate } from './jwe.js';
import { keyFromGoPrivateBytes } from './key-material.js';
import { checkAlias } from './passphrases.js';
import { openStore, passphrasesFor } from './signer.js';
import { type PrivateUpdate } from './store/types.js';

export interface RotationResult {
  rotated: number;
  /** Keys already sealed under the target alias. */
  unchanged: number;
}

export async function rotatePassphrase(
  config: SignerConfig,
  toAlias: string,
  opts: { env: NodeJS.ProcessEnv; notice: (m: string) => void },
): Promise<RotationResult> {
  checkAlias(toAlias, '--to');
  if (config.storage.backend !== 'sqlite' && config.storage.backend !== 'postgres') {
    throw new TrustdeskError(
      'ERR_USAGE',
      `rotate-passphrase works on sqlite and postgres key DBs; storage.backend is ${config.storage.backend}`,
    );
  }
  const passphrases = passphrasesFor(config, opts.env, opts.notice);
  const newPassphrase = passphrases.get(toAlias);
  const store = await openStore(config);
  try {
    const updates: PrivateUpdate[] = [];
    let unchanged = 0;
    for (const row of await store.all()) {
      if (row.passphraseAlias === toAlias) {
        unchanged++;
        continue;
      }
      if (row.keywrapAlg !== KEYWRAP_ALG || row.encryptionAlg !== ENCRYPTION_ALG) {
        throw new TrustdeskError(
          'ERR_KEY_UNREADABLE',
          `key ${row.keyId} is sealed with ${row.keywrapAlg}/${row.encryptionAlg}; only ${KEYWRAP_ALG} keys can be re-sealed`,
        );
      }
      const what = `key ${row.keyId} (alias "${row.passphraseAlias}")`;
      const plain = await openPrivate(row.private, passphrases.get(row.passphraseAlias), what);
      try {
        keyFromGoPrivateBytes(new PublicKey(row.algorithm, row.publicBytes), plain, what);
        updates.push({
          keyId: row.keyId,
          expected: row.private,
          private: await sealPrivate(plain, newPassphrase),
          passphraseAlias: toAlias,
        });
      } finally {
        wipe(plain);
      }
    }
    if (updates.length > 0) await store.replacePrivate(updates);
    return { rotated: updates.length, unchanged };
  } finally {
    await store.close();
  }
}
