// BIP39 paper backup of a key: 24 English words = 256 bits of entropy = the key's 32-byte secret
// (P-256 scalar, big-endian, or ed25519 seed) + an 8-bit checksum. The algorithm is not in the
// words: restore tries ecdsa and ed25519 and keeps the one whose IDs match the expected key.
//
// Restore checks, in order (nothing is written by this module; callers store only the result):
//   1. exactly 24 words (after NFKD + lower-casing, any whitespace)  else ERR_BAD_MNEMONIC
//   2. every word is in the BIP39 English list                      else ERR_BAD_MNEMONIC naming
//      the 1-based position and the closest words
//   3. the BIP39 checksum holds                                      else ERR_BAD_MNEMONIC
//   4. the rebuilt key's canonical id (or, with a root certificate, the certificate's TUF id)
//      starts with the expected id, and the certificate holds the same public key
//                                                                    else ERR_KEY_MISMATCH
// The words are returned to the caller only; this module never logs or stores them. JS strings
// cannot be wiped: callers drop references promptly. Secret byte arrays are wiped here.

import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { TrustdeskError } from '../tuf/errors.js';
import type { PublicKey } from '../tuf/keys.js';
import {
  materialFromRawSecret,
  materialMatches,
  publicKeyOfMaterial,
  rawSecretOf,
} from './private-key.js';
import { wipe, type GenerateAlgorithm, type PrivateKeyMaterial } from './types.js';

export const MNEMONIC_WORDS = 24;
const WORDS = new Set(wordlist);

/** The 24 words for a P-256 or ed25519 key. */
export function mnemonicFor(m: PrivateKeyMaterial): string[] {
  const secret = rawSecretOf(m);
  try {
    return entropyToMnemonic(secret, wordlist).split(' ');
  } finally {
    wipe(secret);
  }
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(
        up + 1,
        (prev[j - 1] as number) + 1,
        diag + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** Up to three list words closest to `w`: by edit distance ≤ 2, or sharing its first 4 letters. */
export function closestWords(w: string): string[] {
  return wordlist
    .map((x) => ({ x, d: editDistance(w, x) }))
    .filter((c) => c.d <= 2 || (w.length >= 4 && c.x.startsWith(w.slice(0, 4))))
    .sort((a, b) => a.d - b.d || (a.x < b.x ? -1 : 1))
    .slice(0, 3)
    .map((c) => c.x);
}

/** Steps 1–3: the 24 normalised words, or ERR_BAD_MNEMONIC. */
export function parseMnemonic(text: string): string[] {
  const words = text.normalize('NFKD').toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length !== MNEMONIC_WORDS) {
    throw new TrustdeskError(
      'ERR_BAD_MNEMONIC',
      `a paper backup has ${MNEMONIC_WORDS} words; got ${words.length}`,
    );
  }
  words.forEach((w, i) => {
    if (!WORDS.has(w)) {
      const near = closestWords(w);
      throw new TrustdeskError(
        'ERR_BAD_MNEMONIC',
        `word ${i + 1} (${JSON.stringify(w)}) is not a BIP39 word${near.length ? `; did you mean ${near.join(' / ')}?` : ''}`,
      );
    }
  });
  try {
    wipe(mnemonicToEntropy(words.join(' '), wordlist));
  } catch (e) {
    throw new TrustdeskError(
      'ERR_BAD_MNEMONIC',
      'the words do not pass the BIP39 checksum: one of them is wrong or two are swapped',
      { cause: e },
    );
  }
  return words;
}

export interface RestoreExpectation {
  /** The key id the backup is for: canonical id, or the root certificate's TUF id (prefix ≥ 8). */
  expectedId: string;
  /** The root certificate key (ecdsa-x509) from root.json, when restoring a root key. */
  rootCertificate?: PublicKey;
}

export interface RestoredKey {
  material: PrivateKeyMaterial;
  algorithm: GenerateAlgorithm;
  /** Bare public key and its (canonical = TUF) id. */
  publicKey: PublicKey;
  canonicalId: string;
  /** TUF id of the certificate key when one was given (what root.json lists), else canonicalId. */
  tufId: string;
}

/** Steps 1–4. The caller owns (and wipes) `material`. */
export function restoreFromMnemonic(text: string, exp: RestoreExpectation): RestoredKey {
  const want = exp.expectedId.toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(want)) {
    throw new TrustdeskError(
      'ERR_USAGE',
      'give the expected key id (at least 8 hex digits) to check the restored key against',
    );
  }
  const words = parseMnemonic(text);
  const secret = mnemonicToEntropy(words.join(' '), wordlist);
  const tried: string[] = [];
  try {
    for (const algorithm of ['ecdsa', 'ed25519'] as const) {
      let material: PrivateKeyMaterial;
      try {
        material = materialFromRawSecret(algorithm, secret);
      } catch {
        continue; // not a valid P-256 scalar (≥ n): it can only be an ed25519 seed
      }
      const publicKey = publicKeyOfMaterial(material);
      const cert = exp.rootCertificate;
      const certMatches = cert !== undefined && materialMatches(material, cert);
      const tufId = certMatches ? cert.id : publicKey.id;
      tried.push(`${algorithm} ${publicKey.id.slice(0, 12)}`);
      if (publicKey.id.startsWith(want) || (certMatches && tufId.startsWith(want))) {
        if (cert !== undefined && !certMatches) {
          wipe(material.pkcs8);
          throw new TrustdeskError(
            'ERR_KEY_MISMATCH',
            `the root certificate ${cert.id.slice(0, 12)} does not hold the restored key`,
          );
        }
        return { material, algorithm, publicKey, canonicalId: publicKey.id, tufId };
      }
      wipe(material.pkcs8);
    }
  } finally {
    wipe(secret);
  }
  throw new TrustdeskError(
    'ERR_KEY_MISMATCH',
    `the words restore a key that is not ${want} (they give ${tried.join(', ')}); nothing was written`,
  );
}
