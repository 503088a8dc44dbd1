// Root certificates (notary-protocol §3.4): creating them as Go Notary does, summarising them
// for display, and the leaf rules a root key must satisfy.
// (implementation in progress — exported signatures are stable)

import { type X509Certificate } from 'node:crypto';
import { TufError } from './errors.js';
import { type PublicKey, type Signer } from './keys.js';

/** Go Notary's root certificate lifetime: 10 × 365 days. */
export const ROOT_CERT_VALIDITY_MS = 10 * 365 * 86_400_000;

export interface CreateRootCertificateOptions {
  nowMs: number;
  /** Defaults to ROOT_CERT_VALIDITY_MS. */
  validityMs?: number;
  /** Serial number magnitude (big-endian, unsigned); defaults to 128 random bits. */
  serial?: Uint8Array;
}

/** Self-signed root certificate for `gun`, signed through `signer`; keytype ecdsa-x509. */
export function createRootCertificate(
  _signer: Signer,
  _gun: string,
  _opts: CreateRootCertificateOptions,
): Promise<PublicKey> {
  return Promise.reject(new TufError('ERR_INTERNAL', 'in progress'));
}

export interface CertificateSummary {
  subjectCN: string;
  issuerCN: string;
  serialHex: string;
  notBeforeMs: number;
  notAfterMs: number;
  isCA: boolean;
  /** 'ecdsa' | 'rsa' | 'ed25519' | other OpenSSL names. */
  keyAlgorithm: string;
  /** EC curve (e.g. 'P-256'), when the key is EC. */
  curve?: string;
  /** RSA modulus bits, when the key is RSA. */
  keyBits?: number;
  /** e.g. 'ecdsa-with-SHA256', 'sha256WithRSAEncryption', or the dotted OID if unknown. */
  signatureAlgorithm: string;
  /** e.g. ['codeSigning']; dotted OIDs for unnamed usages; [] when there is no EKU extension. */
  extKeyUsage: string[];
}

/** Display summary of the first (leaf) certificate of an x509 key. */
export function certificateSummary(_pk: PublicKey): CertificateSummary {
  throw new TufError('ERR_INTERNAL', 'in progress');
}

export interface RootLeaf {
  leaf: X509Certificate;
  intermediates: X509Certificate[];
  /** Go's re-encoding of leaf + intermediates; its TUF id is what signatures must reference. */
  key: PublicKey;
}

export interface RootLeafOptions {
  nowMs: number;
  checkExpiry: boolean;
}

/** Applies the root-certificate rules to one root-role key, or throws ERR_BAD_CERT. */
export function validRootLeaf(_key: PublicKey, _gun: string, _opts: RootLeafOptions): RootLeaf {
  throw new TufError('ERR_INTERNAL', 'in progress');
}
