// MySQL / MariaDB MetaStore (`mysql2` pool); the backend Go notary-server deployments name.
// Several trustdesk-server processes may share one database.
//
// Rules (on top of types.ts / input.ts; the reads are in sql-store.ts):
//   - A write (updateMany, deleteGun) first takes GET_LOCK on a name derived from (database,
//     GUN) — GET_LOCK names are server-wide — and only then starts its transaction, so the
//     transaction's first read (REPEATABLE READ snapshot) already sees every write committed by
//     the previous holder. Writers of one GUN are thereby serialised across processes; the
//     lock is released after COMMIT/ROLLBACK, and a connection whose release failed is destroyed
//     (never pooled with a lock held). UNIQUE(gun, role, version) backs this up (ER_DUP_ENTRY →
//     conflict).
//   - Changefeed ids in commit order (types.ts): AUTO_INCREMENT hands ids out at insert time,
//     so a writer locks the single `trustdesk_locks.changefeed` row (SELECT … FOR UPDATE) just
//     before its changefeed insert and holds it to COMMIT.
//   - Times are UTC_TIMESTAMP(6) in DATETIME(6) columns, read back as UTC (`timezone: 'Z'`).
//   - A dropped connection never crashes the process: each pooled connection gets a lasting
//     'error' listener (reported to onBackgroundError); failed connections are destroyed; the
//     pool reconnects on the next call.

import { createHash } from 'node:crypto';
import mysql, {
  type Pool,
  type PoolConnection,
  type PoolOptions,
  type ResultSetHeader,
  type RowDataPacket,
} from 'mysql2/promise';
import {
  asBuffer,
  assertServerKey,
  checkVersions,
  DELETION,
  duplicateKeyError,
  type NewChange,
  planFiles,
  storableName,
  uploadChanges,
} from './input.js';
import { migrateMysql } from './migrations.js';
import { KEY_INSERT_COLS, serverKeyValues, toVersionMap, type VersionRow } from './sql-rows.js';
import { latestVersionsQuery, type SqlDialect, SqlMetaStore } from './sql-store.js';
import {
  type NewTufFile,
  type StoredServerKey,
  StorageError,
  StorageUnavailableError,
  VersionConflictError,
} from './types.js';

/** Where and how to connect (open.ts builds this from Go's DSN or a mysql:// URL). */
export interface MysqlConnection {
  host?: string;
  port?: number;
  socketPath?: string;
  user?: string;
  password?: string;
  database: string;
  ssl?: { rejectUnauthorized: boolean };
  connectTimeoutMs?: number;
}

export interface MysqlStoreOptions {
  connection: MysqlConnection;
  /** Connections per process (default 10). */
  poolSize?: number;
  /** Longest wait for another writer of the same GUN (default 10 s). */
  lockTimeoutMs?: number;
  /** Errors that happen outside any call, e.g. an idle connection dropped by the server. */
  onBackgroundError?: (err: Error) => void;
}

const MYSQL: SqlDialect = {
  param: () => '?',
  changeId: (_n, id) => ({ sql: 'CAST(? AS UNSIGNED)', value: id }),
  // mysql2 expands an array bound to one `?` into a list.
  roleIn: () => 'IN (?)',
};

const UNAVAILABLE_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED',
  'ER_CONNECTION_KILLED',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_WRITE_INTERRUPTED',
  'ER_CLIENT_INTERACTION_TIMEOUT',
  'ER_OUT_OF_RESOURCES',
  'ER_STATEMENT_TIMEOUT',
]);
const CLOSED_MESSAGE = /pool is closed|closed state|connection lost/i;

interface DriverError {
  code?: unknown;
  fatal?: unknown;
  sqlState?: unknown;
}

/** A server-reported error on a connection that is still usable (so it may go back to the pool). */
function isStatementError(e: unknown): boolean {
  const d = e as DriverError;
  return typeof d?.sqlState === 'string' && d.fatal !== true;
}

function mysqlError(e: unknown, what: string): Error {
  if (e instanceof VersionConflictError || e instanceof StorageError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const { code, fatal } = err as DriverError;
  const name = typeof code === 'string' ? code : 'error';
  if (
    fatal === true ||
    (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^E[A-Z]+$/.test(code))) ||
    CLOSED_MESSAGE.test(err.message)
  ) {
    return new StorageUnavailableError(`${what}: MySQL unavailable (${name}): ${err.message}`, {
      cause: err,
    });
  }
  return new StorageError(`${what}: MySQL ${name}: ${err.message}`, { cause: err });
}

export class MysqlMetaStore extends SqlMetaStore {
  readonly backend = 'mysql';

  constructor(
    private readonly pool: Pool,
    private readonly database: string,
    private readonly lockTimeoutMs: number,
  ) {
    super(MYSQL);
  }

  protected override async select<R>(what: string, sql: string, values: unknown[]): Promise<R[]> {
    this.assertOpen();
    try {
      const [rows] = await this.pool.query<RowDataPacket[]>(sql, values);
      return rows as R[];
    } catch (e) {
      throw mysqlError(e, what);
    }
  }

  private async exec(what: string, sql: string, values: unknown[]): Promise<ResultSetHeader> {
    this.assertOpen();
    try {
      const [res] = await this.pool.query<ResultSetHeader>(sql, values);
      return res;
    } catch (e) {
      throw mysqlError(e, what);
    }
  }

  private lockName(gun: string): string {
    const h = createHash('sha256').update(`${this.database}\0${gun}`).digest('hex');
    return `trustdesk:${h.slice(0, 40)}`;
  }

