// The storage interface every backend (memory, sqlite, postgres, mysql) implements
// (notary-protocol §5.4). Bytes are stored and returned exactly as uploaded.
//
// Consistency rules every backend enforces:
//   - updateMany is atomic: all files of one upload are stored, or none;
//   - per (gun, role) versions strictly increase: if any stored row has version >= a new file's
//     version, the whole call fails with VersionConflictError (Go's 400 VERSION);
//   - concurrent updateMany calls for one GUN — from this process or other replicas sharing
//     the database — are serialised (one wins, the other conflicts): never a lost update or fork;
//   - storing a `timestamp` row appends an `update` changefeed record (version, sha256 of the
//     timestamp bytes); deleting a GUN with stored data appends a `deletion` record;
//   - changefeed ids increase in commit order (a reader that has seen id N never later sees a
//     new record with an id below N), so `latestChangeId()` is a sound cache-invalidation token.
// Errors: VersionConflictError (400 VERSION), StorageInputError (a GUN/role/version the store
// cannot hold: 400), StorageUnavailableError (database unreachable, locked or overloaded: 503,
// retry later), StorageError (any other database failure: 500). Messages never contain credentials.

export interface TufFile {
  gun: string;
  role: string;
  version: number;
  /** Lowercase hex sha256 of `data`. */
  sha256: string;
  data: Uint8Array;
  createdAt: Date;
}

export interface NewTufFile {
  role: string;
  version: number;
  data: Uint8Array;
}

export interface Change {
  /** Decimal string, increasing. */
  id: string;
  createdAt: Date;
  gun: string;
  version: number;
  sha256: string;
  category: 'update' | 'deletion';
}

export interface ChangefeedQuery {
  /** null = all GUNs. */
  gun: string | null;
  /** Exclusive start; '0' = from the beginning; negative = from the latest backwards. */
  changeId: string;
  /** > 0: up to n records after changeId; < 0: up to |n| records before changeId. Never 0 here. */
  records: number;
}

/** A private key held by the server's `local` trust service, encrypted at rest. */
export interface StoredServerKey {
  keyId: string;
  gun: string;
  role: 'timestamp' | 'snapshot';
  algorithm: string;
  /** keyval.public bytes (§3.1). */
  publicKey: Uint8Array;
  /** Opaque encrypted private key blob (the trust service encrypts/decrypts). */
  encryptedPrivate: Uint8Array;
  createdAt: Date;
  /** Set once the key has signed something (used keys are never handed out as "new"). */
  lastUsed: Date | null;
}

export interface MetaStore {
  readonly backend: 'memory' | 'sqlite' | 'postgres' | 'mysql';
  updateMany(gun: string, files: readonly NewTufFile[]): Promise<void>;
  /** Highest version stored for (gun, role). */
  getLatest(gun: string, role: string): Promise<TufFile | undefined>;
  getByChecksum(gun: string, role: string, sha256: string): Promise<TufFile | undefined>;
  getByVersion(gun: string, role: string, version: number): Promise<TufFile | undefined>;
  /** Highest stored version per role of a GUN (for the version-increase pre-check). */
  latestVersions(gun: string): Promise<Map<string, number>>;
  /** Hard-deletes every version of every role; returns whether anything was deleted. */
  deleteGun(gun: string): Promise<boolean>;
  changefeed(q: ChangefeedQuery): Promise<Change[]>;
  /** Cheap token that changes whenever any GUN's timestamp changes (cache invalidation across replicas). */
  latestChangeId(): Promise<string>;

  // Keys of the local trust service.
  putServerKey(key: Omit<StoredServerKey, 'createdAt' | 'lastUsed'>): Promise<void>;
  getServerKey(keyId: string): Promise<StoredServerKey | undefined>;
  /** An existing never-used key for (gun, role, algorithm), lowest key id first (Go's reuse rule). */
  findUnusedServerKey(
    gun: string,
    role: string,
    algorithm: string,
  ): Promise<StoredServerKey | undefined>;
  markServerKeyUsed(keyId: string): Promise<void>;

  /** Throws if the database is not usable (health check). */
  check(): Promise<void>;
  close(): Promise<void>;
}

export class VersionConflictError extends Error {
  readonly code = 'ERR_VERSION_CONFLICT';
  constructor(
    readonly gun: string,
    readonly role: string,
    readonly version: number,
  ) {
    super(`a version of ${role} >= ${version} is already stored for ${gun}`);
    this.name = 'VersionConflictError';
  }
}

export type StorageErrorCode = 'ERR_STORAGE' | 'ERR_STORAGE_UNAVAILABLE' | 'ERR_STORAGE_INPUT';

/** The database failed; `cause` holds the driver's error. */
export class StorageError extends Error {
  readonly code: StorageErrorCode = 'ERR_STORAGE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The database cannot be reached, or a lock or connection could not be had in time. */
export class StorageUnavailableError extends StorageError {
  override readonly code = 'ERR_STORAGE_UNAVAILABLE';
}

/** A value the store cannot hold (empty or over-long GUN/role, NUL, version out of int32 range). */
export class StorageInputError extends StorageError {
  override readonly code = 'ERR_STORAGE_INPUT';
}
