// What the SQL key stores (sqlite.ts, postgres.ts) share once a row is read: the `private_keys`
// columns as the drivers return them (ROW_COLUMNS order, schema.ts) and their KeyRow. Key
// columns are binary (BLOB/BYTEA); last_used is Go's time text (SQLite) or a Date (pg).

import { type KeyRow } from './types.js';

/** Rows still in use: a soft-deleted row (Go's deleted_at) is never read. */
export const LIVE = 'deleted_at IS NULL';

export interface SqlKeyRow {
  key_id: string;
  algorithm: string;
  gun: string;
  role: string;
  public: Buffer;
  private: Buffer;
  passphrase_alias: string;
  encryption_alg: string;
  keywrap_alg: string;
  last_used: string | Date | null;
}

/** Go writes "2006-01-02 15:04:05.999999999-07:00", we write ISO 8601 UTC; any time is "used". */
export function parseDbTime(v: string | Date | null): number | null {
  if (v === null) return null;
  if (v instanceof Date) return v.getTime();
  const ms = Date.parse(v.replace(' ', 'T'));
  return Number.isNaN(ms) ? 0 : ms;
}

export function toRow(r: SqlKeyRow): KeyRow {
  return {
    keyId: r.key_id,
    algorithm: r.algorithm,
    gun: r.gun,
    role: r.role,
    publicBytes: new Uint8Array(r.public),
    private: r.private.toString('utf8'),
    passphraseAlias: r.passphrase_alias,
    encryptionAlg: r.encryption_alg,
    keywrapAlg: r.keywrap_alg,
    lastUsedMs: parseDbTime(r.last_used),
  };
}

/** The columns an insert writes; created_at and updated_at are bound first, then insertValues. */
export const INSERT_COLUMNS =
  'created_at, updated_at, key_id, encryption_alg, keywrap_alg, algorithm, passphrase_alias, gun, role, public, private';

/** An insert's values after created_at and updated_at, in INSERT_COLUMNS order. */
export function insertValues(row: KeyRow): unknown[] {
  return [
    row.keyId,
    row.encryptionAlg,
    row.keywrapAlg,
    row.algorithm,
    row.passphraseAlias,
    row.gun,
    row.role,
    Buffer.from(row.publicBytes),
    Buffer.from(row.private, 'utf8'),
  ];
}
