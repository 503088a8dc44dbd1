// A throw-away TLS PKI made at test time (nothing committed can expire): one ECDSA P-256 CA and
// the leaves tests need — a server certificate for the signer/server (DNS `notary-signer`,
// `localhost`, IP 127.0.0.1) and a client certificate for mutual TLS. Built with the shared
// certificate builder (test/support/certs.ts). Everything is valid for one day from now (with an
// hour of back-dating for clock skew) and written as PEM files (keys PKCS#8, mode 0600) into a
// temp dir.
//
// Go's crypto/x509 and OpenSSL (Node) both accept these: v3, positive random serials,
// BasicConstraints + KeyUsage(certSign) on the CA, KeyUsage(digitalSignature) + the right EKU on
// leaves, SubjectKeyIdentifier/AuthorityKeyIdentifier on all.

import { type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EKU, KU, issueCert, type CertSpec } from './certs.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface PemPair {
  /** PEM text of the certificate. */
  cert: string;
  /** PEM text of the PKCS#8 private key. */
  key: string;
  certFile: string;
  keyFile: string;
}

export interface LeafOptions {
  /** DNS names and IP addresses for subjectAltName (servers). */
  names?: readonly string[];
  usage: 'server' | 'client';
}

export interface TestPki {
  dir: string;
  ca: PemPair;
  /** CN notary-signer; SAN DNS notary-signer, localhost, IP 127.0.0.1; EKU serverAuth. */
  server: PemPair;
  /** CN trustdesk-server; EKU clientAuth. */
  client: PemPair;
  /** Issues another leaf from the same CA (written as <file>.crt / <file>.key). */
  issue(file: string, cn: string, opts: LeafOptions): PemPair;
  /** Removes the directory. */
  dispose(): void;
}

/** One day from now, back-dated an hour for clock skew. */
function validity(): Pick<CertSpec, 'notBeforeMs' | 'notAfterMs'> {
  const now = Date.now();
  return { notBeforeMs: now - HOUR, notAfterMs: now + DAY };
}

function pemKey(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Creates the CA, server and client certificates in a new temp dir. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'trustdesk-pki-'));
  const write = (file: string, cert: string, key: string): PemPair => {
    const certFile = join(dir, `${file}.crt`);
    const keyFile = join(dir, `${file}.key`);
    writeFileSync(certFile, cert);
    writeFileSync(keyFile, key, { mode: 0o600 });
    return { cert, key, certFile, keyFile };
  };

  const issuer = issueCert({
    cn: 'trustdesk test CA',
    ca: true,
    keyUsage: KU.certSign | KU.crlSign,
    keyIds: true,
    ...validity(),
  });
  const ca = write('ca', issuer.pem, pemKey(issuer.key));

  const issue = (file: string, cn: string, opts: LeafOptions): PemPair => {
    const names = opts.names ?? [];
    const leaf = issueCert({
      cn,
      issuer,
      ca: false,
      keyUsage: KU.digitalSignature,
      eku: [opts.usage === 'server' ? EKU.serverAuth : EKU.clientAuth],
      keyIds: true,
      dns: names.filter((n) => isIP(n) === 0),
      ips: names.filter((n) => isIP(n) !== 0),
      ...validity(),
    });
    return write(file, leaf.pem, pemKey(leaf.key));
  };
  return {
    dir,
    ca,
    server: issue('server', 'notary-signer', {
      usage: 'server',
      names: ['notary-signer', 'localhost', '127.0.0.1'],
    }),
    client: issue('client', 'trustdesk-server', { usage: 'client' }),
    issue,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
