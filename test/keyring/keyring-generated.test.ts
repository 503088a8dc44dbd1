// A key the Keyring generates for the file backend signs without being unlocked again (no second
// KDF run, no passphrase asked), as its bare key and as its x509 certificate, while the file on
// disk stays what FileBackend writes: a fresh Keyring must unlock it with the passphrase.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { signatureMethodFor } from '../../src/tuf/keys.js';
import { createRootCertificate } from '../../src/tuf/x509.js';
import { NOW, ScriptedPrompter, fileKeyring, tempTrustDir } from './helpers.js';

const MSG = new TextEncoder().encode('payload');
const PASS = 'generated passphrase';

const cases = [
  { algorithm: 'ecdsa', role: 'targets', gun: 'example.com/a' },
  { algorithm: 'ed25519', role: 'targets/releases', gun: '' },
  { algorithm: 'ecdsa', role: 'root', gun: '' },
] as const;

for (const c of cases) {
  test(`a generated ${c.algorithm} ${c.role} key signs in the same Keyring without an unlock`, async (t) => {
    const dir = await tempTrustDir(t);
    const prompter = new ScriptedPrompter([PASS]);
    const kr = fileKeyring(dir, prompter);
    const record = await kr.generate({ ...c, nowMs: NOW });
    assert.deepEqual(
      prompter.asked.map((a) => a.mode),
      ['new'],
    );

    const signer = await kr.signerForRecord(record);
    assert.equal(signer.keyId, record.publicKey.id);
    const sig = await signer.sign(MSG);
    assert.equal(
      record.publicKey.verify(signatureMethodFor(signer.publicKey.keytype), MSG, sig),
      true,
    );
    assert.deepEqual(
      prompter.asked.map((a) => a.mode),
      ['new'],
      'no passphrase is asked to sign with the key just generated',
    );

    // The key file is the ordinary sealed one: another Keyring has to unlock it.
    assert.deepEqual(await readdir(join(dir, 'private')), [`${record.id}.json`]);
    const later = new ScriptedPrompter([PASS]);
    const again = await fileKeyring(dir, later).signerForRecord(record);
    assert.equal(
      record.publicKey.verify(
        signatureMethodFor(again.publicKey.keytype),
        MSG,
        await again.sign(MSG),
      ),
      true,
    );
    assert.deepEqual(
      later.asked.map((a) => a.mode),
      ['existing'],
    );
  });
}

test('a generated root key signs as its x509 certificate without an unlock', async (t) => {
  const dir = await tempTrustDir(t);
  const prompter = new ScriptedPrompter([PASS]);
  const kr = fileKeyring(dir, prompter);
  const record = await kr.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW });
  const cert = await createRootCertificate(await kr.signerForRecord(record), 'example.com/a', {
    nowMs: NOW,
  });
  const signer = await kr.signerForRecord(record, cert);
  assert.equal(signer.keyId, cert.id);
  assert.equal(
    cert.verify(signatureMethodFor(signer.publicKey.keytype), MSG, await signer.sign(MSG)),
    true,
  );
  assert.deepEqual(
    prompter.asked.map((a) => a.mode),
    ['new'],
  );
});

test('a removed generated key no longer signs from memory', async (t) => {
  const dir = await tempTrustDir(t);
  const kr = fileKeyring(dir, new ScriptedPrompter([PASS]));
  const record = await kr.generate({
    algorithm: 'ecdsa',
    role: 'snapshot',
    gun: 'example.com/a',
    nowMs: NOW,
  });
  await kr.remove(record.id);
  await assert.rejects(kr.signerForRecord(record), (e: unknown) => {
    assert.equal((e as { code?: string }).code, 'ERR_KEY_NOT_FOUND');
    return true;
  });
});

test('a key unlocked once is presented as its bare key and as its certificate without a second unlock', async (t) => {
  const dir = await tempTrustDir(t);
  const record = await fileKeyring(dir, new ScriptedPrompter([PASS])).generate({
    algorithm: 'ecdsa',
    role: 'root',
    gun: '',
    nowMs: NOW,
  });

  const prompter = new ScriptedPrompter([PASS]);
  const kr = fileKeyring(dir, prompter);
  const bare = await kr.signerForRecord(record);
  const cert = await createRootCertificate(bare, 'example.com/a', { nowMs: NOW });
  const asCert = await kr.signerForRecord(record, cert);
  assert.equal(asCert.keyId, cert.id);
  assert.equal(
    cert.verify(signatureMethodFor(asCert.publicKey.keytype), MSG, await asCert.sign(MSG)),
    true,
  );
  assert.deepEqual(
    prompter.asked.map((a) => a.mode),
    ['existing'],
    'one passphrase for the key, whichever public key it signs as',
  );
});

test('a held key refuses to present a certificate of another key pair', async (t) => {
  const dir = await tempTrustDir(t);
  const kr = fileKeyring(dir, new ScriptedPrompter([PASS]));
  const mine = await kr.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW });
  const other = await kr.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW });
  const otherCert = await createRootCertificate(await kr.signerForRecord(other), 'example.com/a', {
    nowMs: NOW,
  });
  await kr.signerForRecord(mine); // now held in memory
  await assert.rejects(kr.signerForRecord(mine, otherCert), (e: unknown) => {
    assert.equal((e as { code?: string }).code, 'ERR_BAD_KEY');
    return true;
  });
});
