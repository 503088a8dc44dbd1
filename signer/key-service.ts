// The signer's key bookkeeping over a KeyStore (the table) and a KeyVault (the private halves),
// with Go notary-signer's semantics (notary-protocol §6.1, §6.3, quirk 20):
//
//   createKey(algorithm, gun, role)
//     1. algorithm must be one the vault makes, else ERR_UNSUPPORTED_KEY;
//     2. calls for the same (algorithm, gun, role) run one at a time in this process, so two
//        concurrent `.key` requests get the same key instead of making two;
//     3. a never-used key of (gun, role, algorithm) is returned if one exists (lowest key ID);
//     4. otherwise the vault generates a key and ONE insert stores it — a crash before the
//        insert commits leaves nothing (and a token key made for a failed insert is destroyed).
//   sign(keyId, message)
//     1. the key's Signer comes from the cache, else from its row (decrypted once, then cached;
//        concurrent first uses share one decryption);
//     2. a key that has never signed is marked used in the database BEFORE it signs, so
//        createKey can never hand out a key that has already signed anything; later uses
//        refresh last_used at most once per `markIntervalMs`, in the background;
//     3. a key whose row disappeared (deleted by another replica) is dropped from the cache
//        when a mark finds no row, and reported as not found.
//   keyInfo(keyId) — public key and role from the cache or the row (no decryption).
//   deleteKey(keyId) — deletes the row, then anything the vault holds; missing keys are fine.
// Key IDs longer than the schema's 255 characters cannot exist and are not looked up.
// The cache holds at most `cacheSize` keys (least recently used dropped first); decrypted key
// objects live only there.

import { TrustdeskError } from '../src/tuf/errors.js';
import { PublicKey } from '../src/tuf/keys.js';
import { isSignerAlgorithm } from './key-material.js';
import { MAX_FIELD_LENGTH, type KeyRow, type KeyStore } from './store/types.js';
import { type KeyVault, type VaultSigner } from './vault.js';

export interface KeyServiceOptions {
  store: KeyStore;
  vault: KeyVault;
  /** Wall clock, ms (injectable for tests). */
  now?: () => number;
  cacheSize?: number;
  markIntervalMs?: number;
  /** Failures of background work (last_used refresh, closing token sessions). */
  onBackgroundError?: (e: unknown, keyId: string) => void;
}

interface Entry {
  publicKey: PublicKey;
  role: string;
  gun: string;
  signer?: VaultSigner;
  /** When we last wrote last_used (or the row's value); null = never signed. */
  lastUsedMs: number | null;
}

export interface KeyInfo {
  publicKey: PublicKey;
  role: string;
  gun: string;
}

export function keyNotFound(keyId: string): TrustdeskError {
  return new TrustdeskError('ERR_KEY_NOT_FOUND', `key ${keyId} not found`);
}

export class KeyService {
  readonly store: KeyStore;
  readonly vault: KeyVault;
  readonly #now: () => number;
  readonly #cacheSize: number;
  readonly #markIntervalMs: number;
  readonly #onBackgroundError: (e: unknown, keyId: string) => void;
  readonly #cache = new Map<string, Entry>();
  readonly #opening = new Map<string, Promise<Entry>>();
  readonly #creating = new Map<string, Promise<unknown>>();

  constructor(opts: KeyServiceOptions) {
    this.store = opts.store;
    this.vault = opts.vault;
    this.#now = opts.now ?? Date.now;
    this.#cacheSize = opts.cacheSize ?? 10_000;
    this.#markIntervalMs = opts.markIntervalMs ?? 60_000;
    this.#onBackgroundError = opts.onBackgroundError ?? (() => undefined);
  }

  get algorithms(): readonly string[] {
    return this.vault.algorithms;
  }

  /** Start-up check: every passphrase alias in the database opens its keys. */
  async start(): Promise<void> {
    await this.vault.check(await this.store.aliasSamples());
  }

