import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { createRootCertificate } from '../../src/tuf/x509.js';
import {
  closestWords,
  mnemonicFor,
  parseMnemonic,
  restoreFromMnemonic,
} from '../../src/keyring/paper-backup.js';
import {
  generateMaterial,
  keyObjectFromMaterial,
  materialFromRawSecret,
  publicKeyOfMaterial,
  rawSecretOf,
} from '../../src/keyring/private-key.js';
import { NOW } from './helpers.js';

const isCode = (code: string, msg?: RegExp) => (e: unknown) =>
  e instanceof TrustdeskError && e.code === code && (!msg || msg.test(e.message));

test('24 words encode the 32-byte secret exactly and restore the same key (ecdsa and ed25519)', () => {
  for (const algorithm of ['ecdsa', 'ed25519'] as const) {
    const m = generateMaterial(algorithm);
    const words = mnemonicFor(m);
    assert.equal(words.length, 24);
    assert.ok(words.every((w) => wordlist.includes(w)));
    const pk = publicKeyOfMaterial(m);
    const r = restoreFromMnemonic(words.join(' '), { expectedId: pk.id });
    assert.equal(r.algorithm, algorithm);
    assert.equal(r.canonicalId, pk.id);
    assert.equal(r.tufId, pk.id);
    assert.deepEqual(r.material.pkcs8, m.pkcs8);
    // The secret is exactly the entropy: rebuilding from the raw secret gives the same key.
    assert.deepEqual(materialFromRawSecret(algorithm, rawSecretOf(m)).pkcs8, m.pkcs8);
  }
});

test('a root key restores against its certificate: TUF id of the cert key and canonical id both work', async () => {
  const m = generateMaterial('ecdsa');
  const signer = new KeyObjectSigner(keyObjectFromMaterial(m));
  const cert = await createRootCertificate(signer, 'example.com/app', { nowMs: NOW });
  const words = mnemonicFor(m).join(' ');
  for (const expectedId of [cert.id, cert.canonicalId, cert.id.slice(0, 8)]) {
    const r = restoreFromMnemonic(words, { expectedId, rootCertificate: cert });
    assert.equal(r.canonicalId, cert.canonicalId);
    assert.equal(r.tufId, cert.id);
    assert.notEqual(r.tufId, r.canonicalId);
  }
  // A certificate for another key is refused even if the expected id matches the words.
  const otherCert = await createRootCertificate(
    KeyObjectSigner.generate('ecdsa'),
    'example.com/app',
    { nowMs: NOW },
  );
  assert.throws(
    () => restoreFromMnemonic(words, { expectedId: cert.canonicalId, rootCertificate: otherCert }),
    isCode('ERR_KEY_MISMATCH', /does not hold/),
  );
});

test('words for another key fail the id check; nothing is returned', () => {
  const words = mnemonicFor(generateMaterial('ecdsa')).join(' ');
  const other = publicKeyOfMaterial(generateMaterial('ecdsa')).id;
  assert.throws(
    () => restoreFromMnemonic(words, { expectedId: other }),
    isCode('ERR_KEY_MISMATCH', /nothing was written/),
  );
  assert.throws(() => restoreFromMnemonic(words, { expectedId: 'abc' }), isCode('ERR_USAGE'));
});

test('a misspelled word is named by position with the closest list words', () => {
  const words = mnemonicFor(generateMaterial('ed25519'));
  const cases: [number, string, RegExp][] = [
    [5, 'abandn', /word 6 \("abandn"\) is not a BIP39 word; did you mean abandon/],
    [0, 'zooo', /word 1 \("zooo"\) is not a BIP39 word; did you mean zoo/],
    [23, 'qqqqqqqq', /word 24 \("qqqqqqqq"\) is not a BIP39 word$/],
  ];
  for (const [i, bad, msg] of cases) {
    const w = [...words];
    w[i] = bad;
    assert.throws(() => parseMnemonic(w.join(' ')), isCode('ERR_BAD_MNEMONIC', msg), bad);
  }
  assert.deepEqual(closestWords('abstrakt'), ['abstract']);
  assert.equal(closestWords('acount')[0], 'account');
  assert.equal(closestWords('acoustik')[0], 'acoustic');
});

test('word count, checksum, case and whitespace', () => {
  const words = mnemonicFor(generateMaterial('ecdsa'));
  assert.throws(
    () => parseMnemonic(words.slice(0, 23).join(' ')),
    isCode('ERR_BAD_MNEMONIC', /24 words; got 23/),
  );
  assert.throws(
    () => parseMnemonic([...words, 'abandon'].join(' ')),
    isCode('ERR_BAD_MNEMONIC', /got 25/),
  );
  // Swapping two different words keeps every word valid but breaks the checksum (almost surely:
  // retry with other positions until the swap changes the sequence and the checksum fails).
  let checked = false;
  for (let i = 0; i < 23 && !checked; i++) {
    if (words[i] === words[i + 1]) continue;
    const w = [...words];
    [w[i], w[i + 1]] = [w[i + 1]!, w[i]!];
    try {
      parseMnemonic(w.join(' '));
    } catch (e) {
      assert.ok(isCode('ERR_BAD_MNEMONIC', /checksum/)(e), String(e));
      checked = true;
    }
  }
  assert.ok(checked, 'some swap must break the checksum');
  // Upper case, tabs and newlines (as typed or read from a file) are fine.
  assert.deepEqual(
    parseMnemonic(
      `  ${words.slice(0, 12).join('\t').toUpperCase()}\n${words.slice(12).join('  ')}\n`,
    ),
    words,
  );
});
