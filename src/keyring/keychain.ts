// The `keychain:` backend: a software private key kept in the OS keychain (keychain-store.ts)
// as its PKCS#8 DER (base64), item trustdesk/<canonical key id>. Also the "wrap" mode for
// `file:` keys: a random 32-byte wrapping key kept in the keychain under the same naming, which
// the file backend uses instead of an argon2id passphrase (KDF "keychain" in the key file).
//
// Rules enforced here:
// - list()/scan() read only the public sidecars (`<trustDir>/keyring/keychain/`): the keychain
//   itself is never touched, so listing cannot prompt, hang or fail for a locked keychain.
// - generate/import: the keychain item is written first (never overwriting one), then the
//   sidecar; if the sidecar cannot be written the item is deleted again.
// - signer/export: the item must decode to a private key whose public key is the record's
//   (ERR_KEY_MISMATCH otherwise, e.g. a wrapping key under that ID); a missing item is
//   ERR_MISSING_KEY. Secret buffers are zeroed once the KeyObject is built.
// - The keychain unlocks itself (OS login / its own prompt), so the Prompter is only used for
//   a notice when the keychain is slow to answer (it is probably showing an unlock dialog).

import { randomBytes } from 'node:crypto';
import { TrustdeskError } from '../tuf/errors.js';
import { KeyObjectSigner } from '../tuf/key-object-signer.js';
import type { PublicKey } from '../tuf/keys.js';
import { formatRfc3339 } from '../tuf/metadata.js';
import {
  DEFAULT_KEYCHAIN_TIMEOUT_MS,
  KeychainStore,
  type KeychainCallOptions,
} from './keychain-store.js';
import {
  generateMaterial,
  keyObjectFromMaterial,
  materialMatches,
  publicKeyOfMaterial,
} from './private-key.js';
import { PublicSidecar } from './public-sidecar.js';
import {
  formatKeyUri,
  throwIfAborted,
  wipe,
  type BackendFactory,
  type GenerateOptions,
  type ImportOptions,
  type KeyBackend,
  type KeyProblem,
  type KeyRecord,
  type KeyUri,
  type PrivateKeyMaterial,
  type Prompter,
} from './types.js';

export const WRAPPING_KEY_BYTES = 32;

function slowNotice(prompter: Prompter | undefined, signal?: AbortSignal): KeychainCallOptions {
  return {
    ...(signal ? { signal } : {}),
    ...(prompter
      ? {
          onSlow: () =>
            prompter.notice({
              kind: 'info',
              message: 'Waiting for the OS keychain (it may be asking you to unlock it)…',
            }),
        }
      : {}),
  };
}

export interface KeychainBackendOptions {
  trustDir: string;
  store: KeychainStore;
}

export class KeychainBackend implements KeyBackend {
  readonly name = 'keychain' as const;
  readonly store: KeychainStore;
  readonly #sidecar: PublicSidecar;

  constructor(opts: KeychainBackendOptions) {
    this.store = opts.store;
    this.#sidecar = new PublicSidecar(opts.trustDir, 'keychain');
  }

  async list(): Promise<KeyRecord[]> {
    return (await this.#sidecar.scan()).keys;
  }

  scan(): Promise<{ keys: KeyRecord[]; problems: KeyProblem[] }> {
    return this.#sidecar.scan();
  }

  async generate(opts: GenerateOptions, prompter: Prompter): Promise<KeyRecord> {
    throwIfAborted(opts.signal);
    const material = generateMaterial(opts.algorithm);
    try {
      return await this.#store(material, opts, prompter);
    } finally {
      wipe(material.pkcs8);
    }
  }

  importPrivate(
    key: PrivateKeyMaterial,
    opts: ImportOptions,
    prompter: Prompter,
  ): Promise<KeyRecord> {
    throwIfAborted(opts.signal);
    return this.#store(key, opts, prompter);
  }

  async #store(
    material: PrivateKeyMaterial,
    opts: GenerateOptions | ImportOptions,
    prompter: Prompter,
  ): Promise<KeyRecord> {
    const publicKey = publicKeyOfMaterial(material);
    const uri: KeyUri = { scheme: 'keychain', keyId: publicKey.canonicalId };
    const rec: KeyRecord = {
      id: publicKey.canonicalId,
      tufId: publicKey.id,
      role: opts.role,
      gun: opts.gun,
      algorithm: material.algorithm,
      backend: 'keychain',
      uri,
      location: formatKeyUri(uri),
      createdAt: formatRfc3339(opts.nowMs),
      publicKey,
    };
    await this.store.create(rec.id, material.pkcs8, slowNotice(prompter, opts.signal));
    try {
      await this.#sidecar.write(rec);
    } catch (e) {
      await this.store.delete(rec.id).catch(() => undefined);
      throw e;
    }
    return rec;
  }

