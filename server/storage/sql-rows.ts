// The rows the SQL backends read back and how each becomes a MetaStore record (and a server
// key's values on the way in). The three drivers differ only in value types: PostgreSQL and
// MySQL return times as Date and changefeed ids (BIGINT) as decimal strings; SQLite returns
// ISO-8601 text and numbers.

import { asBuffer, asBytes } from './input.js';
import { type Change, type StoredServerKey, type TufFile } from './types.js';

/** A time column: Date from pg/mysql2, ISO-8601 text from SQLite. */
type DbTime = Date | string;

export const FILE_COLS = 'gun, role, version, sha256, data, created_at';
export const CHANGE_COLS = 'id, created_at, gun, version, sha256, category';
/** The server_keys columns an insert names (each backend adds its own created_at). */
export const KEY_INSERT_COLS = 'key_id, gun, role, algorithm, public_key, encrypted_private';
export const KEY_COLS = `${KEY_INSERT_COLS}, created_at, last_used`;

export interface FileRow {
  gun: string;
  role: string;
  version: number;
  sha256: string;
  data: Buffer;
  created_at: DbTime;
}

export interface ChangeRow {
  id: number | string;
  created_at: DbTime;
  gun: string;
  version: number;
  sha256: string | null;
  category: 'update' | 'deletion';
}

export interface KeyRow {
  key_id: string;
  gun: string;
  role: 'timestamp' | 'snapshot';
  algorithm: string;
  public_key: Buffer;
  encrypted_private: Buffer;
  created_at: DbTime;
  last_used: DbTime | null;
}

/** One row of `SELECT role, MAX(version) AS v … GROUP BY role`. */
export interface VersionRow {
  role: unknown;
  v: unknown;
}

function toDate(t: DbTime): Date {
  return t instanceof Date ? t : new Date(t);
}

export function toFile(r: FileRow): TufFile {
  return {
    gun: r.gun,
    role: r.role,
    version: r.version,
    sha256: r.sha256,
    data: asBytes(r.data),
    createdAt: toDate(r.created_at),
  };
}

export function toChange(r: ChangeRow): Change {
  return {
    id: String(r.id),
    createdAt: toDate(r.created_at),
    gun: r.gun,
    version: r.version,
    sha256: (r.sha256 ?? '').trim(), // Go's own char(64) schema pads ''
    category: r.category,
  };
}

export function toKey(r: KeyRow): StoredServerKey {
  return {
    keyId: r.key_id,
    gun: r.gun,
    role: r.role,
    algorithm: r.algorithm,
    publicKey: asBytes(r.public_key),
    encryptedPrivate: asBytes(r.encrypted_private),
    createdAt: toDate(r.created_at),
    lastUsed: r.last_used === null ? null : toDate(r.last_used),
  };
}

/** Bind values for KEY_INSERT_COLS. */
export function serverKeyValues(key: Omit<StoredServerKey, 'createdAt' | 'lastUsed'>): unknown[] {
  return [
    key.keyId,
    key.gun,
    key.role,
    key.algorithm,
    asBuffer(key.publicKey),
    asBuffer(key.encryptedPrivate),
  ];
}

/** role → highest stored version (MySQL may hand MAX() back as a string). */
export function toVersionMap(rows: readonly VersionRow[]): Map<string, number> {
  return new Map(rows.map((r) => [String(r.role), Number(r.v)]));
}
