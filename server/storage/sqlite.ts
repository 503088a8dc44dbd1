// SQLite MetaStore (better-sqlite3): the embedded default, one file under the data dir.
//
// Rules (on top of types.ts / input.ts):
//   - WAL journal (readers never block the writer), synchronous=FULL (a publish that returned
//     200 survives a power cut), busy timeout so a second process on the same file waits for
//     the write lock instead of failing at once.
//   - Every write runs in BEGIN IMMEDIATE: the write lock is taken before the version check,
//     so concurrent writers (this process or another on the same file) are serialised and
//     changefeed ids are assigned in commit order.
//   - better-sqlite3 is synchronous: a call never interleaves with another in this process.
//   - The file is created 0600 (it holds the encrypted server keys); SQLite gives its -wal and
//     -shm files the same mode.

import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  asBuffer,
  asBytes,
  assertServerKey,
  checkVersions,
  isSha256Hex,
  planChangefeed,
  planFiles,
  settle,
  storableName,
  validVersion,
  type PlannedFile,
} from './input.js';
import { migrateSqlite } from './migrations.js';
import {
  type Change,
  type ChangefeedQuery,
  type MetaStore,
  type NewTufFile,
  type StoredServerKey,
  type TufFile,
  StorageError,
  StorageUnavailableError,
  VersionConflictError,
} from './types.js';

export interface SqliteStoreOptions {
  path: string;
  /** How long a writer waits for another process's write lock (default 5000 ms). */
  busyTimeoutMs?: number;
}

const UNAVAILABLE =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|NOMEM|PROTOCOL|NOTADB|CORRUPT)/;

function sqliteError(e: unknown, what: string): Error {
  if (e instanceof VersionConflictError || e instanceof StorageError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    const msg = `${what}: SQLite ${code}: ${(e as Error).message}`;
    return UNAVAILABLE.test(code)
      ? new StorageUnavailableError(msg, { cause: e })
      : new StorageError(msg, { cause: e });
  }
  return e instanceof Error ? e : new StorageError(`${what}: ${String(e)}`);
}

interface FileRow {
  gun: string;
  role: string;
  version: number;
  sha256: string;
  data: Buffer;
  created_at: string;
}

interface ChangeRow {
  id: number;
  created_at: string;
  gun: string;
  version: number;
  sha256: string | null;
  category: 'update' | 'deletion';
}

interface KeyRow {
  key_id: string;
  gun: string;
  role: 'timestamp' | 'snapshot';
  algorithm: string;
  public_key: Buffer;
  encrypted_private: Buffer;
  created_at: string;
  last_used: string | null;
}

const FILE_COLS = 'gun, role, version, sha256, data, created_at';
const KEY_COLS =
  'key_id, gun, role, algorithm, public_key, encrypted_private, created_at, last_used';

function toFile(r: FileRow): TufFile {
  return {
    gun: r.gun,
    role: r.role,
    version: r.version,
    sha256: r.sha256,
    data: asBytes(r.data),
    createdAt: new Date(r.created_at),
  };
}

function toKey(r: KeyRow): StoredServerKey {
  return {
    keyId: r.key_id,
    gun: r.gun,
    role: r.role,
    algorithm: r.algorithm,
    publicKey: asBytes(r.public_key),
    encryptedPrivate: asBytes(r.encrypted_private),
    createdAt: new Date(r.created_at),
    lastUsed: r.last_used === null ? null : new Date(r.last_used),
  };
}

export class SqliteMetaStore implements MetaStore {
  readonly backend = 'sqlite';
  private closed = false;
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly writeFiles: (gun: string, files: PlannedFile[]) => void;
  private readonly removeGun: (gun: string) => boolean;

