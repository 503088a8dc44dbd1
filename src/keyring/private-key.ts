// Private key material in one canonical form — standard PKCS#8 DER as node:crypto reads it — and
// conversions to/from node KeyObjects and the 32-byte secrets of the paper backup.
//
// Rules: ecdsa keys must be on P-256, P-384 or P-521 (Go reads those; trustdesk generates P-256);
// rsa keys must have ≥ 2048 bits; ed25519 is always accepted. The raw secret of an ecdsa key is
// its 32-byte big-endian scalar (P-256 only); of an ed25519 key, its 32-byte seed. Callers wipe
// the Uint8Arrays they receive; KeyObjects and JS strings cannot be wiped (documented limit).
//
// Parsing PKCS#8 is the costly step (OpenSSL 3's decoder, ~0.3 ms), and one material object is
// typically turned into a KeyObject several times on its way (seal: public key and ID; unlock:
// the check against the header, then the Signer). So the KeyObject and PublicKey of a material
// *object* are remembered while that object lives (WeakMap: nothing outlives it). Material
// objects are never mutated except by `wipe` once they are no longer used.

import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { TrustdeskError } from '../tuf/errors.js';
import { PublicKey } from '../tuf/keys.js';
import {
  algorithmOf,
  wipe,
  type GenerateAlgorithm,
  type KeyAlgorithm,
  type PrivateKeyMaterial,
} from './types.js';

const CURVES = ['prime256v1', 'secp384r1', 'secp521r1'];

function check(k: KeyObject): KeyAlgorithm {
  const alg = algorithmOf(k);
  if (alg === 'ecdsa' && !CURVES.includes(String(k.asymmetricKeyDetails?.namedCurve))) {
    throw new TrustdeskError(
      'ERR_UNSUPPORTED_KEY',
      `ECDSA curve ${String(k.asymmetricKeyDetails?.namedCurve)} is not supported (use P-256)`,
    );
  }
  if (alg === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new TrustdeskError('ERR_UNSUPPORTED_KEY', 'RSA keys must have at least 2048 bits');
  }
  return alg;
}

const KEY_OF = new WeakMap<PrivateKeyMaterial, KeyObject>();
const PUBLIC_OF = new WeakMap<PrivateKeyMaterial, PublicKey>();

export function materialFromKeyObject(k: KeyObject): PrivateKeyMaterial {
  if (k.type !== 'private') throw new TrustdeskError('ERR_BAD_KEY', 'not a private key');
  const algorithm = check(k);
  const m = { algorithm, pkcs8: new Uint8Array(k.export({ format: 'der', type: 'pkcs8' })) };
  KEY_OF.set(m, k);
  return m;
}

export function keyObjectFromMaterial(m: PrivateKeyMaterial): KeyObject {
  const known = KEY_OF.get(m);
  if (known) return known;
  const buf = Buffer.from(m.pkcs8);
  let k: KeyObject;
  try {
    k = createPrivateKey({ key: buf, format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new TrustdeskError('ERR_BAD_KEY', 'the private key does not parse as PKCS#8', {
      cause: e,
    });
  } finally {
    wipe(buf);
  }
  if (check(k) !== m.algorithm) {
    throw new TrustdeskError('ERR_BAD_KEY', `the private key is not an ${m.algorithm} key`);
  }
  KEY_OF.set(m, k);
  return k;
}

/** The bare public key (keytype ecdsa / ed25519 / rsa) of the material. */
export function publicKeyOfMaterial(m: PrivateKeyMaterial): PublicKey {
  let pk = PUBLIC_OF.get(m);
  if (!pk) {
    pk = PublicKey.fromKeyObject(keyObjectFromMaterial(m));
    PUBLIC_OF.set(m, pk);
  }
  return pk;
}

export function generateMaterial(algorithm: GenerateAlgorithm): PrivateKeyMaterial {
  const { privateKey } =
    algorithm === 'ecdsa'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('ed25519');
  return materialFromKeyObject(privateKey);
}

function b64u(b: Uint8Array): string {
  return Buffer.from(b).toString('base64url');
}

/** The 32-byte secret of a P-256 or ed25519 key (for BIP39), or ERR_UNSUPPORTED_KEY. */
export function rawSecretOf(m: PrivateKeyMaterial): Uint8Array {
  const k = keyObjectFromMaterial(m);
  if (m.algorithm === 'ecdsa' && k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TrustdeskError(
      'ERR_UNSUPPORTED_KEY',
      'paper backups hold P-256 or ed25519 keys only',
    );
  }
  if (m.algorithm === 'rsa') {
    throw new TrustdeskError(
      'ERR_UNSUPPORTED_KEY',
      'paper backups hold P-256 or ed25519 keys only',
    );
  }
  const jwk = k.export({ format: 'jwk' });
  const d = new Uint8Array(Buffer.from(jwk.d as string, 'base64url'));
  if (d.length !== 32)
    throw new TrustdeskError('ERR_INTERNAL', `unexpected secret length ${d.length}`);
  return d;
}

/** Rebuilds a key from its 32-byte secret (P-256 scalar or ed25519 seed). */
export function materialFromRawSecret(
  algorithm: GenerateAlgorithm,
  secret: Uint8Array,
): PrivateKeyMaterial {
  if (secret.length !== 32) {
    throw new TrustdeskError(
      'ERR_BAD_KEY',
      `a ${algorithm} secret is 32 bytes, got ${secret.length}`,
    );
  }
  let jwk: JsonWebKey;
  if (algorithm === 'ecdsa') {
    const ecdh = createECDH('prime256v1');
    try {
      ecdh.setPrivateKey(Buffer.from(secret));
    } catch (e) {
      throw new TrustdeskError('ERR_BAD_KEY', 'the 32 bytes are not a valid P-256 private scalar', {
        cause: e,
      });
    }
    const pub = ecdh.getPublicKey(); // 04 ‖ X ‖ Y
    jwk = {
      kty: 'EC',
      crv: 'P-256',
      d: b64u(secret),
      x: b64u(pub.subarray(1, 33)),
      y: b64u(pub.subarray(33, 65)),
    };
  } else {
    // RFC 8410 PKCS#8 prefix for an ed25519 seed; node derives the public key.
    const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
    const der = Buffer.concat([prefix, secret]);
    try {
      return materialFromKeyObject(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
    } finally {
      wipe(der);
    }
  }
  return materialFromKeyObject(createPrivateKey({ key: jwk, format: 'jwk' }));
}

/** True when the material's public key equals `pk` (bare or x509 of the same pair). */
export function materialMatches(m: PrivateKeyMaterial, pk: PublicKey): boolean {
  const theirs = pk.cryptoKey();
  return theirs !== null && createPublicKey(keyObjectFromMaterial(m)).equals(theirs);
}
