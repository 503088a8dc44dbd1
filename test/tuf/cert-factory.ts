// TUF test helpers over the shared certificate builder (test/support/certs.ts): certificates on
// the TUF tests' fixed clock, Go-style root keys, and signed root.json files for the root-trust
// tests.

import { type KeyObject } from 'node:crypto';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { PublicKey, type Signer } from '../../src/tuf/keys.js';
import {
  formatRfc3339,
  parseRoot,
  type Metadata,
  type RootSigned,
} from '../../src/tuf/metadata.js';
import type { JsonObject } from '../../src/tuf/json.js';
import { signEnvelope } from '../../src/tuf/sign.js';
import { createRootCertificate } from '../../src/tuf/x509.js';
import { issueCert, type CertSpec } from '../support/certs.js';

export const DAY = 86_400_000;
/** A fixed clock for every test: nothing depends on the real time. */
export const NOW = Date.UTC(2031, 5, 15, 12, 0, 0);

/** A CertSpec whose validity defaults to the fixed clock. */
export type TufCertSpec = Omit<CertSpec, 'notBeforeMs' | 'notAfterMs'> &
  Partial<Pick<CertSpec, 'notBeforeMs' | 'notAfterMs'>>;

/** A DER certificate valid from a day before NOW for 365 days (unless `spec` says otherwise). */
export function makeCert(spec: TufCertSpec): Uint8Array {
  const notBeforeMs = spec.notBeforeMs ?? NOW - DAY;
  const notAfterMs = spec.notAfterMs ?? notBeforeMs + 365 * DAY;
  return issueCert({ ...spec, notBeforeMs, notAfterMs }).der;
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