  constructor(private readonly db: Database.Database) {
    const write = (gun: string, files: PlannedFile[]) => {
      const stored = new Map<string, number>();
      for (const r of this.stmt<{ role: string; v: number }>(
        'SELECT role, MAX(version) AS v FROM tuf_files WHERE gun = ? GROUP BY role',
      ).all(gun)) {
        stored.set(r.role, r.v);
      }
      checkVersions(gun, files, stored);
      const now = new Date().toISOString();
      const insert = this.stmt(
        'INSERT INTO tuf_files (created_at, updated_at, gun, role, version, sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      for (const f of files) {
        insert.run(now, now, gun, f.role, f.version, f.sha256, asBuffer(f.data));
        if (f.role === 'timestamp') this.appendChange(now, gun, f.version, f.sha256, 'update');
      }
    };
    const remove = (gun: string) => {
      const { changes } = this.stmt('DELETE FROM tuf_files WHERE gun = ?').run(gun);
      if (changes === 0) return false;
      this.appendChange(new Date().toISOString(), gun, 0, null, 'deletion');
      return true;
    };
    const writeTx = db.transaction(write);
    const removeTx = db.transaction(remove);
    this.writeFiles = (gun, files) => writeTx.immediate(gun, files);
    this.removeGun = (gun) => removeTx.immediate(gun);
  }

  private stmt<R = unknown>(sql: string): Database.Statement<unknown[], R> {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s as Database.Statement<unknown[], R>;
  }

  private appendChange(
    at: string,
    gun: string,
    version: number,
    sha256: string | null,
    category: string,
  ): void {
    this.stmt(
      'INSERT INTO changefeed (created_at, gun, version, sha256, category) VALUES (?, ?, ?, ?, ?)',
    ).run(at, gun, version, sha256, category);
  }

  private run<T>(what: string, fn: () => T): Promise<T> {
    return settle(() => {
      if (this.closed) throw new StorageUnavailableError('the metadata store is closed');
      try {
        return fn();
      } catch (e) {
        throw sqliteError(e, what);
      }
    });
  }

  updateMany(gun: string, files: readonly NewTufFile[]): Promise<void> {
    return this.run('storing metadata', () => {
      const planned = planFiles(gun, files);
      if (planned.length > 0) this.writeFiles(gun, planned);
    });
  }

  private one(what: string, where: string, ...args: unknown[]): Promise<TufFile | undefined> {
    return this.run(what, () => {
      const row = this.stmt<FileRow>(`SELECT ${FILE_COLS} FROM tuf_files WHERE ${where}`).get(
        ...args,
      );
      return row && toFile(row);
    });
  }

  getLatest(gun: string, role: string): Promise<TufFile | undefined> {
    if (!storableName(gun, role)) return Promise.resolve(undefined);
    return this.one(
      'reading metadata',
      'gun = ? AND role = ? ORDER BY version DESC LIMIT 1',
      gun,
      role,
    );
  }

  getByChecksum(gun: string, role: string, sha256: string): Promise<TufFile | undefined> {
    if (!storableName(gun, role) || !isSha256Hex(sha256)) return Promise.resolve(undefined);
    return this.one(
      'reading metadata',
      'gun = ? AND role = ? AND sha256 = ? ORDER BY id LIMIT 1',
      gun,
      role,
      sha256,
    );
  }

  getByVersion(gun: string, role: string, version: number): Promise<TufFile | undefined> {
    if (!storableName(gun, role) || !validVersion(version)) return Promise.resolve(undefined);
    return this.one('reading metadata', 'gun = ? AND role = ? AND version = ?', gun, role, version);
  }

  latestVersions(gun: string): Promise<Map<string, number>> {
    if (!storableName(gun)) return Promise.resolve(new Map<string, number>());
    return this.run('reading metadata', () => {
      const rows = this.stmt<{ role: string; v: number }>(
        'SELECT role, MAX(version) AS v FROM tuf_files WHERE gun = ? GROUP BY role',
      ).all(gun);
      return new Map(rows.map((r) => [r.role, r.v]));
    });
  }

  deleteGun(gun: string): Promise<boolean> {
    if (!storableName(gun)) return Promise.resolve(false);
    return this.run('deleting a GUN', () => this.removeGun(gun));
  }

