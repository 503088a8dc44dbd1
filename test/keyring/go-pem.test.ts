// Go notary PEM key files without the Go binaries: exact structure of what we write, reading
// every format Go reads (and OpenSSL-made keys), wrong passphrases and unsupported encryption.
// The Go CLI side is in go-interop.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DerReader,
  TAG,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  parseDer,
  readOctetString,
  readOid,
  readSmallInteger,
} from '../../src/tuf/der.js';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { decodePemBlocks, encodePem } from '../../src/tuf/pem.js';
import { decodeGoKeyBlock, encodeGoPem, readGoKeyBlocks } from '../../src/keyring/go-pem.js';
import {
  generateMaterial,
  materialFromKeyObject,
  publicKeyOfMaterial,
} from '../../src/keyring/private-key.js';
import type { PrivateKeyMaterial } from '../../src/keyring/types.js';
import { hasNotarySrc, notarySrc, requireService } from '../support/services.js';

const isCode = (code: string, msg?: RegExp) => (e: unknown) =>
  e instanceof TrustdeskError && e.code === code && (!msg || msg.test(e.message));

function decodeOne(pem: string, pass?: string): PrivateKeyMaterial {
  const [b] = readGoKeyBlocks(pem, 'test.pem');
  return decodeGoKeyBlock(b!, pass, 'test.pem');
}

const rsaMaterial = () =>
  materialFromKeyObject(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);

test('Go format export: exact PBES2/PBKDF2-SHA1/AES-256-CBC structure, headers, and Go inner PKCS#8', () => {
  const cases: [string, PrivateKeyMaterial, number, string[], number][] = [
    // algorithm, material, inner version, algorithm OIDs, inner key length (ed25519 blob = 96)
    ['ecdsa', generateMaterial('ecdsa'), 1, ['1.2.840.10045.2.1', '1.2.840.10045.3.1.7'], -1],
    ['ed25519', generateMaterial('ed25519'), 0, ['1.3.6.1.4.1.11591.15.1'], 96],
    ['rsa', rsaMaterial(), 0, ['1.2.840.113549.1.1.1'], -1],
  ];
  for (const [name, m, version, oids, innerLen] of cases) {
    const id = publicKeyOfMaterial(m).id;
    const pem = encodeGoPem(m, {
      role: 'targets',
      gun: 'example.com/app',
      path: id,
      passphrase: 'export pass',
    });
    // Go's PEM: headers sorted gun, path, role, then a blank line, 64-column base64.
    const lines = pem.split('\n');
    assert.deepEqual(
      lines.slice(0, 5),
      [
        '-----BEGIN ENCRYPTED PRIVATE KEY-----',
        'gun: example.com/app',
        `path: ${id}`,
        'role: targets',
        '',
      ],
      name,
    );
    assert.ok(
      lines.slice(5, -3).every((l) => l.length === 64),
      name,
    );
    const [block] = decodePemBlocks(pem);
    const top = new DerReader(parseDer(block!.bytes), name);
    const alg = new DerReader(top.next('alg', TAG.SEQUENCE));
    assert.equal(readOid(alg.next('oid', TAG.OID)), '1.2.840.113549.1.5.13');
    const p = new DerReader(alg.next('params', TAG.SEQUENCE));
    const kdf = new DerReader(p.next('kdf', TAG.SEQUENCE));
    assert.equal(readOid(kdf.next('oid', TAG.OID)), '1.2.840.113549.1.5.12');
    const kp = new DerReader(kdf.next('params', TAG.SEQUENCE));
    assert.equal(readOctetString(kp.next('salt', TAG.OCTET_STRING)).length, 8);
    assert.equal(readSmallInteger(kp.next('iter', TAG.INTEGER)), 2048);
    assert.ok(kp.done, 'no keyLength and no PRF (Go always uses HMAC-SHA1)');
    const enc = new DerReader(p.next('enc', TAG.SEQUENCE));
    assert.equal(readOid(enc.next('oid', TAG.OID)), '2.16.840.1.101.3.4.1.42');
    assert.equal(readOctetString(enc.next('iv', TAG.OCTET_STRING)).length, 16);
    // Unencrypted, the inner PrivateKeyInfo is Go's own encoding.
    const plain = encodeGoPem(m, { role: 'targets', gun: '' });
    assert.match(plain, /^-----BEGIN PRIVATE KEY-----\nrole: targets\n\n/);
    const inner = new DerReader(parseDer(decodePemBlocks(plain)[0]!.bytes));
    assert.equal(readSmallInteger(inner.next('v', TAG.INTEGER)), version, name);
    const ia = new DerReader(inner.next('alg', TAG.SEQUENCE));
    assert.deepEqual(
      ia.rest('oids').map((e) => readOid(e)),
      oids,
      `${name}: no NULL parameter, just OIDs`,
    );
    const key = readOctetString(inner.next('key', TAG.OCTET_STRING));
    if (innerLen > 0) assert.equal(key.length, innerLen);
    assert.ok(inner.done);
    // Both decode back to the same key.
    assert.deepEqual(decodeOne(pem, 'export pass').pkcs8, m.pkcs8, name);
    assert.deepEqual(decodeOne(plain).pkcs8, m.pkcs8, name);
  }
});

