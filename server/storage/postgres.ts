// PostgreSQL MetaStore (`pg` Pool). Several trustdesk-server processes may share one database:
// this is how operators scale out, so every rule below holds across processes.
//
// Rules (on top of types.ts / input.ts; the reads are in sql-store.ts):
//   - A write (updateMany, deleteGun) is one transaction that first takes
//     pg_advisory_xact_lock(<GUN namespace>, hashtext(gun)), then — in READ COMMITTED, so the
//     next statement sees everything committed before the lock was granted — checks versions
//     and inserts. Writers of one GUN are thereby serialised; a hash collision between two GUNs
//     only serialises them too. UNIQUE(gun, role, version) backs this up (23505 → conflict).
//   - Changefeed ids must appear in commit order (types.ts). A sequence hands ids out at insert
//     time, not commit time, so a writer takes one global advisory lock just before inserting
//     its changefeed row and holds it to COMMIT: ids are then assigned and become visible in the
//     same order. Only that short tail of publishes is serialised globally.
//   - lock_timeout bounds every lock wait (StorageUnavailableError, 503), and
//     idle_in_transaction_session_timeout frees the locks of a replica that hangs mid-write.
//   - A dropped connection never crashes the process: the pool's 'error' event (idle clients)
//     is handled, a checked-out client gets an 'error' listener for as long as we hold it, and a
//     client that failed is destroyed rather than pooled. The pool reconnects on the next call.

import pg from 'pg';
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
import { migratePostgres, PG_LOCK_NAMESPACE } from './migrations.js';
import { KEY_INSERT_COLS, serverKeyValues, toVersionMap, type VersionRow } from './sql-rows.js';
import { latestVersionsQuery, type SqlDialect, SqlMetaStore } from './sql-store.js';
import {
  type NewTufFile,
  type StoredServerKey,
  StorageError,
  StorageUnavailableError,
  VersionConflictError,
} from './types.js';

export interface PostgresStoreOptions {
  /** A postgres:// URL as pg understands it (open.ts turns Go's db_url into one). */
  connectionString: string;
  /** Connections per process (default 10). */
  poolSize?: number;
  /** Longest wait for a lock, e.g. another replica's write to the same GUN (default 10 s). */
  lockTimeoutMs?: number;
  /** Longest wait for a new connection (default 5 s). */
  connectTimeoutMs?: number;
  /** Errors that happen outside any call, e.g. an idle connection dropped by the server. */
  onBackgroundError?: (err: Error) => void;
}

const POSTGRES: SqlDialect = {
  param: (n) => `$${n}`,
  changeId: (n, id) => ({ sql: `$${n}::bigint`, value: id }),
  roleIn: (n) => `= ANY($${n})`,
};

const GUN_LOCK_NAMESPACE = PG_LOCK_NAMESPACE + 1;
const CHANGEFEED_LOCK: [number, number] = [PG_LOCK_NAMESPACE, 2];

// SQLSTATE classes meaning "could not do it now": connection exception, insufficient resources,
// operator intervention (shutdown, query_canceled by a timeout), system error; plus lock timeout,
// serialization failure, deadlock and idle-session termination.
const UNAVAILABLE_STATE = /^(08|53|57|58)|^(55P03|40001|40P01|25P03)$/;
// pg's own errors for a broken or missing connection carry no SQLSTATE.
const CONNECTION_MESSAGE =
  /connection terminated|timeout exceeded when trying to connect|not queryable|connection error|after calling end on the pool|query read timeout|connect(ion)? timeout/i;

