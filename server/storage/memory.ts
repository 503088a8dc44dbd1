// In-process MetaStore for tests and `storage.backend: memory`. Same rules as the SQL backends
// (types.ts, input.ts); every method runs to completion without awaiting, so calls never
// interleave and updateMany is atomic by construction. Bytes are copied in and out, so a caller
// mutating a buffer cannot change what is stored.

import {
  asBytes,
  assertOpen,
  assertServerKey,
  checkVersions,
  duplicateKeyError,
  isSha256Hex,
  planChangefeed,
  planFiles,
  settle,
  uploadChanges,
} from './input.js';
import {
  type Change,
  type ChangefeedQuery,
  type MetaStore,
  type NewTufFile,
  type StoredServerKey,
  type TufFile,
} from './types.js';

function copyFile(f: TufFile): TufFile {
  return { ...f, data: f.data.slice(), createdAt: new Date(f.createdAt) };
}

function copyKey(k: StoredServerKey): StoredServerKey {
  return {
    ...k,
    publicKey: k.publicKey.slice(),
    encryptedPrivate: k.encryptedPrivate.slice(),
    createdAt: new Date(k.createdAt),
    lastUsed: k.lastUsed && new Date(k.lastUsed),
  };
}

export class MemoryMetaStore implements MetaStore {
  readonly backend = 'memory';
  /** gun → role → rows in ascending version order. */
  private readonly files = new Map<string, Map<string, TufFile[]>>();
  private readonly changes: Change[] = [];
  private lastChangeId = 0;
  private readonly keys = new Map<string, StoredServerKey>();
  private closed = false;

  private run<T>(fn: () => T): Promise<T> {
    return settle(() => {
      assertOpen(this.closed);
      return fn();
    });
  }

  private rows(gun: string, role: string): TufFile[] {
    return this.files.get(gun)?.get(role) ?? [];
  }

  private appendChange(c: Omit<Change, 'id' | 'createdAt'>, createdAt: Date): void {
    this.changes.push({ ...c, id: String(++this.lastChangeId), createdAt });
  }

  updateMany(gun: string, files: readonly NewTufFile[]): Promise<void> {
    return this.run(() => {
      const planned = planFiles(gun, files);
      const stored = new Map<string, number>();
      for (const f of planned) {
        const top = this.rows(gun, f.role).at(-1);
        if (top) stored.set(f.role, top.version);
      }
      checkVersions(gun, planned, stored);
      if (planned.length === 0) return;
      const now = new Date();
      let roles = this.files.get(gun);
      if (!roles) this.files.set(gun, (roles = new Map<string, TufFile[]>()));
      for (const f of planned) {
        let list = roles.get(f.role);
        if (!list) roles.set(f.role, (list = []));
        list.push({
          gun,
          role: f.role,
          version: f.version,
          sha256: f.sha256,
          data: f.data.slice(),
          createdAt: now,
        });
      }
      for (const ch of uploadChanges(planned)) this.appendChange({ gun, ...ch }, now);
    });
  }

  getLatest(gun: string, role: string): Promise<TufFile | undefined> {
    return this.run(() => {
      const top = this.rows(gun, role).at(-1);
      return top && copyFile(top);
    });
  }

  getByChecksum(gun: string, role: string, sha256: string): Promise<TufFile | undefined> {
    return this.run(() => {
      const hit = isSha256Hex(sha256)
        ? this.rows(gun, role).find((f) => f.sha256 === sha256)
        : undefined;
      return hit && copyFile(hit);
    });
  }

  getByVersion(gun: string, role: string, version: number): Promise<TufFile | undefined> {
    return this.run(() => {
      const hit = this.rows(gun, role).find((f) => f.version === version);
      return hit && copyFile(hit);
    });
  }

  latestVersions(gun: string): Promise<Map<string, number>> {
    return this.run(() => {
      const out = new Map<string, number>();
      for (const [role, list] of this.files.get(gun) ?? []) {
        const top = list.at(-1);
        if (top) out.set(role, top.version);
      }
      return out;
    });
  }

  deleteGun(gun: string): Promise<boolean> {
    return this.run(() => {
      if (!this.files.delete(gun)) return false;
      this.appendChange({ gun, version: 0, sha256: '', category: 'deletion' }, new Date());
      return true;
    });
  }

  changefeed(q: ChangefeedQuery): Promise<Change[]> {
    return this.run(() => {
      const plan = planChangefeed(q);
      if (!plan) return [];
      const bound = plan.bound === undefined ? undefined : BigInt(plan.bound);
      const matches = (c: Change) => plan.gun === null || c.gun === plan.gun;
      const out: Change[] = [];
      if (plan.reversed) {
        for (let i = this.changes.length - 1; i >= 0 && out.length < plan.limit; i--) {
          const c = this.changes[i]!;
          if ((bound === undefined || BigInt(c.id) < bound) && matches(c)) out.push(c);
        }
        out.reverse();
      } else {
        for (const c of this.changes) {
          if (out.length >= plan.limit) break;
          if (BigInt(c.id) > bound! && matches(c)) out.push(c);
        }
      }
      return out.map((c) => ({ ...c, createdAt: new Date(c.createdAt) }));
    });
  }

  latestChangeId(): Promise<string> {
    return this.run(() => String(this.lastChangeId));
  }

  putServerKey(key: Omit<StoredServerKey, 'createdAt' | 'lastUsed'>): Promise<void> {
    return this.run(() => {
      assertServerKey(key);
      if (this.keys.has(key.keyId)) throw duplicateKeyError(key.keyId);
      this.keys.set(key.keyId, {
        keyId: key.keyId,
        gun: key.gun,
        role: key.role,
        algorithm: key.algorithm,
        publicKey: asBytes(key.publicKey).slice(),
        encryptedPrivate: asBytes(key.encryptedPrivate).slice(),
        createdAt: new Date(),
        lastUsed: null,
      });
    });
  }

  getServerKey(keyId: string): Promise<StoredServerKey | undefined> {
    return this.run(() => {
      const k = this.keys.get(keyId);
      return k && copyKey(k);
    });
  }

  findUnusedServerKey(
    gun: string,
    role: string,
    algorithm: string,
  ): Promise<StoredServerKey | undefined> {
    return this.run(() => {
      let best: StoredServerKey | undefined;
      for (const k of this.keys.values()) {
        if (k.gun !== gun || k.role !== role || k.algorithm !== algorithm || k.lastUsed) continue;
        if (!best || k.keyId < best.keyId) best = k;
      }
      return best && copyKey(best);
    });
  }

  markServerKeyUsed(keyId: string): Promise<void> {
    return this.run(() => {
      const k = this.keys.get(keyId);
      if (k) k.lastUsed = new Date();
    });
  }

  check(): Promise<void> {
    return this.run(() => undefined);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
