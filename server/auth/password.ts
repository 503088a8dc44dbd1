// Password hashes for the token issuer's users file: `scrypt$N$r$p$<salt>$<hash>`, salt and
// hash in standard padded base64 (16-byte salt, 32-byte hash). Parameters are bounded when read
// (a hostile users file must not make verification eat the machine), comparison is
// constant-time, and an unknown user is checked against a dummy hash with the default
// parameters so that "no such user" costs the same as "wrong password".

import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { fromBase64, toBase64 } from '../../src/tuf/encoding.js';
import { TrustdeskError } from '../../src/tuf/errors.js';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 32768, r: 8, p: 1 });
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const MAX_MEMORY = 256 * 1024 * 1024;

function scrypt(password: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  const opts: ScryptOptions = { ...params, maxmem: MAX_MEMORY + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, HASH_BYTES, opts, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

function checkParams({ N, r, p }: ScryptParams): void {
  const ok =
    Number.isSafeInteger(N) &&
    N >= 1024 &&
    N <= 1 << 20 &&
    (N & (N - 1)) === 0 &&
    Number.isSafeInteger(r) &&
    r >= 1 &&
    r <= 32 &&
    Number.isSafeInteger(p) &&
    p >= 1 &&
    p <= 16 &&
    128 * N * r <= MAX_MEMORY;
  if (!ok)
    throw new TrustdeskError(
      'ERR_CONFIG',
      `scrypt parameters N=${N} r=${r} p=${p} are out of range (N a power of two in 1024…1048576, r 1…32, p 1…16, 128·N·r ≤ 256 MiB)`,
    );
}

/** Hashes a password for the users file (`trustdesk-server hash-password` reads it from stdin/env). */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  checkParams(params);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(password, salt, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${toBase64(salt)}$${toBase64(hash)}`;
}

export interface ParsedHash {
  params: ScryptParams;
  salt: Uint8Array;
  hash: Uint8Array;
}

/** Parses and bounds-checks a hash string; throws ERR_CONFIG naming `where`. */
export function parsePasswordHash(s: string, where: string): ParsedHash {
  const parts = s.split('$');
  const bad = (why: string) =>
    new TrustdeskError('ERR_CONFIG', `${where}: ${why} (expected scrypt$N$r$p$salt$hash)`);
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw bad('not a scrypt hash');
  const num = (t: string | undefined) =>
    t !== undefined && /^[1-9][0-9]{0,7}$/.test(t) ? +t : NaN;
  const params = { N: num(parts[1]), r: num(parts[2]), p: num(parts[3]) };
  checkParams(params);
  let salt: Uint8Array;
  let hash: Uint8Array;
  try {
    salt = fromBase64(parts[4] as string, 'salt');
    hash = fromBase64(parts[5] as string, 'hash');
  } catch {
    throw bad('salt or hash is not standard base64');
  }
  if (salt.length < 8 || hash.length !== HASH_BYTES) throw bad('salt or hash has the wrong size');
  return { params, salt, hash };
}

/** Constant-time check of `password` against a parsed hash. */
export async function verifyPassword(h: ParsedHash, password: string): Promise<boolean> {
  const got = await scrypt(password, h.salt, h.params);
  return timingSafeEqual(got, h.hash);
}

let dummy: ParsedHash | undefined;

/** A hash nobody's password matches, with the default parameters (for unknown users). */
export function dummyPasswordHash(): ParsedHash {
  dummy ??= {
    params: DEFAULT_SCRYPT,
    salt: randomBytes(SALT_BYTES),
    hash: randomBytes(HASH_BYTES),
  };
  return dummy;
}