test('the ed25519 blob is public ‖ seed ‖ public and both copies must match the seed', () => {
  const m = generateMaterial('ed25519');
  const pub = publicKeyOfMaterial(m).publicBytes;
  const plain = encodeGoPem(m, { role: 'targets/releases', gun: '' });
  const der = decodePemBlocks(plain)[0]!.bytes;
  const blob = readOctetString(new DerReader(parseDer(der)).rest('x')[2]!);
  assert.deepEqual(blob.subarray(0, 32), pub);
  assert.deepEqual(blob.subarray(64), pub);
  const bad = blob.slice();
  bad[70] = (bad[70] as number) ^ 1;
  const tampered = derSequence(
    derInteger(0),
    derSequence(derOid('1.3.6.1.4.1.11591.15.1')),
    derOctetString(bad),
  );
  assert.throws(
    () => decodeOne(encodePem({ type: 'PRIVATE KEY', headers: {}, bytes: tampered })),
    isCode('ERR_KEY_MISMATCH'),
  );
  // The legacy ED25519 PRIVATE KEY block carries the bare blob.
  assert.deepEqual(
    decodeOne(encodePem({ type: 'ED25519 PRIVATE KEY', headers: { role: 'x' }, bytes: blob }))
      .pkcs8,
    m.pkcs8,
  );
});

test('keys written by OpenSSL/Node read too: PBES2 with HMAC-SHA256, AES-128, legacy Proc-Type', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const want = materialFromKeyObject(privateKey).pkcs8;
  const variants: [string, string][] = [
    [
      'pkcs8 aes-256-cbc (PRF sha256)',
      privateKey.export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'pw123456',
      }) as string,
    ],
    [
      'pkcs8 aes-128-cbc',
      privateKey.export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-128-cbc',
        passphrase: 'pw123456',
      }) as string,
    ],
    [
      'sec1 legacy aes-256-cbc',
      privateKey.export({
        type: 'sec1',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'pw123456',
      }) as string,
    ],
    [
      'sec1 legacy des-ede3-cbc',
      privateKey.export({
        type: 'sec1',
        format: 'pem',
        cipher: 'des-ede3-cbc',
        passphrase: 'pw123456',
      }) as string,
    ],
    ['plain pkcs8', privateKey.export({ type: 'pkcs8', format: 'pem' }) as string],
    ['plain sec1', privateKey.export({ type: 'sec1', format: 'pem' }) as string],
  ];
  for (const [name, pem] of variants) {
    const [b] = readGoKeyBlocks(pem, name);
    assert.equal(b!.encrypted, !name.startsWith('plain'), name);
    assert.deepEqual(
      decodeGoKeyBlock(b!, b!.encrypted ? 'pw123456' : undefined, name).pkcs8,
      want,
      name,
    );
    if (b!.encrypted)
      assert.throws(
        () => decodeGoKeyBlock(b!, 'wrong-pass', name),
        isCode('ERR_BAD_PASSPHRASE'),
        name,
      );
  }
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const legacyRsa = rsa.export({
    type: 'pkcs1',
    format: 'pem',
    cipher: 'aes-128-cbc',
    passphrase: 'pw123456',
  }) as string;
  assert.match(legacyRsa, /Proc-Type: 4,ENCRYPTED/);
  assert.deepEqual(decodeOne(legacyRsa, 'pw123456').pkcs8, materialFromKeyObject(rsa).pkcs8);
});

test('a wrong passphrase on a Go-format key is ERR_BAD_PASSPHRASE', () => {
  const pem = encodeGoPem(generateMaterial('ecdsa'), {
    role: 'root',
    gun: '',
    passphrase: 'right pass',
  });
  for (const pass of ['wrong pass', '', 'right pas']) {
    assert.throws(() => decodeOne(pem, pass), isCode('ERR_BAD_PASSPHRASE'), pass);
  }
});

