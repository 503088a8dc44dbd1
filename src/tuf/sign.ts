// Signing a `signed` body with one or more async Signers into Go-identical envelope bytes.

import { canonicalText, encodeEnvelope, type WireSignature } from './canonical.js';
import { TufError } from './errors.js';
import { toBase64 } from './encoding.js';
import type { JsonObject } from './json.js';
import { signatureMethodFor, type Signer } from './keys.js';

const utf8 = new TextEncoder();

/** Signs the canonical form of `signed` with every signer (deduplicated by key ID). */
export async function signEnvelope(
  signed: JsonObject,
  signers: readonly Signer[],
): Promise<Uint8Array> {
  const text = canonicalText(signed);
  const message = utf8.encode(text);
  const seen = new Set<string>();
  const unique = signers.filter((s) => (seen.has(s.keyId) ? false : (seen.add(s.keyId), true)));
  if (unique.length === 0) throw new TufError('ERR_MISSING_KEY', 'no signing keys available');
  const sigs: WireSignature[] = await Promise.all(
    unique.map(async (s) => ({
      keyid: s.keyId,
      method: signatureMethodFor(s.publicKey.keytype),
      sig: toBase64(await s.sign(message)),
    })),
  );
  return encodeEnvelope(text, sigs);
}
