// A cache of argon2id outputs for key files, so a process (a CLI command, or the long-lived
// `trustdesk agent`) runs the KDF once per (passphrase, salt, cost) instead of once per file use.
//
// What it holds, and why that does not weaken the passphrase:
// - the key is HMAC-SHA256(processSecret, passphrase) ‖ salt ‖ m:t:p. processSecret is 32 random
//   bytes that never leave this object, so the HMAC is useless to anyone without this memory and
//   the passphrase itself is never stored. A caller still has to present the right passphrase:
//   a wrong one has another HMAC, misses, and fails the file's check exactly as without a cache.
// - the value is a private copy of the 64 derived bytes; callers get copies they may wipe, and
//   expired, evicted or cleared values are zeroed.
// - unlocking caches a derivation only after the file's check value accepted it, so a wrong
//   passphrase (or a hostile file) never plants an entry.
// Sealing asks saltFor() first and reuses the salt of a live entry for the same passphrase and
// cost: the same inputs give the same derived key, so the new file costs no KDF run
// (docs/keyfile-format.md, "Derived-key cache", explains why sharing is safe).

import { createHmac, randomBytes } from 'node:crypto';
import { TrustdeskError } from '../tuf/errors.js';
import { deriveKeys, type KdfCost } from './kdf.js';

export type KdfParams = Omit<KdfCost, 'profile'>;
export type DeriveFn = (passphrase: string, salt: Uint8Array, cost: KdfParams) => Promise<Buffer>;

/** What keyfile-format needs from a KDF provider (the cache, or plain deriveKeys). */
export interface KeyFileKdf {
  /** The 64 derived bytes, owned (and wiped) by the caller. `accept` vets a fresh derivation. */
  derive(
    passphrase: string,
    salt: Uint8Array,
    cost: KdfParams,
    accept?: (derived: Uint8Array) => boolean,
  ): Promise<Buffer>;
  /** A salt to reuse when sealing under this passphrase and cost, if any. */
  saltFor(passphrase: string, cost: KdfParams): Uint8Array | undefined;
}

export interface DerivedKeyCacheSettings {
  /** Idle lifetime: an entry expires this long after it was last used. */
  ttlMs: number;
  /** Absolute lifetime: an entry expires this long after it was created, however often used. */
  maxTtlMs: number;
  /** The least recently used entry is evicted beyond this many. */
  maxEntries: number;
  /** false: no caching at all (every use runs argon2id, every seal draws a fresh salt). */
  enabled: boolean;
}

export interface DerivedKeyCacheOptions extends Partial<DerivedKeyCacheSettings> {
  nowMs?: () => number;
  /** The real KDF; tests inject a double. */
  derive?: DeriveFn;
}

export interface DerivedKeyCacheStats {
  entries: number;
  hits: number;
  misses: number;
}

/** Defaults for a one-shot CLI process; the agent configures its own. */
export const DEFAULT_CACHE_SETTINGS: Readonly<DerivedKeyCacheSettings> = {
  ttlMs: 10 * 60_000,
  maxTtlMs: 2 * 3600_000,
  maxEntries: 64,
  enabled: true,
};

interface Entry {
  passId: string;
  costKey: string;
  salt: Uint8Array;
  value: Buffer;
  createdMs: number;
  usedMs: number;
}

const SECRET_BYTES = 32;

function costKeyOf(c: KdfParams): string {
  return `${c.memoryKiB}:${c.iterations}:${c.parallelism}`;
}

function checkSettings(s: DerivedKeyCacheSettings): void {
  for (const k of ['ttlMs', 'maxTtlMs', 'maxEntries'] as const) {
    const v = s[k];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new TrustdeskError('ERR_USAGE', `derived-key cache: ${k} must be a positive integer`);
    }
  }
}

export class DerivedKeyCache implements KeyFileKdf {
  #settings: DerivedKeyCacheSettings;
  readonly #now: () => number;
  readonly #deriveFn: DeriveFn;
  #secret: Buffer = randomBytes(SECRET_BYTES);
  /** Insertion order = least recently used first. */
  readonly #entries = new Map<string, Entry>();
  /** Derivations under way, so concurrent unlocks of one key share a single KDF run. */
  readonly #pending = new Map<string, Promise<void>>();
  /** Bumped by clear(): a derivation started before it must not be stored after it. */
  #epoch = 0;
  #hits = 0;
  #misses = 0;

  constructor(o: DerivedKeyCacheOptions = {}) {
    this.#settings = { ...DEFAULT_CACHE_SETTINGS };
    this.#now = o.nowMs ?? Date.now;
    this.#deriveFn = o.derive ?? deriveKeys;
    this.configure(o);
  }

