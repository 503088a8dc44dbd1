// Which client certificates may talk to the signer (mutual TLS). Go notary-signer uses
// crypto/tls RequireAndVerifyClientCert with `server.client_ca_file` as the only roots; we
// apply the same chain rules ourselves (src/tuf/x509.ts verifyChain), because Go's own configs
// name a leaf + intermediate file (notary-server.crt) as client_ca_file and Node's TLS stack
// cannot anchor a chain at an intermediate (notary-protocol §9). On top of Go's rules:
//   - the chain may end at any configured certificate — an intermediate or even a leaf;
//   - the leaf must not be a CA (seed 002: a stolen CA-capable client cert could mint more);
//   - every certificate in the chain with an ExtKeyUsage allows clientAuth (or any).

import { X509Certificate } from 'node:crypto';
import { type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { verifyChain } from '../src/tuf/x509.js';

/**
 * Checks a presented chain (leaf first) against the configured certificates. Returns
 * undefined when the client may connect, else the reason (for the log).
 */
export function clientChainProblem(
  presented: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  nowMs: number,
): string | undefined {
  const r = verifyChain(presented, {
    anchors,
    nowMs,
    usage: 'clientAuth',
    refuseCaLeaf: true,
    anchorName: 'a configured client CA (server.client_ca_file)',
  });
  return r.ok ? undefined : r.problem;
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
