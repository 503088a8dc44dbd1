// Root certificates (notary-protocol §3.4): creating them as Go Notary does, reading their
// fields, the rules a root key's certificate bundle must satisfy, and Go-style chain building
// (verifyChain: CA trust pinning, token x5c chains, mutual-TLS client chains; rules at the end).
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
import { PublicKey, parseCertificateDer, type Signer } from './keys.js';
import { decodePemBlocks } from './pem.js';

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
  clientAuth: '1.3.6.1.5.5.7.3.2',
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
    throw new TufError(
      'ERR_BAD_DER',
      'certificate: signature algorithms inside and outside differ',
    );
  }
  readBitString(sigEl, 'signatureValue');

  const extensions = new Map<string, { critical: boolean; value: Uint8Array }>();
  if (extsEl) {
    if (version !== 3) throw new TufError('ERR_BAD_DER', 'certificate: extensions need version 3');
    const er = new DerReader(extsEl, 'extensions');
    for (const ext of new DerReader(er.next('extensions', TAG.SEQUENCE), 'extensions').rest(
      'extension',
    )) {
      const r = new DerReader(ext, 'extension');
      const id = readOid(r.next('extnID'), 'extnID');
      const critEl = r.optional(TAG.BOOLEAN);
      // An explicit `critical FALSE` is not DER, but Go and OpenSSL accept it from real CAs.
      const critical = critEl ? readBoolean(critEl, 'critical') : false;
      const value = readOctetString(r.next('extnValue'), 'extnValue');
      r.end();
      if (extensions.has(id))
        throw new TufError('ERR_BAD_DER', `certificate: duplicate extension ${id}`);
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

const parsedCache = new WeakMap<X509Certificate, ParsedCertificate>();

/** parseCertificate for a node certificate (cached); errors become ERR_BAD_CERT. */
export function certificateFields(cert: X509Certificate): ParsedCertificate {
  let p = parsedCache.get(cert);
  if (!p) {
    try {
      p = parseCertificate(new Uint8Array(cert.raw));
    } catch (e) {
      throw new TufError('ERR_BAD_CERT', `certificate does not parse: ${errorText(e)}`, {
        cause: e,
      });
    }
    parsedCache.set(cert, p);
  }
  return p;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// Creating root certificates

export interface CreateRootCertificateOptions {
  nowMs: number;
  /** Defaults to ROOT_CERT_VALIDITY_MS. */
  validityMs?: number;
  /** Serial number magnitude (big-endian, unsigned, ≤ 20 bytes); defaults to 128 random bits. */
  serial?: Uint8Array;
}

function commonNameOnly(cn: string): Uint8Array {
  // Go's asn1 marshals a plain string as PrintableString when every character fits, else UTF8.
  const value = isPrintableString(cn) ? derPrintableString(cn) : derUtf8String(cn);
  return derSequence(derSet(derSequence(derOid(OID.commonName), value)));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? derSequence(derOid(id), derBoolean(true), derOctetString(value))
    : derSequence(derOid(id), derOctetString(value));
}

/** Raw r‖s → DER ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }). */
function ecdsaSigValue(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return derSequence(derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half)));
}

/**
 * The self-signed root certificate Go Notary makes for a root key, signed through `signer`
 * (any backend). Returns it as an `ecdsa-x509` key whose PEM is byte-identical to Go's.
 */
export async function createRootCertificate(
  signer: Signer,
  gun: string,
  opts: CreateRootCertificateOptions,
): Promise<PublicKey> {
  const pk = signer.publicKey;
  const key: KeyObject | null =
    pk.keytype === 'ecdsa' || pk.keytype === 'ecdsa-x509' ? pk.cryptoKey() : null;
  if (!key || key.asymmetricKeyType !== 'ec') {
    throw new TufError(
      'ERR_UNSUPPORTED_KEY',
      `root certificates need an ECDSA key (Go Notary only generates ECDSA root keys); key ${signer.keyId} is ${pk.keytype}`,
    );
  }
  if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TufError(
      'ERR_UNSUPPORTED_KEY',
      `root certificates need a P-256 key; key ${signer.keyId} is on ${String(key.asymmetricKeyDetails?.namedCurve)}`,
    );
  }
  if (gun === '') throw new TufError('ERR_USAGE', 'a root certificate needs a non-empty GUN');
  const serial = opts.serial ?? new Uint8Array(randomBytes(16));
  if (serial.length === 0 || serial.length > 20)
    throw new TufError('ERR_USAGE', 'a certificate serial number must be 1 to 20 bytes');
  const validityMs = opts.validityMs ?? ROOT_CERT_VALIDITY_MS;
  if (!(validityMs >= 0))
    throw new TufError('ERR_USAGE', 'certificate validity must not be negative');

  const algorithm = derSequence(derOid(OID.ecdsaWithSHA256));
  const name = commonNameOnly(gun);
  const tbs = derSequence(
    derExplicit(0, derInteger(2)),
    derInteger(serial),
    algorithm,
    name,
    derSequence(derTime(opts.nowMs), derTime(opts.nowMs + validityMs)),
    name,
    new Uint8Array(key.export({ format: 'der', type: 'spki' })),
    derExplicit(
      3,
      derSequence(
        // digitalSignature (bit 0) | keyEncipherment (bit 2): 0xA0 with 5 unused bits, as Go trims it
        extension(OID.keyUsage, true, derBitString(Uint8Array.of(0xa0), 5)),
        extension(OID.extKeyUsage, false, derSequence(derOid(OID.codeSigning))),
        extension(OID.basicConstraints, true, derSequence()),
      ),
    ),
  );
  const sig = await signer.sign(tbs);
  if (sig.length !== 64) {
    throw new TufError(
      'ERR_BAD_SIGNATURE',
      `signer for key ${signer.keyId} returned a ${sig.length}-byte signature; expected raw r‖s (64 bytes)`,
    );
  }
  const der = derSequence(tbs, algorithm, derBitString(ecdsaSigValue(sig)));
  // A signer that signs with another key (or garbles r‖s) must not yield a root certificate.
  if (!parseCertificateDer(der).verify(key)) {
    throw new TufError(
      'ERR_BAD_SIGNATURE',
      `signer for key ${signer.keyId} produced a signature that does not verify with its public key`,
    );
  }
  return PublicKey.fromCertificates([der]);
}

