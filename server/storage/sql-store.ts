// What the SQL backends (sqlite.ts, postgres.ts, mysql.ts) share: every read, written once
// against a dialect's bind-parameter syntax, and the query shapes their writes reuse (the
// version pre-check). Each backend keeps what genuinely differs in its own file: how a query
// reaches the driver, error mapping, locking and transactions, time columns, close().
//
// Rules (on top of types.ts / input.ts):
//   - A read whose GUN/role/key id/version/checksum could never have been stored answers "not
//     found" without touching the database (input.ts).
//   - Lookups of one file take the first row: getByChecksum the oldest (ORDER BY id), getLatest
//     the highest version; (gun, role, version) is unique.

import {
  assertOpen,
  type FeedPlan,
  isSha256Hex,
  planChangefeed,
  storableName,
  validVersion,
} from './input.js';
import {
  CHANGE_COLS,
  type ChangeRow,
  FILE_COLS,
  type FileRow,
  KEY_COLS,
  type KeyRow,
  toChange,
  toFile,
  toKey,
  toVersionMap,
  type VersionRow,
} from './sql-rows.js';
import {
  type Change,
  type ChangefeedQuery,
  type MetaStore,
  type NewTufFile,
  type StoredServerKey,
  type TufFile,
} from './types.js';

export interface SqlDialect {
  /** The n-th (1-based) bind parameter: `?` or `$n`. */
  param: (n: number) => string;
  /** Parameter n compared with a BIGINT id column, bound from a decimal string (may exceed 2^53). */
  changeId: (n: number, id: string) => { sql: string; value: unknown };
  /** `role` among the array bound as parameter n; absent where the driver binds no arrays. */
  roleIn?: (n: number) => string;
}

export interface SqlQuery {
  sql: string;
  values: unknown[];
}

/**
 * Highest stored version per role of `gun`; with `roles`, only those (the pre-check of an upload)
 * where the dialect can bind a list — otherwise every role, which checkVersions ignores.
 */
export function latestVersionsQuery(
  d: SqlDialect,
  gun: string,
  roles?: readonly string[],
): SqlQuery {
  const values: unknown[] = [gun];
  let where = `gun = ${d.param(1)}`;
  if (roles && d.roleIn) {
    values.push(roles);
    where += ` AND role ${d.roleIn(2)}`;
  }
  return {
    sql: `SELECT role, MAX(version) AS v FROM tuf_files WHERE ${where} GROUP BY role`,
    values,
  };
}

