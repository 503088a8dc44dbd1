// Root validation and trust pinning (notary-protocol §7.7, §7.8).
// (implementation in progress — exported signatures are stable)

import { TufError } from './errors.js';
import { type RootSigned, type Metadata } from './metadata.js';
import { type BaseRole } from './roles.js';
import { type RoleVerifier, type Verified } from './verify.js';

export interface TrustPinning {
  /** GUN (or `prefix*`) → TUF key IDs of the allowed root certificates (leaf + intermediates). */
  certs?: Record<string, string[]>;
  /** GUN prefix → PEM bundle text of the CA certificates. */
  ca?: Record<string, string>;
  disableTofu?: boolean;
}

export interface VerifyRootOptions {
  gun: string;
  nowMs: number;
  /** The root trusted so far; absent on first contact. */
  trusted?: Verified<RootSigned>;
  pinning?: TrustPinning;
  /** Skip the expiry checks of the candidate (its `expires` and its leaf certificates). */
  allowExpired?: boolean;
}

export function verifyRoot(
  _candidate: Metadata<RootSigned>,
  _opts: VerifyRootOptions,
): Verified<RootSigned> {
  throw new TufError('ERR_INTERNAL', 'in progress');
}

/** The keys and threshold of one base role as declared by a root. */
export function rootRoleVerifier(
  _root: RootSigned | Verified<RootSigned>,
  _role: BaseRole,
): RoleVerifier {
  throw new TufError('ERR_INTERNAL', 'in progress');
}
