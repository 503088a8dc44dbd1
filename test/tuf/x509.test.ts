import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TAG, DerReader, parseDer, readBitString, readInteger } from '../../src/tuf/der.js';
import { TufError } from '../../src/tuf/errors.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { PublicKey, type Signer } from '../../src/tuf/keys.js';
import {
  ROOT_CERT_VALIDITY_MS,
  certificateSummary,
  chainProblem,
  cnMatchesGun,
  createRootCertificate,
  loadCertBundle,
  parseCertificate,
  validRootLeaf,
} from '../../src/tuf/x509.js';
import { findExecutable, notarySrc, serviceSkip } from '../support/services.js';
import { EKU, KU, newKey, pemOf } from '../support/certs.js';
import { DAY, NOW, makeCert } from './cert-factory.js';

const GUN = 'docker.io/library/alpine';
const isCode = (c: string, re?: RegExp) => (e: unknown) =>
  e instanceof TufError && e.code === c && (re === undefined || re.test(e.message));
const x509 = (der: Uint8Array) => new X509Certificate(Buffer.from(der));
const textOf = (pk: PublicKey) => new TextDecoder().decode(pk.publicBytes);
const GO_PEM =
  /^-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/;

async function rootCert(
  gun = GUN,
  nowMs = NOW,
  extra: { validityMs?: number; serial?: Uint8Array } = {},
) {
  const signer = KeyObjectSigner.generate('ecdsa');
  const key = await createRootCertificate(signer, gun, { nowMs, ...extra });
  return { signer, key, cert: key.certificates()[0] as X509Certificate };
}

test('createRootCertificate: fields and extensions as Go Notary makes them (node X509Certificate)', async () => {
  const { signer, key, cert } = await rootCert(GUN, NOW + 456);
  assert.equal(key.keytype, 'ecdsa-x509');
  assert.match(textOf(key), GO_PEM);
  assert.equal(cert.subject, `CN=${GUN}`);
  assert.equal(cert.issuer, `CN=${GUN}`);
  assert.equal(cert.ca, false);
  assert.deepEqual(cert.keyUsage, [EKU.codeSigning]); // node's keyUsage lists the EKU OIDs
  assert.equal(
    cert.verify(createPublicKey(signer.privateKey)),
    true,
    'self-signed with its own key',
  );
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(new Date(cert.validFrom).getTime(), NOW, 'NotBefore = now, whole seconds');
  assert.equal(new Date(cert.validTo).getTime(), NOW + ROOT_CERT_VALIDITY_MS);
  assert.equal(ROOT_CERT_VALIDITY_MS, 10 * 365 * DAY);
  // The canonical ID is the bare key's ID (what the private key file is named after).
  assert.equal(key.canonicalId, signer.publicKey.id);
  assert.notEqual(key.id, signer.publicKey.id);

  assert.deepEqual(certificateSummary(key), {
    subjectCN: GUN,
    issuerCN: GUN,
    serialHex: cert.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ''),
    notBeforeMs: NOW,
    notAfterMs: NOW + ROOT_CERT_VALIDITY_MS,
    isCA: false,
    keyAlgorithm: 'ecdsa',
    curve: 'P-256',
    signatureAlgorithm: 'ecdsa-with-SHA256',
    extKeyUsage: ['codeSigning'],
  });

  // Exact extension encodings, in Go's order.
  const f = parseCertificate(new Uint8Array(cert.raw));
  assert.equal(f.version, 3);
  assert.deepEqual([...f.extensions.keys()], ['2.5.29.15', '2.5.29.37', '2.5.29.19']);
  const ext = (id: string) => f.extensions.get(id)!;
  assert.deepEqual(
    [ext('2.5.29.15').critical, Buffer.from(ext('2.5.29.15').value).toString('hex')],
    [true, '030205a0'],
  );
  assert.deepEqual(
    [ext('2.5.29.37').critical, Buffer.from(ext('2.5.29.37').value).toString('hex')],
    [false, '300a06082b06010505070303'],
  );
  assert.deepEqual(
    [ext('2.5.29.19').critical, Buffer.from(ext('2.5.29.19').value).toString('hex')],
    [true, '3000'],
  );
  assert.equal(f.keyUsage, KU.digitalSignature | KU.keyEncipherment);
  assert.equal(f.basicConstraintsValid, true);
  assert.equal(f.isCA, false);
});

