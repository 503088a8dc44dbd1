// Rules every backend applies before touching its data, so all four behave identically:
//   - GUN, role, key id: non-empty, at most 255 code points (the varchar(255) columns), no NUL
//     (PostgreSQL text cannot hold it), well-formed UTF-16 (a lone surrogate would be silently
//     replaced by U+FFFD on its way to the database). Writes reject anything else with
//     StorageInputError; reads treat it as "not stored" (it never could have been).
//   - version: an integer in 0 … 2^31-1 (the int column).
//   - one updateMany: each file's version must be above every stored version of its role AND
//     above any earlier file of the same role in the same call; otherwise VersionConflictError
//     naming that file, and nothing is stored.
//   - changefeed (notary-protocol §4.6, Go's SQLStorage.GetChanges): change id is a decimal
//     integer; reversed = id < 0 or records < 0; forwards returns ids > id ascending, backwards
//     ids < id (no bound when id <= 0) newest first, then re-ordered oldest → newest.
//   - an upload appends one `update` record per timestamp file, in upload order.
//   - a closed store rejects every call with StorageUnavailableError; a second putServerKey for
//     one key id is a StorageError.

import { createHash } from 'node:crypto';
import {
  type ChangefeedQuery,
  type NewTufFile,
  type StoredServerKey,
  StorageError,
  StorageInputError,
  StorageUnavailableError,
  VersionConflictError,
} from './types.js';

export const MAX_NAME_CHARS = 255;
export const MAX_VERSION = 2 ** 31 - 1;
const SHA256_HEX = /^[0-9a-f]{64}$/;

function nameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'must be a non-empty string';
  if (value.includes('\0')) return 'must not contain NUL';
  if (!value.isWellFormed()) return 'must be well-formed Unicode';
  // Code points, as varchar(n) counts them; length in UTF-16 units is an upper bound.
  if (value.length > MAX_NAME_CHARS && [...value].length > MAX_NAME_CHARS) {
    return `must be at most ${MAX_NAME_CHARS} characters`;
  }
  return undefined;
}

/** Whether a (gun, role) pair could ever have been stored; reads answer "not found" if not. */
export function storableName(...values: string[]): boolean {
  return values.every((v) => nameProblem(v) === undefined);
}

export function assertName(what: string, value: string): void {
  const problem = nameProblem(value);
  if (problem) throw new StorageInputError(`${what} ${problem}`);
}

export function validVersion(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= MAX_VERSION;
}

export function isSha256Hex(s: string): boolean {
  return SHA256_HEX.test(s);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Runs synchronous store code as a promise: a throw becomes a rejection, never a sync throw. */
export function settle<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn())); // the executor runs now; a throw rejects
}

/** A plain Uint8Array over the same memory (drivers hand back Buffers). */
export function asBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A Buffer over the same memory (drivers want Buffers). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export interface PlannedFile {
  role: string;
  version: number;
  sha256: string;
  data: Uint8Array;
}

/** Validates an upload before any lock is taken; computes each file's sha256. */
export function planFiles(gun: string, files: readonly NewTufFile[]): PlannedFile[] {
  assertName('GUN', gun);
  return files.map((f) => {
    assertName('role', f.role);
    if (!validVersion(f.version)) {
      throw new StorageInputError(`version of ${f.role} must be an integer in 0…${MAX_VERSION}`);
    }
    if (!(f.data instanceof Uint8Array))
      throw new StorageInputError(`data of ${f.role} must be bytes`);
    return { role: f.role, version: f.version, sha256: sha256Hex(f.data), data: f.data };
  });
}

/** Throws VersionConflictError unless every file is newer than what is stored (under the GUN lock). */
export function checkVersions(
  gun: string,
  files: readonly PlannedFile[],
  stored: ReadonlyMap<string, number>,
): void {
  const highest = new Map(stored);
  for (const f of files) {
    const prev = highest.get(f.role);
    if (prev !== undefined && prev >= f.version)
      throw new VersionConflictError(gun, f.role, f.version);
    highest.set(f.role, f.version);
  }
}

export interface UpdateChange {
  version: number;
  sha256: string;
  category: 'update';
}
/** What deleting a GUN appends (the SQL stores keep sha256 NULL; it reads back as ''). */
export const DELETION = { version: 0, sha256: null, category: 'deletion' } as const;
/** A changefeed record before the store gives it an id and a time. */
export type NewChange = UpdateChange | typeof DELETION;

/** The changefeed records an upload appends: one per timestamp file. */
export function uploadChanges(files: readonly PlannedFile[]): UpdateChange[] {
  return files
    .filter((f) => f.role === 'timestamp')
    .map((f) => ({ version: f.version, sha256: f.sha256, category: 'update' }));
}

export function assertOpen(closed: boolean): void {
  if (closed) throw new StorageUnavailableError('the metadata store is closed');
}

export function duplicateKeyError(keyId: string, cause?: unknown): StorageError {
  return new StorageError(
    `server key ${keyId} is already stored`,
    cause === undefined ? {} : { cause },
  );
}

export function assertServerKey(key: Omit<StoredServerKey, 'createdAt' | 'lastUsed'>): void {
  assertName('key id', key.keyId);
  assertName('GUN', key.gun);
  if (key.role !== 'timestamp' && key.role !== 'snapshot') {
    throw new StorageInputError('server key role must be timestamp or snapshot');
  }
  assertName('algorithm', key.algorithm);
  if (key.algorithm.length > 50)
    throw new StorageInputError('algorithm must be at most 50 characters');
  if (!(key.publicKey instanceof Uint8Array) || !(key.encryptedPrivate instanceof Uint8Array)) {
    throw new StorageInputError('server key material must be bytes');
  }
}

const INT64_MAX = 2n ** 63n - 1n;

export interface FeedPlan {
  gun: string | null;
  /** forwards: ids > bound ascending; backwards: ids < bound (when set) descending. */
  reversed: boolean;
  /** Decimal string (clamped to the int64 range); undefined = no bound (backwards from latest). */
  bound: string | undefined;
  limit: number;
}

/** undefined when the GUN filter names a GUN that cannot be stored (so nothing matches). */
export function planChangefeed(q: ChangefeedQuery): FeedPlan | undefined {
  if (!/^-?\d+$/.test(q.changeId)) throw new StorageInputError('change ID must be an integer');
  if (!Number.isSafeInteger(q.records) || q.records === 0) {
    throw new StorageInputError('records must be a non-zero integer');
  }
  if (q.gun !== null && !storableName(q.gun)) return undefined;
  let id = BigInt(q.changeId);
  if (id > INT64_MAX) id = INT64_MAX;
  const reversed = id < 0n || q.records < 0;
  const bound = reversed ? (id > 0n ? id.toString() : undefined) : id.toString();
  return { gun: q.gun, reversed, bound, limit: Math.abs(q.records) };
}