function changefeedQuery(d: SqlDialect, plan: FeedPlan): SqlQuery {
  const where: string[] = [];
  const values: unknown[] = [];
  if (plan.gun !== null) {
    values.push(plan.gun);
    where.push(`gun = ${d.param(values.length)}`);
  }
  if (plan.bound !== undefined) {
    const id = d.changeId(values.length + 1, plan.bound);
    values.push(id.value);
    where.push(`id ${plan.reversed ? '<' : '>'} ${id.sql}`);
  }
  values.push(plan.limit);
  const sql =
    `SELECT ${CHANGE_COLS} FROM changefeed` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY id ${plan.reversed ? 'DESC' : 'ASC'} LIMIT ${d.param(values.length)}`;
  return { sql, values };
}

export abstract class SqlMetaStore implements MetaStore {
  abstract readonly backend: 'sqlite' | 'postgres' | 'mysql';
  protected closed = false;

  constructor(private readonly dialect: SqlDialect) {}

  /**
   * Runs one read and returns its rows; failures become storage errors naming `what`. `name`
   * marks a hot statement worth preparing on the server (PostgreSQL).
   */
  protected abstract select<R>(
    what: string,
    sql: string,
    values: unknown[],
    name?: string,
  ): Promise<R[]>;

  abstract updateMany(gun: string, files: readonly NewTufFile[]): Promise<void>;
  abstract deleteGun(gun: string): Promise<boolean>;
  abstract putServerKey(key: Omit<StoredServerKey, 'createdAt' | 'lastUsed'>): Promise<void>;
  abstract markServerKeyUsed(keyId: string): Promise<void>;
  abstract close(): Promise<void>;

  protected assertOpen(): void {
    assertOpen(this.closed);
  }

  private async file(name: string, where: string, values: unknown[]): Promise<TufFile | undefined> {
    const [row] = await this.select<FileRow>(
      'reading metadata',
      `SELECT ${FILE_COLS} FROM tuf_files WHERE ${where}`,
      values,
      name,
    );
    return row && toFile(row);
  }

  async getLatest(gun: string, role: string): Promise<TufFile | undefined> {
    if (!storableName(gun, role)) return undefined;
    const { param: p } = this.dialect;
    return this.file(
      'td_latest',
      `gun = ${p(1)} AND role = ${p(2)} ORDER BY version DESC LIMIT 1`,
      [gun, role],
    );
  }

  async getByChecksum(gun: string, role: string, sha256: string): Promise<TufFile | undefined> {
    if (!storableName(gun, role) || !isSha256Hex(sha256)) return undefined;
    const { param: p } = this.dialect;
    return this.file(
      'td_by_checksum',
      `gun = ${p(1)} AND role = ${p(2)} AND sha256 = ${p(3)} ORDER BY id LIMIT 1`,
      [gun, role, sha256],
    );
  }

  async getByVersion(gun: string, role: string, version: number): Promise<TufFile | undefined> {
    if (!storableName(gun, role) || !validVersion(version)) return undefined;
    const { param: p } = this.dialect;
    return this.file('td_by_version', `gun = ${p(1)} AND role = ${p(2)} AND version = ${p(3)}`, [
      gun,
      role,
      version,
    ]);
  }

  async latestVersions(gun: string): Promise<Map<string, number>> {
    if (!storableName(gun)) return new Map();
    const q = latestVersionsQuery(this.dialect, gun);
    return toVersionMap(await this.select<VersionRow>('reading metadata', q.sql, q.values));
  }

  async changefeed(q: ChangefeedQuery): Promise<Change[]> {
    const plan = planChangefeed(q);
    if (!plan) return [];
    const { sql, values } = changefeedQuery(this.dialect, plan);
    const rows = await this.select<ChangeRow>('reading the changefeed', sql, values);
    if (plan.reversed) rows.reverse();
    return rows.map(toChange);
  }

  async latestChangeId(): Promise<string> {
    const [row] = await this.select<{ id: number | string | null }>(
      'reading the changefeed',
      'SELECT MAX(id) AS id FROM changefeed',
      [],
      'td_latest_change',
    );
    return row?.id == null ? '0' : String(row.id);
  }

  async getServerKey(keyId: string): Promise<StoredServerKey | undefined> {
    if (!storableName(keyId)) return undefined;
    const [row] = await this.select<KeyRow>(
      'reading a server key',
      `SELECT ${KEY_COLS} FROM server_keys WHERE key_id = ${this.dialect.param(1)}`,
      [keyId],
    );
    return row && toKey(row);
  }

  async findUnusedServerKey(
    gun: string,
    role: string,
    algorithm: string,
  ): Promise<StoredServerKey | undefined> {
    if (!storableName(gun, role, algorithm)) return undefined;
    const { param: p } = this.dialect;
    const [row] = await this.select<KeyRow>(
      'reading a server key',
      `SELECT ${KEY_COLS} FROM server_keys
        WHERE gun = ${p(1)} AND role = ${p(2)} AND algorithm = ${p(3)} AND last_used IS NULL ORDER BY key_id LIMIT 1`,
      [gun, role, algorithm],
    );
    return row && toKey(row);
  }

  async check(): Promise<void> {
    await this.select('checking the database', 'SELECT 1 FROM tuf_files LIMIT 1', []);
  }
}
