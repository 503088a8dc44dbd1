// The signer's key database: Go notary-signer's `private_keys` table (notary-protocol §6.3,
// Go signer/keydbstore/sql_keydbstore.go), so either signer can run on a database the other
// wrote. One row per key; `private` holds the sealed key (JWE text, or a PKCS#11 URI for token
// keys), stored as bytes as Go does.
//
// Rules every store keeps:
//   - A key is written by one INSERT (one transaction): a crash leaves the whole row or none.
//   - Rows Go soft-deleted (deleted_at set) do not exist for us; our deletes are real DELETEs,
//     so no sealed key lingers after DeleteKey.
//   - findUnused returns the lowest key_id among never-used rows of (gun, role, algorithm), as
//     Go's Create does; markUsed reports whether the row still exists.
//   - replacePrivate (passphrase rotation) applies all updates in ONE transaction, each only if
//     the row still holds the sealed value that was read (compare-and-swap); if any row changed
//     meanwhile nothing is written.
//   - A database that cannot be reached (refused, dropped, timed out, locked) surfaces as
//     ERR_SIGNER_UNAVAILABLE, anything else unexpected as ERR_INTERNAL; connections are re-made
//     on the next call, so the signer recovers when the database is back.

import { TrustdeskError } from '../../src/tuf/errors.js';

export interface KeyRow {
  keyId: string;
  /** Key type: "ecdsa" | "ed25519". */
  algorithm: string;
  gun: string;
  role: string;
  /** keyval.public bytes (notary-protocol §3.1). */
  publicBytes: Uint8Array;
  /** The sealed private key (JWE compact) or token locator. */
  private: string;
  passphraseAlias: string;
  encryptionAlg: string;
  keywrapAlg: string;
  /** ms since the epoch, or null while the key has never signed. */
  lastUsedMs: number | null;
}

export interface PrivateUpdate {
  keyId: string;
  /** The sealed value read before re-sealing (the row must still hold it). */
  expected: string;
  private: string;
  passphraseAlias: string;
}

export interface KeyStore {
  /** "sqlite" | "postgres" | "memory" (for logs). */
  readonly name: string;
  findUnused(gun: string, role: string, algorithm: string): Promise<KeyRow | undefined>;
  insert(row: KeyRow): Promise<void>;
  get(keyId: string): Promise<KeyRow | undefined>;
  /** Deletes the row; returns it, or undefined if there was none. */
  delete(keyId: string): Promise<KeyRow | undefined>;
  /** Sets last_used; false when the row no longer exists. */
  markUsed(keyId: string, nowMs: number): Promise<boolean>;
  /** One row (the lowest key_id) per passphrase alias in use. */
  aliasSamples(): Promise<KeyRow[]>;
  all(): Promise<KeyRow[]>;
  replacePrivate(updates: readonly PrivateUpdate[]): Promise<void>;
  /** Resolves when the database answers a trivial query. */
  health(): Promise<void>;
  close(): Promise<void>;
}

/** Longest varchar(255) values Go's schema allows for key_id, gun and role. */
export const MAX_FIELD_LENGTH = 255;

export function storeUnavailable(store: string, what: string, cause: unknown): TrustdeskError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new TrustdeskError(
    'ERR_SIGNER_UNAVAILABLE',
    `key database (${store}) unavailable during ${what}: ${detail}`,
    {
      cause,
      hint: "Check that the signer's database (storage.db_url) is up and reachable; the signer recovers by itself when it is back.",
    },
  );
}

export function storeFailed(store: string, what: string, cause: unknown): TrustdeskError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new TrustdeskError('ERR_INTERNAL', `key database (${store}) ${what} failed: ${detail}`, {
    cause,
  });
}

export function rotationConflict(keyId: string): TrustdeskError {
  return new TrustdeskError(
    'ERR_INTERNAL',
    `key ${keyId} changed while its passphrase was being rotated; nothing was changed, run the rotation again`,
  );
}