test(
  'createRootCertificate: openssl x509 -text shows the right certificate',
  { skip: serviceSkip(findExecutable('openssl') !== undefined, 'openssl') },
  async () => {
    const { key } = await rootCert();
    const out = execFileSync('openssl', ['x509', '-noout', '-text'], {
      input: textOf(key),
    }).toString();
    const want = [
      /Version: 3 \(0x2\)/,
      /Signature Algorithm: ecdsa-with-SHA256/,
      new RegExp(`Issuer: CN ?= ?${GUN}\\n`),
      new RegExp(`Subject: CN ?= ?${GUN}\\n`),
      /ASN1 OID: prime256v1/,
      /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/,
      /X509v3 Extended Key Usage: ?\n\s+Code Signing\n/,
      /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/,
    ];
    for (const re of want) assert.match(out, re);
    assert.doesNotMatch(out, /Subject Key Identifier|Authority Key Identifier|Alternative Name/);
    // openssl also agrees the self-signature verifies.
    const v = execFileSync('openssl', ['x509', '-noout', '-subject'], {
      input: textOf(key),
    }).toString();
    assert.match(v, new RegExp(GUN));
  },
);

test('createRootCertificate: serials are random, positive and at most 128 bits', async () => {
  const signer = KeyObjectSigner.generate('ecdsa');
  const seen = new Set<string>();
  for (let i = 0; i < 24; i++) {
    const key = await createRootCertificate(signer, GUN, { nowMs: NOW });
    const tbs = new DerReader(parseDer(new Uint8Array(key.certificates()[0]!.raw)).content);
    const t = new DerReader(tbs.next('tbs', TAG.SEQUENCE));
    t.next('version');
    const serialEl = t.next('serial', TAG.INTEGER);
    const n = readInteger(serialEl);
    assert.ok(n >= 0n && n < 2n ** 128n, `serial ${n} in [0, 2^128)`);
    seen.add(n.toString(16));
  }
  assert.equal(seen.size, 24, 'all distinct');
  // A fixed serial with the high bit set gets a 0x00 sign octet and stays positive.
  const key = await createRootCertificate(signer, GUN, {
    nowMs: NOW,
    serial: Uint8Array.of(0x80, 1),
  });
  assert.equal(key.certificates()[0]!.serialNumber.replace(/^0+/, ''), '8001');
  assert.equal(certificateSummary(key).serialHex, '8001');
});

test('createRootCertificate: UTCTime before 2050, GeneralizedTime from 2050, whole seconds', async () => {
  const cases: [string, number, number, [number, number]][] = [
    ['all UTCTime', Date.UTC(2030, 0, 1, 0, 0, 0, 999), 365 * DAY, [TAG.UTC_TIME, TAG.UTC_TIME]],
    [
      'NotAfter in 2050',
      Date.UTC(2049, 11, 31, 23, 59, 59),
      1000,
      [TAG.UTC_TIME, TAG.GENERALIZED_TIME],
    ],
    [
      'both from 2050',
      Date.UTC(2050, 5, 1),
      ROOT_CERT_VALIDITY_MS,
      [TAG.GENERALIZED_TIME, TAG.GENERALIZED_TIME],
    ],
  ];
  for (const [name, nowMs, validityMs, tags] of cases) {
    const { key, cert } = await rootCert(GUN, nowMs, { validityMs });
    const t = new DerReader(
      new DerReader(parseDer(new Uint8Array(cert.raw))).next('tbs', TAG.SEQUENCE),
    );
    for (let i = 0; i < 4; i++) t.next('skip');
    const validity = new DerReader(t.next('validity', TAG.SEQUENCE));
    assert.deepEqual([validity.next('nb').tag, validity.next('na').tag], tags, name);
    const s = certificateSummary(key);
    assert.equal(s.notBeforeMs, Math.floor(nowMs / 1000) * 1000, name);
    assert.equal(s.notAfterMs, Math.floor((nowMs + validityMs) / 1000) * 1000, name);
  }
});

