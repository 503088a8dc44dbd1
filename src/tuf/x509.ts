// Root certificates (notary-protocol §3.4): creating them as Go Notary does, reading their
// fields, the rules a root key's certificate bundle must satisfy, and Go-style chain building
// for CA trust pinning.
//
// Creation (Go tuf/utils/x509.go NewCertificate + crypto/x509 CreateCertificate): self-signed v3,
// Subject = Issuer = CN=<gun> only (PrintableString when the GUN fits it, else UTF8String),
// positive 128-bit random serial, NotBefore = now, NotAfter = now + validity (whole seconds),
// extensions in Go's order: KeyUsage digitalSignature|keyEncipherment (critical), ExtKeyUsage
// codeSigning, BasicConstraints CA:FALSE (critical). Only ECDSA P-256 keys: the Signer signs
// SHA-256 (raw r‖s), which is ecdsa-with-SHA256 only on P-256 as Go would pick it.
//
// Root leaf rules (Go trustpinning/certs.go parseAllCerts + validRootLeafCerts, utils
// ValidateCertificate), in order:
//   1. the key is x509 and its PEM holds only CERTIFICATE blocks that parse;
//   2. exactly one non-CA (leaf) certificate, and it is the first;
//   3. leaf CN == GUN, or CN ends in `*` and the CN without its trailing `*`s prefixes the GUN;
//   4. NotBefore ≤ NotAfter; not signed with SHA-1 (nor MD5/MD2 — stricter than Go); RSA keys
//      ≥ 2048 bits; leaf key is ECDSA or RSA;
//   5. with checkExpiry: now ≤ NotAfter and NotBefore ≤ now + 1 day;
//   6. the CA certificates after it are intermediates; those failing rule 4/5 are dropped.
// The surviving leaf + intermediates are re-encoded with Go's PEM encoder: that key's TUF ID is
// the one signatures must reference (Go utils.CertsToKeys).

import { X509Certificate, randomBytes, type KeyObject } from 'node:crypto';
import {
  TAG,
  DerReader,
  contextTag,
  derBitString,
  derBoolean,
  derExplicit,
  derInteger,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derTime,
  derUtf8String,
  isPrintableString,
  parseDer,
  readBitString,
  readBoolean,
  readOctetString,
  readOid,
  readSmallInteger,
  readString,
  readTime,
  readUnsignedInteger,
  type DerElement,
} from './der.js';
import { TufError, isTrustdeskError } from './errors.js';
import { bytesEqual, toHex } from './encoding.js';
import { PublicKey, type Signer } from './keys.js';

/** Go Notary's root certificate lifetime: 10 × 365 days. */
export const ROOT_CERT_VALIDITY_MS = 10 * 365 * 86_400_000;

const DAY_MS = 86_400_000;

export const OID = {
  commonName: '2.5.4.3',
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  anyExtendedKeyUsage: '2.5.29.37.0',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  codeSigning: '1.3.6.1.5.5.7.3.3',
} as const;

const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
  '2.16.840.1.101.3.4.3.2': 'dsa-with-SHA256',
  '1.3.101.112': 'ED25519',
};

/** SHA-1 (Go's rule) plus MD2/MD5, which Go would also refuse to verify. */
const WEAK_SIGNATURES = new Set([
  '1.2.840.10045.4.1',
  '1.2.840.113549.1.1.2',
  '1.2.840.113549.1.1.4',
  '1.2.840.113549.1.1.5',
  '1.2.840.10040.4.3',
]);

