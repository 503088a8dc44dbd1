// The shared certificate builder, checked against readers that did not write it: Node/OpenSSL
// (X509Certificate: signature, issuer link, host/IP matching) and src/tuf/x509.ts (fields and the
// raw extension bytes, compared with hand-written DER).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { parseCertificate } from '../../src/tuf/x509.js';
import { EKU, KU, issueCert, newKey, pemOf, type CertSpec, type KeyKind } from './certs.js';

const NOW = Date.UTC(2031, 5, 15, 12, 0, 0);
const DAY = 86_400_000;
const VALID = { notBeforeMs: NOW - DAY, notAfterMs: NOW + DAY };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** SHA-1 of the uncompressed EC point, computed from the JWK rather than the SPKI. */
function ecKeyId(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  const point = Buffer.concat([
    Uint8Array.of(4),
    Buffer.from(jwk.x as string, 'base64url'),
    Buffer.from(jwk.y as string, 'base64url'),
  ]);
  return createHash('sha1').update(point).digest('hex');
}

test('issueCert: a CA-issued leaf with every standard extension', () => {
  const ca = issueCert({ cn: 'Test CA', ca: true, pathLen: 0, keyUsage: KU.certSign, ...VALID });
  const extra = { oid: '1.3.6.1.4.1.99999.1', critical: true, value: Uint8Array.of(0x05, 0x00) };
  const leaf = issueCert({
    cn: 'leaf.example',
    key: 'P-384',
    issuer: ca,
    serial: 0x1234_5678n,
    ca: false,
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
    eku: [EKU.serverAuth, EKU.clientAuth],
    dns: ['leaf.example', 'localhost'],
    ips: ['127.0.0.1', '2001:db8::1', '::ffff:10.0.0.1'],
    keyIds: true,
    extensions: [extra],
    ...VALID,
  });

  assert.equal(leaf.key.type, 'private', 'a generated key comes back private');
  assert.equal(leaf.key.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  assert.equal(leaf.x509.verify(createPublicKey(ca.key)), true);
  assert.equal(leaf.x509.checkIssued(ca.x509), true);
  assert.equal(leaf.x509.subject, 'CN=leaf.example');
  assert.equal(leaf.x509.issuer, 'CN=Test CA');
  assert.equal(leaf.x509.serialNumber, '12345678');
  assert.equal(new Date(leaf.x509.validFrom).getTime(), VALID.notBeforeMs);
  assert.equal(new Date(leaf.x509.validTo).getTime(), VALID.notAfterMs);
  for (const ip of ['127.0.0.1', '2001:db8:0:0:0:0:0:1', '::ffff:10.0.0.1'])
    assert.equal(leaf.x509.checkIP(ip), ip, ip);
  assert.equal(leaf.x509.checkIP('127.0.0.2'), undefined);
  assert.equal(leaf.x509.checkHost('localhost'), 'localhost');
  assert.equal(leaf.pem, pemOf(leaf.der));
  assert.equal(pemOf(ca.der, leaf.der), ca.pem + leaf.pem);

  const f = parseCertificate(leaf.der);
  assert.equal(f.signatureAlgorithm, '1.2.840.10045.4.3.2', 'a P-256 issuer signs with SHA-256');
  assert.equal(f.keyUsage, KU.digitalSignature | KU.keyEncipherment);
  assert.deepEqual(f.extKeyUsage, [EKU.serverAuth, EKU.clientAuth]);
  assert.equal(f.basicConstraintsValid, true);
  assert.equal(f.isCA, false);
  // Go's order and criticality, then the extra extension as given.
  assert.deepEqual(
    [...f.extensions].map(([oid, e]) => [oid, e.critical]),
    [
      ['2.5.29.15', true],
      ['2.5.29.37', false],
      ['2.5.29.19', true],
      ['2.5.29.14', false],
      ['2.5.29.35', false],
      ['2.5.29.17', false],
      [extra.oid, true],
    ],
  );
  const ext = (oid: string) => hex(f.extensions.get(oid)!.value);
  assert.equal(ext('2.5.29.15'), '030205a0');
  assert.equal(ext('2.5.29.19'), '3000');
  assert.equal(ext('2.5.29.14'), `0414${ecKeyId(leaf.key)}`);
  assert.equal(ext('2.5.29.35'), `30168014${ecKeyId(ca.key)}`);
  assert.equal(ext(extra.oid), '0500');

  const c = parseCertificate(ca.der);
  assert.equal(c.isCA, true);
  assert.equal(c.maxPathLen, 0);
  assert.equal(c.issuerCN, 'Test CA', 'no issuer means self-signed');
  assert.equal(ca.x509.verify(createPublicKey(ca.key)), true);
  assert.equal(c.extensions.has('2.5.29.14'), false, 'key IDs only when asked for');
});

test('issueCert: KeyUsage bits are DER BIT STRINGs with the unused bits counted', () => {
  const cases: [number, string][] = [
    [0, '030100'],
    [KU.digitalSignature, '03020780'],
    [KU.certSign | KU.crlSign, '03020106'],
    [KU.decipherOnly, '0303070080'],
  ];
  const key = newKey();
  for (const [bits, want] of cases) {
    const f = parseCertificate(issueCert({ cn: 'ku', key, keyUsage: bits, ...VALID }).der);
    assert.equal(hex(f.extensions.get('2.5.29.15')!.value), want, `KU ${bits}`);
    assert.equal(f.keyUsage, bits);
  }
});

test('issueCert: the signature algorithm follows the issuer key and digest', () => {
  const cases: [KeyKind, CertSpec['digest'], string][] = [
    ['P-256', undefined, '1.2.840.10045.4.3.2'],
    ['P-256', 'sha1', '1.2.840.10045.4.1'],
    ['P-384', undefined, '1.2.840.10045.4.3.3'],
    ['P-521', undefined, '1.2.840.10045.4.3.4'],
    ['rsa-1024', undefined, '1.2.840.113549.1.1.11'],
    ['rsa-1024', 'sha1', '1.2.840.113549.1.1.5'],
    ['rsa-1024', 'sha512', '1.2.840.113549.1.1.13'],
    ['ed25519', undefined, '1.3.101.112'],
  ];
  for (const [kind, digest, oid] of cases) {
    const issuer = { cn: 'issuer', key: newKey(kind) };
    const cert = issueCert({ cn: 'leaf', issuer, ...(digest ? { digest } : {}), ...VALID });
    assert.equal(parseCertificate(cert.der).signatureAlgorithm, oid, `${kind} ${digest}`);
    // OpenSSL verifies with the declared algorithm, so a mismatch would fail here.
    assert.equal(cert.x509.verify(createPublicKey(issuer.key)), true, `${kind} ${digest}`);
  }
});

test('issueCert: names, serials and the bare certificate', () => {
  const cnTag = (der: Uint8Array) => {
    const raw = parseCertificate(der).subjectRaw;
    const at = Buffer.from(raw).indexOf(Buffer.from('0603550403', 'hex'));
    return raw[at + 5];
  };
  const key = newKey();
  const plain = issueCert({ cn: 'notary-signer', key, ...VALID });
  assert.equal(cnTag(plain.der), 0x13, 'PrintableString when it fits');
  assert.equal(cnTag(issueCert({ cn: 'docker.io/library/*', key, ...VALID }).der), 0x0c);
  const f = parseCertificate(plain.der);
  assert.equal(f.version, 3);
  assert.equal(f.extensions.size, 0, 'no extension asked for, none written');
  assert.equal(f.serial.length, 16, 'default serial: 16 random bytes');
  assert.ok(((f.serial[0] as number) & 0x80) === 0, 'positive');
  assert.notEqual(
    hex(f.serial),
    hex(parseCertificate(issueCert({ cn: 'x', ...VALID }).der).serial),
  );
  assert.equal(
    hex(
      parseCertificate(issueCert({ cn: 'x', serial: Uint8Array.of(0, 0x80), ...VALID }).der).serial,
    ),
    '80',
  );
});

test('issueCert: certifies a bare public key, refuses specs it cannot honour', () => {
  const pub = createPublicKey(newKey());
  const onlyPublic = issueCert({
    cn: 'public',
    key: pub,
    issuer: { cn: 'i', key: newKey() },
    ...VALID,
  });
  assert.equal(onlyPublic.key, pub, 'a public subject key is certified as given');
  assert.equal(onlyPublic.x509.publicKey.equals(pub), true);
  const cases: [string, CertSpec, RegExp][] = [
    ['public issuer key', { cn: 'a', key: pub, ...VALID }, /needs a private key/],
    ['pathLen without ca', { cn: 'a', pathLen: 1, ...VALID }, /pathLen needs/],
    ['Ed25519 with a digest', { cn: 'a', key: 'ed25519', digest: 'sha256', ...VALID }, /Ed25519/],
    ['bad IP', { cn: 'a', ips: ['300.1.1.1'], ...VALID }, /not an IP address/],
  ];
  for (const [name, spec, re] of cases) assert.throws(() => issueCert(spec), re, name);
});
