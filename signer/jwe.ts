// Private keys at rest: JWE compact serialisation exactly as Go notary-signer writes it with
// jose2go (notary-protocol §6.3): alg PBES2-HS256+A128KW, enc A256GCM, p2c 8192, a 12-byte
// random p2s, the passphrase's UTF-8 bytes as the PBES2 password. Any RFC 7516/7518 reader
// (Go's jose2go, the `jose` package) opens either signer's rows.
//
// Opening accepts only that algorithm pair (no "none", no direct keys) and at most
// MAX_P2C iterations, so a tampered row cannot make every start-up spin for minutes.

import { randomBytes } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { TrustdeskError } from '../src/tuf/errors.js';

export const KEYWRAP_ALG = 'PBES2-HS256+A128KW';
export const ENCRYPTION_ALG = 'A256GCM';
const P2C = 8192;
const P2S_BYTES = 12;
const MAX_P2C = 1_000_000;

const encoder = new TextEncoder();

/** Encrypts private key bytes under `passphrase` (the caller wipes `plain`). */
export async function sealPrivate(plain: Uint8Array, passphrase: string): Promise<string> {
  const password = encoder.encode(passphrase);
  try {
    return await new CompactEncrypt(plain)
      .setProtectedHeader({ alg: KEYWRAP_ALG, enc: ENCRYPTION_ALG })
      .setKeyManagementParameters({ p2c: P2C, p2s: new Uint8Array(randomBytes(P2S_BYTES)) })
      .encrypt(password);
  } finally {
    password.fill(0);
  }
}

/**
 * Decrypts a sealed key; the caller wipes the result. A wrong passphrase and an altered row look
 * the same (GCM tag or key unwrap fails): ERR_KEY_UNREADABLE, with `what` naming the key.
 */
export async function openPrivate(
  jwe: string,
  passphrase: string,
  what: string,
): Promise<Uint8Array> {
  const password = encoder.encode(passphrase);
  try {
    const { plaintext } = await compactDecrypt(jwe, password, {
      keyManagementAlgorithms: [KEYWRAP_ALG],
      contentEncryptionAlgorithms: [ENCRYPTION_ALG],
      maxPBES2Count: MAX_P2C,
    });
    return plaintext;
  } catch (e) {
    throw new TrustdeskError(
      'ERR_KEY_UNREADABLE',
      `${what} does not decrypt: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  } finally {
    password.fill(0);
  }
}