  async createKey(
    algorithm: string,
    gun: string,
    role: string,
  ): Promise<{ publicKey: PublicKey; reused: boolean }> {
    if (!isSignerAlgorithm(algorithm) || !this.vault.algorithms.includes(algorithm)) {
      throw new TrustdeskError(
        'ERR_UNSUPPORTED_KEY',
        `algorithm ${algorithm} not supported for create key`,
      );
    }
    const slot = `${algorithm}\u0000${gun}\u0000${role}`;
    const before = this.#creating.get(slot) ?? Promise.resolve();
    const run = before
      .catch(() => undefined)
      .then(async () => {
        const unused = await this.store.findUnused(gun, role, algorithm);
        if (unused) {
          const publicKey = new PublicKey(unused.algorithm, unused.publicBytes);
          this.#remember(unused.keyId, { publicKey, role, gun, lastUsedMs: null });
          return { publicKey, reused: true };
        }
        const made = await this.vault.generate(algorithm, gun, role);
        try {
          await this.store.insert(made.row);
        } catch (e) {
          await this.#discard(made.row, made.publicKey, made.signer);
          throw e;
        }
        this.#remember(made.row.keyId, {
          publicKey: made.publicKey,
          role,
          gun,
          signer: made.signer,
          lastUsedMs: null,
        });
        return { publicKey: made.publicKey, reused: false };
      });
    this.#creating.set(slot, run);
    try {
      return await run;
    } finally {
      if (this.#creating.get(slot) === run) this.#creating.delete(slot);
    }
  }

  async keyInfo(keyId: string): Promise<KeyInfo> {
    const cached = this.#touch(keyId);
    if (cached) return cached;
    const row = await this.#row(keyId);
    const info = {
      publicKey: new PublicKey(row.algorithm, row.publicBytes),
      role: row.role,
      gun: row.gun,
    };
    this.#remember(keyId, { ...info, lastUsedMs: row.lastUsedMs });
    return info;
  }

  async sign(
    keyId: string,
    message: Uint8Array,
  ): Promise<{ publicKey: PublicKey; signature: Uint8Array }> {
    let entry = this.#touch(keyId);
    if (!entry?.signer) entry = await this.#open(keyId);
    const signer = entry.signer as VaultSigner;
    const now = this.#now();
    if (entry.lastUsedMs === null) {
      if (!(await this.store.markUsed(keyId, now))) {
        this.#forget(keyId);
        throw keyNotFound(keyId);
      }
      entry.lastUsedMs = now;
    } else if (now - entry.lastUsedMs >= this.#markIntervalMs) {
      entry.lastUsedMs = now;
      this.store.markUsed(keyId, now).then(
        (exists) => {
          if (!exists) this.#forget(keyId);
        },
        (e: unknown) => this.#onBackgroundError(e, keyId),
      );
    }
    return { publicKey: signer.publicKey, signature: await signer.sign(message) };
  }

  /** Deletes the key; resolves to whether it existed. */
  async deleteKey(keyId: string): Promise<boolean> {
    if (keyId.length > MAX_FIELD_LENGTH) return false;
    const row = await this.store.delete(keyId);
    this.#forget(keyId);
    if (!row) return false;
    await this.vault.destroy(row, new PublicKey(row.algorithm, row.publicBytes));
    return true;
  }

  health(): Promise<void> {
    return this.store.health();
  }

  async close(): Promise<void> {
    const signers = [...this.#cache.values()].map((e) => e.signer);
    this.#cache.clear();
    await Promise.all(signers.map((s) => s?.close?.().catch(() => undefined) ?? Promise.resolve()));
    await this.vault.close();
    await this.store.close();
  }

  async #row(keyId: string): Promise<KeyRow> {
    const row = keyId.length <= MAX_FIELD_LENGTH ? await this.store.get(keyId) : undefined;
    if (!row) throw keyNotFound(keyId);
    return row;
  }

  #open(keyId: string): Promise<Entry> {
    let p = this.#opening.get(keyId);
    if (!p) {
      p = (async () => {
        const row = await this.#row(keyId);
        const publicKey = new PublicKey(row.algorithm, row.publicBytes);
        const signer = await this.vault.open(row, publicKey);
        const entry: Entry = {
          publicKey,
          role: row.role,
          gun: row.gun,
          signer,
          lastUsedMs: row.lastUsedMs,
        };
        this.#remember(keyId, entry);
        return entry;
      })();
      this.#opening.set(keyId, p);
      const done = () => this.#opening.delete(keyId);
      p.then(done, done);
    }
    return p;
  }

  /** Cache hit, refreshed as most recently used. */
  #touch(keyId: string): Entry | undefined {
    const e = this.#cache.get(keyId);
    if (e) {
      this.#cache.delete(keyId);
      this.#cache.set(keyId, e);
    }
    return e;
  }

  #remember(keyId: string, entry: Entry): void {
    const old = this.#cache.get(keyId);
    if (old?.signer && !entry.signer) entry = { ...entry, signer: old.signer };
    else if (old?.signer && old.signer !== entry.signer)
      old.signer.close?.().catch((e: unknown) => this.#onBackgroundError(e, keyId));
    this.#cache.delete(keyId);
    this.#cache.set(keyId, entry);
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next().value as string;
      this.#forget(oldest);
    }
  }

  #forget(keyId: string): void {
    const e = this.#cache.get(keyId);
    this.#cache.delete(keyId);
    e?.signer?.close?.().catch((err: unknown) => this.#onBackgroundError(err, keyId));
  }

  async #discard(row: KeyRow, publicKey: PublicKey, signer: VaultSigner): Promise<void> {
    await signer.close?.().catch(() => undefined);
    await this.vault
      .destroy(row, publicKey)
      .catch((e: unknown) => this.#onBackgroundError(e, row.keyId));
  }
}
