// docker/libtrust key IDs: what a token's `kid` header names (distribution's trustedKeys map).
// SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32 without padding, in groups
// of four joined by ':' (e.g. "ABCD:EFGH:…", 12 groups).

import { createHash, type KeyObject } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

export function libtrustKeyId(key: KeyObject): string {
  const spki = key.export({ type: 'spki', format: 'der' });
  const digest = createHash('sha256').update(spki).digest().subarray(0, 30);
  return (base32(digest).match(/.{4}/g) ?? []).join(':');
}
