// GET|POST /v2/<gun>/_trust/tuf/<snapshot|timestamp>.key (notary-protocol §4.4):
//   GET  — with a current root: the first key of that role listed in root that the trust service
//          holds (lookup errors count as "not held", as in Go); otherwise, or when none is held,
//          createKey — which reuses a never-used key for (gun, role, algorithm), so repeated GETs
//          before the first publish return the same key;
//   POST — always createKey (same reuse rule, Go's "rate limiting"); metadata is not touched.
// Body: Go's json.Marshal of the key: {"keytype":…,"keyval":{"public":…,"private":null}}.
// A current root that does not parse, or a trust service failure → 500 UNKNOWN (detail {}).

import { goJsonString } from '../../src/tuf/canonical.js';
import { type PublicKey } from '../../src/tuf/keys.js';
import { parseRoot } from '../../src/tuf/metadata.js';
import { type TrustService } from '../trust/types.js';

export type KeyRole = 'timestamp' | 'snapshot';

/** Go's json.Marshal of a data.PublicKey (keyval.public before keyval.private). */
export function keyJson(k: PublicKey): string {
  return `{"keytype":${goJsonString(k.keytype)},"keyval":{"public":${goJsonString(k.publicB64)},"private":null}}`;
}

export async function getOrCreateKey(
  trust: TrustService,
  gun: string,
  role: KeyRole,
  currentRoot: Uint8Array | undefined,
): Promise<PublicKey> {
  if (currentRoot) {
    const root = parseRoot(currentRoot);
    for (const keyId of root.signed.roles[role].keyids) {
      const held = await trust.getKey(keyId).catch(() => undefined);
      if (held) return held.publicKey;
    }
  }
  return trust.createKey(gun, role, trust.keyAlgorithm);
}

export function rotateKey(trust: TrustService, gun: string, role: KeyRole): Promise<PublicKey> {
  return trust.createKey(gun, role, trust.keyAlgorithm);
}
