// In-process key DB for tests and throwaway runs: the same rules as the SQL stores (types.ts),
// gone when the process exits.

import { rotationConflict, type KeyRow, type KeyStore, type PrivateUpdate } from './types.js';

export class MemoryKeyStore implements KeyStore {
  readonly name = 'memory';
  readonly #rows = new Map<string, KeyRow>();

  findUnused(gun: string, role: string, algorithm: string): Promise<KeyRow | undefined> {
    let best: KeyRow | undefined;
    for (const r of this.#rows.values()) {
      if (r.gun !== gun || r.role !== role || r.algorithm !== algorithm || r.lastUsedMs !== null)
        continue;
      if (!best || r.keyId < best.keyId) best = r;
    }
    return Promise.resolve(best && { ...best });
  }

  insert(row: KeyRow): Promise<void> {
    if (this.#rows.has(row.keyId))
      return Promise.reject(new Error(`key ${row.keyId} already exists`));
    this.#rows.set(row.keyId, { ...row, lastUsedMs: null });
    return Promise.resolve();
  }

  get(keyId: string): Promise<KeyRow | undefined> {
    const r = this.#rows.get(keyId);
    return Promise.resolve(r && { ...r });
  }

  delete(keyId: string): Promise<KeyRow | undefined> {
    const r = this.#rows.get(keyId);
    this.#rows.delete(keyId);
    return Promise.resolve(r);
  }

  markUsed(keyId: string, nowMs: number): Promise<boolean> {
    const r = this.#rows.get(keyId);
    if (r) r.lastUsedMs = nowMs;
    return Promise.resolve(r !== undefined);
  }

  aliasSamples(): Promise<KeyRow[]> {
    const byAlias = new Map<string, KeyRow>();
    for (const r of this.#rows.values()) {
      const seen = byAlias.get(r.passphraseAlias);
      if (!seen || r.keyId < seen.keyId) byAlias.set(r.passphraseAlias, r);
    }
    return Promise.resolve([...byAlias.values()].map((r) => ({ ...r })));
  }

  all(): Promise<KeyRow[]> {
    return Promise.resolve(
      [...this.#rows.values()].sort((a, b) => (a.keyId < b.keyId ? -1 : 1)).map((r) => ({ ...r })),
    );
  }

  replacePrivate(updates: readonly PrivateUpdate[]): Promise<void> {
    for (const u of updates) {
      if (this.#rows.get(u.keyId)?.private !== u.expected)
        return Promise.reject(rotationConflict(u.keyId));
    }
    for (const u of updates) {
      const r = this.#rows.get(u.keyId) as KeyRow;
      r.private = u.private;
      r.passphraseAlias = u.passphraseAlias;
    }
    return Promise.resolve();
  }

  health(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
