// A Signer over a node:crypto private KeyObject held in memory. The keyring wraps this for
// file/keychain keys once unlocked; tests and the server's local trust service use it directly.

import {
  constants,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import { TufError } from './errors.js';
import { PublicKey, signatureMethodFor, type Signer } from './keys.js';

export type GeneratedKeyType = 'ecdsa' | 'ed25519' | 'rsa';

export class KeyObjectSigner implements Signer {
  readonly publicKey: PublicKey;

  /**
   * `publicKey` defaults to the bare key; pass an x509 PublicKey (a root certificate) to sign
   * as that certificate's key. It must wrap the same key pair.
   */
  constructor(
    readonly privateKey: KeyObject,
    publicKey?: PublicKey,
  ) {
    if (privateKey.type !== 'private')
      throw new TufError('ERR_BAD_KEY', 'KeyObjectSigner needs a private key');
    if (publicKey) {
      const pk = publicKey.cryptoKey();
      if (!pk || !pk.equals(createPublicKey(privateKey))) {
        throw new TufError(
          'ERR_BAD_KEY',
          `public key ${publicKey.id} does not belong to this private key`,
        );
      }
    }
    this.publicKey = publicKey ?? PublicKey.fromKeyObject(privateKey);
  }

  static generate(type: GeneratedKeyType = 'ecdsa'): KeyObjectSigner {
    switch (type) {
      case 'ecdsa':
        return new KeyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
      case 'ed25519':
        return new KeyObjectSigner(generateKeyPairSync('ed25519').privateKey);
      case 'rsa':
        return new KeyObjectSigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    }
  }

  get keyId(): string {
    return this.publicKey.id;
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.signSync(message));
  }

  signSync(message: Uint8Array): Uint8Array {
    switch (signatureMethodFor(this.publicKey.keytype)) {
      case 'ecdsa':
        return new Uint8Array(
          cryptoSign('sha256', message, { key: this.privateKey, dsaEncoding: 'ieee-p1363' }),
        );
      case 'eddsa':
        return new Uint8Array(cryptoSign(null, message, this.privateKey));
      default:
        return new Uint8Array(
          cryptoSign('sha256', message, {
            key: this.privateKey,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: 32,
          }),
        );
    }
  }
}
