import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  sign as cryptoSign,
  constants,
  type X509Certificate,
} from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublicKey, methodMatchesKey, signatureMethodFor } from '../../src/tuf/keys.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { decodePemBlocks, encodePem } from '../../src/tuf/pem.js';
import { TufError } from '../../src/tuf/errors.js';

const msg = new TextEncoder().encode('{"_type":"Targets","version":1}');

test('TUF key ID is sha256 of the canonical key JSON including "private":null', () => {
  const s = KeyObjectSigner.generate('ecdsa');
  const b64 = s.publicKey.publicB64;
  const want = createHash('sha256')
    .update(`{"keytype":"ecdsa","keyval":{"private":null,"public":"${b64}"}}`)
    .digest('hex');
  assert.equal(s.publicKey.id, want);
  assert.equal(s.keyId, want);
  assert.equal(s.publicKey.canonicalId, want, 'non-x509 keys have one ID');
  assert.deepEqual(s.publicKey.toJSON(), {
    keytype: 'ecdsa',
    keyval: { private: null, public: b64 },
  });
});

test('encodings per key type (spec §3.1)', () => {
  const ed = KeyObjectSigner.generate('ed25519').publicKey;
  assert.equal(ed.keytype, 'ed25519');
  assert.equal(ed.publicBytes.length, 32, 'ed25519 public is raw 32 bytes');
  const ec = KeyObjectSigner.generate('ecdsa').publicKey;
  assert.equal(ec.publicBytes[0], 0x30, 'ecdsa public is DER SPKI');
  const rsa = KeyObjectSigner.generate('rsa').publicKey;
  assert.equal(rsa.keytype, 'rsa');
  assert.equal(signatureMethodFor('ed25519'), 'eddsa');
  assert.equal(signatureMethodFor('ecdsa-x509'), 'ecdsa');
  assert.equal(signatureMethodFor('rsa-x509'), 'rsapss');
  assert.throws(
    () => signatureMethodFor('dsa'),
    (e: unknown) => e instanceof TufError && e.code === 'ERR_UNSUPPORTED_KEY',
  );
});

test('fromJSON validates shape, base64 and refuses private material', () => {
  const good = KeyObjectSigner.generate('ecdsa').publicKey.toJSON();
  assert.equal(
    PublicKey.fromJSON(good as never, 'k').id,
    new PublicKey('ecdsa', PublicKey.fromJSON(good as never, 'k').publicBytes).id,
  );
  const bad: Array<[unknown, RegExp]> = [
    ['x', /must be an object/],
    [{ keyval: good.keyval }, /keytype/],
    [{ keytype: 'ecdsa' }, /keyval/],
    [{ keytype: 'ecdsa', keyval: { public: 5 } }, /public/],
    [{ keytype: 'ecdsa', keyval: { public: 'not base64!' } }, /base64/],
    [{ keytype: 'ecdsa', keyval: { public: 'QUJD' + '-_' } }, /base64/],
    [{ keytype: 'ecdsa', keyval: { public: 'QUI' } }, /base64/],
    [{ keytype: 'ecdsa', keyval: { public: good.keyval.public, private: 'c2VjcmV0' } }, /private/],
  ];
  for (const [v, re] of bad) {
    assert.throws(
      () => PublicKey.fromJSON(v as never, 'k'),
      (e: unknown) => e instanceof TufError && re.test(e.message),
      JSON.stringify(v),
    );
  }
  // Unknown key types parse (as in Go) but can never verify.
  const unknown = PublicKey.fromJSON(
    { keytype: 'dsa', keyval: { private: null, public: 'QUJD' } },
    'k',
  );
  assert.equal(unknown.verify('ecdsa', msg, new Uint8Array(64)), false);
});

test('signatures verify per method and never across key types (NCC 2015)', () => {
  const signers = {
    ecdsa: KeyObjectSigner.generate('ecdsa'),
    ed25519: KeyObjectSigner.generate('ed25519'),
    rsa: KeyObjectSigner.generate('rsa'),
  };
  for (const [type, s] of Object.entries(signers)) {
    const sig = s.signSync(msg);
    const method = signatureMethodFor(type);
    assert.ok(s.publicKey.verify(method, msg, sig), `${type} verifies`);
    assert.ok(
      s.publicKey.verify(method.toUpperCase(), msg, sig),
      `${type} method is case-insensitive`,
    );
    assert.equal(
      s.publicKey.verify(method, new TextEncoder().encode('other'), sig),
      false,
      `${type} wrong message`,
    );
    for (const other of ['ecdsa', 'eddsa', 'rsapss', 'rsapkcs1v15', 'bogus']) {
      if (other === method || (type === 'rsa' && other === 'rsapkcs1v15')) continue;
      assert.equal(s.publicKey.verify(other, msg, sig), false, `${type} refuses method ${other}`);
    }
  }
  assert.equal(methodMatchesKey('eddsa', 'ecdsa'), false);
  assert.equal(methodMatchesKey('ecdsa', 'ecdsa-x509'), true);
});

test('ECDSA: raw r‖s only, high-S accepted, DER refused', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pk = PublicKey.fromKeyObject(privateKey);
  const raw = cryptoSign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const der = cryptoSign('sha256', msg, privateKey);
  assert.ok(pk.verify('ecdsa', msg, raw));
  assert.equal(pk.verify('ecdsa', msg, der), false);
  // s' = n - s is the same signature in high/low-S form; Go accepts both.
  const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
  const s = BigInt('0x' + raw.subarray(32).toString('hex'));
  const flipped = Buffer.concat([
    raw.subarray(0, 32),
    Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'),
  ]);
  assert.ok(pk.verify('ecdsa', msg, flipped));
  assert.equal(pk.verify('ecdsa', msg, raw.subarray(0, 63)), false, 'wrong length');
});

