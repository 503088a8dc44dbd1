// The `local` trust service: the server generates and holds its timestamp/snapshot keys itself,
// encrypted in its own database (MetaStore server-key rows), never in plaintext.
//
// - Passphrase: env TRUSTDESK_SERVER_KEY_PASSPHRASE, or a generated file in the data dir for the
//   embedded dev setup only (passphrase.ts). Keys are sealed with argon2id + AES-256-GCM, bound to
//   (key ID, GUN, role, algorithm) (key-vault.ts).
// - Start-up check: a passphrase-check row (a fixed 64-hex ID, algorithm "passphrase-check", which
//   createKey never asks for; getKey/signers skip its ID) holds a sealed constant.
//   The first start writes it; later starts must decrypt it, else we refuse to start with an error
//   naming the env var — before any key is created under a second passphrase. Its salt and KDF
//   parameters are shared by every key blob, so the KDF runs once per process.
// - createKey reuses a never-used key for (gun, role, algorithm) like Go's SQL signer, so repeated
//   `.key` GETs before the first publish return the same key; in this process creation is also
//   serialised per (gun, role, algorithm). Algorithms: ecdsa (P-256, the default) | ed25519.
// - Decrypted keys live as node KeyObjects in a bounded in-memory cache; the decrypted PKCS#8
//   bytes are zeroed right after parsing. A key is marked used in the store before its first
//   signature (so it is never handed out as "new" once it has signed).
// - A decrypted key must match its row's public key and key ID, else ERR_KEY_UNREADABLE.

import { createPrivateKey } from 'node:crypto';
import { sha256Hex } from '../../src/tuf/encoding.js';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { PublicKey, type Signer } from '../../src/tuf/keys.js';
import type { MetaStore, StoredServerKey } from '../storage/types.js';
import { KeyVault, type KdfParams, DEFAULT_KDF } from './key-vault.js';
import type { KeyAlgorithm, TrustService } from './types.js';
import { PASSPHRASE_ENV } from './passphrase.js';

export type ServerKeyStore = Pick<
  MetaStore,
  'putServerKey' | 'getServerKey' | 'findUnusedServerKey' | 'markServerKeyUsed'
>;

export interface LocalTrustOptions {
  passphrase: string;
  /** For error messages: where the passphrase came from. */
  passphraseSource?: string;
  keyAlgorithm?: KeyAlgorithm;
  /** KDF cost for a new database (existing blobs carry their own). Tests lower it. */
  kdf?: KdfParams;
  /** Decrypted keys kept in memory (default 10 000). */
  cacheSize?: number;
}

export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['ecdsa', 'ed25519'];
const ROLES = ['timestamp', 'snapshot'] as const;

export const PASSPHRASE_CHECK_KEY_ID = sha256Hex(
  new TextEncoder().encode('trustdesk-server local trust service: passphrase check'),
);
const CHECK_GUN = 'trustdesk/passphrase-check';
const CHECK_ALGORITHM = 'passphrase-check';
const CHECK_TEXT = 'trustdesk-server local trust service, blob format 1';

/** What a key blob is bound to (AES-GCM associated data). */
export function serverKeyContext(
  row: Pick<StoredServerKey, 'keyId' | 'gun' | 'role' | 'algorithm'>,
): string[] {
  return ['trustdesk-server-key', row.keyId, row.gun, row.role, row.algorithm];
}

export function isKeyAlgorithm(a: string): a is KeyAlgorithm {
  return (KEY_ALGORITHMS as readonly string[]).includes(a);
}

