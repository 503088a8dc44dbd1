// The trustdesk key file format: round trip, passphrase checks, and every way a file can be
// damaged or tampered with. Damage is detected before the KDF runs (checksum), so the exhaustive
// bit-flip and truncation sweeps are cheap; the two real KDF profiles each run once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalBytes } from '../../src/tuf/canonical.js';
import { sha256Hex } from '../../src/tuf/encoding.js';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { parseJson, type JsonObject } from '../../src/tuf/json.js';
import { CEREMONY, INTERACTIVE, ceremonyCost, reducedAfterFailure } from '../../src/keyring/kdf.js';
import {
  FORMAT_VERSION,
  openKeyFile,
  parseKeyFile,
  sealKeyFile,
} from '../../src/keyring/keyfile-format.js';
import { generateMaterial, publicKeyOfMaterial } from '../../src/keyring/private-key.js';
import { NOW, TEST_COST } from './helpers.js';

const PASS = 'correct horse battery';
const isCode = (code: string, msg?: RegExp) => (e: unknown) =>
  e instanceof TrustdeskError && e.code === code && (!msg || msg.test(e.message));

async function sealed(cost = TEST_COST, algorithm: 'ecdsa' | 'ed25519' = 'ecdsa') {
  const material = generateMaterial(algorithm);
  const bytes = await sealKeyFile(material, PASS, {
    role: 'targets',
    gun: 'example.com/app',
    createdAtMs: NOW,
    cost,
  });
  return { material, bytes };
}

function docOf(bytes: Uint8Array): JsonObject {
  return parseJson(bytes) as JsonObject;
}

/** Re-serialises a modified document with a valid checksum (an attacker who knows the format). */
function reseal(doc: JsonObject): Uint8Array {
  const { checksum: _drop, ...rest } = doc;
  void _drop;
  return new TextEncoder().encode(
    JSON.stringify({ ...rest, checksum: sha256Hex(canonicalBytes(rest)) }),
  );
}

test('a sealed key opens with its passphrase and carries its public header', async () => {
  for (const algorithm of ['ecdsa', 'ed25519'] as const) {
    const { material, bytes } = await sealed(TEST_COST, algorithm);
    const f = parseKeyFile(bytes, 'k');
    const pk = publicKeyOfMaterial(material);
    assert.equal(f.header.keyId, pk.id);
    assert.equal(f.header.role, 'targets');
    assert.equal(f.header.gun, 'example.com/app');
    assert.equal(f.header.algorithm, algorithm);
    assert.equal(f.header.createdAt, '2025-06-01T12:00:00Z');
    assert.deepEqual(f.header.kdf.profile, 'custom');
    const opened = await openKeyFile(f, PASS, 'k');
    assert.deepEqual(opened.pkcs8, material.pkcs8);
    // The plaintext never appears in the file.
    assert.equal(Buffer.from(bytes).includes(Buffer.from(material.pkcs8.subarray(-32))), false);
  }
});

test('a wrong passphrase is ERR_BAD_PASSPHRASE, not corruption', async () => {
  const { bytes } = await sealed();
  await assert.rejects(
    openKeyFile(parseKeyFile(bytes, 'k'), 'wrong passphrase', 'k'),
    isCode('ERR_BAD_PASSPHRASE'),
  );
});

test('every single-bit flip anywhere in the file is detected as ERR_KEYFILE_CORRUPT', async () => {
  const { bytes } = await sealed();
  let corrupt = 0;
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = bytes.slice();
      b[i] = (b[i] as number) ^ (1 << bit);
      try {
        parseKeyFile(b, 'k');
        assert.fail(`flip of bit ${bit} at byte ${i} went unnoticed`);
      } catch (e) {
        // A flip inside the "format"/"version" values reads as another format; all else is damage.
        assert.ok(e instanceof TrustdeskError, String(e));
        assert.ok(
          ['ERR_KEYFILE_CORRUPT', 'ERR_UNSUPPORTED_FORMAT'].includes(e.code),
          `${i}/${bit}: ${e.code}`,
        );
        if (e.code === 'ERR_KEYFILE_CORRUPT') corrupt++;
      }
    }
  }
  assert.ok(
    corrupt > bytes.length * 7,
    `${corrupt} of ${bytes.length * 8} flips reported as corrupt`,
  );
});

