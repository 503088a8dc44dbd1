// Signature and threshold verification, and the Verified<T> type only this module can make.
//
// Rules (Go tuf/signed/verify.go, hardened):
//   - no signatures at all → ERR_NO_SIGNATURES; threshold < 1 → ERR_THRESHOLD;
//   - only signatures whose key ID is one of the role's key IDs count; the key must be known;
//   - the method must belong to the key type (NCC 2015), else the signature is ignored;
//   - each key counts once however many signatures it made;
//   - valid distinct keys must reach the threshold.

import { TufError } from './errors.js';
import type { PublicKey } from './keys.js';
import { methodMatchesKey } from './keys.js';
import type { AnySigned, Metadata } from './metadata.js';

const TOKEN = Symbol('verified');

/** Metadata whose signatures met its role's threshold. Constructible only by this module. */
export class Verified<T extends AnySigned = AnySigned> {
  readonly metadata: Metadata<T>;
  /** Key IDs whose signatures verified. */
  readonly validKeyIds: readonly string[];
  readonly role: string;

  private constructor(token: symbol, metadata: Metadata<T>, role: string, validKeyIds: string[]) {
    if (token !== TOKEN) throw new TypeError('Verified<T> can only be created by the verifier');
    this.metadata = metadata;
    this.role = role;
    this.validKeyIds = validKeyIds;
  }

  get signed(): T {
    return this.metadata.signed;
  }

  get raw(): Uint8Array {
    return this.metadata.raw;
  }

  /** @internal used by verifyThreshold only */
  static _make<T extends AnySigned>(
    token: symbol,
    md: Metadata<T>,
    role: string,
    ids: string[],
  ): Verified<T> {
    return new Verified(token, md, role, ids);
  }
}

/** The keys and threshold a role requires. */
export interface RoleVerifier {
  keys: ReadonlyMap<string, PublicKey>;
  keyids: readonly string[];
  threshold: number;
}

export type SignatureStatus =
  'valid' | 'invalid' | 'unknown-key' | 'not-in-role' | 'method-mismatch' | 'duplicate';

export interface SignatureCheck {
  keyid: string;
  method: string;
  status: SignatureStatus;
}

/** Checks each signature against the role (for reports); does not enforce the threshold. */
export function checkSignatures(md: Metadata, role: RoleVerifier): SignatureCheck[] {
  const message = md.canonicalSigned();
  const inRole = new Set(role.keyids);
  const counted = new Set<string>();
  return md.signatures.map((s): SignatureCheck => {
    const base = { keyid: s.keyid, method: s.method };
    const key = role.keys.get(s.keyid);
    if (!inRole.has(s.keyid)) return { ...base, status: key ? 'not-in-role' : 'unknown-key' };
    if (!key) return { ...base, status: 'unknown-key' };
    if (!methodMatchesKey(s.method, key.keytype)) return { ...base, status: 'method-mismatch' };
    if (!key.verify(s.method, message, s.sig)) return { ...base, status: 'invalid' };
    if (counted.has(s.keyid)) return { ...base, status: 'duplicate' };
    counted.add(s.keyid);
    return { ...base, status: 'valid' };
  });
}

/** Verifies `md` against a role; returns Verified<T> or throws a coded error. */
export function verifyThreshold<T extends AnySigned>(
  md: Metadata<T>,
  roleName: string,
  role: RoleVerifier,
): Verified<T> {
  if (role.threshold < 1)
    throw new TufError('ERR_THRESHOLD', `${roleName}: role threshold must be at least 1`);
  if (md.signatures.length === 0)
    throw new TufError('ERR_NO_SIGNATURES', `${roleName}: data has no signatures`);
  const checks = checkSignatures(md, role);
  const valid = checks.filter((c) => c.status === 'valid').map((c) => c.keyid);
  if (valid.length < role.threshold) {
    const mismatch = checks.find((c) => c.status === 'method-mismatch');
    const invalid = checks.find((c) => c.status === 'invalid');
    const detail = mismatch
      ? ` (signature by ${mismatch.keyid} uses method ${mismatch.method}, which does not match its key type)`
      : invalid
        ? ` (signature by ${invalid.keyid} does not verify)`
        : '';
    const code =
      valid.length === 0 && (mismatch || invalid)
        ? mismatch
          ? 'ERR_METHOD_MISMATCH'
          : 'ERR_BAD_SIGNATURE'
        : 'ERR_THRESHOLD';
    throw new TufError(
      code,
      `${roleName}: valid signatures did not meet threshold (${valid.length} of ${role.threshold})${detail}`,
    );
  }
  return Verified._make(TOKEN, md, roleName, valid);
}