  async #material(record: KeyRecord, prompter: Prompter | undefined): Promise<PrivateKeyMaterial> {
    const secret = await this.store.get(record.id, slowNotice(prompter));
    if (!secret) {
      throw new TrustdeskError(
        'ERR_MISSING_KEY',
        `the OS keychain has no item ${this.store.service}/${record.id} (deleted outside trustdesk?)`,
        {
          hint: 'Restore the key from a backup (trustdesk key restore / key import), or rotate it.',
        },
      );
    }
    const material: PrivateKeyMaterial = { algorithm: record.algorithm, pkcs8: secret };
    let ok = false;
    try {
      ok = secret.length !== WRAPPING_KEY_BYTES && materialMatches(material, record.publicKey);
    } catch {
      ok = false;
    }
    if (!ok) {
      wipe(secret);
      throw new TrustdeskError(
        'ERR_KEY_MISMATCH',
        `the OS keychain item ${this.store.service}/${record.id} is not the private key of ${record.id}`,
      );
    }
    return material;
  }

  async signer(
    record: KeyRecord,
    prompter: Prompter,
    publicKey?: PublicKey,
  ): Promise<KeyObjectSigner> {
    const material = await this.#material(record, prompter);
    try {
      return new KeyObjectSigner(keyObjectFromMaterial(material), publicKey);
    } finally {
      wipe(material.pkcs8);
    }
  }

  exportPrivate(record: KeyRecord, prompter: Prompter): Promise<PrivateKeyMaterial> {
    return this.#material(record, prompter);
  }

  async remove(record: KeyRecord): Promise<void> {
    await this.store.delete(record.id);
    await this.#sidecar.remove(record.id);
  }
}

// ---------------------------------------------------------------------------------------------
// Wrap mode: the keychain holds a random key that encrypts a `file:` key file.

/** Makes, stores and returns a new wrapping key for `keyId` (the caller wipes it). */
export async function createWrappingKey(
  store: KeychainStore,
  keyId: string,
  call: KeychainCallOptions = {},
): Promise<Uint8Array> {
  const key = new Uint8Array(randomBytes(WRAPPING_KEY_BYTES));
  try {
    await store.create(keyId, key, call);
  } catch (e) {
    wipe(key);
    throw e;
  }
  return key;
}

/** The wrapping key of `keyId` (the caller wipes it). */
export async function loadWrappingKey(
  store: KeychainStore,
  keyId: string,
  call: KeychainCallOptions = {},
): Promise<Uint8Array> {
  const key = await store.get(keyId, call);
  if (!key) {
    throw new TrustdeskError(
      'ERR_MISSING_KEY',
      `the OS keychain has no wrapping key ${store.service}/${keyId} for this key file`,
      {
        hint: 'The key file cannot be opened without it: restore the key from a backup, or rotate it.',
      },
    );
  }
  if (key.length !== WRAPPING_KEY_BYTES) {
    wipe(key);
    throw new TrustdeskError(
      'ERR_KEY_MISMATCH',
      `the OS keychain item ${store.service}/${keyId} is not a ${WRAPPING_KEY_BYTES}-byte wrapping key`,
    );
  }
  return key;
}

/** Environment knobs: TRUSTDESK_KEYCHAIN_TIMEOUT_MS (ms, default 30000). */
export function keychainStoreFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): KeychainStore {
  const t = Number(env.TRUSTDESK_KEYCHAIN_TIMEOUT_MS);
  return new KeychainStore({
    env,
    timeoutMs: Number.isInteger(t) && t > 0 ? t : DEFAULT_KEYCHAIN_TIMEOUT_MS,
  });
}

export const createKeychainBackend: BackendFactory = (ctx) =>
  new KeychainBackend({ trustDir: ctx.trustDir, store: keychainStoreFromEnv(ctx.env) });