  get settings(): Readonly<DerivedKeyCacheSettings> {
    return { ...this.#settings };
  }

  /** Changes the limits; disabling clears, and tighter limits apply at once. */
  configure(o: Partial<DerivedKeyCacheSettings>): void {
    const next: DerivedKeyCacheSettings = { ...this.#settings };
    if (o.ttlMs !== undefined) next.ttlMs = o.ttlMs;
    if (o.maxTtlMs !== undefined) next.maxTtlMs = o.maxTtlMs;
    if (o.maxEntries !== undefined) next.maxEntries = o.maxEntries;
    if (o.enabled !== undefined) next.enabled = o.enabled;
    checkSettings(next);
    this.#settings = next;
    if (!next.enabled) this.clear();
    this.prune();
  }

  get size(): number {
    return this.#entries.size;
  }

  stats(): DerivedKeyCacheStats {
    return { entries: this.#entries.size, hits: this.#hits, misses: this.#misses };
  }

  /** Keyed by a secret that never leaves this object, so the hex is safe as a map key. */
  #passIdOf(passphrase: string): string {
    const pass = Buffer.from(passphrase, 'utf8');
    try {
      return createHmac('sha256', this.#secret).update(pass).digest('hex');
    } finally {
      pass.fill(0);
    }
  }

  #live(e: Entry, now: number): boolean {
    return now - e.usedMs < this.#settings.ttlMs && now - e.createdMs < this.#settings.maxTtlMs;
  }

  #drop(id: string, e: Entry): void {
    e.value.fill(0);
    this.#entries.delete(id);
  }

  /** A copy of a live entry's value (marking it used), or undefined. */
  #take(id: string): Buffer | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    const now = this.#now();
    if (!this.#live(e, now)) {
      this.#drop(id, e);
      return undefined;
    }
    e.usedMs = now;
    this.#entries.delete(id);
    this.#entries.set(id, e);
    this.#hits++;
    return Buffer.from(e.value);
  }

  #put(id: string, passId: string, costKey: string, salt: Uint8Array, value: Uint8Array): void {
    const old = this.#entries.get(id);
    if (old) this.#drop(id, old);
    const now = this.#now();
    this.#entries.set(id, {
      passId,
      costKey,
      salt: new Uint8Array(salt),
      value: Buffer.from(value),
      createdMs: now,
      usedMs: now,
    });
    for (const [k, e] of this.#entries) {
      if (this.#entries.size <= this.#settings.maxEntries) break;
      this.#drop(k, e);
    }
  }

  async derive(
    passphrase: string,
    salt: Uint8Array,
    cost: KdfParams,
    accept: (derived: Uint8Array) => boolean = () => true,
  ): Promise<Buffer> {
    if (!this.#settings.enabled) {
      this.#misses++;
      return this.#deriveFn(passphrase, salt, cost);
    }
    const passId = this.#passIdOf(passphrase);
    const costKey = costKeyOf(cost);
    const id = `${passId}|${Buffer.from(salt).toString('hex')}|${costKey}`;
    const hit = this.#take(id);
    if (hit) return hit;
    const pending = this.#pending.get(id);
    if (pending) {
      await pending;
      const late = this.#take(id);
      if (late) return late;
      // The other run was not accepted (or was cleared): derive ourselves, not wait again.
    }
    this.#misses++;
    const epoch = this.#epoch;
    let settle!: () => void;
    const mine = new Promise<void>((r) => (settle = r));
    if (!pending) this.#pending.set(id, mine);
    try {
      const derived = await this.#deriveFn(passphrase, salt, cost);
      let ok = false;
      try {
        ok = accept(derived);
      } catch (e) {
        derived.fill(0);
        throw e;
      }
      if (ok && this.#settings.enabled && epoch === this.#epoch) {
        this.#put(id, passId, costKey, salt, derived);
      }
      return derived;
    } finally {
      if (this.#pending.get(id) === mine) this.#pending.delete(id);
      settle();
    }
  }

  saltFor(passphrase: string, cost: KdfParams): Uint8Array | undefined {
    if (!this.#settings.enabled || this.#entries.size === 0) return undefined;
    const passId = this.#passIdOf(passphrase);
    const costKey = costKeyOf(cost);
    const now = this.#now();
    let found: Entry | undefined;
    for (const [id, e] of [...this.#entries]) {
      if (!this.#live(e, now)) this.#drop(id, e);
      else if (e.passId === passId && e.costKey === costKey) found = e; // last = most recent
    }
    return found ? new Uint8Array(found.salt) : undefined;
  }

  /** Drops (and wipes) every expired entry. */
  prune(): void {
    const now = this.#now();
    for (const [id, e] of [...this.#entries]) if (!this.#live(e, now)) this.#drop(id, e);
  }

  /** Wipes everything and forgets the process secret (counters are kept for `stats`). */
  clear(): void {
    for (const [id, e] of [...this.#entries]) this.#drop(id, e);
    this.#epoch++;
    this.#secret.fill(0);
    this.#secret = randomBytes(SECRET_BYTES);
  }
}

let processCache: DerivedKeyCache | undefined;

/** The process-wide cache the file backend uses unless it is given another. */
export function defaultDerivedKeyCache(): DerivedKeyCache {
  processCache ??= new DerivedKeyCache();
  return processCache;
}

/** Reconfigures the process-wide cache (the agent: longer lifetimes; `enabled:false`: off). */
export function configureDerivedKeyCache(o: Partial<DerivedKeyCacheSettings>): void {
  defaultDerivedKeyCache().configure(o);
}