/** Opens the service: checks (or, on a new database, records) the passphrase. */
export async function openLocalTrustService(
  store: ServerKeyStore,
  opts: LocalTrustOptions,
): Promise<LocalTrustService> {
  const source = opts.passphraseSource ?? `env ${PASSPHRASE_ENV}`;
  const checkRow = {
    keyId: PASSPHRASE_CHECK_KEY_ID,
    gun: CHECK_GUN,
    role: 'timestamp' as const,
    algorithm: CHECK_ALGORITHM,
  };
  const verify = async (row: StoredServerKey): Promise<KeyVault> => {
    const vault = KeyVault.sharing(opts.passphrase, row.encryptedPrivate, 'passphrase check');
    try {
      const text = await vault.open(
        row.encryptedPrivate,
        serverKeyContext(row),
        'passphrase check',
      );
      if (text.toString('utf8') !== CHECK_TEXT) throw new Error('unexpected check text');
      return vault;
    } catch (e) {
      await vault.close();
      throw new TrustdeskError(
        'ERR_BAD_PASSPHRASE',
        `the server key passphrase (${source}) does not decrypt the keys already stored in this ` +
          `database; set ${PASSPHRASE_ENV} to the passphrase they were created with`,
        { cause: e },
      );
    }
  };

  let existing = await store.getServerKey(PASSPHRASE_CHECK_KEY_ID);
  let vault: KeyVault;
  if (existing) {
    vault = await verify(existing);
  } else {
    vault = new KeyVault(opts.passphrase, opts.kdf ?? DEFAULT_KDF);
    const blob = await vault.seal(new TextEncoder().encode(CHECK_TEXT), serverKeyContext(checkRow));
    try {
      await store.putServerKey({
        ...checkRow,
        publicKey: new Uint8Array(0),
        encryptedPrivate: blob,
      });
    } catch (e) {
      // Another replica created it first: ours must agree with theirs.
      await vault.close();
      existing = await store.getServerKey(PASSPHRASE_CHECK_KEY_ID);
      if (!existing) throw e;
      vault = await verify(existing);
    }
  }
  return new LocalTrustService(
    store,
    vault,
    opts.keyAlgorithm ?? 'ecdsa',
    opts.cacheSize ?? 10_000,
  );
}

export class LocalTrustService implements TrustService {
  readonly type = 'local';
  readonly #store: ServerKeyStore;
  readonly #vault: KeyVault;
  readonly #cacheSize: number;
  /** keyId → decrypted signer (insertion order = LRU order). */
  readonly #cache = new Map<string, Promise<KeyObjectSigner>>();
  /** Keys known to be marked used in the store. */
  readonly #used = new Set<string>();
  readonly #creating = new Map<string, Promise<PublicKey>>();
  #closed = false;

  constructor(
    store: ServerKeyStore,
    vault: KeyVault,
    readonly keyAlgorithm: KeyAlgorithm,
    cacheSize: number,
  ) {
    this.#store = store;
    this.#vault = vault;
    this.#cacheSize = cacheSize;
  }

  async createKey(
    gun: string,
    role: 'timestamp' | 'snapshot',
    algorithm: string,
  ): Promise<PublicKey> {
    this.#open();
    if (!isKeyAlgorithm(algorithm)) {
      throw new TrustdeskError(
        'ERR_UNSUPPORTED_KEY',
        `algorithm ${algorithm} not supported for create key`,
      );
    }
    if (!ROLES.includes(role)) {
      throw new TrustdeskError(
        'ERR_BAD_ROLE',
        `the server holds only timestamp and snapshot keys, not ${role}`,
      );
    }
    // One creation at a time per (gun, role, algorithm), so concurrent GETs agree on one key.
    const lockId = JSON.stringify([gun, role, algorithm]);
    const prev = this.#creating.get(lockId) ?? Promise.resolve(undefined);
    const next = prev.catch(() => undefined).then(() => this.#createKey(gun, role, algorithm));
    this.#creating.set(lockId, next);
    try {
      return await next;
    } finally {
      if (this.#creating.get(lockId) === next) this.#creating.delete(lockId);
    }
  }

  async #createKey(
    gun: string,
    role: 'timestamp' | 'snapshot',
    algorithm: KeyAlgorithm,
  ): Promise<PublicKey> {
    const unused = await this.#store.findUnusedServerKey(gun, role, algorithm);
    if (unused) return (await this.#signerFor(unused)).publicKey;

    const signer = KeyObjectSigner.generate(algorithm);
    const row = { keyId: signer.keyId, gun, role, algorithm };
    const der = signer.privateKey.export({ format: 'der', type: 'pkcs8' });
    let encryptedPrivate: Uint8Array;
    try {
      encryptedPrivate = await this.#vault.seal(der, serverKeyContext(row));
    } finally {
      der.fill(0);
    }
    await this.#store.putServerKey({
      ...row,
      publicKey: signer.publicKey.publicBytes,
      encryptedPrivate,
    });
    this.#remember(signer.keyId, Promise.resolve(signer));
    return signer.publicKey;
  }