test('createRootCertificate: GUNs outside PrintableString are UTF8String (as Go marshals them)', async () => {
  for (const [gun, tag] of [
    ['docker.io/library/alpine', TAG.PRINTABLE_STRING],
    ['example.com/my_repo', TAG.UTF8_STRING],
    ['example.com/a*', TAG.UTF8_STRING],
    ['example.com/ü', TAG.UTF8_STRING],
  ] as const) {
    const { key, cert } = await rootCert(gun);
    const raw = parseCertificate(new Uint8Array(cert.raw)).subjectRaw;
    const atv = new DerReader(new DerReader(new DerReader(parseDer(raw)).next('rdn')).next('atv'));
    atv.next('type');
    assert.equal(atv.next('value').tag, tag, gun);
    assert.equal(certificateSummary(key).subjectCN, gun);
  }
});

test(
  'createRootCertificate: byte-identical to the Go-made certificates of the compatibility fixtures',
  {
    skip: serviceSkip(
      existsSync(join(notarySrc(), 'fixtures', 'compatibility')),
      'Go Notary source tree',
    ),
  },
  async () => {
    const fixtures = [
      'fixtures/compatibility/notary0.1/tuf/docker.com/notary0.1/samplerepo/metadata/root.json',
      'fixtures/compatibility/notary0.3/tuf/docker.com/notary0.3/tst/metadata/root.json',
    ];
    for (const path of fixtures) {
      const doc = JSON.parse(readFileSync(join(notarySrc(), path), 'utf8')) as {
        signed: {
          keys: Record<string, { keytype: string; keyval: { public: string } }>;
          roles: { root: { keyids: string[] } };
        };
      };
      const id = doc.signed.roles.root.keyids[0]!;
      const goKey = new PublicKey(
        'ecdsa-x509',
        new Uint8Array(Buffer.from(doc.signed.keys[id]!.keyval.public, 'base64')),
      );
      assert.equal(goKey.id, id);
      const goCert = goKey.certificates()[0]!;
      const f = parseCertificate(new Uint8Array(goCert.raw));
      // Replay Go's inputs: same key, serial, times; a "signer" that returns Go's signature.
      const sigSeq = new DerReader(
        parseDer(readBitString(parseDer(new DerReader(parseDer(f.raw)).rest('x')[2]!.raw)).bytes),
      );
      const r = readInteger(sigSeq.next('r'));
      const s = readInteger(sigSeq.next('s'));
      const raw = Buffer.from(
        r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0'),
        'hex',
      );
      const spkiKey = PublicKey.fromKeyObject(
        createPublicKey({ key: Buffer.from(f.spki), format: 'der', type: 'spki' }),
      );
      const replay: Signer = {
        keyId: spkiKey.id,
        publicKey: spkiKey,
        sign: () => Promise.resolve(new Uint8Array(raw)),
      };
      const ours = await createRootCertificate(replay, f.subjectCN, {
        nowMs: f.notBeforeMs,
        validityMs: f.notAfterMs - f.notBeforeMs,
        serial: f.serial,
      });
      assert.equal(textOf(ours), textOf(goKey), path);
      assert.equal(ours.id, id, path);
    }
  },
);

