// DDL of the `private_keys` table (Go GormPrivateKey, notary-protocol §6.3) for SQLite and
// PostgreSQL: Go's column names, types and NULL rules, key columns binary (BLOB/BYTEA, §9), plus
// a partial index for Create's "never used key of (gun, role, algorithm)" lookup. Created if
// missing; an existing table (made by Go's migrations or by us) is used as it is.

/** The DDL with one dialect's id, time and binary column types. */
function schema(id: string, time: string, binary: string): string {
  return `
CREATE TABLE IF NOT EXISTS private_keys (
  id ${id},
  created_at ${time} NULL DEFAULT NULL,
  updated_at ${time} NULL DEFAULT NULL,
  deleted_at ${time} NULL DEFAULT NULL,
  key_id VARCHAR(255) NOT NULL UNIQUE,
  encryption_alg VARCHAR(255) NOT NULL,
  keywrap_alg VARCHAR(255) NOT NULL,
  algorithm VARCHAR(50) NOT NULL,
  passphrase_alias VARCHAR(50) NOT NULL,
  gun VARCHAR(255) NOT NULL,
  role VARCHAR(255) NOT NULL,
  public ${binary} NOT NULL,
  private ${binary} NOT NULL,
  last_used ${time} NULL DEFAULT NULL
);
CREATE INDEX IF NOT EXISTS private_keys_unused_idx
  ON private_keys (gun, role, algorithm, key_id) WHERE last_used IS NULL AND deleted_at IS NULL;
`;
}

export const SQLITE_SCHEMA = schema('INTEGER PRIMARY KEY AUTOINCREMENT', 'DATETIME', 'BLOB');
export const POSTGRES_SCHEMA = schema('SERIAL PRIMARY KEY', 'TIMESTAMP', 'BYTEA');

/** The columns every query reads, in KeyRow order. */
export const ROW_COLUMNS =
  'key_id, algorithm, gun, role, public, private, passphrase_alias, encryption_alg, keywrap_alg, last_used';
