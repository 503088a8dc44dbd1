// Public keys as Notary writes them in metadata (notary-protocol §3.1–3.3), their two key IDs,
// signature verification bound to the key type, and the async Signer interface.
//
// Verification uses node:crypto (OpenSSL): ~20× faster than pure-JS curves for P-256.
// The signature method must match the key type (NCC 2015): an `eddsa` signature is never
// checked against an ECDSA key, etc. ECDSA signatures are raw r‖s over SHA-256 (high-S accepted,
// as Go does); DER is refused.

import {
  X509Certificate,
  constants,
  createPublicKey,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { BoundedMemo } from './bounded-memo.js';
import { canonicalText } from './canonical.js';
import { TufError } from './errors.js';
import { fromBase64, sha256Hex, toBase64 } from './encoding.js';
import { isJsonObject, type JsonValue } from './json.js';
import { decodePemBlocks, encodePem } from './pem.js';

export const KEY_TYPES = ['ecdsa', 'ecdsa-x509', 'rsa', 'rsa-x509', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const SIGNATURE_METHODS = [
  'ecdsa',
  'eddsa',
  'rsapss',
  'rsapkcs1v15',
  'pycrypto-pkcs#1 pss',
] as const;
export type SignatureMethod = (typeof SIGNATURE_METHODS)[number];

/** Which key types each method may verify against (Go's verifiers map). */
const METHOD_KEYTYPES: Record<SignatureMethod, readonly string[]> = {
  ecdsa: ['ecdsa', 'ecdsa-x509'],
  eddsa: ['ed25519'],
  rsapss: ['rsa', 'rsa-x509'],
  rsapkcs1v15: ['rsa', 'rsa-x509'],
  'pycrypto-pkcs#1 pss': ['rsa'],
};

/** The method Notary writes when signing with a key of this type. */
export function signatureMethodFor(keytype: string): SignatureMethod {
  switch (keytype) {
    case 'ecdsa':
    case 'ecdsa-x509':
      return 'ecdsa';
    case 'ed25519':
      return 'eddsa';
    case 'rsa':
    case 'rsa-x509':
      return 'rsapss';
    default:
      throw new TufError(
        'ERR_UNSUPPORTED_KEY',
        `cannot sign with a key of type ${JSON.stringify(keytype)}`,
      );
  }
}

export function isX509KeyType(keytype: string): boolean {
  return keytype === 'ecdsa-x509' || keytype === 'rsa-x509';
}

export function methodMatchesKey(method: string, keytype: string): boolean {
  const allowed = METHOD_KEYTYPES[method as SignatureMethod] as readonly string[] | undefined;
  return allowed !== undefined && allowed.includes(keytype);
}

export interface PublicKeyJson {
  keytype: string;
  keyval: { private: null; public: string };
}

const MIN_RSA_BITS = 2048;

/** Imported verification keys by TUF key ID (which hashes keytype + public bytes). FIFO-bounded. */
const KEY_CACHE = new BoundedMemo<KeyObject | null>(4096);

/**
 * Parsed certificates by their DER (base64): the same root certificate is parsed when it is
 * made, when root.json is verified, and on every later command in a warm process. FIFO-bounded.
 */
const CERT_CACHE = new BoundedMemo<X509Certificate>(1024);

/** Parses one DER certificate (throws as X509Certificate does); parsed once per DER. */
export function parseCertificateDer(der: Uint8Array): X509Certificate {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  return CERT_CACHE.getOrMake(buf.toString('base64'), () => new X509Certificate(buf));
}

/** Canonical key IDs of x509 keys by TUF key ID (derived from the certificate alone). */
const CANONICAL_CACHE = new BoundedMemo<string>(1024);

const CURVE_BITS = new WeakMap<KeyObject, number>();
function curveBits(key: KeyObject): number {
  let bits = CURVE_BITS.get(key);
  if (bits === undefined) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    bits = curve === 'secp384r1' ? 384 : curve === 'secp521r1' ? 521 : 256;
    CURVE_BITS.set(key, bits);
  }
  return bits;
}

/** A public key from metadata. Unknown key types parse but never verify (as in Go). */
export class PublicKey {
  /** TUF key ID: sha256 of the canonical key JSON (with "private":null). */
  readonly id: string;
  readonly publicB64: string;
  #crypto: KeyObject | null | undefined;
  #canonicalId: string | undefined;
  #certs: X509Certificate[] | undefined;

  constructor(
    readonly keytype: string,
    /** `keyval.public` decoded: DER SPKI, raw ed25519 bytes, or PEM certificate text bytes. */
    readonly publicBytes: Uint8Array,
  ) {
    this.publicB64 = toBase64(publicBytes);
    this.id = sha256Hex(canonicalText(this.toJSON() as unknown as JsonValue));
  }

  static fromJSON(v: JsonValue | undefined, field: string): PublicKey {
    if (!isJsonObject(v)) throw new TufError('ERR_BAD_METADATA', `${field}: key must be an object`);
    const { keytype, keyval } = v;
    if (typeof keytype !== 'string')
      throw new TufError('ERR_BAD_METADATA', `${field}.keytype: must be a string`);
    if (!isJsonObject(keyval))
      throw new TufError('ERR_BAD_METADATA', `${field}.keyval: must be an object`);
    if (typeof keyval.public !== 'string') {
      throw new TufError('ERR_BAD_METADATA', `${field}.keyval.public: must be a base64 string`);
    }
    // Private material never belongs in metadata.
    if (keyval.private !== undefined && keyval.private !== null && keyval.private !== '') {
      throw new TufError(
        'ERR_BAD_METADATA',
        `${field}.keyval.private: metadata must not carry private keys`,
      );
    }
    return new PublicKey(keytype, fromBase64(keyval.public, `${field}.keyval.public`));
  }

  /** From a node KeyObject (ecdsa, rsa, ed25519), encoded as Notary encodes it. */
  static fromKeyObject(k: KeyObject): PublicKey {
    const pub = k.type === 'private' ? createPublicKey(k) : k;
    switch (pub.asymmetricKeyType) {
      case 'ec':
        return new PublicKey('ecdsa', new Uint8Array(pub.export({ format: 'der', type: 'spki' })));
      case 'rsa':
        return new PublicKey('rsa', new Uint8Array(pub.export({ format: 'der', type: 'spki' })));
      case 'ed25519': {
        const jwk = pub.export({ format: 'jwk' });
        return new PublicKey('ed25519', new Uint8Array(Buffer.from(jwk.x as string, 'base64url')));
      }
      default:
        throw new TufError(
          'ERR_UNSUPPORTED_KEY',
          `unsupported key type ${String(pub.asymmetricKeyType)}`,
        );
    }
  }

  /** An x509 key from DER certificates (leaf first), PEM-encoded byte-for-byte as Go does. */
  static fromCertificates(ders: readonly Uint8Array[]): PublicKey {
    if (ders.length === 0) throw new TufError('ERR_BAD_CERT', 'no certificate given');
    const first = parseCertificateDer(ders[0] as Uint8Array);
    const kt = first.publicKey.asymmetricKeyType;
    const keytype = kt === 'ec' ? 'ecdsa-x509' : kt === 'rsa' ? 'rsa-x509' : undefined;
    if (!keytype)
      throw new TufError(
        'ERR_UNSUPPORTED_KEY',
        `certificate key type ${String(kt)} is not supported`,
      );
    const pem = ders
      .map((bytes) => encodePem({ type: 'CERTIFICATE', headers: {}, bytes }))
      .join('');
    return new PublicKey(keytype, new TextEncoder().encode(pem));
  }

  toJSON(): PublicKeyJson {
    return { keytype: this.keytype, keyval: { private: null, public: this.publicB64 } };
  }

  get isX509(): boolean {
    return isX509KeyType(this.keytype);
  }

  /** For x509 keys: the certificates in `public` (leaf first). Only CERTIFICATE blocks allowed. */
  certificates(): X509Certificate[] {
    if (!this.isX509) throw new TufError('ERR_BAD_CERT', `key ${this.id} is not an x509 key`);
    if (this.#certs) return this.#certs;
    const blocks = decodePemBlocks(new TextDecoder().decode(this.publicBytes));
    if (blocks.length === 0)
      throw new TufError('ERR_BAD_CERT', `key ${this.id}: no PEM certificate`);
    this.#certs = blocks.map((b) => {
      if (b.type !== 'CERTIFICATE') {
        throw new TufError(
          'ERR_BAD_CERT',
          `key ${this.id}: PEM block ${b.type} is not a CERTIFICATE`,
        );
      }
      try {
        return parseCertificateDer(b.bytes);
      } catch (e) {
        throw new TufError('ERR_BAD_CERT', `key ${this.id}: certificate does not parse`, {
          cause: e,
        });
      }
    });
    return this.#certs;
  }

  /**
   * Canonical key ID (notary-protocol §3.2): for x509 keys, the TUF ID of the bare public key of
   * the first certificate; otherwise the TUF ID. Private key files and CLI arguments use it.
   */
  get canonicalId(): string {
    if (this.#canonicalId) return this.#canonicalId;
    if (!this.isX509) return (this.#canonicalId = this.id);
    const id = CANONICAL_CACHE.getOrMake(this.id, () => {
      const leaf = this.certificates()[0] as X509Certificate;
      const spki = new Uint8Array(leaf.publicKey.export({ format: 'der', type: 'spki' }));
      return new PublicKey(this.keytype === 'ecdsa-x509' ? 'ecdsa' : 'rsa', spki).id;
    });
    return (this.#canonicalId = id);
  }

  /** The node KeyObject used to verify, or null if this key can never verify. */
  cryptoKey(): KeyObject | null {
    if (this.#crypto !== undefined) return this.#crypto;
    // The same keys appear in every parse of every file; importing them dominates verification
    // of delegation-heavy repos, so imports are shared across PublicKey instances.
    const cacheKey = this.id;
    const cached = KEY_CACHE.get(cacheKey);
    if (cached !== undefined) return (this.#crypto = cached);
    let k: KeyObject | null = null;
    try {
      switch (this.keytype) {
        case 'ecdsa':
        case 'rsa':
          k = createPublicKey({ key: Buffer.from(this.publicBytes), format: 'der', type: 'spki' });
          break;
        case 'ecdsa-x509':
        case 'rsa-x509':
          k = (this.certificates()[0] as X509Certificate).publicKey;
          break;
        case 'ed25519':
          if (this.publicBytes.length === 32) {
            k = createPublicKey({
              key: {
                kty: 'OKP',
                crv: 'Ed25519',
                x: Buffer.from(this.publicBytes).toString('base64url'),
              },
              format: 'jwk',
            });
          }
          break;
      }
    } catch {
      k = null;
    }
    // The key material must agree with the declared type.
    if (k) {
      const want = this.keytype.startsWith('ecdsa')
        ? 'ec'
        : this.keytype.startsWith('rsa')
          ? 'rsa'
          : 'ed25519';
      if (k.asymmetricKeyType !== want) k = null;
      else if (want === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS)
        k = null;
    }
    KEY_CACHE.set(cacheKey, k);
    this.#crypto = k;
    return k;
  }

  /**
   * Verifies `sig` over `message` with the given method. Returns false (never throws) for a
   * wrong signature, an unusable key, or a method that does not belong to this key type.
   */
  verify(method: string, message: Uint8Array, sig: Uint8Array): boolean {
    const m = method.toLowerCase();
    if (!methodMatchesKey(m, this.keytype)) return false;
    let key = this.cryptoKey();
    if (m === 'pycrypto-pkcs#1 pss') key = this.#pemRsaKey();
    if (!key) return false;
    try {
      switch (m) {
        case 'ecdsa': {
          const bits = curveBits(key);
          if (sig.length !== 2 * Math.ceil(bits / 8)) return false;
          return cryptoVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, sig);
        }
        case 'eddsa':
          return sig.length === 64 && cryptoVerify(null, message, key, sig);
        case 'rsapss':
        case 'pycrypto-pkcs#1 pss':
          return cryptoVerify(
            'sha256',
            message,
            { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
            sig,
          );
        case 'rsapkcs1v15':
          return cryptoVerify(
            'sha256',
            message,
            { key, padding: constants.RSA_PKCS1_PADDING },
            sig,
          );
        default:
          return false;
      }
    } catch {
      return false;
    }
  }

  #pemRsaKey(): KeyObject | null {
    try {
      const k = createPublicKey(Buffer.from(this.publicBytes).toString('utf8'));
      return k.asymmetricKeyType === 'rsa' ? k : null;
    } catch {
      return null;
    }
  }
}

/**
 * Signs on behalf of one key, wherever the private half lives (memory, file, keychain, token).
 * `sign` receives the full message (canonical bytes) and returns the raw signature in the
 * encoding of `signatureMethodFor(publicKey.keytype)` (ECDSA: raw r‖s over SHA-256).
 */
export interface Signer {
  readonly keyId: string;
  readonly publicKey: PublicKey;
  sign(message: Uint8Array): Promise<Uint8Array>;
}
