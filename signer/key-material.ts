// Private keys the signer generates and stores, in Go notary-signer's serialisation (so a key DB
// written by either signer is readable by the other; notary-protocol §6.3, Go
// tuf/utils/x509.go):
//   ecdsa   — P-256, private bytes = SEC1 ECPrivateKey DER (x509.MarshalECPrivateKey);
//   ed25519 — private bytes = public(32) ‖ seed(32) ‖ public(32) (Go's 96-byte layout).
// The public half is `keyval.public` (DER SPKI / raw 32 bytes), so PublicKey.id is the TUF key
// ID notary-server recomputes.
//
// Every byte array holding private material that this module creates is zeroed before it
// returns (callers zero the arrays they receive). KeyObjects and JS strings cannot be wiped.

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { wipe } from '../src/keyring/types.js';
import { TrustdeskError } from '../src/tuf/errors.js';
import { type PublicKey } from '../src/tuf/keys.js';

export const SIGNER_ALGORITHMS = ['ecdsa', 'ed25519'] as const;
export type SignerAlgorithm = (typeof SIGNER_ALGORITHMS)[number];

export function isSignerAlgorithm(a: string): a is SignerAlgorithm {
  return (SIGNER_ALGORITHMS as readonly string[]).includes(a);
}

/** RFC 8410 DER prefixes: PKCS#8 of an ed25519 seed, and SPKI of an ed25519 public key. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI_PREFIX_LEN = 12;

export function generateKeyObject(algorithm: SignerAlgorithm): KeyObject {
  return algorithm === 'ecdsa'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    : generateKeyPairSync('ed25519').privateKey;
}

/** Go's private bytes of a key (see the top of the file). The caller wipes the result. */
export function goPrivateBytes(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType === 'ec') {
    return new Uint8Array(key.export({ format: 'der', type: 'sec1' }));
  }
  if (key.asymmetricKeyType === 'ed25519') {
    const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
    const out = new Uint8Array(96);
    out.set(spki.subarray(ED25519_SPKI_PREFIX_LEN), 0);
    out.set(pkcs8.subarray(ED25519_PKCS8_PREFIX.length), 32);
    out.set(spki.subarray(ED25519_SPKI_PREFIX_LEN), 64);
    wipe(pkcs8);
    return out;
  }
  throw new TrustdeskError('ERR_UNSUPPORTED_KEY', `cannot store a ${key.asymmetricKeyType} key`);
}

function unreadable(what: string, why: string, cause?: unknown): TrustdeskError {
  return new TrustdeskError('ERR_KEY_UNREADABLE', `${what}: ${why}`, cause ? { cause } : {});
}

/**
 * The private key from Go's private bytes, checked against the stored public key (a row whose
 * halves do not belong together was altered). Does not wipe `bytes`.
 */
export function keyFromGoPrivateBytes(
  publicKey: PublicKey,
  bytes: Uint8Array,
  what: string,
): KeyObject {
  let key: KeyObject;
  if (publicKey.keytype === 'ecdsa') {
    try {
      key = createPrivateKey({ key: Buffer.from(bytes), format: 'der', type: 'sec1' });
    } catch (e) {
      throw unreadable(what, 'the private key is not SEC1 ECPrivateKey DER', e);
    }
  } else if (publicKey.keytype === 'ed25519') {
    if (bytes.length !== 96)
      throw unreadable(what, `an ed25519 key is 96 bytes, not ${bytes.length}`);
    const der = Buffer.concat([ED25519_PKCS8_PREFIX, bytes.subarray(32, 64)]);
    try {
      key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch (e) {
      throw unreadable(what, 'the ed25519 seed does not load', e);
    } finally {
      wipe(der);
    }
  } else {
    throw unreadable(what, `key type ${publicKey.keytype} is not one the signer stores`);
  }
  const mine = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const stored = publicKey.cryptoKey()?.export({ format: 'der', type: 'spki' });
  if (!stored || !mine.equals(stored)) {
    throw unreadable(what, 'the private key does not match the stored public key (altered?)');
  }
  return key;
}