const EKU_NAMES: Record<string, string> = {
  '2.5.29.37.0': 'any',
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

/** Go accepts these as serverAuth (old COMODO chains). */
const SGC_USAGES = new Set(['2.16.840.1.113730.4.1', '1.3.6.1.4.1.311.10.3.3']);

/** Extensions whose criticality we understand (Go's handled set, minus name constraints). */
const HANDLED_EXTENSIONS = new Set([
  OID.keyUsage,
  OID.basicConstraints,
  OID.extKeyUsage,
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.17', // subjectAltName
  '2.5.29.31', // CRL distribution points
  '2.5.29.32', // certificate policies
  '1.3.6.1.5.5.7.1.1', // authority information access
]);

/** Go's KeyUsage bits: bit i of the BIT STRING (most significant first) is 1 << i. */
export const KEY_USAGE = {
  digitalSignature: 1,
  contentCommitment: 2,
  keyEncipherment: 4,
  dataEncipherment: 8,
  keyAgreement: 16,
  certSign: 32,
  crlSign: 64,
  encipherOnly: 128,
  decipherOnly: 256,
} as const;

// ---------------------------------------------------------------------------------------------
// Reading certificates

export interface ParsedCertificate {
  raw: Uint8Array;
  /** The TBSCertificate TLV (what the signature covers). */
  tbs: Uint8Array;
  version: number;
  /** Serial number magnitude (unsigned big-endian). */
  serial: Uint8Array;
  signatureAlgorithm: string;
  issuerRaw: Uint8Array;
  subjectRaw: Uint8Array;
  /** The last CN attribute, as Go reads it; '' when there is none. */
  issuerCN: string;
  subjectCN: string;
  notBeforeMs: number;
  notAfterMs: number;
  spki: Uint8Array;
  extensions: Map<string, { critical: boolean; value: Uint8Array }>;
  basicConstraintsValid: boolean;
  isCA: boolean;
  /** -1 when absent. */
  maxPathLen: number;
  /** Go KeyUsage bit set (KEY_USAGE); 0 when there is no KeyUsage extension. */
  keyUsage: number;
  /** EKU OIDs; [] when there is no ExtKeyUsage extension. */
  extKeyUsage: string[];
}

function readName(el: DerElement, what: string): string {
  // Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue)
  let cn = '';
  for (const rdn of new DerReader(el, what).rest('RDN')) {
    if (rdn.tag !== TAG.SET) throw new TufError('ERR_BAD_DER', `${what}: RDN must be a SET`);
    for (const atv of new DerReader(rdn, what).rest('attribute')) {
      const r = new DerReader(atv, what);
      const type = readOid(r.next('type'), `${what} attribute type`);
      const value = r.next('value');
      r.end();
      if (type === OID.commonName) cn = readString(value, `${what} CN`);
    }
  }
  return cn;
}

/** Parses a DER certificate strictly (ERR_BAD_DER on any encoding error). */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const what = 'certificate';
  const outer = new DerReader(parseDer(der, what).raw, what);
  const cert = new DerReader(outer.next('Certificate', TAG.SEQUENCE), what);
  outer.end();
  const tbsEl = cert.next('tbsCertificate', TAG.SEQUENCE);
  const sigAlgEl = cert.next('signatureAlgorithm', TAG.SEQUENCE);
  const sigEl = cert.next('signatureValue', TAG.BIT_STRING);
  cert.end();

  const tbs = new DerReader(tbsEl, 'tbsCertificate');
  const versionEl = tbs.optional(contextTag(0, true));
  let version = 1;
  if (versionEl) {
    const vr = new DerReader(versionEl, 'version');
    version = readSmallInteger(vr.next('version'), 'version') + 1;
    vr.end();
    if (version < 2 || version > 3)
      throw new TufError('ERR_BAD_DER', `certificate: unsupported version ${version}`);
  }
  const serial = readUnsignedInteger(tbs.next('serialNumber'), 'serialNumber');
  const innerAlg = tbs.next('signature', TAG.SEQUENCE);
  const issuerEl = tbs.next('issuer', TAG.SEQUENCE);
  const validity = new DerReader(tbs.next('validity', TAG.SEQUENCE), 'validity');
  const notBeforeMs = readTime(validity.next('notBefore'), 'notBefore');
  const notAfterMs = readTime(validity.next('notAfter'), 'notAfter');
  validity.end();
  const subjectEl = tbs.next('subject', TAG.SEQUENCE);
  const spkiEl = tbs.next('subjectPublicKeyInfo', TAG.SEQUENCE);
  tbs.optional(contextTag(1, false)); // issuerUniqueID
  tbs.optional(contextTag(2, false)); // subjectUniqueID
  const extsEl = tbs.optional(contextTag(3, true));
  tbs.end();

  const algOf = (el: DerElement, w: string) => readOid(new DerReader(el, w).next('algorithm'), w);
  const signatureAlgorithm = algOf(sigAlgEl, 'signatureAlgorithm');
  if (!bytesEqual(innerAlg.raw, sigAlgEl.raw)) {
    throw new TufError('ERR_BAD_DER', 'certificate: signature algorithms inside and outside differ');
  }
  readBitString(sigEl, 'signatureValue');

  const extensions = new Map<string, { critical: boolean; value: Uint8Array }>();
  if (extsEl) {
    if (version !== 3) throw new TufError('ERR_BAD_DER', 'certificate: extensions need version 3');
    const er = new DerReader(extsEl, 'extensions');
    for (const ext of new DerReader(er.next('extensions', TAG.SEQUENCE), 'extensions').rest('extension')) {
      const r = new DerReader(ext, 'extension');
      const id = readOid(r.next('extnID'), 'extnID');
      const critEl = r.optional(TAG.BOOLEAN);
      const critical = critEl ? readBoolean(critEl, 'critical') : false;
      if (critEl && !critical) throw new TufError('ERR_BAD_DER', `extension ${id}: DEFAULT FALSE must be omitted`);
      const value = readOctetString(r.next('extnValue'), 'extnValue');
      r.end();
      if (extensions.has(id)) throw new TufError('ERR_BAD_DER', `certificate: duplicate extension ${id}`);
      extensions.set(id, { critical, value });
    }
    er.end();
  }

  let basicConstraintsValid = false;
  let isCA = false;
  let maxPathLen = -1;
  const bc = extensions.get(OID.basicConstraints);
  if (bc) {
    basicConstraintsValid = true;
    const r = new DerReader(parseDer(bc.value, 'basicConstraints'), 'basicConstraints');
    const caEl = r.optional(TAG.BOOLEAN);
    isCA = caEl ? readBoolean(caEl, 'cA') : false;
    const pl = r.optional(TAG.INTEGER);
    if (pl) maxPathLen = readSmallInteger(pl, 'pathLenConstraint');
    r.end();
  }
  let keyUsage = 0;
  const ku = extensions.get(OID.keyUsage);
  if (ku) {
    const { bytes } = readBitString(parseDer(ku.value, 'keyUsage'), 'keyUsage');
    for (let i = 0; i < bytes.length * 8 && i < 16; i++) {
      if (((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) keyUsage |= 1 << i;
    }
  }
  const extKeyUsage: string[] = [];
  const eku = extensions.get(OID.extKeyUsage);
  if (eku) {
    const r = new DerReader(parseDer(eku.value, 'extKeyUsage'), 'extKeyUsage');
    for (const el of r.rest('usage')) extKeyUsage.push(readOid(el, 'extKeyUsage'));
  }

  return {
    raw: der,
    tbs: tbsEl.raw,
    version,
    serial,
    signatureAlgorithm,
    issuerRaw: issuerEl.raw,
    subjectRaw: subjectEl.raw,
    issuerCN: readName(issuerEl, 'issuer'),
    subjectCN: readName(subjectEl, 'subject'),
    notBeforeMs,
    notAfterMs,
    spki: spkiEl.raw,
    extensions,
    basicConstraintsValid,
    isCA,
    maxPathLen,
    keyUsage,
    extKeyUsage,
  };
}