// ---------------------------------------------------------------------------------------------
// Display

export interface CertificateSummary {
  subjectCN: string;
  issuerCN: string;
  serialHex: string;
  notBeforeMs: number;
  notAfterMs: number;
  isCA: boolean;
  /** 'ecdsa' | 'rsa' | 'ed25519' | OpenSSL's name for anything else. */
  keyAlgorithm: string;
  /** EC curve ('P-256', 'P-384', 'P-521' or OpenSSL's name), when the key is EC. */
  curve?: string;
  /** RSA modulus bits, when the key is RSA. */
  keyBits?: number;
  /** e.g. 'ecdsa-with-SHA256', 'sha256WithRSAEncryption', or the dotted OID if unknown. */
  signatureAlgorithm: string;
  /** e.g. ['codeSigning']; dotted OIDs for unnamed usages; [] when there is no EKU extension. */
  extKeyUsage: string[];
}

const CURVE_NAMES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/** Display summary of the first (leaf) certificate of an x509 key. */
export function certificateSummary(pk: PublicKey): CertificateSummary {
  const cert = pk.certificates()[0] as X509Certificate;
  const f = certificateFields(cert);
  const k = cert.publicKey;
  const t = k.asymmetricKeyType ?? 'unknown';
  const out: CertificateSummary = {
    subjectCN: f.subjectCN,
    issuerCN: f.issuerCN,
    serialHex: toHex(f.serial),
    notBeforeMs: f.notBeforeMs,
    notAfterMs: f.notAfterMs,
    isCA: f.isCA,
    keyAlgorithm: t === 'ec' ? 'ecdsa' : t,
    signatureAlgorithm: SIGNATURE_ALGORITHMS[f.signatureAlgorithm] ?? f.signatureAlgorithm,
    extKeyUsage: f.extKeyUsage.map((o) => EKU_NAMES[o] ?? o),
  };
  const curve = k.asymmetricKeyDetails?.namedCurve;
  if (t === 'ec' && curve) out.curve = CURVE_NAMES[curve] ?? curve;
  const bits = k.asymmetricKeyDetails?.modulusLength;
  if (t === 'rsa' && bits) out.keyBits = bits;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Root certificate rules

/** Go's ValidateCertificate: the reason a certificate is unacceptable, or undefined. */
export function certificateProblem(
  cert: X509Certificate,
  opts: { nowMs: number; checkExpiry: boolean },
): string | undefined {
  const f = certificateFields(cert);
  const cn = JSON.stringify(f.subjectCN);
  if (f.notBeforeMs > f.notAfterMs) return `certificate ${cn} has NotBefore after NotAfter`;
  if (WEAK_SIGNATURES.has(f.signatureAlgorithm)) {
    return `certificate ${cn} uses the insecure signature algorithm ${SIGNATURE_ALGORITHMS[f.signatureAlgorithm]}`;
  }
  const k = cert.publicKey;
  if (k.asymmetricKeyType === 'rsa') {
    const bits = k.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) return `certificate ${cn} has a ${bits}-bit RSA key (at least 2048 required)`;
  }
  if (opts.checkExpiry) {
    if (opts.nowMs > f.notAfterMs)
      return `certificate ${cn} expired at ${new Date(f.notAfterMs).toISOString()}`;
    if (f.notBeforeMs > opts.nowMs + DAY_MS)
      return `certificate ${cn} is not valid until ${new Date(f.notBeforeMs).toISOString()} (more than a day ahead)`;
  }
  return undefined;
}