test('unsupported encryption is ERR_UNSUPPORTED_FORMAT naming the OID', () => {
  const salt = derOctetString(new Uint8Array(8));
  const pbkdf2 = derSequence(derOid('1.2.840.113549.1.5.12'), derSequence(salt, derInteger(2048)));
  const wrap = (alg: Uint8Array) =>
    encodePem({
      type: 'ENCRYPTED PRIVATE KEY',
      headers: {},
      bytes: derSequence(alg, derOctetString(new Uint8Array(32))),
    });
  const pbes2 = (kdf: Uint8Array, enc: Uint8Array) =>
    derSequence(derOid('1.2.840.113549.1.5.13'), derSequence(kdf, enc));
  const cases: [string, string, RegExp][] = [
    [
      'AES-256-GCM cipher',
      wrap(
        pbes2(
          pbkdf2,
          derSequence(derOid('2.16.840.1.101.3.4.1.46'), derOctetString(new Uint8Array(12))),
        ),
      ),
      /cipher 2\.16\.840\.1\.101\.3\.4\.1\.46/,
    ],
    [
      'Camellia cipher',
      wrap(
        pbes2(
          pbkdf2,
          derSequence(derOid('1.2.392.200011.61.1.1.1.4'), derOctetString(new Uint8Array(16))),
        ),
      ),
      /cipher 1\.2\.392\.200011\.61\.1\.1\.1\.4/,
    ],
    [
      'scrypt KDF',
      wrap(
        pbes2(
          derSequence(derOid('1.3.6.1.4.1.11591.4.11'), derSequence(salt)),
          derSequence(derOid('2.16.840.1.101.3.4.1.42'), derOctetString(new Uint8Array(16))),
        ),
      ),
      /key derivation 1\.3\.6\.1\.4\.1\.11591\.4\.11/,
    ],
    [
      'PBES1 3DES',
      wrap(derSequence(derOid('1.2.840.113549.1.12.1.3'), derSequence(salt, derInteger(2048)))),
      /encryption scheme 1\.2\.840\.113549\.1\.12\.1\.3/,
    ],
    [
      'PRF md5',
      wrap(
        pbes2(
          derSequence(
            derOid('1.2.840.113549.1.5.12'),
            derSequence(salt, derInteger(2048), derSequence(derOid('1.2.840.113549.2.5'))),
          ),
          derSequence(derOid('2.16.840.1.101.3.4.1.42'), derOctetString(new Uint8Array(16))),
        ),
      ),
      /PRF 1\.2\.840\.113549\.2\.5/,
    ],
    [
      'huge iteration count',
      wrap(
        pbes2(
          derSequence(derOid('1.2.840.113549.1.5.12'), derSequence(salt, derInteger(2 ** 40))),
          derSequence(derOid('2.16.840.1.101.3.4.1.42'), derOctetString(new Uint8Array(16))),
        ),
      ),
      /iteration count/,
    ],
  ];
  for (const [name, pem, msg] of cases) {
    assert.throws(
      () => decodeOne(pem, 'any passphrase'),
      isCode('ERR_UNSUPPORTED_FORMAT', msg),
      name,
    );
  }
  const legacy = encodePem({
    type: 'EC PRIVATE KEY',
    headers: { 'Proc-Type': '4,ENCRYPTED', 'DEK-Info': 'RC2-CBC,0011223344556677' },
    bytes: new Uint8Array(32),
  });
  assert.throws(() => decodeOne(legacy, 'x'), isCode('ERR_UNSUPPORTED_FORMAT', /RC2-CBC/));
  assert.throws(
    () =>
      readGoKeyBlocks('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'c.pem'),
    isCode('ERR_UNSUPPORTED_FORMAT', /found CERTIFICATE/),
  );
  assert.throws(() => readGoKeyBlocks('hello', 'x.pem'), isCode('ERR_BAD_KEY'));
});

test('unsupported inner key types are refused', () => {
  const dsa = createPrivateKey(
    generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }),
  );
  assert.throws(
    () => decodeOne(dsa.export({ type: 'pkcs8', format: 'pem' }) as string),
    isCode('ERR_UNSUPPORTED_KEY'),
  );
  const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
  assert.throws(
    () => decodeOne(secp256k1.export({ type: 'pkcs8', format: 'pem' }) as string),
    isCode('ERR_UNSUPPORTED_KEY', /curve/),
  );
});

test('Go notary 0.1 and 0.3 fixture keys (legacy Proc-Type AES-256-CBC) decrypt to their ids', async (t) => {
  if (!requireService(t, hasNotarySrc(), 'Go Notary source tree (fixtures)')) return;
  // Passphrases from Go's client/backwards_compatibility_test.go.
  const fixtures: [string, string, number][] = [
    ['notary0.1', 'randompass', 3],
    ['notary0.3', 'password', 4],
  ];
  const types = new Set<string>();
  for (const [name, passphrase, count] of fixtures) {
    const files: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else if (e.name.endsWith('.key')) files.push(join(d, e.name));
      }
    };
    await walk(join(notarySrc(), 'fixtures/compatibility', name, 'private'));
    assert.equal(files.length, count, name);
    for (const f of files) {
      const [b] = readGoKeyBlocks(await readFile(f, 'utf8'), f);
      assert.ok(b!.encrypted, f);
      types.add(b!.block.type);
      assert.throws(
        () => decodeGoKeyBlock(b!, 'not the passphrase', f),
        isCode('ERR_BAD_PASSPHRASE'),
        f,
      );
      const m = decodeGoKeyBlock(b!, passphrase, f);
      // Go named key files by the key's canonical id (0.1: `<id>_<role>.key`).
      const base = f.slice(f.lastIndexOf('/') + 1, -'.key'.length);
      assert.equal(publicKeyOfMaterial(m).id, base.split('_')[0], f);
    }
  }
  assert.deepEqual([...types].sort(), ['EC PRIVATE KEY', 'RSA PRIVATE KEY']);
});
