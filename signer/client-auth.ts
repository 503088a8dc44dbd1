// Which client certificates may talk to the signer (mutual TLS). Go notary-signer uses
// crypto/tls RequireAndVerifyClientCert with `server.client_ca_file` as the only roots; we
// apply the same chain rules ourselves, because Go's own configs name a leaf + intermediate
// file (notary-server.crt) as client_ca_file and Node's TLS stack cannot anchor a chain at an
// intermediate (notary-protocol §9). Rules, in order:
//   1. the client presented a certificate;
//   2. the leaf is not a CA (BasicConstraints CA:TRUE is refused, seed 002: a stolen CA-capable
//      client cert could mint more client certs);
//   3. every certificate used is valid now and has no critical extension we do not handle;
//   4. the leaf is one of the configured certificates, or chains to one: each parent (from the
//      configured certificates first, then what the client sent) has the child's issuer as its
//      subject, is a v3 CA (BasicConstraints CA:TRUE), has keyCertSign if it has a KeyUsage,
//      respects its pathLenConstraint, and its signature over the child verifies (no SHA-1);
//      the chain ends at the first configured certificate reached — which may be an
//      intermediate or even a leaf, exactly as Go accepts;
//   5. every certificate in that chain with an ExtKeyUsage allows clientAuth (or any).

import { X509Certificate } from 'node:crypto';
import { type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { bytesEqual } from '../src/tuf/encoding.js';
import { KEY_USAGE, OID, certificateFields, type ParsedCertificate } from '../src/tuf/x509.js';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const MAX_DEPTH = 8;
const WEAK_SIGNATURES = new Set([
  '1.2.840.10045.4.1',
  '1.2.840.113549.1.1.2',
  '1.2.840.113549.1.1.4',
  '1.2.840.113549.1.1.5',
  '1.2.840.10040.4.3',
]);
const HANDLED = new Set([
  OID.keyUsage,
  OID.basicConstraints,
  OID.extKeyUsage,
  '2.5.29.14',
  '2.5.29.35',
  '2.5.29.17',
  '2.5.29.31',
  '2.5.29.32',
  '1.3.6.1.5.5.7.1.1',
]);

function name(f: ParsedCertificate): string {
  return JSON.stringify(f.subjectCN);
}

function usableProblem(c: X509Certificate, nowMs: number): string | undefined {
  const f = certificateFields(c);
  if (nowMs < f.notBeforeMs || nowMs > f.notAfterMs)
    return `certificate ${name(f)} is not valid now`;
  for (const [id, e] of f.extensions)
    if (e.critical && !HANDLED.has(id))
      return `certificate ${name(f)} has an unhandled critical extension ${id}`;
  return undefined;
}

function mayIssue(
  child: X509Certificate,
  parent: X509Certificate,
  below: number,
  nowMs: number,
): string | undefined {
  const p = certificateFields(parent);
  const c = certificateFields(child);
  if (!bytesEqual(p.subjectRaw, c.issuerRaw)) return 'issuer mismatch';
  if (!(p.basicConstraintsValid && p.isCA)) return `certificate ${name(p)} is not a CA`;
  if (p.keyUsage !== 0 && (p.keyUsage & KEY_USAGE.certSign) === 0)
    return `certificate ${name(p)} may not sign certificates`;
  if (p.maxPathLen >= 0 && below > p.maxPathLen)
    return `certificate ${name(p)} allows only ${p.maxPathLen} intermediates`;
  if (WEAK_SIGNATURES.has(c.signatureAlgorithm))
    return `certificate ${name(c)} uses a weak signature`;
  try {
    if (!child.verify(parent.publicKey))
      return `the signature of ${name(p)} over ${name(c)} does not verify`;
  } catch {
    return `the signature of ${name(p)} over ${name(c)} cannot be checked`;
  }
  return usableProblem(parent, nowMs);
}

function allowsClientAuth(chain: readonly X509Certificate[]): boolean {
  return chain.every((c) => {
    const eku = certificateFields(c).extKeyUsage;
    return eku.length === 0 || eku.includes(OID.anyExtendedKeyUsage) || eku.includes(CLIENT_AUTH);
  });
}

/**
 * Checks a presented chain (leaf first) against the configured certificates. Returns
 * undefined when the client may connect, else the reason (for the log).
 */
export function clientChainProblem(
  presented: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  nowMs: number,
): string | undefined {
  const leaf = presented[0];
  if (!leaf) return 'the client sent no certificate';
  let lf: ParsedCertificate;
  try {
    lf = certificateFields(leaf);
  } catch (e) {
    return `the client certificate does not parse: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (lf.basicConstraintsValid && lf.isCA)
    return `client certificate ${name(lf)} is a CA certificate; client certificates must not be CAs`;
  const leafProblem = usableProblem(leaf, nowMs);
  if (leafProblem) return leafProblem;
  const same = (a: X509Certificate, b: X509Certificate) => bytesEqual(a.raw, b.raw);
  let last = `${name(lf)} is not issued by a configured client CA (server.client_ca_file)`;

  const search = (chain: X509Certificate[]): X509Certificate[] | undefined => {
    const child = chain[chain.length - 1] as X509Certificate;
    if (anchors.some((a) => same(a, child))) return chain;
    if (chain.length > MAX_DEPTH) return undefined;
    const candidates = [...anchors, ...presented.slice(1)];
    for (const parent of candidates) {
      if (chain.some((c) => same(c, parent))) continue;
      let problem: string | undefined;
      try {
        problem = mayIssue(child, parent, chain.length - 1, nowMs);
      } catch (e) {
        problem = e instanceof Error ? e.message : String(e);
      }
      if (problem) {
        if (problem !== 'issuer mismatch') last = problem;
        continue;
      }
      const found = search([...chain, parent]);
      if (found) return found;
    }
    return undefined;
  };
  const chain = search([leaf]);
  if (!chain) return last;
  if (!allowsClientAuth(chain))
    return `the chain of ${name(lf)} does not allow client authentication (ExtKeyUsage)`;
  return undefined;
}

/** The certificates a TLS peer sent (leaf first), as Node reports them. */
export function peerChain(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  // Node links the chain through issuerCertificate; a self-signed root points at itself.
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}