  /** One transaction, run while holding the GUN's GET_LOCK. */
  private async writeGun<T>(
    what: string,
    gun: string,
    fn: (c: PoolConnection) => Promise<T>,
  ): Promise<T> {
    this.assertOpen();
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (e) {
      throw mysqlError(e, what);
    }
    let reusable = true;
    try {
      const lock = this.lockName(gun);
      const [[got]] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS ok', [
        lock,
        this.lockTimeoutMs / 1000,
      ]);
      if (Number(got?.ok) !== 1) {
        throw new StorageUnavailableError(
          `${what}: timed out waiting for another writer of the same GUN`,
        );
      }
      try {
        await conn.beginTransaction();
        try {
          const out = await fn(conn);
          await conn.commit();
          return out;
        } catch (e) {
          await conn.rollback().catch(() => (reusable = false));
          throw e;
        }
      } finally {
        await conn.query('DO RELEASE_LOCK(?)', [lock]).catch(() => (reusable = false));
      }
    } catch (e) {
      if (!(e instanceof StorageError || e instanceof VersionConflictError) && !isStatementError(e))
        reusable = false;
      throw mysqlError(e, what);
    } finally {
      if (reusable) conn.release();
      else conn.destroy();
    }
  }

  private static async appendChanges(
    c: PoolConnection,
    gun: string,
    changes: NewChange[],
  ): Promise<void> {
    await c.query(`SELECT name FROM trustdesk_locks WHERE name = 'changefeed' FOR UPDATE`);
    await c.query(
      `INSERT INTO changefeed (gun, version, sha256, category, created_at) VALUES ${changes
        .map(() => '(?, ?, ?, ?, UTC_TIMESTAMP(6))')
        .join(', ')}`,
      changes.flatMap((ch) => [gun, ch.version, ch.sha256, ch.category]),
    );
  }

  override async updateMany(gun: string, files: readonly NewTufFile[]): Promise<void> {
    const planned = planFiles(gun, files);
    if (planned.length === 0) return;
    await this.writeGun('storing metadata', gun, async (c) => {
      const stored = latestVersionsQuery(MYSQL, gun, [...new Set(planned.map((f) => f.role))]);
      const [rows] = await c.query<RowDataPacket[]>(stored.sql, stored.values);
      checkVersions(gun, planned, toVersionMap(rows as VersionRow[]));
      try {
        await c.query(
          `INSERT INTO tuf_files (gun, role, version, sha256, data, created_at, updated_at) VALUES ${planned
            .map(() => '(?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))')
            .join(', ')}`,
          planned.flatMap((f) => [gun, f.role, f.version, f.sha256, asBuffer(f.data)]),
        );
      } catch (e) {
        // Only a writer that skips our lock (e.g. Go notary-server on the same database) gets here.
        if ((e as DriverError).code === 'ER_DUP_ENTRY') {
          const msg = (e as Error).message;
          const f = planned.find((p) => msg.includes(`-${p.role}-${p.version}'`)) ?? planned[0]!;
          throw new VersionConflictError(gun, f.role, f.version);
        }
        throw e;
      }
      const changes = uploadChanges(planned);
      if (changes.length > 0) await MysqlMetaStore.appendChanges(c, gun, changes);
    });
  }

  override async deleteGun(gun: string): Promise<boolean> {
    if (!storableName(gun)) return false;
    return this.writeGun('deleting a GUN', gun, async (c) => {
      const [res] = await c.query<ResultSetHeader>('DELETE FROM tuf_files WHERE gun = ?', [gun]);
      if (res.affectedRows === 0) return false;
      await MysqlMetaStore.appendChanges(c, gun, [DELETION]);
      return true;
    });
  }

  override async putServerKey(key: Omit<StoredServerKey, 'createdAt' | 'lastUsed'>): Promise<void> {
    assertServerKey(key);
    try {
      await this.exec(
        'storing a server key',
        `INSERT INTO server_keys (${KEY_INSERT_COLS}, created_at)
         VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))`,
        serverKeyValues(key),
      );
    } catch (e) {
      if ((e as { cause?: DriverError }).cause?.code === 'ER_DUP_ENTRY') {
        throw duplicateKeyError(key.keyId, e);
      }
      throw e;
    }
  }

  override async markServerKeyUsed(keyId: string): Promise<void> {
    if (!storableName(keyId)) return;
    await this.exec(
      'updating a server key',
      'UPDATE server_keys SET last_used = UTC_TIMESTAMP(6) WHERE key_id = ?',
      [keyId],
    );
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

export async function openMysqlStore(opts: MysqlStoreOptions): Promise<MysqlMetaStore> {
  const c = opts.connection;
  const config: PoolOptions = {
    host: c.host,
    port: c.port,
    socketPath: c.socketPath,
    user: c.user,
    password: c.password,
    database: c.database,
    ssl: c.ssl,
    connectTimeout: c.connectTimeoutMs ?? 5000,
    connectionLimit: opts.poolSize ?? 10,
    waitForConnections: true,
    enableKeepAlive: true,
    idleTimeout: 60_000,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    charset: 'utf8mb4_general_ci',
  };
  const pool = mysql.createPool(config);
  // mysql2 listens for a pooled connection's first 'error' only; a lasting listener makes sure a
  // later one (a dead socket erroring again) is never unhandled, and reports it.
  pool.pool.on('connection', (conn) => {
    conn.on('error', (err: Error) => opts.onBackgroundError?.(err));
  });
  try {
    await migrateMysql(pool);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw mysqlError(e, 'preparing the MySQL schema');
  }
  return new MysqlMetaStore(pool, c.database, opts.lockTimeoutMs ?? 10_000);
}