test('every truncation is ERR_KEYFILE_CORRUPT', async () => {
  const { bytes } = await sealed();
  // The trailing newline is insignificant JSON whitespace; every shorter prefix must fail.
  for (let n = 0; n < bytes.length - 1; n++) {
    assert.throws(
      () => parseKeyFile(bytes.subarray(0, n), 'k'),
      isCode('ERR_KEYFILE_CORRUPT'),
      `length ${n}`,
    );
  }
});

test('header tampering with a recomputed checksum is caught by the AEAD (with the right passphrase)', async () => {
  const { bytes } = await sealed();
  const other = publicKeyOfMaterial(generateMaterial('ecdsa'));
  const edits: [string, (d: JsonObject) => void][] = [
    ['role', (d) => (d.role = 'root')],
    ['gun', (d) => (d.gun = 'evil.example.com/app')],
    ['createdAt', (d) => (d.createdAt = '2030-01-01T00:00:00Z')],
    ['kdf.profile', (d) => ((d.kdf as JsonObject).profile = 'interactive')],
    [
      'cipher nonce',
      (d) => ((d.cipher as JsonObject).nonce = Buffer.alloc(12, 7).toString('base64')),
    ],
    [
      'ciphertext',
      (d) =>
        (d.ciphertext = Buffer.from(
          Buffer.from(d.ciphertext as string, 'base64').map((x, i) => (i === 3 ? x ^ 1 : x)),
        ).toString('base64')),
    ],
  ];
  for (const [what, edit] of edits) {
    const doc = docOf(bytes);
    edit(doc);
    const f = parseKeyFile(reseal(doc), 'k');
    await assert.rejects(openKeyFile(f, PASS, 'k'), isCode('ERR_KEYFILE_CORRUPT', /altered/), what);
  }
  // Swapping in another public key (and its id) is refused even though the AEAD would catch it.
  const doc = docOf(bytes);
  doc.publicKey = { keytype: 'ecdsa', public: other.publicB64 };
  doc.keyId = other.id;
  await assert.rejects(
    openKeyFile(parseKeyFile(reseal(doc), 'k'), PASS, 'k'),
    isCode('ERR_KEYFILE_CORRUPT'),
  );
  const mismatched = docOf(bytes);
  mismatched.keyId = other.id;
  assert.throws(
    () => parseKeyFile(reseal(mismatched), 'k'),
    isCode('ERR_KEYFILE_CORRUPT', /keyId does not match/),
  );
});

test('unknown format versions, formats, KDFs and ciphers are ERR_UNSUPPORTED_FORMAT', async () => {
  const { bytes } = await sealed();
  const cases: [string, (d: JsonObject) => void, RegExp][] = [
    ['version 2', (d) => (d.version = FORMAT_VERSION + 1), /format version 2 is not supported/],
    ['no version', (d) => delete d.version, /format version null/],
    ['other format', (d) => (d.format = 'age-encryption.org/v1'), /not a trustdesk key file/],
    ['scrypt', (d) => ((d.kdf as JsonObject).name = 'scrypt'), /KDF "scrypt"/],
    [
      'chacha',
      (d) => ((d.cipher as JsonObject).name = 'xchacha20-poly1305'),
      /cipher "xchacha20-poly1305"/,
    ],
  ];
  for (const [what, edit, msg] of cases) {
    const doc = docOf(bytes);
    edit(doc);
    assert.throws(
      () => parseKeyFile(reseal(doc), 'k'),
      isCode('ERR_UNSUPPORTED_FORMAT', msg),
      what,
    );
  }
  // A version change is reported as such even when the checksum no longer matches.
  const text = Buffer.from(bytes).toString().replace('"version": 1,', '"version": 7,');
  assert.throws(
    () => parseKeyFile(Buffer.from(text), 'k'),
    isCode('ERR_UNSUPPORTED_FORMAT', /version 7/),
  );
});