/** Go's MatchCNToGun: exact, or `prefix*` (all trailing `*` removed) prefixing the GUN. */
export function cnMatchesGun(cn: string, gun: string): boolean {
  if (cn.endsWith('*')) return gun.startsWith(cn.replace(/\*+$/, ''));
  return cn === gun;
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
export function validRootLeaf(key: PublicKey, gun: string, opts: RootLeafOptions): RootLeaf {
  const bad = (msg: string, cause?: unknown): never => {
    throw new TufError(
      'ERR_BAD_CERT',
      `root key ${key.id}: ${msg}`,
      cause === undefined ? {} : { cause },
    );
  };
  if (!key.isX509) bad(`a ${key.keytype} key is not an x509 certificate`);
  let certs: X509Certificate[] = [];
  try {
    certs = key.certificates();
    for (const c of certs) certificateFields(c);
  } catch (e) {
    if (!isTrustdeskError(e)) throw e;
    bad(e.message.replace(/^key [0-9a-f]+: /, ''), e);
  }
  const isCA = (c: X509Certificate) => certificateFields(c).isCA;
  const leaves = certs.filter((c) => !isCA(c));
  if (leaves.length !== 1)
    bad(`must hold exactly one leaf (non-CA) certificate, found ${leaves.length}`);
  const leaf = certs[0] as X509Certificate;
  if (isCA(leaf)) bad('the leaf certificate must come first');
  const f = certificateFields(leaf);
  if (!cnMatchesGun(f.subjectCN, gun)) {
    bad(
      `certificate CN ${JSON.stringify(f.subjectCN)} does not match the GUN ${JSON.stringify(gun)}`,
    );
  }
  const problem = certificateProblem(leaf, opts);
  if (problem) bad(problem);
  const kt = leaf.publicKey.asymmetricKeyType;
  if (kt !== 'ec' && kt !== 'rsa')
    bad(`certificate key type ${String(kt)} is not supported (ECDSA or RSA only)`);
  const intermediates = certs
    .slice(1)
    .filter((c) => isCA(c) && certificateProblem(c, opts) === undefined);
  const reencoded = PublicKey.fromCertificates(
    [leaf, ...intermediates].map((c) => new Uint8Array(c.raw)),
  );
  return { leaf, intermediates, key: reencoded };
}

/**
 * Parses a CA bundle (Go LoadCertBundleFromPEM): every PEM block must be a CERTIFICATE that
 * parses, and there must be at least one. Throws ERR_BAD_CERT.
 */
export function loadCertBundle(pemText: string): X509Certificate[] {
  let blocks;
  try {
    blocks = decodePemBlocks(pemText);
  } catch (e) {
    throw new TufError('ERR_BAD_CERT', `certificate bundle: ${errorText(e)}`, { cause: e });
  }
  if (blocks.length === 0)
    throw new TufError('ERR_BAD_CERT', 'certificate bundle: no certificates found');
  return blocks.map((b, i) => {
    if (b.type !== 'CERTIFICATE')
      throw new TufError(
        'ERR_BAD_CERT',
        `certificate bundle: block ${i} is ${b.type}, not CERTIFICATE`,
      );
    let c: X509Certificate;
    try {
      c = new X509Certificate(Buffer.from(b.bytes));
    } catch (e) {
      throw new TufError('ERR_BAD_CERT', `certificate bundle: block ${i} does not parse`, {
        cause: e,
      });
    }
    certificateFields(c);
    return c;
  });
}

// ---------------------------------------------------------------------------------------------
// Chain building (Go crypto/x509 Certificate.Verify), for CA trust pinning (serverAuth), token
// x5c chains (any usage) and mutual-TLS client chains (clientAuth). verifyChain(presented, …)
// with presented = [leaf, …an unordered pool of intermediates], in order:
//   1. there is a leaf, and every certificate (presented and anchors) parses;
//   2. with refuseCaLeaf: the leaf is not a CA (a CA-capable client certificate could mint more);
//   3. every certificate in the chain is valid at `nowMs` (NotBefore ≤ now ≤ NotAfter) and has
//      no critical extension we do not handle (name constraints are not evaluated, so they fail);
//   4. a chain ends at the first anchor it reaches; a leaf that is itself an anchor is a chain of
//      one. Anchors need not be self-signed: an intermediate (or a leaf) anchors a partial chain,
//      as Go accepts when a configured "CA" file holds one;
//   5. a parent has the child's issuer as its subject (raw DER), is tried from the anchors first,
//      then the pool, never twice in one chain (at most MAX_CHAIN_DEPTH below an anchor); it
//      must be allowed to sign certificates (Go CheckSignatureFrom: a v3 parent needs
//      BasicConstraints CA:TRUE; a KeyUsage, when present, needs keyCertSign) and its signature
//      over the child must verify with a non-SHA-1 algorithm;
//   6. intermediates (parents that are not anchors) must be CAs; a parent's pathLenConstraint
//      limits the intermediates below it;
//   7. extended key usage: in at least one chain, every certificate that has an ExtKeyUsage must
//      allow the required usage or `any` (serverAuth also takes the server-gated-crypto usages);
//      'any' checks nothing.

const MAX_CHAIN_DEPTH = 8;

/** The extended key usage a chain must allow; 'any' = not checked (Go ExtKeyUsageAny). */
export type RequiredKeyUsage = 'serverAuth' | 'clientAuth' | 'any';

const USAGE_TEXT: Record<RequiredKeyUsage, string> = {
  serverAuth: 'server authentication',
  clientAuth: 'client authentication',
  any: 'any usage',
};

export interface VerifyChainOptions {
  /** Where a chain may end (roots, or for partial chains an intermediate or the leaf itself). */
  anchors: readonly X509Certificate[];
  nowMs: number;
  usage: RequiredKeyUsage;
  /** Refuse a leaf that is a CA certificate (client certificates). */
  refuseCaLeaf?: boolean;
  /** How messages name the anchors; defaults to 'a trust anchor'. */
  anchorName?: string;
}

export type ChainResult =
  | {
      ok: true;
      /** Leaf first, anchor last. */
      chain: X509Certificate[];
      /** The window in which every certificate of `chain` is valid (for caching the verdict). */
      notBeforeMs: number;
      notAfterMs: number;
    }
  | { ok: false; problem: string };

function cnOf(c: X509Certificate): string {
  return JSON.stringify(certificateFields(c).subjectCN);
}

/** Rule 3 for one certificate. */
function usableProblem(c: X509Certificate, nowMs: number): string | undefined {
  const f = certificateFields(c);
  if (nowMs < f.notBeforeMs || nowMs > f.notAfterMs) {
    const iso = (ms: number) => new Date(ms).toISOString();
    return `certificate ${cnOf(c)} is not valid now: not valid at ${iso(nowMs)}, only from ${iso(f.notBeforeMs)} to ${iso(f.notAfterMs)}`;
  }
  for (const [id, e] of f.extensions) {
    if (e.critical && !HANDLED_EXTENSIONS.has(id))
      return `certificate ${cnOf(c)} has an unhandled critical extension ${id}`;
  }
  return undefined;
}

/** Go CheckSignatureFrom: may `parent` sign, and did it sign `child`? */
function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  const p = certificateFields(parent);
  const c = certificateFields(child);
  if ((p.version === 3 && !p.basicConstraintsValid) || (p.basicConstraintsValid && !p.isCA))
    return false;
  if (p.keyUsage !== 0 && (p.keyUsage & KEY_USAGE.certSign) === 0) return false;
  if (WEAK_SIGNATURES.has(c.signatureAlgorithm)) return false;
  try {
    return child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function allowsUsage(chain: readonly X509Certificate[], usage: RequiredKeyUsage): boolean {
  if (usage === 'any') return true;
  return chain.every((c) => {
    const eku = certificateFields(c).extKeyUsage;
    if (eku.length === 0 || eku.includes(OID.anyExtendedKeyUsage)) return true;
    if (usage === 'clientAuth') return eku.includes(OID.clientAuth);
    return eku.includes(OID.serverAuth) || eku.some((u) => SGC_USAGES.has(u));
  });
}

/** Verifies that presented[0] chains to one of `opts.anchors` (rules above); never throws. */
export function verifyChain(
  presented: readonly X509Certificate[],
  opts: VerifyChainOptions,
): ChainResult {
  const fail = (problem: string): ChainResult => ({ ok: false, problem });
  const leaf = presented[0];
  if (leaf === undefined) return fail('no certificate was presented');
  const pool = presented.slice(1);
  try {
    certificateFields(leaf);
    if (opts.refuseCaLeaf && certificateFields(leaf).isCA)
      return fail(`certificate ${cnOf(leaf)} is a CA certificate; the leaf must not be a CA`);
    for (const c of [...pool, ...opts.anchors]) certificateFields(c);
  } catch (e) {
    return fail(errorText(e));
  }
  const leafProblem = usableProblem(leaf, opts.nowMs);
  if (leafProblem) return fail(leafProblem);

  const same = (a: X509Certificate, b: X509Certificate) => bytesEqual(a.raw, b.raw);
  const candidates: [X509Certificate, boolean][] = [
    ...opts.anchors.map((a): [X509Certificate, boolean] => [a, true]),
    ...pool.map((c): [X509Certificate, boolean] => [c, false]),
  ];
  let last = `no certificate at hand issued ${cnOf(leaf)}`;
  let chained = false;
  const complete = (chain: X509Certificate[]): X509Certificate[] | undefined => {
    chained = true;
    return allowsUsage(chain, opts.usage) ? chain : undefined;
  };

  const extend = (chain: X509Certificate[]): X509Certificate[] | undefined => {
    if (chain.length > MAX_CHAIN_DEPTH) return undefined;
    const child = chain[chain.length - 1] as X509Certificate;
    const issuer = certificateFields(child).issuerRaw;
    for (const [parent, isAnchor] of candidates) {
      const p = certificateFields(parent);
      if (!bytesEqual(p.subjectRaw, issuer) || chain.some((c) => same(c, parent))) continue;
      if (!signedBy(child, parent)) {
        last = `certificate ${cnOf(parent)} may not sign, or its signature over ${cnOf(child)} does not verify`;
        continue;
      }
      const problem = usableProblem(parent, opts.nowMs);
      if (problem) {
        last = problem;
        continue;
      }
      if (!isAnchor && !(p.basicConstraintsValid && p.isCA)) {
        last = `intermediate ${cnOf(parent)} is not a CA`;
        continue;
      }
      if (p.basicConstraintsValid && p.maxPathLen >= 0 && chain.length - 1 > p.maxPathLen) {
        last = `certificate ${cnOf(parent)} allows only ${p.maxPathLen} intermediates`;
        continue;
      }
      const found = isAnchor ? complete([...chain, parent]) : extend([...chain, parent]);
      if (found) return found;
    }
    return undefined;
  };

  const chain = opts.anchors.some((a) => same(a, leaf)) ? complete([leaf]) : extend([leaf]);
  if (!chain) {
    if (chained) {
      return fail(
        `no chain of ${cnOf(leaf)} allows ${opts.usage} (${USAGE_TEXT[opts.usage]}): a certificate in it has an ExtKeyUsage without it`,
      );
    }
    return fail(`no valid chain to ${opts.anchorName ?? 'a trust anchor'}: ${last}`);
  }
  const fields = chain.map((c) => certificateFields(c));
  return {
    ok: true,
    chain,
    notBeforeMs: Math.max(...fields.map((f) => f.notBeforeMs)),
    notAfterMs: Math.min(...fields.map((f) => f.notAfterMs)),
  };
}

/**
 * CA trust pinning: `leaf` must chain to one of `roots` through `intermediates` at `nowMs` and
 * allow serverAuth (or carry no EKU), as Go's default Verify options require. Returns undefined
 * on success, else the reason.
 */
export function chainProblem(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  nowMs: number,
): string | undefined {
  const r = verifyChain([leaf, ...intermediates], {
    anchors: roots,
    nowMs,
    usage: 'serverAuth',
    anchorName: 'a pinned CA',
  });
  return r.ok ? undefined : r.problem;
}
