// Argon2id (RFC 9106) passphrase KDF for key files, with the two recorded profiles:
//   interactive — RFC 9106 §4 second recommendation: m = 64 MiB, t = 3, p = 4 (online roles);
//   ceremony    — RFC 9106 §4 first recommendation:  m = 2 GiB,  t = 1, p = 4 (root keys).
// If the machine cannot spare 2 GiB when a ceremony key is written, RFC 9106 §4 says to take the
// largest affordable memory and raise t: we use the largest power of two ≤ half the free memory
// and t = ⌈2 GiB / m⌉ (same memory traffic), recorded as profile `ceremony-reduced`.
// Reading always uses the parameters recorded in the file, within READ_LIMITS (a file that asks
// for absurd resources is treated as corrupt before any KDF runs).

import type * as Argon2 from 'argon2';
import { createRequire } from 'node:module';
import { freemem } from 'node:os';
import { TrustdeskError } from '../tuf/errors.js';

/**
 * The argon2 native addon, loaded on the first derivation (listing keys never needs it). A
 * CommonJS package, so `require`: an ESM import would first scan its source for exports.
 */
let argon2Module: typeof Argon2 | undefined;
function argon2(): typeof Argon2 {
  argon2Module ??= createRequire(import.meta.url)('argon2') as typeof Argon2;
  return argon2Module;
}

export type KdfProfileName = 'interactive' | 'ceremony' | 'ceremony-reduced' | 'custom';

export interface KdfCost {
  profile: KdfProfileName;
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

export const INTERACTIVE: KdfCost = {
  profile: 'interactive',
  memoryKiB: 64 * 1024,
  iterations: 3,
  parallelism: 4,
};
export const CEREMONY: KdfCost = {
  profile: 'ceremony',
  memoryKiB: 2 * 1024 * 1024,
  iterations: 1,
  parallelism: 4,
};

/** Bounds accepted when reading a file (and when a custom profile is injected). */
export const READ_LIMITS = {
  memoryKiB: { min: 8 * 1024, max: 4 * 1024 * 1024 },
  iterations: { min: 1, max: 64 },
  parallelism: { min: 1, max: 16 },
};

export const ARGON2_VERSION = 0x13;
export const SALT_BYTES = 16;
/** 32 bytes AES-256-GCM key ‖ 32 bytes passphrase-check key. */
export const DERIVED_BYTES = 64;

/** Chooses the ceremony cost for this machine; `freeBytes` is injectable for tests. */
export function ceremonyCost(freeBytes: number = freemem()): KdfCost {
  const want = CEREMONY.memoryKiB * 1024;
  // Keep headroom: only use the full profile if it leaves a quarter of free memory unused.
  if (freeBytes >= want * 1.25) return CEREMONY;
  let mKiB = READ_LIMITS.memoryKiB.min;
  while (mKiB * 2 * 1024 <= freeBytes / 2 && mKiB * 2 < CEREMONY.memoryKiB) mKiB *= 2;
  return {
    profile: 'ceremony-reduced',
    memoryKiB: mKiB,
    iterations: Math.ceil(CEREMONY.memoryKiB / mKiB),
    parallelism: CEREMONY.parallelism,
  };
}

/** The profile Notary roles get: root keys are ceremony keys, every other role interactive. */
export function defaultCostForRole(role: string): KdfCost {
  return role === 'root' ? ceremonyCost() : INTERACTIVE;
}

export function checkCost(c: Omit<KdfCost, 'profile'>, what: string): void {
  for (const k of ['memoryKiB', 'iterations', 'parallelism'] as const) {
    const v = c[k];
    const { min, max } = READ_LIMITS[k];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new TrustdeskError(
        'ERR_KEYFILE_CORRUPT',
        `${what}: argon2id ${k} ${v} is outside ${min}..${max}`,
      );
    }
  }
  if (c.memoryKiB < 8 * c.parallelism) {
    throw new TrustdeskError(
      'ERR_KEYFILE_CORRUPT',
      `${what}: argon2id memory below 8 KiB per lane`,
    );
  }
}

/** argon2id could not allocate its memory (writers may retry with a reduced ceremony cost). */
export class KdfMemoryError extends TrustdeskError {}

/** The next smaller ceremony cost after an allocation failure, or undefined at the floor. */
export function reducedAfterFailure(failed: KdfCost): KdfCost | undefined {
  if (failed.memoryKiB <= READ_LIMITS.memoryKiB.min * 2) return undefined;
  return ceremonyCost(failed.memoryKiB * 1024);
}

let runs = 0;

/** argon2id runs started in this process (tests check what the derived-key cache saves). */
export function argon2idRuns(): number {
  return runs;
}

/**
 * Derives DERIVED_BYTES from the passphrase. The caller wipes the result. A memory allocation
 * failure becomes a clear error (the file's recorded cost cannot be lowered when reading).
 */
export async function deriveKeys(
  passphrase: string,
  salt: Uint8Array,
  cost: Omit<KdfCost, 'profile'>,
): Promise<Buffer> {
  const pass = Buffer.from(passphrase, 'utf8');
  runs++;
  try {
    const { hash, argon2id } = argon2();
    return await hash(pass, {
      type: argon2id,
      raw: true,
      version: ARGON2_VERSION,
      salt: Buffer.from(salt),
      hashLength: DERIVED_BYTES,
      memoryCost: cost.memoryKiB,
      timeCost: cost.iterations,
      parallelism: cost.parallelism,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/memory/i.test(msg)) {
      throw new KdfMemoryError(
        'ERR_IO',
        `argon2id needs ${Math.round(cost.memoryKiB / 1024)} MiB of memory to unlock this key and could not get it`,
        {
          cause: e,
          hint: 'Close other programs (or unlock on a machine with more memory) and retry.',
        },
      );
    }
    throw new TrustdeskError('ERR_INTERNAL', `argon2id failed: ${msg}`, { cause: e });
  } finally {
    pass.fill(0);
  }
}
