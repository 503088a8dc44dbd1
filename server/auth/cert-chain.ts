// Verifies a token's `x5c` chain up to the configured root bundle, as distribution's
// parseAndVerifyCertChain does with Go crypto/x509 Verify and KeyUsages = [ExtKeyUsageAny]:
//
//   - x5c[0] is the leaf (it signed the token); the rest form an unordered intermediate pool;
//   - a leaf that is itself in the root bundle is a chain of one;
//   - every certificate in the chain is valid at `now` (NotBefore ≤ now ≤ NotAfter);
//   - a parent has subject == the child's issuer (raw DER), may sign certificates (Go
//     CheckSignatureFrom: v3 needs BasicConstraints CA:TRUE; a KeyUsage must include
//     keyCertSign), its signature over the child verifies and is not SHA-1/MD5/MD2;
//   - intermediates must be CAs and respect their parents' pathLenConstraint;
//   - unknown critical extensions fail;
//   - extended key usage is not checked (ExtKeyUsageAny), unlike root-trust CA pinning.

import type { X509Certificate } from 'node:crypto';
import { bytesEqual } from '../../src/tuf/encoding.js';
import { KEY_USAGE, certificateFields, type ParsedCertificate } from '../../src/tuf/x509.js';

const MAX_DEPTH = 8;

const WEAK_SIGNATURES = new Set([
  '1.2.840.10045.4.1', // ecdsa-with-SHA1
  '1.2.840.113549.1.1.2', // md2WithRSAEncryption
  '1.2.840.113549.1.1.4', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5', // sha1WithRSAEncryption
  '1.2.840.10040.4.3', // dsa-with-SHA1
]);

const HANDLED_CRITICAL = new Set([
  '2.5.29.15', // keyUsage
  '2.5.29.19', // basicConstraints
  '2.5.29.37', // extKeyUsage
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.17', // subjectAltName
  '2.5.29.31', // CRL distribution points
  '2.5.29.32', // certificate policies
  '1.3.6.1.5.5.7.1.1', // authority information access
]);

function fields(c: X509Certificate): ParsedCertificate {
  return certificateFields(c);
}

function ownProblem(c: X509Certificate, nowMs: number): string | undefined {
  const f = fields(c);
  const name = JSON.stringify(f.subjectCN);
  if (nowMs < f.notBeforeMs || nowMs > f.notAfterMs)
    return `certificate ${name} is not valid at ${new Date(nowMs).toISOString()}`;
  for (const [oid, ext] of f.extensions)
    if (ext.critical && !HANDLED_CRITICAL.has(oid))
      return `certificate ${name} has an unhandled critical extension ${oid}`;
  return undefined;
}

function maySign(p: ParsedCertificate): boolean {
  if ((p.version === 3 && !p.basicConstraintsValid) || (p.basicConstraintsValid && !p.isCA))
    return false;
  return p.keyUsage === 0 || (p.keyUsage & KEY_USAGE.certSign) !== 0;
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  if (!maySign(fields(parent)) || WEAK_SIGNATURES.has(fields(child).signatureAlgorithm))
    return false;
  try {
    return child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

export type ChainResult =
  | { ok: true; leaf: X509Certificate; notBeforeMs: number; notAfterMs: number }
  | { ok: false; problem: string };

/**
 * Verifies that `x5c[0]` chains to one of `roots` at `nowMs`. On success returns the window in
 * which every certificate of the chain found is valid (so a caller may cache the result);
 * certificates that do not parse are reported as a problem, never thrown.
 */
export function verifyX5cChain(
  x5c: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  nowMs: number,
): ChainResult {
  const leaf = x5c[0];
  if (leaf === undefined) return { ok: false, problem: 'empty x5c certificate chain' };
  try {
    const leafProblem = ownProblem(leaf, nowMs);
    if (leafProblem) return { ok: false, problem: leafProblem };
    const same = (a: X509Certificate, b: X509Certificate) => bytesEqual(a.raw, b.raw);
    const pool: [X509Certificate, boolean][] = [
      ...roots.map((r): [X509Certificate, boolean] => [r, true]),
      ...x5c.slice(1).map((c): [X509Certificate, boolean] => [c, false]),
    ];
    let problem = 'no certificate in the root bundle issued it';
    const find = (chain: X509Certificate[]): X509Certificate[] | undefined => {
      if (chain.length > MAX_DEPTH) return undefined;
      const child = chain[chain.length - 1] as X509Certificate;
      const issuer = fields(child).issuerRaw;
      for (const [parent, isRoot] of pool) {
        const p = fields(parent);
        if (!bytesEqual(p.subjectRaw, issuer) || chain.some((c) => same(c, parent))) continue;
        if (!signedBy(child, parent)) {
          problem = `the signature of ${JSON.stringify(p.subjectCN)} over ${JSON.stringify(fields(child).subjectCN)} is not acceptable`;
          continue;
        }
        const own = ownProblem(parent, nowMs);
        if (own) {
          problem = own;
          continue;
        }
        if (!isRoot && !(p.basicConstraintsValid && p.isCA)) {
          problem = `intermediate ${JSON.stringify(p.subjectCN)} is not a CA`;
          continue;
        }
        if (p.basicConstraintsValid && p.maxPathLen >= 0 && chain.length - 1 > p.maxPathLen) {
          problem = `certificate ${JSON.stringify(p.subjectCN)} allows only ${p.maxPathLen} intermediates`;
          continue;
        }
        const found = isRoot ? [...chain, parent] : find([...chain, parent]);
        if (found) return found;
      }
      return undefined;
    };
    const chain = roots.some((r) => same(r, leaf)) ? [leaf] : find([leaf]);
    if (!chain) return { ok: false, problem: `x5c chain does not verify: ${problem}` };
    return {
      ok: true,
      leaf,
      notBeforeMs: Math.max(...chain.map((c) => fields(c).notBeforeMs)),
      notAfterMs: Math.min(...chain.map((c) => fields(c).notAfterMs)),
    };
  } catch (e) {
    return {
      ok: false,
      problem: `x5c certificate does not parse: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
}
