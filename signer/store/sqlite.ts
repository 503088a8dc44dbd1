// SQLite key DB (better-sqlite3), the default: one file, created 0600 (it holds the sealed
// keys). WAL journal, synchronous=FULL (a key CreateKey returned survives a power cut), and a
// busy timeout so another process holding the write lock makes us wait, not fail. Rules shared
// by every store are in types.ts; better-sqlite3 is synchronous, so calls never interleave.

import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { ROW_COLUMNS, SQLITE_SCHEMA } from './schema.js';
import { INSERT_COLUMNS, insertValues, LIVE, type SqlKeyRow, toRow } from './sql-rows.js';
import {
  rotationConflict,
  storeFailed,
  storeUnavailable,
  type KeyRow,
  type KeyStore,
  type PrivateUpdate,
} from './types.js';

const UNAVAILABLE =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|NOMEM|PROTOCOL|NOTADB|CORRUPT)/;

interface SqliteRow extends SqlKeyRow {
  last_used: string | null;
}

export class SqliteKeyStore implements KeyStore {
  readonly name = 'sqlite';
  readonly #db: Database.Database;
  readonly #stmt: {
    findUnused: Database.Statement<[string, string, string], SqliteRow>;
    insert: Database.Statement<unknown[]>;
    get: Database.Statement<[string], SqliteRow>;
    delete: Database.Statement<[string]>;
    markUsed: Database.Statement<[string, string, string]>;
    aliasSamples: Database.Statement<[], SqliteRow>;
    all: Database.Statement<[], SqliteRow>;
    replace: Database.Statement<[Buffer, string, string, string, Buffer]>;
  };

  private constructor(db: Database.Database) {
    this.#db = db;
    const prepare = <P extends unknown[], R = unknown>(sql: string) => db.prepare<P, R>(sql);
    this.#stmt = {
      findUnused: prepare(
        `SELECT ${ROW_COLUMNS} FROM private_keys WHERE gun = ? AND role = ? AND algorithm = ?
         AND last_used IS NULL AND ${LIVE} ORDER BY key_id LIMIT 1`,
      ),
      insert: prepare(
        `INSERT INTO private_keys (${INSERT_COLUMNS})
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      get: prepare(`SELECT ${ROW_COLUMNS} FROM private_keys WHERE key_id = ? AND ${LIVE}`),
      delete: prepare(`DELETE FROM private_keys WHERE key_id = ?`),
      markUsed: prepare(
        `UPDATE private_keys SET last_used = ?, updated_at = ? WHERE key_id = ? AND ${LIVE}`,
      ),
      aliasSamples: prepare(
        `SELECT ${ROW_COLUMNS} FROM private_keys WHERE ${LIVE} AND key_id IN
         (SELECT MIN(key_id) FROM private_keys WHERE ${LIVE} GROUP BY passphrase_alias)`,
      ),
      all: prepare(`SELECT ${ROW_COLUMNS} FROM private_keys WHERE ${LIVE} ORDER BY key_id`),
      replace: prepare(
        `UPDATE private_keys SET private = ?, passphrase_alias = ?, updated_at = ?
         WHERE key_id = ? AND private = ?`,
      ),
    };
  }

  /** Opens (creating file and table if needed) the database at `path`. */
  static open(path: string, opts: { busyTimeoutMs?: number } = {}): SqliteKeyStore {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'a', 0o600));
      const db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(SQLITE_SCHEMA);
      return new SqliteKeyStore(db);
    } catch (e) {
      throw new TrustdeskError(
        'ERR_SIGNER_UNAVAILABLE',
        `cannot open the key database ${path}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e, hint: 'Check storage.db_url names a writable SQLite file.' },
      );
    }
  }

  #run<T>(what: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      if (e instanceof TrustdeskError) return Promise.reject(e);
      const code = (e as { code?: unknown } | null)?.code;
      const unavailable = typeof code === 'string' && UNAVAILABLE.test(code);
      return Promise.reject((unavailable ? storeUnavailable : storeFailed)('sqlite', what, e));
    }
  }

  findUnused(gun: string, role: string, algorithm: string): Promise<KeyRow | undefined> {
    return this.#run('key lookup', () => {
      const r = this.#stmt.findUnused.get(gun, role, algorithm);
      return r && toRow(r);
    });
  }

  insert(row: KeyRow): Promise<void> {
    return this.#run('key insert', () => {
      const now = new Date().toISOString();
      this.#stmt.insert.run(now, now, ...insertValues(row));
    });
  }

  get(keyId: string): Promise<KeyRow | undefined> {
    return this.#run('key lookup', () => {
      const r = this.#stmt.get.get(keyId);
      return r && toRow(r);
    });
  }

  delete(keyId: string): Promise<KeyRow | undefined> {
    return this.#run('key delete', () =>
      this.#db.transaction(() => {
        const r = this.#stmt.get.get(keyId);
        this.#stmt.delete.run(keyId);
        return r && toRow(r);
      })(),
    );
  }

  markUsed(keyId: string, nowMs: number): Promise<boolean> {
    return this.#run('key update', () => {
      const at = new Date(nowMs).toISOString();
      return this.#stmt.markUsed.run(at, at, keyId).changes > 0;
    });
  }

  aliasSamples(): Promise<KeyRow[]> {
    return this.#run('key scan', () => this.#stmt.aliasSamples.all().map(toRow));
  }

  all(): Promise<KeyRow[]> {
    return this.#run('key scan', () => this.#stmt.all.all().map(toRow));
  }

  replacePrivate(updates: readonly PrivateUpdate[]): Promise<void> {
    return this.#run('passphrase rotation', () =>
      this.#db.transaction(() => {
        const now = new Date().toISOString();
        for (const u of updates) {
          const changed = this.#stmt.replace.run(
            Buffer.from(u.private, 'utf8'),
            u.passphraseAlias,
            now,
            u.keyId,
            Buffer.from(u.expected, 'utf8'),
          ).changes;
          if (changed !== 1) throw rotationConflict(u.keyId);
        }
      })(),
    );
  }

  health(): Promise<void> {
    return this.#run('health check', () => {
      this.#db.prepare('SELECT 1 FROM private_keys LIMIT 1').get();
    });
  }

  close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