test('ECDSA P-384 keys verify with SHA-256 and 96-byte signatures (Go behaviour)', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const pk = PublicKey.fromKeyObject(privateKey);
  const raw = cryptoSign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  assert.equal(raw.length, 96);
  assert.ok(pk.verify('ecdsa', msg, raw));
});

test('RSA: PSS with salt 32 and PKCS#1 v1.5 verify; keys under 2048 bits never do', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pk = PublicKey.fromKeyObject(privateKey);
  const pss = cryptoSign('sha256', msg, {
    key: privateKey,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 32,
  });
  const pss20 = cryptoSign('sha256', msg, {
    key: privateKey,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 20,
  });
  const v15 = cryptoSign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  assert.ok(pk.verify('rsapss', msg, pss));
  assert.equal(pk.verify('rsapss', msg, pss20), false, 'salt must equal the hash length');
  assert.ok(pk.verify('rsapkcs1v15', msg, v15));
  assert.equal(pk.verify('rsapss', msg, v15), false);
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  const spk = PublicKey.fromKeyObject(small);
  const sig = cryptoSign('sha256', msg, {
    key: small,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 32,
  });
  assert.equal(spk.verify('rsapss', msg, sig), false);
});

test('declared key type must match the key material', () => {
  const rsa = KeyObjectSigner.generate('rsa');
  const lying = new PublicKey('ecdsa', rsa.publicKey.publicBytes);
  assert.equal(lying.cryptoKey(), null);
  assert.equal(lying.verify('ecdsa', msg, rsa.signSync(msg)), false);
  const ed = KeyObjectSigner.generate('ed25519');
  assert.equal(
    new PublicKey('ed25519', ed.publicKey.publicBytes.subarray(0, 31)).cryptoKey(),
    null,
  );
});

test('x509 keys: Go PEM encoding, two key IDs, leaf public key verifies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'td-keys-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
        '-subj',
        '/CN=example.com\\/gun',
        '-days',
        '2',
      ],
      { stdio: 'ignore' },
    );
    const certPem = readFileSync(join(dir, 'c.pem'), 'utf8');
    const [block] = decodePemBlocks(certPem);
    assert.ok(block);
    const pk = PublicKey.fromCertificates([block.bytes]);
    assert.equal(pk.keytype, 'ecdsa-x509');
    const pem = new TextDecoder().decode(pk.publicBytes);
    assert.equal(pem, encodePem({ type: 'CERTIFICATE', headers: {}, bytes: block.bytes }));
    assert.match(
      pem,
      /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)+[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/,
    );
    const keyPem = readFileSync(join(dir, 'k.pem'), 'utf8');
    const signer = new KeyObjectSigner(createPrivateKey(keyPem), pk);
    assert.equal(signer.keyId, pk.id);
    assert.notEqual(pk.canonicalId, pk.id, 'x509 keys have a distinct canonical ID');
    assert.equal(pk.canonicalId, PublicKey.fromKeyObject(signer.privateKey).id);
    assert.ok(pk.verify('ecdsa', msg, signer.signSync(msg)));
    // A signer must refuse a certificate for a different key.
    assert.throws(
      () => new KeyObjectSigner(KeyObjectSigner.generate('ecdsa').privateKey, pk),
      /does not belong/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PEM: Go header order and 64-column body; decoder reads headers and refuses bad base64', () => {
  const bytes = new Uint8Array(100).map((_, i) => i);
  const pem = encodePem({
    type: 'ENCRYPTED PRIVATE KEY',
    headers: { role: 'targets', gun: 'a/b' },
    bytes,
  });
  assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\ngun: a\/b\nrole: targets\n\n/);
  const [b] = decodePemBlocks('junk before\n' + pem + 'junk after');
  assert.ok(b);
  assert.deepEqual(b.headers, { gun: 'a/b', role: 'targets' });
  assert.deepEqual(Buffer.from(b.bytes), Buffer.from(bytes));
  assert.throws(
    () => decodePemBlocks('-----BEGIN X-----\n@@@@\n-----END X-----\n'),
    /invalid base64/,
  );
});

test('a certificate is parsed once per DER; a bad one is refused every time', async () => {
  const { goRootKey } = await import('./cert-factory.js');
  const { parseCertificateDer } = await import('../../src/tuf/keys.js');
  const key = (await goRootKey('example.com/cache')).publicKey;
  const der = new Uint8Array((key.certificates()[0] as X509Certificate).raw);
  assert.equal(parseCertificateDer(der), parseCertificateDer(new Uint8Array(der)));
  const again = PublicKey.fromCertificates([der]);
  assert.equal(again.id, key.id);
  assert.equal(again.canonicalId, key.canonicalId);
  assert.notEqual(again.canonicalId, key.id, 'x509 keys have a distinct canonical ID');

  const broken = der.slice(0, der.length - 7);
  for (let i = 0; i < 2; i++) {
    assert.throws(() => parseCertificateDer(broken));
    assert.throws(() => PublicKey.fromCertificates([broken]));
  }
  // A one-bit change is a different certificate, never the cached one.
  const flipped = new Uint8Array(der);
  flipped[flipped.length - 3] = (flipped[flipped.length - 3] as number) ^ 0x01;
  assert.notEqual(parseCertificateDer(flipped), parseCertificateDer(der));
});