  changefeed(q: ChangefeedQuery): Promise<Change[]> {
    return this.run('reading the changefeed', () => {
      const plan = planChangefeed(q);
      if (!plan) return [];
      const where: string[] = [];
      const args: unknown[] = [];
      if (plan.gun !== null) {
        where.push('gun = ?');
        args.push(plan.gun);
      }
      if (plan.bound !== undefined) {
        where.push(plan.reversed ? 'id < ?' : 'id > ?');
        args.push(BigInt(plan.bound));
      }
      const sql =
        'SELECT id, created_at, gun, version, sha256, category FROM changefeed' +
        (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
        ` ORDER BY id ${plan.reversed ? 'DESC' : 'ASC'} LIMIT ?`;
      const rows = this.stmt<ChangeRow>(sql).all(...args, plan.limit);
      if (plan.reversed) rows.reverse();
      return rows.map((r) => ({
        id: String(r.id),
        createdAt: new Date(r.created_at),
        gun: r.gun,
        version: r.version,
        sha256: (r.sha256 ?? '').trim(), // Go's own char(64) schema pads ''
        category: r.category,
      }));
    });
  }

  latestChangeId(): Promise<string> {
    return this.run('reading the changefeed', () => {
      const row = this.stmt<{ id: number | null }>('SELECT MAX(id) AS id FROM changefeed').get();
      return String(row?.id ?? 0);
    });
  }

  putServerKey(key: Omit<StoredServerKey, 'createdAt' | 'lastUsed'>): Promise<void> {
    return this.run('storing a server key', () => {
      assertServerKey(key);
      const { changes } = this.stmt(
        `INSERT INTO server_keys (key_id, gun, role, algorithm, public_key, encrypted_private, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING`,
      ).run(
        key.keyId,
        key.gun,
        key.role,
        key.algorithm,
        asBuffer(key.publicKey),
        asBuffer(key.encryptedPrivate),
        new Date().toISOString(),
      );
      if (changes === 0) throw new StorageError(`server key ${key.keyId} is already stored`);
    });
  }

  getServerKey(keyId: string): Promise<StoredServerKey | undefined> {
    if (!storableName(keyId)) return Promise.resolve(undefined);
    return this.run('reading a server key', () => {
      const row = this.stmt<KeyRow>(`SELECT ${KEY_COLS} FROM server_keys WHERE key_id = ?`).get(
        keyId,
      );
      return row && toKey(row);
    });
  }

  findUnusedServerKey(
    gun: string,
    role: string,
    algorithm: string,
  ): Promise<StoredServerKey | undefined> {
    if (!storableName(gun, role, algorithm)) return Promise.resolve(undefined);
    return this.run('reading a server key', () => {
      const row = this.stmt<KeyRow>(
        `SELECT ${KEY_COLS} FROM server_keys
          WHERE gun = ? AND role = ? AND algorithm = ? AND last_used IS NULL ORDER BY key_id LIMIT 1`,
      ).get(gun, role, algorithm);
      return row && toKey(row);
    });
  }

  markServerKeyUsed(keyId: string): Promise<void> {
    if (!storableName(keyId)) return Promise.resolve();
    return this.run('updating a server key', () => {
      this.stmt('UPDATE server_keys SET last_used = ? WHERE key_id = ?').run(
        new Date().toISOString(),
        keyId,
      );
    });
  }

  check(): Promise<void> {
    return this.run('checking the database', () => {
      this.stmt('SELECT 1 FROM tuf_files LIMIT 1').get();
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    return Promise.resolve();
  }
}

export function openSqliteStore(opts: SqliteStoreOptions): SqliteMetaStore {
  try {
    mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
    closeSync(openSync(opts.path, 'a', 0o600));
  } catch (e) {
    throw new StorageUnavailableError(
      `cannot create the SQLite database ${opts.path}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    migrateSqlite(db);
    return new SqliteMetaStore(db);
  } catch (e) {
    db?.close();
    throw sqliteError(e, `opening the SQLite database ${opts.path}`);
  }
}
