// Where the private halves live. A KeyVault makes new keys and turns stored rows back into
// Signers; the KeyService (key-service.ts) does the bookkeeping around it.
//   - JweVault: software keys generated with node:crypto, sealed as JWE under the default
//     alias's passphrase (jwe.ts), opened with the passphrase of the row's alias.
//   - Pkcs11Vault (pkcs11-vault.ts): keys generated on a token that never leave it.
// check() runs at start: every alias in use must unlock (one key each is opened), so a wrong
// passphrase stops the signer at once, naming the alias, instead of failing signatures later.

import { KeyObjectSigner } from '../src/tuf/key-object-signer.js';
import { wipe } from '../src/keyring/types.js';
import { TrustdeskError } from '../src/tuf/errors.js';
import { PublicKey, type Signer } from '../src/tuf/keys.js';
import { ENCRYPTION_ALG, KEYWRAP_ALG, openPrivate, sealPrivate } from './jwe.js';
import {
  generateKeyObject,
  goPrivateBytes,
  keyFromGoPrivateBytes,
  type SignerAlgorithm,
} from './key-material.js';
import { passphraseEnvNames, type Passphrases } from './passphrases.js';
import { type KeyRow } from './store/types.js';

/** A Signer the service may cache; `close` releases token sessions. */
export type VaultSigner = Signer & { close?(): Promise<void> };

export interface NewKey {
  /** The row to insert (lastUsedMs null). */
  row: KeyRow;
  publicKey: PublicKey;
  signer: VaultSigner;
}

export interface KeyVault {
  /** "jwe" | "pkcs11" (logs). */
  readonly kind: string;
  /** What CreateKey may ask for (Go: the crypto service index). */
  readonly algorithms: readonly SignerAlgorithm[];
  generate(algorithm: SignerAlgorithm, gun: string, role: string): Promise<NewKey>;
  open(row: KeyRow, publicKey: PublicKey): Promise<VaultSigner>;
  /** Removes what the vault keeps outside the row (token objects); after the row is gone. */
  destroy(row: KeyRow, publicKey: PublicKey): Promise<void>;
  /** Start-up check given one row per alias in use. */
  check(samples: readonly KeyRow[]): Promise<void>;
  close(): Promise<void>;
}

export class JweVault implements KeyVault {
  readonly kind = 'jwe';
  readonly algorithms = ['ecdsa', 'ed25519'] as const;

  constructor(
    readonly passphrases: Passphrases,
    readonly defaultAlias: string,
  ) {}

  async generate(algorithm: SignerAlgorithm, gun: string, role: string): Promise<NewKey> {
    const passphrase = this.passphrases.get(this.defaultAlias);
    const signer = new KeyObjectSigner(generateKeyObject(algorithm));
    const plain = goPrivateBytes(signer.privateKey);
    try {
      const sealed = await sealPrivate(plain, passphrase);
      return {
        publicKey: signer.publicKey,
        signer,
        row: {
          keyId: signer.keyId,
          algorithm,
          gun,
          role,
          publicBytes: signer.publicKey.publicBytes,
          private: sealed,
          passphraseAlias: this.defaultAlias,
          encryptionAlg: ENCRYPTION_ALG,
          keywrapAlg: KEYWRAP_ALG,
          lastUsedMs: null,
        },
      };
    } finally {
      wipe(plain);
    }
  }

  async open(row: KeyRow, publicKey: PublicKey): Promise<VaultSigner> {
    const what = `key ${row.keyId} (alias "${row.passphraseAlias}")`;
    if (row.keywrapAlg !== KEYWRAP_ALG || row.encryptionAlg !== ENCRYPTION_ALG) {
      throw new TrustdeskError(
        'ERR_KEY_UNREADABLE',
        `${what} is sealed with ${row.keywrapAlg}/${row.encryptionAlg}, not ${KEYWRAP_ALG}/${ENCRYPTION_ALG}`,
      );
    }
    const plain = await openPrivate(row.private, this.passphrases.get(row.passphraseAlias), what);
    try {
      return new KeyObjectSigner(keyFromGoPrivateBytes(publicKey, plain, what), publicKey);
    } finally {
      wipe(plain);
    }
  }

  destroy(): Promise<void> {
    return Promise.resolve();
  }

  async check(samples: readonly KeyRow[]): Promise<void> {
    this.passphrases.get(this.defaultAlias);
    for (const row of samples) {
      try {
        await this.open(row, new PublicKey(row.algorithm, row.publicBytes));
      } catch (e) {
        if (e instanceof TrustdeskError && e.code === 'ERR_BAD_PASSPHRASE') throw e;
        throw new TrustdeskError(
          'ERR_BAD_PASSPHRASE',
          `the passphrase of key DB alias "${row.passphraseAlias}" does not open its keys (tried key ${row.keyId})`,
          {
            cause: e,
            hint: `Set ${passphraseEnvNames(row.passphraseAlias)[0]} to the passphrase the "${row.passphraseAlias}" keys were sealed with.`,
          },
        );
      }
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
