// SQLite MetaStore (better-sqlite3): the embedded default, one file under the data dir.
//
// Rules (on top of types.ts / input.ts; the reads are in sql-store.ts):
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
  assertServerKey,
  checkVersions,
  DELETION,
  duplicateKeyError,
  type NewChange,
  planFiles,
  type PlannedFile,
  settle,
  storableName,
  uploadChanges,
} from './input.js';
import { migrateSqlite } from './migrations.js';
import { KEY_INSERT_COLS, serverKeyValues, toVersionMap, type VersionRow } from './sql-rows.js';
import { latestVersionsQuery, type SqlDialect, SqlMetaStore } from './sql-store.js';
import {
  type NewTufFile,
  type StoredServerKey,
  StorageError,
  StorageUnavailableError,
  VersionConflictError,
} from './types.js';

export interface SqliteStoreOptions {
  path: string;
  /** How long a writer waits for another process's write lock (default 5000 ms). */
  busyTimeoutMs?: number;
}

const SQLITE: SqlDialect = {
  param: () => '?',
  changeId: (_n, id) => ({ sql: '?', value: BigInt(id) }),
};

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

export class SqliteMetaStore extends SqlMetaStore {
  readonly backend = 'sqlite';
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly writeFiles: (gun: string, files: PlannedFile[]) => void;
  private readonly removeGun: (gun: string) => boolean;

  constructor(private readonly db: Database.Database) {
    super(SQLITE);
    const write = (gun: string, files: PlannedFile[]) => {
      const stored = latestVersionsQuery(SQLITE, gun);
      checkVersions(
        gun,
        files,
        toVersionMap(this.stmt<VersionRow>(stored.sql).all(...stored.values)),
      );
      const now = new Date().toISOString();
      const insert = this.stmt(
        'INSERT INTO tuf_files (created_at, updated_at, gun, role, version, sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      for (const f of files)
        insert.run(now, now, gun, f.role, f.version, f.sha256, asBuffer(f.data));
      for (const ch of uploadChanges(files)) this.appendChange(now, gun, ch);
    };
    const remove = (gun: string) => {
      const { changes } = this.stmt('DELETE FROM tuf_files WHERE gun = ?').run(gun);
      if (changes === 0) return false;
      this.appendChange(new Date().toISOString(), gun, DELETION);
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

  private appendChange(at: string, gun: string, ch: NewChange): void {
    this.stmt(
      'INSERT INTO changefeed (created_at, gun, version, sha256, category) VALUES (?, ?, ?, ?, ?)',
    ).run(at, gun, ch.version, ch.sha256, ch.category);
  }

  private run<T>(what: string, fn: () => T): Promise<T> {
    return settle(() => {
      this.assertOpen();
      try {
        return fn();
      } catch (e) {
        throw sqliteError(e, what);
      }
    });
  }

  protected override select<R>(what: string, sql: string, values: unknown[]): Promise<R[]> {
    return this.run(what, () => this.stmt<R>(sql).all(...values));
  }

  override updateMany(gun: string, files: readonly NewTufFile[]): Promise<void> {
    return this.run('storing metadata', () => {
      const planned = planFiles(gun, files);
      if (planned.length > 0) this.writeFiles(gun, planned);
    });
  }

  override deleteGun(gun: string): Promise<boolean> {
    if (!storableName(gun)) return Promise.resolve(false);
    return this.run('deleting a GUN', () => this.removeGun(gun));
  }

  override putServerKey(key: Omit<StoredServerKey, 'createdAt' | 'lastUsed'>): Promise<void> {
    return this.run('storing a server key', () => {
      assertServerKey(key);
      const { changes } = this.stmt(
        `INSERT INTO server_keys (${KEY_INSERT_COLS}, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING`,
      ).run(...serverKeyValues(key), new Date().toISOString());
      if (changes === 0) throw duplicateKeyError(key.keyId);
    });
  }

  override markServerKeyUsed(keyId: string): Promise<void> {
    if (!storableName(keyId)) return Promise.resolve();
    return this.run('updating a server key', () => {
      this.stmt('UPDATE server_keys SET last_used = ? WHERE key_id = ?').run(
        new Date().toISOString(),
        keyId,
      );
    });
  }

  override close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    return Promise.resolve();
  }
}

// Switching a fresh file to WAL needs an exclusive lock, and SQLite reports SQLITE_BUSY for it
// without consulting the busy handler when another process is opening the same file at that
// moment (two replicas starting together). So we retry that one pragma for up to the busy timeout.
function enableWal(db: Database.Database, busyMs: number): void {
  const deadline = Date.now() + busyMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw e;
      Atomics.wait(pause, 0, 0, 10);
    }
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
    const busyMs = opts.busyTimeoutMs ?? 5000;
    db = new Database(opts.path, { timeout: busyMs });
    enableWal(db, busyMs);
    db.pragma('synchronous = FULL');
    migrateSqlite(db);
    return new SqliteMetaStore(db);
  } catch (e) {
    db?.close();
    throw sqliteError(e, `opening the SQLite database ${opts.path}`);
  }
}
