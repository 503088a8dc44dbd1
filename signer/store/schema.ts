// DDL of the `private_keys` table (Go GormPrivateKey, notary-protocol §6.3) for SQLite and
// PostgreSQL: Go's column names, types and NULL rules, key columns binary (BLOB/BYTEA, §9), plus
// a partial index for Create's "never used key of (gun, role, algorithm)" lookup. Created if
// missing; an existing table (made by Go's migrations or by us) is used as it is.

export const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS private_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at DATETIME NULL DEFAULT NULL,
  updated_at DATETIME NULL DEFAULT NULL,
  deleted_at DATETIME NULL DEFAULT NULL,
  key_id VARCHAR(255) NOT NULL UNIQUE,
  encryption_alg VARCHAR(255) NOT NULL,
  keywrap_alg VARCHAR(255) NOT NULL,
  algorithm VARCHAR(50) NOT NULL,
  passphrase_alias VARCHAR(50) NOT NULL,
  gun VARCHAR(255) NOT NULL,
  role VARCHAR(255) NOT NULL,
  public BLOB NOT NULL,
  private BLOB NOT NULL,
  last_used DATETIME NULL DEFAULT NULL
);
CREATE INDEX IF NOT EXISTS private_keys_unused_idx
  ON private_keys (gun, role, algorithm, key_id) WHERE last_used IS NULL AND deleted_at IS NULL;
`;

export const POSTGRES_SCHEMA = `
CREATE TABLE IF NOT EXISTS private_keys (
  id SERIAL PRIMARY KEY,
  created_at TIMESTAMP NULL DEFAULT NULL,
  updated_at TIMESTAMP NULL DEFAULT NULL,
  deleted_at TIMESTAMP NULL DEFAULT NULL,
  key_id VARCHAR(255) NOT NULL UNIQUE,
  encryption_alg VARCHAR(255) NOT NULL,
  keywrap_alg VARCHAR(255) NOT NULL,
  algorithm VARCHAR(50) NOT NULL,
  passphrase_alias VARCHAR(50) NOT NULL,
  gun VARCHAR(255) NOT NULL,
  role VARCHAR(255) NOT NULL,
  public BYTEA NOT NULL,
  private BYTEA NOT NULL,
  last_used TIMESTAMP NULL DEFAULT NULL
);
CREATE INDEX IF NOT EXISTS private_keys_unused_idx
  ON private_keys (gun, role, algorithm, key_id) WHERE last_used IS NULL AND deleted_at IS NULL;
`;

/** The columns every query reads, in KeyRow order. */
export const ROW_COLUMNS =
  'key_id, algorithm, gun, role, public, private, passphrase_alias, encryption_alg, keywrap_alg, last_used';
