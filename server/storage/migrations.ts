// Versioned schema for the SQL backends (notary-protocol §5.4), applied on every start.
//
// Rules:
//   - `schema_migrations` records each applied version; a start applies only the missing ones,
//     in order, so running it again is a no-op (idempotent), and every statement is also
//     IF NOT EXISTS so a crash half-way through a MySQL migration (DDL there is not
//     transactional) is repaired by the next start.
//   - Two replicas starting at once are serialised by a lock taken BEFORE any DDL:
//     PostgreSQL `pg_advisory_xact_lock` with all DDL in one transaction; MySQL/MariaDB
//     `GET_LOCK` (server-wide, hence keyed by database name); SQLite `BEGIN IMMEDIATE`.
//   - A database migrated by a newer trustdesk (a version we do not know) is refused, never
//     written to.
//
// Schema notes: the tuf_files/changefeed columns are the ones Go's gorm models use (including
// gorm's `deleted_at`, always NULL here: rows are hard-deleted), so Go notary-server can run on a
// database created by these migrations. MySQL tables use a binary NO PAD collation: GUNs and roles
// compare byte-exactly ('a' ≠ 'A', 'a' ≠ 'a '), as in PostgreSQL and SQLite. changefeed.sha256 is
// varchar, as in gorm's model: Go writes '' for deletions, which a char(64) would pad.

import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { Pool as MysqlPool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { createHash } from 'node:crypto';
import { StorageError, StorageUnavailableError } from './types.js';

export interface Migration {
  version: number;
  name: string;
  sqlite: readonly string[];
  postgres: readonly string[];
  /** `collate` is the binary NO PAD collation the server offers. */
  mysql: (collate: string) => readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tuf_files, changefeed, server_keys',
    sqlite: [
      `CREATE TABLE IF NOT EXISTS tuf_files (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        deleted_at TEXT,
        gun VARCHAR(255) NOT NULL,
        role VARCHAR(255) NOT NULL,
        version INTEGER NOT NULL,
        sha256 CHAR(64) NOT NULL,
        data BLOB NOT NULL,
        UNIQUE (gun, role, version))`,
      `CREATE INDEX IF NOT EXISTS idx_tuf_files_sha256 ON tuf_files (sha256)`,
      `CREATE TABLE IF NOT EXISTS changefeed (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        gun VARCHAR(255) NOT NULL,
        version INTEGER NOT NULL,
        sha256 VARCHAR(64),
        category VARCHAR(20) NOT NULL DEFAULT 'update' CHECK (category IN ('update', 'deletion')))`,
      `CREATE INDEX IF NOT EXISTS idx_changefeed_gun ON changefeed (gun, id)`,
      `CREATE TABLE IF NOT EXISTS server_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key_id VARCHAR(255) NOT NULL UNIQUE,
        gun VARCHAR(255) NOT NULL,
        role VARCHAR(255) NOT NULL,
        algorithm VARCHAR(50) NOT NULL,
        public_key BLOB NOT NULL,
        encrypted_private BLOB NOT NULL,
        created_at TEXT NOT NULL,
        last_used TEXT)`,
      `CREATE INDEX IF NOT EXISTS idx_server_keys_unused
        ON server_keys (gun, role, algorithm, key_id) WHERE last_used IS NULL`,
    ],
    postgres: [
      `CREATE TABLE IF NOT EXISTS tuf_files (
        id BIGSERIAL PRIMARY KEY,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        deleted_at TIMESTAMPTZ,
        gun VARCHAR(255) NOT NULL,
        role VARCHAR(255) NOT NULL,
        version INTEGER NOT NULL,
        sha256 CHAR(64) NOT NULL,
        data BYTEA NOT NULL,
        CONSTRAINT tuf_files_gun_role_version_key UNIQUE (gun, role, version))`,
      `CREATE INDEX IF NOT EXISTS idx_tuf_files_sha256 ON tuf_files (sha256)`,
      `CREATE TABLE IF NOT EXISTS changefeed (
        id BIGSERIAL PRIMARY KEY,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        gun VARCHAR(255) NOT NULL,
        version INTEGER NOT NULL,
        sha256 VARCHAR(64),
        category VARCHAR(20) NOT NULL DEFAULT 'update' CHECK (category IN ('update', 'deletion')))`,
      `CREATE INDEX IF NOT EXISTS idx_changefeed_gun ON changefeed (gun, id)`,
      `CREATE TABLE IF NOT EXISTS server_keys (
        id BIGSERIAL PRIMARY KEY,
        key_id VARCHAR(255) NOT NULL UNIQUE,
        gun VARCHAR(255) NOT NULL,
        role VARCHAR(255) NOT NULL,
        algorithm VARCHAR(50) NOT NULL,
        public_key BYTEA NOT NULL,
        encrypted_private BYTEA NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        last_used TIMESTAMPTZ)`,
      `CREATE INDEX IF NOT EXISTS idx_server_keys_unused
        ON server_keys (gun, role, algorithm, key_id) WHERE last_used IS NULL`,
    ],
    mysql: (collate) => [
      `CREATE TABLE IF NOT EXISTS tuf_files (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        created_at DATETIME(6) NOT NULL,
        updated_at DATETIME(6) NOT NULL,
        deleted_at DATETIME(6) NULL,
        gun VARCHAR(255) NOT NULL,
        role VARCHAR(255) NOT NULL,
        version INT NOT NULL,
        sha256 CHAR(64) NOT NULL,
        data LONGBLOB NOT NULL,
        UNIQUE KEY idx_gun (gun, role, version),
        KEY idx_tuf_files_sha256 (sha256)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collate}`,
      `CREATE TABLE IF NOT EXISTS changefeed (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        created_at DATETIME(6) NOT NULL,
        gun VARCHAR(255) NOT NULL,
        version INT NOT NULL,
        sha256 VARCHAR(64) NULL,
        category VARCHAR(20) NOT NULL DEFAULT 'update',
        CONSTRAINT changefeed_category CHECK (category IN ('update', 'deletion')),
        KEY idx_changefeed_gun (gun, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collate}`,
      `CREATE TABLE IF NOT EXISTS server_keys (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        key_id VARCHAR(255) NOT NULL,
        gun VARCHAR(255) NOT NULL,
        role VARCHAR(255) NOT NULL,
        algorithm VARCHAR(50) NOT NULL,
        public_key BLOB NOT NULL,
        encrypted_private BLOB NOT NULL,
        created_at DATETIME(6) NOT NULL,
        last_used DATETIME(6) NULL,
        UNIQUE KEY idx_server_keys_key_id (key_id),
        KEY idx_server_keys_unused (gun, role, algorithm)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collate}`,
      // One row per named lock that must be held to commit (see mysql.ts: changefeed order).
      `CREATE TABLE IF NOT EXISTS trustdesk_locks (
        name VARCHAR(64) NOT NULL PRIMARY KEY
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collate}`,
      `INSERT IGNORE INTO trustdesk_locks (name) VALUES ('changefeed')`,
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Advisory-lock namespace (first int4 key) of trustdesk in PostgreSQL; second key below. */
export const PG_LOCK_NAMESPACE = 0x7d5e_0001;
export const PG_LOCK_MIGRATE = 1;

function pending(applied: Iterable<number>): Migration[] {
  const done = new Set(applied);
  const newest = Math.max(0, ...done);
  if (newest > SCHEMA_VERSION) {
    throw new StorageError(
      `the database schema is at version ${newest}, newer than this trustdesk-server supports (${SCHEMA_VERSION}); upgrade trustdesk-server`,
    );
  }
  return MIGRATIONS.filter((m) => !done.has(m.version));
}

export function migrateSqlite(db: Database.Database): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
    const applied = db
      .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
      .all();
    const record = db.prepare(
      'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
    );
    for (const m of pending(applied.map((r) => r.version))) {
      for (const sql of m.sqlite) db.exec(sql);
      record.run(m.version, m.name, new Date().toISOString());
    }
  }).immediate();
}

