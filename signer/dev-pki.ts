// The throwaway PKI of the embedded dev setup (no config file): an ECDSA P-256 CA, the signer's
// server certificate (DNS localhost, notary-signer; IP 127.0.0.1) and one client certificate
// (CN trustdesk-server, clientAuth, not a CA) for the server that talks to the signer. Files go
// into <data dir>/pki: ca.crt, signer.crt/.key, client.crt/.key (keys PKCS#8, 0600, directory
// 0700). They are reused while every certificate has more than RENEW_BEFORE_MS left, else all
// are made again (the dev database does not depend on them).
//
// Certificates: v3, positive 128-bit random serials, ecdsa-with-SHA256, BasicConstraints +
// KeyUsage(keyCertSign, cRLSign) on the CA; BasicConstraints CA:FALSE, KeyUsage
// digitalSignature and the matching ExtKeyUsage on leaves; SubjectKeyIdentifier everywhere and
// AuthorityKeyIdentifier on leaves — what Go's crypto/x509 and OpenSSL both accept.

import {
  X509Certificate,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
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
} from '../src/tuf/der.js';
import { encodePem } from '../src/tuf/pem.js';
import { DEV_FILES } from './config.js';

const DAY_MS = 86_400_000;
export const DEV_VALIDITY_MS = 90 * DAY_MS;
const RENEW_BEFORE_MS = 7 * DAY_MS;

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

interface Issuer {
  cn: string;
  key: KeyObject;
  keyId: Uint8Array;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
}

function name(cn: string): Uint8Array {
  return derSequence(derSet(derSequence(derOid(OID.cn), derUtf8String(cn))));
}

function spki(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
}

/** RFC 5280 key identifier: SHA-1 of the SPKI's public key bits (last 65 bytes for P-256). */
function keyId(key: KeyObject): Uint8Array {
  return new Uint8Array(createHash('sha1').update(spki(key).subarray(-65)).digest());
}

function ext(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return derSequence(derOid(oid), ...(critical ? [derBoolean(true)] : []), derOctetString(value));
}

function certificate(
  subject: string,
  key: KeyObject,
  issuer: Issuer,
  extensions: Uint8Array[],
  nowMs: number,
  validityMs: number,
): string {
  const alg = derSequence(derOid(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const tbs = derSequence(
    derExplicit(0, derInteger(2)),
    derInteger(new Uint8Array(serial)),
    alg,
    name(issuer.cn),
    derSequence(derTime(nowMs - 3_600_000), derTime(nowMs + validityMs)),
    name(subject),
    spki(key),
    derExplicit(3, derSequence(...extensions)),
  );
  const der = derSequence(tbs, alg, derBitString(new Uint8Array(sign('sha256', tbs, issuer.key))));
  return encodePem({ type: 'CERTIFICATE', headers: {}, bytes: der });
}

function pkcs8(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A CA that can issue server and client leaves (and, for tests, intermediate CAs). */
export class DevCa {
  readonly certPem: string;
  readonly keyPem: string;
  readonly #issuer: Issuer;

  constructor(
    readonly nowMs: number,
    readonly validityMs = DEV_VALIDITY_MS,
    cn = 'trustdesk dev signer CA',
    parent?: DevCa,
  ) {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    this.#issuer = { cn, key, keyId: keyId(key) };
    const signer = parent ? parent.#issuer : this.#issuer;
    this.certPem = certificate(
      cn,
      key,
      signer,
      [
        ext(OID.basicConstraints, true, derSequence(derBoolean(true))),
        ext(OID.keyUsage, true, derBitString(Uint8Array.of(0x86), 1)),
        ext(OID.subjectKeyId, false, derOctetString(this.#issuer.keyId)),
        ...(parent
          ? [
              ext(
                OID.authorityKeyId,
                false,
                derSequence(derImplicit(0, derOctetString(signer.keyId))),
              ),
            ]
          : []),
      ],
      nowMs,
      validityMs,
    );
    this.keyPem = pkcs8(key);
  }

  /** A CA certified by this one. */
  intermediate(cn: string): DevCa {
    return new DevCa(this.nowMs, this.validityMs, cn, this);
  }

  /** A leaf for TLS servers (names → subjectAltName) or clients. */
  issue(cn: string, usage: 'server' | 'client', names: readonly string[] = []): IssuedCert {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const extensions = [
      ext(OID.basicConstraints, true, derSequence()),
      ext(OID.keyUsage, true, derBitString(Uint8Array.of(0x80), 7)),
      ext(
        OID.extKeyUsage,
        false,
        derSequence(derOid(usage === 'server' ? OID.serverAuth : OID.clientAuth)),
      ),
      ext(OID.subjectKeyId, false, derOctetString(keyId(key))),
      ext(
        OID.authorityKeyId,
        false,
        derSequence(derImplicit(0, derOctetString(this.#issuer.keyId))),
      ),
    ];
    if (names.length > 0) {
      const general = names.map((n) =>
        isIP(n) === 4
          ? derImplicit(7, derOctetString(Uint8Array.from(n.split('.').map(Number))))
          : derImplicit(2, derIa5String(n)),
      );
      extensions.push(ext(OID.subjectAltName, false, derSequence(...general)));
    }
    return {
      certPem: certificate(cn, key, this.#issuer, extensions, this.nowMs, this.validityMs),
      keyPem: pkcs8(key),
    };
  }
}

export interface DevPkiFiles {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** true when this call (re)made the files. */
  created: boolean;
}

function stillGood(files: string[], nowMs: number): boolean {
  try {
    return files.every((f) => {
      const c = new X509Certificate(readFileSync(f));
      return Date.parse(c.validTo) - nowMs > RENEW_BEFORE_MS && Date.parse(c.validFrom) <= nowMs;
    });
  } catch {
    return false;
  }
}

/** Makes (or keeps) the dev PKI under `dataDir` (see the top of the file). */
export function ensureDevPki(dataDir: string, nowMs: number): DevPkiFiles {
  const dir = join(dataDir, DEV_FILES.pkiDir);
  const p = (f: string) => join(dir, f);
  const files: DevPkiFiles = {
    dir,
    caCert: p(DEV_FILES.caCert),
    serverCert: p(DEV_FILES.serverCert),
    serverKey: p(DEV_FILES.serverKey),
    clientCert: p(DEV_FILES.clientCert),
    clientKey: p(DEV_FILES.clientKey),
    created: false,
  };
  const certs = [files.caCert, files.serverCert, files.clientCert];
  if (
    [...certs, files.serverKey, files.clientKey].every((f) => existsSync(f)) &&
    stillGood(certs, nowMs)
  )
    return files;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = new DevCa(nowMs);
  const server = ca.issue('notary-signer', 'server', ['localhost', 'notary-signer', '127.0.0.1']);
  const client = ca.issue('trustdesk-server', 'client');
  writeFileSync(files.caCert, ca.certPem);
  writeFileSync(files.serverCert, server.certPem);
  writeFileSync(files.serverKey, server.keyPem, { mode: 0o600 });
  writeFileSync(files.clientCert, client.certPem);
  writeFileSync(files.clientKey, client.keyPem, { mode: 0o600 });
  return { ...files, created: true };
}
