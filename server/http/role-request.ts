// What a metadata GET (routes GetRole, GetRoleByHash, GetRoleByVersion) asks for, checked in
// Go's order before any storage is read — shared by the Fastify handler (routes.ts) and the
// fast path (fast-path.ts), so both answer the same request with the same file:
//   - the role must be valid (roles.ts isValidRole) → else 404 METADATA_NOT_FOUND {};
//   - by checksum: stored checksums are lowercase sha256, anything else (uppercase, 96 or 128
//     hex digits) can never match, as in Go → 404 {};
//   - by version: digits beyond int64 fail Go's strconv.Atoi → 404 with the NumError struct as
//     detail; 0 or above 2^31-1 can never be stored → 404 {}.

import { isValidRole } from '../../src/tuf/roles.js';
import { loadedFile, type Entry, type Served } from './current.js';
import { HttpError } from './errors.js';
import { type RouteMatch } from './router.js';

export interface RoleRequest {
  gun: string;
  role: string;
  /** Which cache headers a 200 carries. */
  kind: 'current' | 'consistent';
  /** The file's key in the GUN's cache entry (CurrentCache.file). */
  key: string;
  /** By checksum: the lowercase sha256. */
  checksum?: string;
  /** By version. */
  version?: number;
}

const MAX_VERSION_PARAM = 2 ** 31 - 1;
const INT64_MAX = 2n ** 63n - 1n;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const notFound = (): HttpError => new HttpError('METADATA_NOT_FOUND', {});

/** The request of a metadata GET route, or throws the HttpError Go answers (rules at the top). */
export function roleRequest(m: RouteMatch): RoleRequest {
  const role = m.role as string;
  if (!isValidRole(role)) throw notFound();
  const gun = m.gun;
  if (m.route === 'GetRoleByHash') {
    const checksum = m.checksum as string;
    if (!SHA256_HEX.test(checksum)) throw notFound();
    return { gun, role, kind: 'consistent', key: `h:${role}:${checksum}`, checksum };
  }
  if (m.route === 'GetRoleByVersion') {
    const digits = m.version as string;
    if (BigInt(digits) > INT64_MAX) {
      // Go's strconv.Atoi error, marshalled as the NumError struct.
      throw new HttpError('METADATA_NOT_FOUND', { Func: 'Atoi', Num: digits, Err: {} });
    }
    const version = Number(digits);
    if (version > MAX_VERSION_PARAM || version === 0) throw notFound();
    return { gun, role, kind: 'consistent', key: `v:${role}:${version}`, version };
  }
  return { gun, role, kind: 'current', key: `c:${role}` };
}

/**
 * The file answering `r` from a fresh entry without any I/O, or undefined when the full path
 * must decide: the file is not loaded yet or does not exist, the GUN has no timestamp/snapshot
 * chain, or the timestamp/snapshot expired and must be re-signed (routes.ts refresh).
 */
export function servedFromEntry(e: Entry, r: RoleRequest, nowMs: number): Served | undefined {
  if (r.kind === 'consistent') return loadedFile(e, r.key);
  const chain = e.chain;
  if (!chain.timestamp || !chain.snapshot) return undefined;
  if (r.role === 'timestamp' || r.role === 'snapshot') {
    if (nowMs > chain.expiresMs) return undefined;
    return r.role === 'timestamp' ? chain.timestamp : chain.snapshot;
  }
  return loadedFile(e, r.key);
}
