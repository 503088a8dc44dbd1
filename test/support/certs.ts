// The one way tests make X.509 certificates: `issueCert(spec)` builds a v3 certificate with
// src/tuf/der.ts and signs it with node:crypto, at test time (nothing committed can expire, no
// openssl CLI). Valid or deliberately broken: any key type, validity, CA flag and path length,
// KeyUsage, EKU, SANs, SHA-1 signatures and arbitrary extra extensions.
//
// Encoding rules (Go crypto/x509's choices, so Go, OpenSSL and src/tuf/x509.ts read these as they
// read Go's certificates):
//   - names hold one CN, a PrintableString when it fits, else a UTF8String; issuer and subject
//     use the same rule, so chains built by raw name bytes link up;
//   - the serial is positive; by default 16 random bytes;
//   - extensions go in Go's order: KeyUsage (critical), ExtKeyUsage, BasicConstraints (critical),
//     SubjectKeyId, AuthorityKeyId, SubjectAltName, then `extensions` as given; none at all →
//     no [3] field;
//   - the signature follows the issuer's key: ECDSA or RSA PKCS#1 v1.5 over `digest` (default
//     SHA-256, SHA-384/SHA-512 for P-384/P-521 issuers as Go picks), pure Ed25519.

import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';
import {
  DerReader,
  TAG,
  derBitString,
  derBoolean,
  derExplicit,
  derIa5String,
  derImplicit,
  derInteger,
  derNull,
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
} from '../../src/tuf/der.js';
import { encodePem } from '../../src/tuf/pem.js';

/**
 * KeyUsage bits as Go numbers them (x509.KeyUsage), the form src/tuf/x509.ts reports. Written out
 * here rather than taken from src's KEY_USAGE, so a wrong bit there cannot hide behind the builder.
 */
export const KU = {
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

export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  any: '2.5.29.37.0',
} as const;

export type KeyKind = 'P-256' | 'P-384' | 'P-521' | 'rsa-1024' | 'rsa-2048' | 'ed25519';
export type Digest = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** Who signs: a CN for the issuer name and a private key (a TestCert with a private key fits). */
export interface Issuer {
  cn: string;
  key: KeyObject;
}

export interface Extension {
  oid: string;
  critical?: boolean;
  /** The DER inside the extnValue OCTET STRING. */
  value: Uint8Array;
}

export interface CertSpec {
  /** Subject CN. */
  cn: string;
  /** The certified key, public or private; a kind generates a new one. Default: new P-256. */
  key?: KeyObject | KeyKind;
  /** Default: self-signed, so `key` must then be private. */
  issuer?: Issuer;
  notBeforeMs: number;
  notAfterMs: number;
  /** Unsigned big-endian bytes (leading zeros are dropped) or a bigint. Default: random. */
  serial?: Uint8Array | bigint;
  /** undefined → no BasicConstraints; true → CA:TRUE; false → CA:FALSE. */
  ca?: boolean;
  /** MaxPathLen, written only with a BasicConstraints (`ca` set). */
  pathLen?: number;
  /** KU bits; undefined → no KeyUsage extension (0 → one with no bits set). */
  keyUsage?: number;
  /** EKU OIDs; undefined → no ExtKeyUsage extension. */
  eku?: readonly string[];
  /** SubjectAltName DNS names and IP addresses (v4 or v6). */
  dns?: readonly string[];
  ips?: readonly string[];
  /** SubjectKeyId, and AuthorityKeyId when `issuer` is given (RFC 5280 method 1). */
  keyIds?: boolean;
  /** Digest of the signature; refused for Ed25519 issuers. */
  digest?: Digest;
  /** Appended after the standard extensions, in order. */
  extensions?: readonly Extension[];
}

export interface TestCert extends Issuer {
  /** The certified key: private when the spec gave or generated a private key. */
  key: KeyObject;
  der: Uint8Array;
  /** Go-style PEM of the certificate. */
  pem: string;
  /** Node's view of the certificate (parsed on first use). */
  readonly x509: X509Certificate;
}

export function newKey(kind: KeyKind = 'P-256'): KeyObject {
  switch (kind) {
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey;
    case 'rsa-1024':
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: Number(kind.slice(4)) }).privateKey;
    default:
      return generateKeyPairSync('ec', { namedCurve: kind }).privateKey;
  }
}

/** PEM text as Go writes it; several certificates make a bundle. */
export function pemOf(...ders: Uint8Array[]): string {
  return ders.map((bytes) => encodePem({ type: 'CERTIFICATE', headers: {}, bytes })).join('');
}

const OID = {
  cn: '2.5.4.3',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  ed25519: '1.3.101.112',
} as const;

const SIGNATURE_OIDS: Record<'ec' | 'rsa', Record<Digest, string>> = {
  ec: {
    sha1: '1.2.840.10045.4.1',
    sha256: '1.2.840.10045.4.3.2',
    sha384: '1.2.840.10045.4.3.3',
    sha512: '1.2.840.10045.4.3.4',
  },
  rsa: {
    sha1: '1.2.840.113549.1.1.5',
    sha256: '1.2.840.113549.1.1.11',
    sha384: '1.2.840.113549.1.1.12',
    sha512: '1.2.840.113549.1.1.13',
  },
};

function name(cn: string): Uint8Array {
  const value = isPrintableString(cn) ? derPrintableString(cn) : derUtf8String(cn);
  return derSequence(derSet(derSequence(derOid(OID.cn), value)));
}

