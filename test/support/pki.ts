// A throw-away TLS PKI made at test time (nothing committed can expire): one ECDSA P-256 CA and
// the leaves tests need — a server certificate for the signer/server (DNS `notary-signer`,
// `localhost`, IP 127.0.0.1) and a client certificate for mutual TLS. Built with node:crypto and
// src/tuf/der.ts, no openssl CLI. Everything is valid for one day from now (with an hour of
// back-dating for clock skew) and written as PEM files (keys PKCS#8, mode 0600) into a temp dir.
//
// Go's crypto/x509 and OpenSSL (Node) both accept these: v3, positive random serials,
// BasicConstraints + KeyUsage(certSign) on the CA, KeyUsage(digitalSignature) + the right EKU on
// leaves, SubjectKeyIdentifier/AuthorityKeyIdentifier on all.

import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  derBitString,
  derBoolean,
  derExplicit,
  derIa5String,
  derImplicit,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derTime,
  derUtf8String,
} from '../../src/tuf/der.js';
import { encodePem } from '../../src/tuf/pem.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const OID = {
  cn: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

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

interface Issuer {
  cn: string;
  key: KeyObject;
  keyId: Uint8Array;
}

function nameDer(cn: string): Uint8Array {
  return derSequence(derSet(derSequence(derOid(OID.cn), derUtf8String(cn))));
}

function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits (the uncompressed EC point). */
function keyIdOf(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  const point = Buffer.concat([
    Uint8Array.of(4),
    Buffer.from(jwk.x as string, 'base64url'),
    Buffer.from(jwk.y as string, 'base64url'),
  ]);
  return new Uint8Array(createHash('sha1').update(point).digest());
}

function ext(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return derSequence(derOid(oid), ...(critical ? [derBoolean(true)] : []), derOctetString(value));
}

function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return Uint8Array.from(ip.split('.').map(Number));
  throw new Error(`test PKI: only IPv4 SANs are supported (${ip})`);
}

function certificate(opts: {
  subjectCn: string;
  subjectKey: KeyObject;
  issuer: Issuer;
  extensions: Uint8Array[];
}): Uint8Array {
  const alg = derSequence(derOid(OID.ecdsaWithSha256));
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f; // positive
  const tbs = derSequence(
    derExplicit(0, derInteger(2)),
    derInteger(new Uint8Array(serial)),
    alg,
    nameDer(opts.issuer.cn),
    derSequence(derTime(now - HOUR), derTime(now + DAY)),
    nameDer(opts.subjectCn),
    spkiOf(opts.subjectKey),
    derExplicit(3, derSequence(...opts.extensions)),
  );
  const sig = sign('sha256', tbs, opts.issuer.key);
  return derSequence(tbs, alg, derBitString(new Uint8Array(sig)));
}

function keyUsage(bit: 'digitalSignature' | 'certSign'): Uint8Array {
  // digitalSignature = bit 0 (0x80), keyCertSign = bit 5 (0x04) | cRLSign bit 6 (0x02).
  return bit === 'digitalSignature'
    ? derBitString(Uint8Array.of(0x80), 7)
    : derBitString(Uint8Array.of(0x06), 1);
}

function pemCert(der: Uint8Array): string {
  return encodePem({ type: 'CERTIFICATE', headers: {}, bytes: der });
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

  const caKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const issuer: Issuer = { cn: 'trustdesk test CA', key: caKey, keyId: keyIdOf(caKey) };
  const caDer = certificate({
    subjectCn: issuer.cn,
    subjectKey: caKey,
    issuer,
    extensions: [
      ext(OID.basicConstraints, true, derSequence(derBoolean(true))),
      ext(OID.keyUsage, true, keyUsage('certSign')),
      ext(OID.subjectKeyId, false, derOctetString(issuer.keyId)),
    ],
  });
  const ca = write('ca', pemCert(caDer), pemKey(caKey));

  const issue = (file: string, cn: string, opts: LeafOptions): PemPair => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const extensions = [
      ext(OID.basicConstraints, true, derSequence()),
      ext(OID.keyUsage, true, keyUsage('digitalSignature')),
      ext(
        OID.extKeyUsage,
        false,
        derSequence(derOid(opts.usage === 'server' ? OID.serverAuth : OID.clientAuth)),
      ),
      ext(OID.subjectKeyId, false, derOctetString(keyIdOf(key))),
      ext(OID.authorityKeyId, false, derSequence(derImplicit(0, derOctetString(issuer.keyId)))),
    ];
    const names = opts.names ?? [];
    if (names.length > 0) {
      const general = names.map((n) =>
        isIP(n) ? derImplicit(7, derOctetString(ipBytes(n))) : derImplicit(2, derIa5String(n)),
      );
      extensions.push(ext(OID.subjectAltName, false, derSequence(...general)));
    }
    const der = certificate({ subjectCn: cn, subjectKey: key, issuer, extensions });
    return write(file, pemCert(der), pemKey(key));
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