test('structural problems and absurd KDF costs are corrupt before any KDF runs', async () => {
  const { bytes } = await sealed();
  const cases: [string, (d: JsonObject) => void, RegExp][] = [
    ['extra member', (d) => (d.note = 'hi'), /members must be exactly/],
    ['1 TiB memory', (d) => ((d.kdf as JsonObject).memoryKiB = 2 ** 30), /memoryKiB/],
    ['0 iterations', (d) => ((d.kdf as JsonObject).iterations = 0), /iterations/],
    ['short salt', (d) => ((d.kdf as JsonObject).salt = 'AAAA'), /salt/],
    ['nonce length', (d) => ((d.cipher as JsonObject).nonce = 'AAAA'), /nonce/],
    ['bad base64', (d) => (d.ciphertext = '!!!'), /base64/],
    ['algorithm/keytype', (d) => (d.algorithm = 'ed25519'), /not a usable ed25519 key/],
    ['createdAt', (d) => (d.createdAt = 'yesterday'), /RFC 3339/],
    ['unknown profile', (d) => ((d.kdf as JsonObject).profile = 'paranoid'), /profile/],
  ];
  for (const [what, edit, msg] of cases) {
    const doc = docOf(bytes);
    edit(doc);
    assert.throws(() => parseKeyFile(reseal(doc), 'k'), isCode('ERR_KEYFILE_CORRUPT', msg), what);
  }
});

test('the interactive profile (RFC 9106 second recommendation) is recorded and used', async () => {
  assert.deepEqual(INTERACTIVE, {
    profile: 'interactive',
    memoryKiB: 65536,
    iterations: 3,
    parallelism: 4,
  });
  const { material, bytes } = await sealed(INTERACTIVE);
  const kdf = docOf(bytes).kdf as JsonObject;
  assert.deepEqual(
    {
      profile: kdf.profile,
      memoryKiB: kdf.memoryKiB,
      iterations: kdf.iterations,
      parallelism: kdf.parallelism,
      name: kdf.name,
      version: kdf.version,
    },
    {
      profile: 'interactive',
      memoryKiB: 65536,
      iterations: 3,
      parallelism: 4,
      name: 'argon2id',
      version: 19,
    },
  );
  const f = parseKeyFile(bytes, 'k');
  assert.deepEqual((await openKeyFile(f, PASS, 'k')).pkcs8, material.pkcs8);
  // The recorded cost is what unlocks it: the same file with other (valid) parameters does not.
  const doc = docOf(bytes);
  (doc.kdf as JsonObject).iterations = 2;
  await assert.rejects(
    openKeyFile(parseKeyFile(reseal(doc), 'k'), PASS, 'k'),
    isCode('ERR_BAD_PASSPHRASE'),
  );
});

test(
  'the ceremony profile (RFC 9106 first recommendation, 2 GiB) is recorded and used',
  { timeout: 120_000 },
  async () => {
    assert.deepEqual(CEREMONY, {
      profile: 'ceremony',
      memoryKiB: 2 * 1024 * 1024,
      iterations: 1,
      parallelism: 4,
    });
    // This machine class has the memory for it; the reduced profile is only for small machines.
    const cost = ceremonyCost();
    assert.equal(
      cost.profile,
      'ceremony',
      'expected enough free memory for the full ceremony profile',
    );
    const { material, bytes } = await sealed(cost);
    const kdf = docOf(bytes).kdf as JsonObject;
    assert.deepEqual(
      [kdf.profile, kdf.memoryKiB, kdf.iterations, kdf.parallelism],
      ['ceremony', 2097152, 1, 4],
    );
    assert.deepEqual(
      (await openKeyFile(parseKeyFile(bytes, 'k'), PASS, 'k')).pkcs8,
      material.pkcs8,
    );
  },
);

test('ceremony cost on a machine short of memory: largest power of two ≤ half the free memory, same traffic', () => {
  const GiB = 2 ** 30;
  const table: [number, string, number, number][] = [
    [16 * GiB, 'ceremony', 2 * 1024 * 1024, 1],
    [2.5 * GiB, 'ceremony', 2 * 1024 * 1024, 1],
    [2 * GiB, 'ceremony-reduced', 1024 * 1024, 2],
    [1 * GiB, 'ceremony-reduced', 512 * 1024, 4],
    [0.3 * GiB, 'ceremony-reduced', 128 * 1024, 16],
  ];
  for (const [free, profile, memoryKiB, iterations] of table) {
    const c = ceremonyCost(free);
    assert.deepEqual(
      [c.profile, c.memoryKiB, c.iterations, c.parallelism],
      [profile, memoryKiB, iterations, 4],
      `${free / GiB} GiB`,
    );
    assert.ok(c.memoryKiB * c.iterations >= CEREMONY.memoryKiB * CEREMONY.iterations);
  }
  // After an allocation failure the next try halves the memory (and doubles the passes).
  const next = reducedAfterFailure(CEREMONY);
  assert.deepEqual([next?.memoryKiB, next?.iterations], [1024 * 1024, 2]);
});
