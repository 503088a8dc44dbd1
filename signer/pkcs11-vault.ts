// Keys on a PKCS#11 token (`storage.backend: pkcs11`), through the keyring's pkcs11 backend
// (src/keyring/pkcs11.ts): EC P-256 key pairs generated ON the token, private halves
// CKA_SENSITIVE and non-extractable, signatures made by the token (CKM_ECDSA over SHA-256).
// Someone who takes over the signer can ask it to sign but cannot copy a key out.
//
// The key DB row keeps the bookkeeping as for software keys; `private` holds the key's
// pkcs11: URI (token label + serial, CKA_ID, module path — no secret), encryption_alg and
// keywrap_alg are "pkcs11", and the alias is the token label. Only ecdsa is offered, so
// CreateKey for ed25519 answers "algorithm ed25519 not supported for create key".
// The user PIN comes from the environment or a PIN file, never from argv or the config file;
// a wrong PIN is tried once (tokens lock after a few failures).

import { Pkcs11Backend } from '../src/keyring/pkcs11.js';
import { ScriptPrompter } from '../src/keyring/prompter.js';
import { parseKeyUri, type KeyRecord, type KeyUri } from '../src/keyring/types.js';
import { TrustdeskError } from '../src/tuf/errors.js';
import { PublicKey } from '../src/tuf/keys.js';
import { type SignerAlgorithm } from './key-material.js';
import { type KeyRow } from './store/types.js';
import { type KeyVault, type NewKey, type VaultSigner } from './vault.js';

export const PKCS11_SEAL = 'pkcs11';

export interface Pkcs11VaultOptions {
  modulePath: string;
  tokenLabel?: string;
  tokenSerial?: string;
  /** The user PIN (from TRUSTDESK_SIGNER_PKCS11_PIN), or a file holding it. */
  pin?: string;
  pinFile?: string;
  /** Directory for the keyring's public sidecar files. */
  stateDir: string;
}

export class Pkcs11Vault implements KeyVault {
  readonly kind = 'pkcs11';
  readonly algorithms = ['ecdsa'] as const;
  readonly #backend: Pkcs11Backend;
  readonly #prompter: ScriptPrompter;
  readonly #target: KeyUri;
  readonly #alias: string;

  constructor(opts: Pkcs11VaultOptions) {
    if (opts.tokenLabel === undefined && opts.tokenSerial === undefined) {
      throw new TrustdeskError(
        'ERR_CONFIG',
        'storage.pkcs11 needs token_label or token_serial to find the token',
      );
    }
    this.#backend = new Pkcs11Backend({ trustDir: opts.stateDir, modules: [opts.modulePath] });
    this.#prompter = new ScriptPrompter({
      env: { TRUSTDESK_PKCS11_PIN: opts.pin },
      ...(opts.pinFile !== undefined ? { pinFile: opts.pinFile } : {}),
    });
    this.#target = {
      scheme: 'pkcs11',
      attrs: {
        ...(opts.tokenLabel !== undefined ? { token: opts.tokenLabel } : {}),
        ...(opts.tokenSerial !== undefined ? { serial: opts.tokenSerial } : {}),
        'module-path': opts.modulePath,
      },
      vendor: {},
    };
    this.#alias = (opts.tokenLabel ?? opts.tokenSerial ?? '').slice(0, 50);
  }

  async generate(algorithm: SignerAlgorithm, gun: string, role: string): Promise<NewKey> {
    const rec = await this.#backend.generate(
      { algorithm, gun, role, nowMs: Date.now(), target: this.#target },
      this.#prompter,
    );
    const signer = await this.#backend.signer(rec, this.#prompter);
    return {
      publicKey: rec.publicKey,
      signer,
      row: {
        keyId: rec.publicKey.id,
        algorithm,
        gun,
        role,
        publicBytes: rec.publicKey.publicBytes,
        private: rec.location,
        passphraseAlias: this.#alias,
        encryptionAlg: PKCS11_SEAL,
        keywrapAlg: PKCS11_SEAL,
        lastUsedMs: null,
      },
    };
  }

  #record(row: KeyRow, publicKey: PublicKey): KeyRecord {
    if (row.keywrapAlg !== PKCS11_SEAL) {
      throw new TrustdeskError(
        'ERR_KEY_UNREADABLE',
        `key ${row.keyId} is a software key (${row.keywrapAlg}); this signer keeps keys on a PKCS#11 token`,
      );
    }
    return {
      id: publicKey.id,
      tufId: publicKey.id,
      role: row.role,
      gun: row.gun,
      algorithm: 'ecdsa',
      backend: 'pkcs11',
      uri: parseKeyUri(row.private),
      location: row.private,
      createdAt: null,
      publicKey,
    };
  }

  open(row: KeyRow, publicKey: PublicKey): Promise<VaultSigner> {
    return this.#backend.signer(this.#record(row, publicKey), this.#prompter, publicKey);
  }

  destroy(row: KeyRow, publicKey: PublicKey): Promise<void> {
    return this.#backend.remove(this.#record(row, publicKey), this.#prompter);
  }

  async check(samples: readonly KeyRow[]): Promise<void> {
    for (const row of samples) {
      const signer = await this.open(row, new PublicKey(row.algorithm, row.publicBytes));
      await signer.close?.();
    }
  }

  close(): Promise<void> {
    return this.#backend.close();
  }
}
