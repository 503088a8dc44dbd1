// PostgreSQL key DB (`pg` Pool): what several signer replicas share, and what Go notary-signer
// uses too (the Debian Go build has no SQLite), so both can run on one database. Rules shared
// by every store are in types.ts; here:
//   - the table is created under a transaction-scoped advisory lock, so replicas starting
//     together do not race on CREATE TABLE;
//   - every query has a client-side deadline and a server-side statement_timeout, and a pool
//     connection that breaks is discarded (pool 'error' is handled), so an outage surfaces as
//     ERR_SIGNER_UNAVAILABLE and the next call after the database is back reconnects;
//   - timestamps are written as JS Dates into Go's `timestamp` columns.

import pg from 'pg';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { POSTGRES_SCHEMA, ROW_COLUMNS } from './schema.js';
import { INSERT_COLUMNS, insertValues, LIVE, type SqlKeyRow, toRow } from './sql-rows.js';
import {
  rotationConflict,
  storeFailed,
  storeUnavailable,
  type KeyRow,
  type KeyStore,
  type PrivateUpdate,
} from './types.js';

interface PgRow extends SqlKeyRow {
  last_used: Date | null;
  deleted_at?: Date | null;
}

/** Connection-level failures: refused/reset/timeouts, SQLSTATE classes 08 and 53, shutdowns. */
function isUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (/^(08|53|57P0[1-3])/.test(code)) return true;
    if (/^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|AI_AGAIN)$/.test(code))
      return true;
    if (code === 'ENOTFOUND') return true;
  }
  const msg = e instanceof Error ? e.message : '';
  return /Connection terminated|timeout exceeded|Query read timeout|connection timeout/i.test(msg);
}

const SCHEMA_LOCK = 0x7d5167; // pg_advisory_xact_lock key for CREATE TABLE

export interface PostgresKeyStoreOptions {
  connectionString: string;
  poolSize?: number;
  /** Deadline of one query, ms (default 10 s). */
  queryTimeoutMs?: number;
  /** How long to wait for a connection, ms (default 5 s). */
  connectTimeoutMs?: number;
}

export class PostgresKeyStore implements KeyStore {
  readonly name = 'postgres';
  readonly #pool: pg.Pool;
  #closed: Promise<void> | undefined;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Connects and creates the table if needed; an unreachable database fails the start. */
  static async open(opts: PostgresKeyStoreOptions): Promise<PostgresKeyStore> {
    const timeout = opts.queryTimeoutMs ?? 10_000;
    const pool = new pg.Pool({
      connectionString: opts.connectionString,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: timeout,
      query_timeout: timeout + 2_000,
    });
    // An idle connection that dies (server restart) must not crash the process.
    pool.on('error', () => undefined);
    const store = new PostgresKeyStore(pool);
    try {
      await store.#transaction('schema setup', async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await c.query(POSTGRES_SCHEMA);
      });
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return store;
  }

  #error(what: string, e: unknown): TrustdeskError {
    if (e instanceof TrustdeskError) return e;
    return (isUnavailable(e) ? storeUnavailable : storeFailed)('postgres', what, e);
  }

  async #query(what: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<PgRow>> {
    try {
      return await this.#pool.query<PgRow>(sql, params);
    } catch (e) {
      throw this.#error(what, e);
    }
  }

  async #transaction<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (e) {
      throw this.#error(what, e);
    }
    const onError = () => undefined;
    client.on('error', onError);
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      broken = e;
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.#error(what, e);
    } finally {
      client.off('error', onError);
      // A client whose connection failed is destroyed instead of going back to the pool.
      client.release(broken !== undefined && isUnavailable(broken) ? (broken as Error) : undefined);
    }
  }

  async findUnused(gun: string, role: string, algorithm: string): Promise<KeyRow | undefined> {
    const r = await this.#query(
      'key lookup',
      `SELECT ${ROW_COLUMNS} FROM private_keys WHERE gun = $1 AND role = $2 AND algorithm = $3
       AND last_used IS NULL AND ${LIVE} ORDER BY key_id LIMIT 1`,
      [gun, role, algorithm],
    );
    return r.rows[0] && toRow(r.rows[0]);
  }

  async insert(row: KeyRow): Promise<void> {
    const now = new Date();
    await this.#query(
      'key insert',
      `INSERT INTO private_keys (${INSERT_COLUMNS})
       VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [now, ...insertValues(row)],
    );
  }

  async get(keyId: string): Promise<KeyRow | undefined> {
    const r = await this.#query(
      'key lookup',
      `SELECT ${ROW_COLUMNS} FROM private_keys WHERE key_id = $1 AND ${LIVE}`,
      [keyId],
    );
    return r.rows[0] && toRow(r.rows[0]);
  }

  async delete(keyId: string): Promise<KeyRow | undefined> {
    const r = await this.#query(
      'key delete',
      `DELETE FROM private_keys WHERE key_id = $1 RETURNING ${ROW_COLUMNS}, deleted_at`,
      [keyId],
    );
    const row = r.rows[0];
    return row && row.deleted_at === null ? toRow(row) : undefined;
  }

  async markUsed(keyId: string, nowMs: number): Promise<boolean> {
    const r = await this.#query(
      'key update',
      `UPDATE private_keys SET last_used = $1, updated_at = $1 WHERE key_id = $2 AND ${LIVE}`,
      [new Date(nowMs), keyId],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async aliasSamples(): Promise<KeyRow[]> {
    const r = await this.#query(
      'key scan',
      `SELECT DISTINCT ON (passphrase_alias) ${ROW_COLUMNS} FROM private_keys WHERE ${LIVE}
       ORDER BY passphrase_alias, key_id`,
    );
    return r.rows.map(toRow);
  }

  async all(): Promise<KeyRow[]> {
    const r = await this.#query(
      'key scan',
      `SELECT ${ROW_COLUMNS} FROM private_keys WHERE ${LIVE} ORDER BY key_id`,
    );
    return r.rows.map(toRow);
  }

  replacePrivate(updates: readonly PrivateUpdate[]): Promise<void> {
    return this.#transaction('passphrase rotation', async (c) => {
      const now = new Date();
      for (const u of updates) {
        const r = await c.query(
          `UPDATE private_keys SET private = $1, passphrase_alias = $2, updated_at = $3
           WHERE key_id = $4 AND private = $5`,
          [
            Buffer.from(u.private, 'utf8'),
            u.passphraseAlias,
            now,
            u.keyId,
            Buffer.from(u.expected, 'utf8'),
          ],
        );
        if (r.rowCount !== 1) throw rotationConflict(u.keyId);
      }
    });
  }

  async health(): Promise<void> {
    await this.#query('health check', 'SELECT 1 FROM private_keys LIMIT 1');
  }

  close(): Promise<void> {
    return (this.#closed ??= this.#pool.end());
  }
}