export async function migratePostgres(client: pg.PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    // Another replica may be mid-migration: wait for it longer than for an ordinary lock.
    await client.query(`SET LOCAL lock_timeout = '60s'`);
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [
      PG_LOCK_NAMESPACE,
      PG_LOCK_MIGRATE,
    ]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM schema_migrations',
    );
    for (const m of pending(rows.map((r) => r.version))) {
      for (const sql of m.postgres) await client.query(sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

const MYSQL_MIGRATE_LOCK_SECONDS = 60;

/** The binary collation without trailing-space padding this server offers (MariaDB, MySQL 8). */
async function mysqlCollation(conn: PoolConnection): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS
      WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`,
  );
  const names = new Set(rows.map((r) => String(r.name)));
  for (const c of ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin']) if (names.has(c)) return c;
  return 'utf8mb4_bin';
}

export async function migrateMysql(pool: MysqlPool): Promise<void> {
  const conn = await pool.getConnection();
  let locked = false;
  try {
    const [[db]] = await conn.query<RowDataPacket[]>('SELECT DATABASE() AS name');
    const lockName = `trustdesk:migrate:${createHash('sha256').update(String(db?.name)).digest('hex').slice(0, 32)}`;
    const [[got]] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS ok', [
      lockName,
      MYSQL_MIGRATE_LOCK_SECONDS,
    ]);
    if (Number(got?.ok) !== 1) {
      throw new StorageUnavailableError(
        'timed out waiting for another server to finish migrating the database',
      );
    }
    locked = true;
    try {
      await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at DATETIME(6) NOT NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
      const [rows] = await conn.query<RowDataPacket[]>('SELECT version FROM schema_migrations');
      const todo = pending(rows.map((r) => Number(r.version)));
      if (todo.length > 0) {
        const collate = await mysqlCollation(conn);
        for (const m of todo) {
          for (const sql of m.mysql(collate)) await conn.query(sql);
          await conn.query(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, UTC_TIMESTAMP(6))',
            [m.version, m.name],
          );
        }
      }
    } finally {
      await conn.query('DO RELEASE_LOCK(?)', [lockName]);
      locked = false;
    }
  } finally {
    // A connection that may still hold the lock must not go back to the pool.
    if (locked) conn.destroy();
    else conn.release();
  }
}