function spkiOf(key: KeyObject): Uint8Array {
  const pub = key.type === 'public' ? key : createPublicKey(key); // Node refuses a public one
  return new Uint8Array(pub.export({ format: 'der', type: 'spki' }));
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
function keyIdOf(key: KeyObject): Uint8Array {
  const spki = new DerReader(parseDer(spkiOf(key), 'SPKI'), 'SPKI');
  spki.next('algorithm', TAG.SEQUENCE);
  const { bytes } = readBitString(spki.next('subjectPublicKey'));
  return new Uint8Array(createHash('sha1').update(bytes).digest());
}

function keyUsageBits(ku: number): Uint8Array {
  const bytes = [0, 0];
  for (let i = 0; i < 16; i++) if (ku & (1 << i)) bytes[i >> 3]! |= 0x80 >> (i & 7);
  // DER drops trailing zero octets and counts the zero bits after the last set one as unused.
  const out = Uint8Array.from(bytes.slice(0, bytes[1] ? 2 : bytes[0] ? 1 : 0));
  const last = out[out.length - 1];
  let unused = 0;
  if (last !== undefined) while (unused < 7 && !(last & (1 << unused))) unused++;
  return derBitString(out, unused);
}

function ipBytes(ip: string): Uint8Array {
  const v4 = (s: string) => s.split('.').map(Number);
  if (isIP(ip) === 4) return Uint8Array.from(v4(ip));
  if (isIP(ip) !== 6) throw new Error(`test certs: ${JSON.stringify(ip)} is not an IP address`);
  // Hex groups, an optional "::" run of zero groups and an optional dotted IPv4 tail.
  const groups = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a, b, c, d] = v4(g) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = ip.split('::');
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return derSequence(derOid(oid), ...(critical ? [derBoolean(true)] : []), derOctetString(value));
}

function standardExtensions(spec: CertSpec, subjectKey: KeyObject): Uint8Array[] {
  const exts: Uint8Array[] = [];
  if (spec.keyUsage !== undefined)
    exts.push(extension(OID.keyUsage, true, keyUsageBits(spec.keyUsage)));
  if (spec.eku) exts.push(extension(OID.extKeyUsage, false, derSequence(...spec.eku.map(derOid))));
  if (spec.ca !== undefined) {
    const bc = spec.ca ? [derBoolean(true)] : [];
    if (spec.pathLen !== undefined) bc.push(derInteger(spec.pathLen));
    exts.push(extension(OID.basicConstraints, true, derSequence(...bc)));
  } else if (spec.pathLen !== undefined) {
    throw new Error('test certs: pathLen needs a BasicConstraints (set ca)');
  }
  if (spec.keyIds) {
    exts.push(extension(OID.subjectKeyId, false, derOctetString(keyIdOf(subjectKey))));
    if (spec.issuer) {
      const aki = derImplicit(0, derOctetString(keyIdOf(spec.issuer.key)));
      exts.push(extension(OID.authorityKeyId, false, derSequence(aki)));
    }
  }
  const general = [
    ...(spec.dns ?? []).map((n) => derImplicit(2, derIa5String(n))),
    ...(spec.ips ?? []).map((ip) => derImplicit(7, derOctetString(ipBytes(ip)))),
  ];
  if (general.length > 0) exts.push(extension(OID.subjectAltName, false, derSequence(...general)));
  return exts;
}

/** AlgorithmIdentifier and node digest name for a signature by `key`. */
function signatureAlgorithm(
  key: KeyObject,
  digest: Digest | undefined,
): { alg: Uint8Array; digest: Digest | null } {
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') {
    if (digest) throw new Error('test certs: Ed25519 signs without a digest');
    return { alg: derSequence(derOid(OID.ed25519)), digest: null };
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const d =
      digest ?? (curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256');
    return { alg: derSequence(derOid(SIGNATURE_OIDS.ec[d])), digest: d };
  }
  if (type === 'rsa') {
    const d = digest ?? 'sha256';
    return { alg: derSequence(derOid(SIGNATURE_OIDS.rsa[d]), derNull()), digest: d };
  }
  throw new Error(`test certs: unsupported issuer key type ${String(type)}`);
}

function randomSerial(): Uint8Array {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01; // positive, full length
  return new Uint8Array(serial);
}

/** A certificate built and signed to `spec`. */
export function issueCert(spec: CertSpec): TestCert {
  const key = typeof spec.key === 'string' || spec.key === undefined ? newKey(spec.key) : spec.key;
  const issuer = spec.issuer ?? { cn: spec.cn, key };
  if (issuer.key.type !== 'private')
    throw new Error(`test certs: the issuer of ${JSON.stringify(spec.cn)} needs a private key`);
  const { alg, digest } = signatureAlgorithm(issuer.key, spec.digest);
  const exts = [
    ...standardExtensions(spec, key),
    ...(spec.extensions ?? []).map((e) => extension(e.oid, e.critical ?? false, e.value)),
  ];
  const tbs = derSequence(
    derExplicit(0, derInteger(2)),
    derInteger(spec.serial ?? randomSerial()),
    alg,
    name(issuer.cn),
    derSequence(derTime(spec.notBeforeMs), derTime(spec.notAfterMs)),
    name(spec.cn),
    spkiOf(key),
    ...(exts.length > 0 ? [derExplicit(3, derSequence(...exts))] : []),
  );
  const signature = new Uint8Array(sign(digest, tbs, issuer.key));
  const der = derSequence(tbs, alg, derBitString(signature));
  let x509: X509Certificate | undefined;
  return {
    cn: spec.cn,
    key,
    der,
    pem: pemOf(der),
    get x509() {
      return (x509 ??= new X509Certificate(der));
    },
  };
}