function pgError(e: unknown, what: string): Error {
  if (e instanceof VersionConflictError || e instanceof StorageError) return e;
  if (e instanceof pg.DatabaseError) {
    const msg = `${what}: PostgreSQL ${e.code ?? ''}: ${e.message}`;
    return UNAVAILABLE_STATE.test(e.code ?? '')
      ? new StorageUnavailableError(msg, { cause: e })
      : new StorageError(msg, { cause: e });
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const sysCode = (err as { code?: unknown }).code;
  if (
    (typeof sysCode === 'string' && /^E[A-Z]+$/.test(sysCode)) ||
    CONNECTION_MESSAGE.test(err.message)
  ) {
    return new StorageUnavailableError(`${what}: PostgreSQL unreachable: ${err.message}`, {
      cause: err,
    });
  }
  return new StorageError(`${what}: ${err.message}`, { cause: err });
}

/**
 * Runs `fn` on a checked-out client. A client that broke (a connection-level error, or a failed
 * ROLLBACK that `fn` reports through `markBroken`) is destroyed, never returned to the pool.
 */
async function withClient<T>(
  pool: pg.Pool,
  fn: (c: pg.PoolClient, markBroken: (e: Error) => void) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const markBroken = (e: Error) => (broken ??= e);
  client.on('error', markBroken);
  try {
    return await fn(client, markBroken);
  } catch (e) {
    if (!(e instanceof pg.DatabaseError) && !(e instanceof VersionConflictError))
      markBroken(e as Error);
    throw e;
  } finally {
    client.removeListener('error', markBroken);
    client.release(broken);
  }
}

export class PostgresMetaStore extends SqlMetaStore {
  readonly backend = 'postgres';

  constructor(private readonly pool: pg.Pool) {
    super(POSTGRES);
  }

  private async query<R extends pg.QueryResultRow>(
    what: string,
    q: pg.QueryConfig,
  ): Promise<pg.QueryResult<R>> {
    this.assertOpen();
    try {
      return await this.pool.query<R>(q);
    } catch (e) {
      throw pgError(e, what);
    }
  }

  protected override async select<R>(
    what: string,
    text: string,
    values: unknown[],
    name?: string,
  ): Promise<R[]> {
    const { rows } = await this.query(what, name ? { name, text, values } : { text, values });
    return rows as R[];
  }

  /** One transaction holding the GUN's advisory lock. */
  private async writeGun<T>(
    what: string,
    gun: string,
    fn: (c: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    this.assertOpen();
    try {
      return await withClient(this.pool, async (c, markBroken) => {
        await c.query('BEGIN');
        try {
          await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
            GUN_LOCK_NAMESPACE,
            gun,
          ]);
          const out = await fn(c);
          await c.query('COMMIT');
          return out;
        } catch (e) {
          await c.query('ROLLBACK').catch(markBroken);
          throw e;
        }
      });
    } catch (e) {
      throw pgError(e, what);
    }
  }

  private static async appendChanges(
    c: pg.PoolClient,
    gun: string,
    changes: NewChange[],
  ): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', CHANGEFEED_LOCK);
    const values: unknown[] = [gun];
    const tuples = changes.map((ch) => {
      values.push(ch.version, ch.sha256, ch.category);
      const n = values.length;
      return `($1, $${n - 2}, $${n - 1}, $${n})`;
    });
    await c.query(
      `INSERT INTO changefeed (gun, version, sha256, category) VALUES ${tuples.join(', ')}`,
      values,
    );
  }

  override async updateMany(gun: string, files: readonly NewTufFile[]): Promise<void> {
    const planned = planFiles(gun, files);
    if (planned.length === 0) return;
    await this.writeGun('storing metadata', gun, async (c) => {
      const stored = latestVersionsQuery(POSTGRES, gun, [...new Set(planned.map((f) => f.role))]);
      const { rows } = await c.query<VersionRow>(stored.sql, stored.values);
      checkVersions(gun, planned, toVersionMap(rows));
      const values: unknown[] = [gun];
      const tuples = planned.map((f) => {
        values.push(f.role, f.version, f.sha256, asBuffer(f.data));
        const n = values.length;
        return `($1, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
      });
      try {
        await c.query(
          `INSERT INTO tuf_files (gun, role, version, sha256, data) VALUES ${tuples.join(', ')}`,
          values,
        );
      } catch (e) {
        // Only a writer that skips our lock (e.g. Go notary-server on the same database) gets here.
        if (e instanceof pg.DatabaseError && e.code === '23505') {
          const f =
            planned.find((p) => e.detail?.includes(`, ${p.role}, ${p.version})`)) ?? planned[0]!;
          throw new VersionConflictError(gun, f.role, f.version);
        }
        throw e;
      }
      const changes = uploadChanges(planned);
      if (changes.length > 0) await PostgresMetaStore.appendChanges(c, gun, changes);
    });
  }

  override async deleteGun(gun: string): Promise<boolean> {
    if (!storableName(gun)) return false;
    return this.writeGun('deleting a GUN', gun, async (c) => {
      const { rowCount } = await c.query('DELETE FROM tuf_files WHERE gun = $1', [gun]);
      if (!rowCount) return false;
      await PostgresMetaStore.appendChanges(c, gun, [DELETION]);
      return true;
    });
  }

  override async putServerKey(key: Omit<StoredServerKey, 'createdAt' | 'lastUsed'>): Promise<void> {
    assertServerKey(key);
    const { rowCount } = await this.query('storing a server key', {
      text: `INSERT INTO server_keys (${KEY_INSERT_COLS})
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_id) DO NOTHING`,
      values: serverKeyValues(key),
    });
    if (!rowCount) throw duplicateKeyError(key.keyId);
  }

  override async markServerKeyUsed(keyId: string): Promise<void> {
    if (!storableName(keyId)) return;
    await this.query('updating a server key', {
      text: 'UPDATE server_keys SET last_used = now() WHERE key_id = $1',
      values: [keyId],
    });
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresMetaStore> {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'trustdesk-server',
    lock_timeout: opts.lockTimeoutMs ?? 10_000,
    idle_in_transaction_session_timeout: 60_000,
  });
  pool.on('error', (err) => opts.onBackgroundError?.(err));
  try {
    await withClient(pool, (c) => migratePostgres(c));
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw pgError(e, 'preparing the PostgreSQL schema');
  }
  return new PostgresMetaStore(pool);
}