test('createRootCertificate: only ECDSA P-256 keys, and the signer must really sign', async () => {
  const ecdsa = KeyObjectSigner.generate('ecdsa');
  const other = KeyObjectSigner.generate('ecdsa');
  const p384 = new KeyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
  const cases: [string, Signer, (e: unknown) => boolean][] = [
    ['ed25519', KeyObjectSigner.generate('ed25519'), isCode('ERR_UNSUPPORTED_KEY', /ECDSA/)],
    ['rsa', KeyObjectSigner.generate('rsa'), isCode('ERR_UNSUPPORTED_KEY', /ECDSA/)],
    ['P-384', p384, isCode('ERR_UNSUPPORTED_KEY', /P-256/)],
    [
      'signs with another key',
      { keyId: ecdsa.keyId, publicKey: ecdsa.publicKey, sign: (m) => other.sign(m) },
      isCode('ERR_BAD_SIGNATURE', /does not verify/),
    ],
    [
      'returns a DER signature',
      {
        keyId: ecdsa.keyId,
        publicKey: ecdsa.publicKey,
        sign: () => Promise.resolve(new Uint8Array(71)),
      },
      isCode('ERR_BAD_SIGNATURE', /71-byte/),
    ],
  ];
  for (const [name, signer, check] of cases) {
    await assert.rejects(createRootCertificate(signer, GUN, { nowMs: NOW }), check, name);
  }
  await assert.rejects(createRootCertificate(ecdsa, '', { nowMs: NOW }), isCode('ERR_USAGE'));
  // A signer already presenting a certificate may make a new certificate for its key.
  const { signer, key } = await rootCert();
  const again = await createRootCertificate(new KeyObjectSigner(signer.privateKey, key), GUN, {
    nowMs: NOW,
  });
  assert.equal(again.canonicalId, key.canonicalId);
});

test('PEM exactness and key-ID stability: parse → re-encode → same TUF ID', async () => {
  const { key } = await rootCert();
  assert.equal(PublicKey.fromJSON(key.toJSON() as never, 'k').id, key.id);
  assert.equal(PublicKey.fromCertificates([new Uint8Array(key.certificates()[0]!.raw)]).id, key.id);
  const leaf = validRootLeaf(key, GUN, { nowMs: NOW, checkExpiry: true });
  assert.equal(leaf.key.id, key.id);
  assert.equal(textOf(leaf.key), textOf(key));
  // Other spellings of the same certificate parse, but re-encode to Go's bytes (another ID).
  const variants = [
    textOf(key).replace(/\n/g, '\r\n'),
    textOf(key).trimEnd(),
    'junk before\n' + textOf(key),
  ];
  for (const v of variants) {
    const k = new PublicKey('ecdsa-x509', new TextEncoder().encode(v));
    assert.notEqual(k.id, key.id);
    assert.equal(validRootLeaf(k, GUN, { nowMs: NOW, checkExpiry: true }).key.id, key.id);
  }
});

test('cnMatchesGun: exact or `prefix*`', () => {
  const cases: [string, string, boolean][] = [
    [GUN, GUN, true],
    [GUN, GUN + 'x', false],
    ['docker.io/library/*', GUN, true],
    ['docker.io/lib*', GUN, true],
    ['docker.io/library/**', GUN, true],
    ['*', GUN, true],
    ['docker.io/other/*', GUN, false],
    ['docker.io/library/alpine/*', GUN, false],
    ['Docker.io/library/alpine', GUN, false],
    ['', GUN, false],
  ];
  for (const [cn, gun, want] of cases) assert.equal(cnMatchesGun(cn, gun), want, `${cn} vs ${gun}`);
});