  async getKey(keyId: string): Promise<{ publicKey: PublicKey; role: string } | undefined> {
    this.#open();
    if (keyId === PASSPHRASE_CHECK_KEY_ID) return undefined;
    const row = await this.#store.getServerKey(keyId);
    if (!row) return undefined;
    return { publicKey: new PublicKey(row.algorithm, row.publicKey), role: row.role };
  }

  async signers(keyIds: readonly string[]): Promise<Signer[]> {
    this.#open();
    const out: Signer[] = [];
    for (const keyId of new Set(keyIds)) {
      if (keyId === PASSPHRASE_CHECK_KEY_ID) continue;
      let inner: KeyObjectSigner;
      const cached = this.#cache.get(keyId);
      if (cached) {
        this.#remember(keyId, cached);
        inner = await cached;
      } else {
        const row = await this.#store.getServerKey(keyId);
        if (!row) continue;
        inner = await this.#signerFor(row);
      }
      out.push(this.#markingSigner(inner));
    }
    return out;
  }

  check(): Promise<void> {
    this.#open();
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.clear();
    await this.#vault.close();
  }

  #open(): void {
    if (this.#closed) throw new TrustdeskError('ERR_INTERNAL', 'the local trust service is closed');
  }

  /** Wraps a key so its first signature marks it used in the store (before signing). */
  #markingSigner(inner: KeyObjectSigner): Signer {
    return {
      keyId: inner.keyId,
      publicKey: inner.publicKey,
      sign: async (message: Uint8Array): Promise<Uint8Array> => {
        if (!this.#used.has(inner.keyId)) {
          await this.#store.markServerKeyUsed(inner.keyId);
          this.#used.add(inner.keyId);
        }
        return inner.signSync(message);
      },
    };
  }

  #signerFor(row: StoredServerKey): Promise<KeyObjectSigner> {
    const cached = this.#cache.get(row.keyId);
    if (cached) return cached;
    if (row.lastUsed) this.#used.add(row.keyId);
    const p = this.#decrypt(row);
    this.#remember(row.keyId, p);
    p.catch(() => this.#cache.delete(row.keyId));
    return p;
  }

  #remember(keyId: string, p: Promise<KeyObjectSigner>): void {
    this.#cache.delete(keyId);
    this.#cache.set(keyId, p);
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
    }
  }

  async #decrypt(row: StoredServerKey): Promise<KeyObjectSigner> {
    const what = `server key ${row.keyId} (${row.gun} ${row.role})`;
    const der = await this.#vault.open(row.encryptedPrivate, serverKeyContext(row), what);
    let signer: KeyObjectSigner;
    try {
      signer = new KeyObjectSigner(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
    } catch (e) {
      throw new TrustdeskError('ERR_KEY_UNREADABLE', `${what}: the private key does not parse`, {
        cause: e,
      });
    } finally {
      der.fill(0);
    }
    const stored = new PublicKey(row.algorithm, row.publicKey);
    if (signer.keyId !== row.keyId || stored.id !== row.keyId) {
      throw new TrustdeskError(
        'ERR_KEY_UNREADABLE',
        `${what}: the private key does not match the stored public key`,
      );
    }
    return signer;
  }
}
