// Test PKI built at run time with src/tuf/der.ts: arbitrary certificates (CA, leaf, SHA-1,
// weak RSA, any validity/EKU) and signed root.json files for the root-trust tests.

import {
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import {
  derBitString,
  derBoolean,
  derExplicit,
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
} from '../../src/tuf/der.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { PublicKey, type Signer } from '../../src/tuf/keys.js';
import {
  formatRfc3339,
  parseRoot,
  type Metadata,
  type RootSigned,
} from '../../src/tuf/metadata.js';
import type { JsonObject } from '../../src/tuf/json.js';
import { encodePem } from '../../src/tuf/pem.js';
import { signEnvelope } from '../../src/tuf/sign.js';
import { createRootCertificate } from '../../src/tuf/x509.js';

export const DAY = 86_400_000;
/** A fixed clock for every test: nothing depends on the real time. */
export const NOW = Date.UTC(2031, 5, 15, 12, 0, 0);

export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  any: '2.5.29.37.0',
} as const;

export const KU = { digitalSignature: 1, keyEncipherment: 4, certSign: 32, crlSign: 64 } as const;

export interface CertSpec {
  subjectCN: string;
  /** The certified key (public or private). */
  subjectKey: KeyObject;
  /** Defaults to self-signed by subjectKey (which must then be private). */
  issuer?: { cn: string; key: KeyObject };
  notBeforeMs?: number;
  notAfterMs?: number;
  serial?: Uint8Array;
  /** undefined → no BasicConstraints; true → CA:TRUE; false → CA:FALSE (both critical). */
  ca?: boolean;
  pathLen?: number;
  /** Go KeyUsage bits (KU); 0/undefined → no KeyUsage extension. */
  keyUsage?: number;
  /** EKU OIDs; undefined → no ExtKeyUsage extension. */
  eku?: string[];
  /** Digest of the certificate signature. */
  digest?: 'sha256' | 'sha1';
}

function name(cn: string): Uint8Array {
  const v = isPrintableString(cn) ? derPrintableString(cn) : derUtf8String(cn);
  return derSequence(derSet(derSequence(derOid('2.5.4.3'), v)));
}

function keyUsageBits(ku: number): Uint8Array {
  const bytes = [0, 0];
  for (let i = 0; i < 16; i++) if (ku & (1 << i)) bytes[i >> 3]! |= 0x80 >> (i & 7);
  const len = bytes[1] ? 2 : 1;
  const last = bytes[len - 1]!;
  let unused = 0;
  while (unused < 7 && !(last & (1 << unused))) unused++;
  return derBitString(Uint8Array.from(bytes.slice(0, len)), unused);
}

function signatureAlgorithm(key: KeyObject, digest: 'sha256' | 'sha1'): Uint8Array {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return derSequence(derOid(digest === 'sha1' ? '1.2.840.10045.4.1' : '1.2.840.10045.4.3.2'));
    case 'rsa':
      return derSequence(
        derOid(digest === 'sha1' ? '1.2.840.113549.1.1.5' : '1.2.840.113549.1.1.11'),
        derNull(),
      );
    case 'ed25519':
      return derSequence(derOid('1.3.101.112'));
    default:
      throw new Error(`test PKI: unsupported issuer key ${key.asymmetricKeyType}`);
  }
}

/** A DER certificate built to `spec`. */
export function makeCert(spec: CertSpec): Uint8Array {
  const issuer = spec.issuer ?? { cn: spec.subjectCN, key: spec.subjectKey };
  const digest = spec.digest ?? 'sha256';
  const alg = signatureAlgorithm(issuer.key, digest);
  const exts: Uint8Array[] = [];
  if (spec.keyUsage)
    exts.push(
      derSequence(
        derOid('2.5.29.15'),
        derBoolean(true),
        derOctetString(keyUsageBits(spec.keyUsage)),
      ),
    );
  if (spec.eku)
    exts.push(
      derSequence(derOid('2.5.29.37'), derOctetString(derSequence(...spec.eku.map(derOid)))),
    );
  if (spec.ca !== undefined) {
    const bc: Uint8Array[] = spec.ca ? [derBoolean(true)] : [];
    if (spec.pathLen !== undefined) bc.push(derInteger(spec.pathLen));
    exts.push(
      derSequence(derOid('2.5.29.19'), derBoolean(true), derOctetString(derSequence(...bc))),
    );
  }
  const notBefore = spec.notBeforeMs ?? NOW - DAY;
  const tbs = derSequence(
    derExplicit(0, derInteger(2)),
    derInteger(spec.serial ?? Uint8Array.of(0x42, 0x17)),
    alg,
    name(issuer.cn),
    derSequence(derTime(notBefore), derTime(spec.notAfterMs ?? notBefore + 365 * DAY)),
    name(spec.subjectCN),
    new Uint8Array(createPublicKey(spec.subjectKey).export({ format: 'der', type: 'spki' })),
    ...(exts.length ? [derExplicit(3, derSequence(...exts))] : []),
  );
  const sig = cryptoSign(
    issuer.key.asymmetricKeyType === 'ed25519' ? null : digest,
    tbs,
    issuer.key,
  );
  return derSequence(tbs, alg, derBitString(new Uint8Array(sig)));
}

export const ecKey = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

/** A PEM text as Go writes it (for CA bundles). */
export function pemOf(...ders: Uint8Array[]): string {
  return ders.map((bytes) => encodePem({ type: 'CERTIFICATE', headers: {}, bytes })).join('');
}

/** An x509 key over the given certificates and a Signer for the leaf's private key. */
export function certSigner(privateKey: KeyObject, ...ders: Uint8Array[]): KeyObjectSigner {
  return new KeyObjectSigner(privateKey, PublicKey.fromCertificates(ders));
}

/** A root key as Go Notary makes it: P-256 key + self-signed certificate for `gun`. */
export async function goRootKey(
  gun: string,
  nowMs = NOW,
  validityMs?: number,
): Promise<KeyObjectSigner> {
  const bare = KeyObjectSigner.generate('ecdsa');
  const cert = await createRootCertificate(bare, gun, {
    nowMs,
    ...(validityMs === undefined ? {} : { validityMs }),
  });
  return new KeyObjectSigner(bare.privateKey, cert);
}

const roleSigner = KeyObjectSigner.generate('ecdsa');

export interface RootSpec {
  /** Keys of the root role (their `public` goes into root.json as is). */
  rootKeys: PublicKey[];
  threshold?: number;
  /** Who signs the file (their keyId is what the signature references). */
  signers: Signer[];
  version?: number;
  expiresMs?: number;
}

/** A root.json with the given root role, signed by `signers`, parsed. */
export async function makeRoot(spec: RootSpec): Promise<Metadata<RootSigned>> {
  const keys: JsonObject = {};
  for (const k of [...spec.rootKeys, roleSigner.publicKey])
    keys[k.id] = k.toJSON() as unknown as JsonObject;
  const role = (ids: string[], threshold = 1): JsonObject => ({ keyids: ids, threshold });
  const signed: JsonObject = {
    _type: 'Root',
    consistent_snapshot: false,
    expires: formatRfc3339(spec.expiresMs ?? NOW + 365 * DAY),
    keys,
    roles: {
      root: role(
        spec.rootKeys.map((k) => k.id),
        spec.threshold ?? 1,
      ),
      snapshot: role([roleSigner.keyId]),
      targets: role([roleSigner.keyId]),
      timestamp: role([roleSigner.keyId]),
    },
    version: spec.version ?? 1,
  };
  return parseRoot(await signEnvelope(signed, spec.signers));
}

export { roleSigner };