test('validRootLeaf: the root certificate rules', () => {
  const leafKey = newKey();
  const caKey = newKey();
  const rsa1024 = newKey('rsa-1024');
  const rsa2048 = newKey('rsa-2048');
  const ed = newKey('ed25519');
  const leaf = (over: Partial<Parameters<typeof makeCert>[0]> = {}) =>
    makeCert({ cn: GUN, key: leafKey, ca: false, eku: [EKU.codeSigning], ...over });
  const ca = (over: Partial<Parameters<typeof makeCert>[0]> = {}) =>
    makeCert({ cn: 'CA', key: caKey, ca: true, keyUsage: KU.certSign, ...over });
  const pem = (...ders: Uint8Array[]) => new TextEncoder().encode(pemOf(...ders));
  const ecX509 = (...ders: Uint8Array[]) => new PublicKey('ecdsa-x509', pem(...ders));
  const pubKeyPem = new TextEncoder().encode(
    pemOf(leaf()) + createPublicKey(leafKey).export({ format: 'pem', type: 'spki' }).toString(),
  );

  type Case = [string, PublicKey, { checkExpiry?: boolean; gun?: string }, RegExp | null];
  const cases: Case[] = [
    ['valid leaf', ecX509(leaf()), {}, null],
    [
      'wrong CN',
      ecX509(leaf({ cn: 'docker.io/library/busybox' })),
      {},
      /CN "docker.io\/library\/busybox" does not match/,
    ],
    ['wildcard CN', ecX509(leaf({ cn: 'docker.io/library/*' })), {}, null],
    [
      'wildcard CN of another namespace',
      ecX509(leaf({ cn: 'docker.io/other/*' })),
      {},
      /does not match/,
    ],
    [
      'expired',
      ecX509(leaf({ notBeforeMs: NOW - 10 * DAY, notAfterMs: NOW - 1000 })),
      {},
      /expired/,
    ],
    [
      'expired, expiry not checked',
      ecX509(leaf({ notBeforeMs: NOW - 10 * DAY, notAfterMs: NOW - 1000 })),
      { checkExpiry: false },
      null,
    ],
    ['valid from in 23 hours', ecX509(leaf({ notBeforeMs: NOW + 23 * 3600_000 })), {}, null],
    [
      'valid from in 25 hours',
      ecX509(leaf({ notBeforeMs: NOW + 25 * 3600_000 })),
      {},
      /not valid until/,
    ],
    [
      'NotBefore after NotAfter',
      ecX509(leaf({ notBeforeMs: NOW, notAfterMs: NOW - DAY })),
      { checkExpiry: false },
      /NotBefore after NotAfter/,
    ],
    ['CA certificate only', ecX509(ca()), {}, /exactly one leaf .* found 0/],
    [
      'two leaves',
      ecX509(leaf(), leaf({ serial: Uint8Array.of(9) })),
      {},
      /exactly one leaf .* found 2/,
    ],
    ['leaf not first', ecX509(ca(), leaf()), {}, /must come first/],
    [
      'non-CERTIFICATE block',
      new PublicKey('ecdsa-x509', pubKeyPem),
      {},
      /PUBLIC KEY is not a CERTIFICATE/,
    ],
    [
      'no PEM at all',
      new PublicKey('ecdsa-x509', new TextEncoder().encode('hello')),
      {},
      /no PEM certificate/,
    ],
    [
      'certificate does not parse',
      new PublicKey(
        'ecdsa-x509',
        new TextEncoder().encode('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      ),
      {},
      /does not parse/,
    ],
    ['SHA-1 signed (ECDSA)', ecX509(leaf({ digest: 'sha1' })), {}, /ecdsa-with-SHA1/],
    [
      'SHA-1 signed (RSA)',
      new PublicKey('rsa-x509', pem(makeCert({ cn: GUN, key: rsa2048, digest: 'sha1' }))),
      {},
      /sha1WithRSAEncryption/,
    ],
    [
      'RSA 1024',
      new PublicKey('rsa-x509', pem(makeCert({ cn: GUN, key: rsa1024 }))),
      {},
      /1024-bit RSA key/,
    ],
    ['RSA 2048', new PublicKey('rsa-x509', pem(makeCert({ cn: GUN, key: rsa2048 }))), {}, null],
    ['Ed25519 certificate', ecX509(makeCert({ cn: GUN, key: ed })), {}, /ed25519 is not supported/],
    [
      'plain ecdsa key',
      PublicKey.fromKeyObject(leafKey),
      {},
      /ecdsa key is not an x509 certificate/,
    ],
    [
      'leaf + valid intermediate',
      ecX509(leaf({ issuer: { cn: 'CA', key: caKey } }), ca()),
      {},
      null,
    ],
  ];
  for (const [name, key, o, err] of cases) {
    const run = () =>
      validRootLeaf(key, o.gun ?? GUN, { nowMs: NOW, checkExpiry: o.checkExpiry ?? true });
    if (err) assert.throws(run, isCode('ERR_BAD_CERT', err), name);
    else assert.equal(run().key.id, key.id, `${name}: a Go-encoded key re-encodes to itself`);
  }

  // Intermediates: CA certificates after the leaf are kept; invalid ones are dropped, which
  // changes the re-encoded key (and so the ID signatures must use).
  const l = leaf({ issuer: { cn: 'CA', key: caKey } });
  const good = validRootLeaf(ecX509(l, ca()), GUN, { nowMs: NOW, checkExpiry: true });
  assert.equal(good.intermediates.length, 1);
  assert.equal(good.leaf.subject, `CN=${GUN}`);
  const expiredCa = ca({ notBeforeMs: NOW - 10 * DAY, notAfterMs: NOW - DAY });
  const dropped = validRootLeaf(ecX509(l, expiredCa), GUN, { nowMs: NOW, checkExpiry: true });
  assert.equal(dropped.intermediates.length, 0);
  assert.equal(dropped.key.id, ecX509(l).id);
  const kept = validRootLeaf(ecX509(l, expiredCa), GUN, { nowMs: NOW, checkExpiry: false });
  assert.equal(kept.intermediates.length, 1);
  const sha1Ca = ca({ digest: 'sha1' });
  assert.equal(
    validRootLeaf(ecX509(l, sha1Ca), GUN, { nowMs: NOW, checkExpiry: false }).intermediates.length,
    0,
  );
  // RSA leaf → rsa-x509 re-encoding whatever the declared keytype.
  const rsaLeaf = makeCert({ cn: GUN, key: rsa2048 });
  assert.equal(
    validRootLeaf(ecX509(rsaLeaf), GUN, { nowMs: NOW, checkExpiry: true }).key.keytype,
    'rsa-x509',
  );
});

test('certificateSummary: CA, RSA and unnamed EKUs', () => {
  const rsa = newKey('rsa-2048');
  const der = makeCert({
    cn: 'Example CA',
    key: rsa,
    ca: true,
    keyUsage: KU.certSign,
    eku: [EKU.serverAuth, '1.2.3.4'],
    serial: Uint8Array.of(0, 0x12, 0x34),
  });
  const s = certificateSummary(PublicKey.fromCertificates([der]));
  assert.deepEqual(s, {
    subjectCN: 'Example CA',
    issuerCN: 'Example CA',
    serialHex: '1234',
    notBeforeMs: NOW - DAY,
    notAfterMs: NOW + 364 * DAY,
    isCA: true,
    keyAlgorithm: 'rsa',
    keyBits: 2048,
    signatureAlgorithm: 'sha256WithRSAEncryption',
    extKeyUsage: ['serverAuth', '1.2.3.4'],
  });
  assert.throws(() => certificateSummary(PublicKey.fromKeyObject(rsa)), isCode('ERR_BAD_CERT'));
});

test('parseCertificate: refuses malformed certificates', () => {
  const good = makeCert({ cn: GUN, key: newKey() });
  const bad = [
    ['trailing byte', Uint8Array.from([...good, 0])],
    ['truncated', good.subarray(0, good.length - 1)],
    ['not a sequence', Uint8Array.of(0x02, 0x01, 0x00)],
  ] as const;
  for (const [name, der] of bad)
    assert.throws(() => parseCertificate(der), isCode('ERR_BAD_DER'), name);
  assert.equal(parseCertificate(good).subjectCN, GUN);
});

test('loadCertBundle: CERTIFICATE blocks only, at least one', () => {
  const der = makeCert({ cn: 'CA', key: newKey(), ca: true });
  assert.equal(loadCertBundle(pemOf(der) + pemOf(der)).length, 2);
  const cases: [string, string][] = [
    ['empty', ''],
    ['private key', '-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n'],
    ['mixed', pemOf(der) + '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'],
    ['garbage certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
  ];
  for (const [name, text] of cases)
    assert.throws(() => loadCertBundle(text), isCode('ERR_BAD_CERT'), name);
});

test('chainProblem: Go chain-building rules', () => {
  const rootKey = newKey();
  const intKey = newKey();
  const leafKey = newKey();
  const root = (o: Partial<Parameters<typeof makeCert>[0]> = {}) =>
    x509(
      makeCert({
        cn: 'Root CA',
        key: rootKey,
        ca: true,
        keyUsage: KU.certSign,
        ...o,
      }),
    );
  const inter = (o: Partial<Parameters<typeof makeCert>[0]> = {}) =>
    x509(
      makeCert({
        cn: 'Int CA',
        key: intKey,
        issuer: { cn: 'Root CA', key: rootKey },
        ca: true,
        keyUsage: KU.certSign,
        ...o,
      }),
    );
  const leaf = (o: Partial<Parameters<typeof makeCert>[0]> = {}) =>
    x509(
      makeCert({
        cn: GUN,
        key: leafKey,
        issuer: { cn: 'Int CA', key: intKey },
        ca: false,
        eku: [EKU.serverAuth],
        ...o,
      }),
    );
  const direct = (o: Partial<Parameters<typeof makeCert>[0]> = {}) =>
    x509(
      makeCert({
        cn: GUN,
        key: leafKey,
        issuer: { cn: 'Root CA', key: rootKey },
        ca: false,
        ...o,
      }),
    );

  const self = direct();
  type Case = [string, X509Certificate, X509Certificate[], X509Certificate[], RegExp | null];
  const cases: Case[] = [
    ['leaf → intermediate → root', leaf(), [inter()], [root()], null],
    ['leaf directly under root, no EKU', direct(), [], [root()], null],
    ['any EKU', direct({ eku: [EKU.any] }), [], [root()], null],
    ['codeSigning only', direct({ eku: [EKU.codeSigning] }), [], [root()], /serverAuth/],
    [
      'intermediate restricted to clientAuth',
      leaf(),
      [inter({ eku: [EKU.clientAuth] })],
      [root()],
      /serverAuth/,
    ],
    ['missing intermediate', leaf(), [], [root()], /no valid chain/],
    [
      'wrong root',
      leaf(),
      [inter()],
      [x509(makeCert({ cn: 'Root CA', key: newKey(), ca: true }))],
      /does not verify/,
    ],
    ['root without CA flag', direct(), [], [root({ ca: false })], /may not sign/],
    ['v3 root without BasicConstraints', direct(), [], [root({ ca: undefined })], /may not sign/],
    [
      'root KeyUsage without keyCertSign',
      direct(),
      [],
      [root({ keyUsage: KU.digitalSignature })],
      /may not sign/,
    ],
    [
      'intermediate not a CA',
      leaf(),
      [inter({ ca: false, keyUsage: undefined })],
      [root()],
      /no valid chain/,
    ],
    [
      'expired intermediate',
      leaf(),
      [inter({ notBeforeMs: NOW - 9 * DAY, notAfterMs: NOW - DAY })],
      [root()],
      /not valid at/,
    ],
    [
      'expired root',
      direct(),
      [],
      [root({ notBeforeMs: NOW - 9 * DAY, notAfterMs: NOW - DAY })],
      /not valid at/,
    ],
    ['leaf not yet valid', direct({ notBeforeMs: NOW + 1000 }), [], [root()], /not valid at/],
    [
      'root pathLen 0 with an intermediate',
      leaf(),
      [inter()],
      [root({ pathLen: 0 })],
      /allows only 0 intermediates/,
    ],
    ['root pathLen 1 with an intermediate', leaf(), [inter()], [root({ pathLen: 1 })], null],
    ['SHA-1 signed by the root', direct({ digest: 'sha1' }), [], [root()], /may not sign/],
    ['leaf is itself pinned', self, [], [self], null],
    ['same subject, other certificate pinned', direct(), [], [self], /no valid chain/],
  ];
  for (const [name, l, ints, roots, err] of cases) {
    const p = chainProblem(l, ints, roots, NOW);
    if (err) assert.match(p ?? '(none)', err, name);
    else assert.equal(p, undefined, name);
  }
});
