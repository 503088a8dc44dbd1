// `storage.backend: pkcs11`: trustdesk-signer keeps its keys on a SoftHSM2 token. Keys are
// generated on the token and cannot be read out; signatures verify; the key outlives a signer
// restart; DeleteKey destroys the token objects; ed25519 is not offered; a wrong PIN stops the
// start.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CK, Pkcs11Module } from '../../src/keyring/pkcs11-module.js';
import { PublicKey } from '../../src/tuf/keys.js';
import { type SignerConfig } from '../../signer/config.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { requireService } from '../support/services.js';
import { SOFTHSM_MODULE, SoftHsm, USER_PIN, hasSoftHsm } from '../support/softhsm.js';
import { SignerClient, startTestSigner, statusOf, testConfig } from './support.js';

let pki: TestPki;
let dir: string;
let hsm: SoftHsm | undefined;

before(() => {
  pki = createTestPki();
  dir = mkdtempSync(join(tmpdir(), 'trustdesk-signer-hsm-'));
  if (hasSoftHsm()) {
    hsm = SoftHsm.create();
    hsm.initToken('signer');
  }
});
after(() => {
  hsm?.cleanup();
  rmSync(dir, { recursive: true, force: true });
  pki.dispose();
});

function hsmConfig(): SignerConfig {
  return testConfig(
    { server: pki.server, clientCaFile: pki.ca.certFile },
    {
      backend: 'pkcs11',
      db_url: join(dir, 'signer.db'),
      pkcs11: { module_path: SOFTHSM_MODULE, token_label: 'signer', state_dir: join(dir, 'state') },
    },
  );
}

/** Attributes of the token's private key objects with CKA_ID = the key ID (logged in). */
function tokenPrivateKeys(keyId: string): { sensitive: boolean; extractable: boolean }[] {
  const m = Pkcs11Module.open(SOFTHSM_MODULE);
  try {
    const token = m.selectToken({ token: 'signer' });
    const s = m.lib.C_OpenSession(token.slot, CK.CKF_SERIAL_SESSION);
    try {
      try {
        m.lib.C_Login(s, CK.CKU_USER, USER_PIN);
      } catch (e) {
        // the signer in this process may have logged the token in already
        if (!String(e).includes('CKR_USER_ALREADY_LOGGED_IN')) throw e;
      }
      m.lib.C_FindObjectsInit(s, [
        { type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY },
        { type: CK.CKA_ID, value: Buffer.from(keyId, 'hex') },
      ]);
      const found = m.lib.C_FindObjects(s, 10);
      m.lib.C_FindObjectsFinal(s);
      return found.map((h) => {
        const [sens, ext] = m.lib.C_GetAttributeValue(s, h, [
          { type: CK.CKA_SENSITIVE },
          { type: CK.CKA_EXTRACTABLE },
        ]);
        return { sensitive: sens?.value[0] === 1, extractable: ext?.value[0] === 1 };
      });
    } finally {
      m.lib.C_CloseSession(s);
    }
  } finally {
    m.release();
  }
}

test('keys generated on a SoftHSM token, never extractable, signing through the token', async (t) => {
  if (!requireService(t, hsm !== undefined, 'SoftHSM2')) return;
  const env = { TRUSTDESK_SIGNER_PKCS11_PIN: USER_PIN };
  const creds = SignerClient.mtls(pki.ca.cert, {
    certPem: pki.client.cert,
    keyPem: pki.client.key,
  });
  let signer = await startTestSigner(hsmConfig(), env);
  let c = new SignerClient(`127.0.0.1:${signer.port}`, creds);
  const message = Buffer.from('{"signed":{"_type":"Timestamp"}}');
  let keyId: string;
  try {
    const made = await c.createKey('ecdsa', 'example.com/hsm', 'timestamp');
    keyId = made.keyInfo.keyID.ID;
    const pk = new PublicKey('ecdsa', new Uint8Array(made.publicKey));
    assert.equal(pk.id, keyId);
    assert.deepEqual(tokenPrivateKeys(keyId), [{ sensitive: true, extractable: false }]);
    const sig = await c.sign(keyId, message);
    assert.ok(pk.verify('ecdsa', message, new Uint8Array(sig.content)));

    const ed = await statusOf(c.createKey('ed25519', 'example.com/hsm', 'timestamp'));
    assert.equal(ed.code, grpc.status.UNKNOWN);
    assert.equal(ed.details, 'algorithm ed25519 not supported for create key');
  } finally {
    c.close();
    await signer.close(0);
  }

  // A wrong PIN stops the start (the token key is opened at start).
  await assert.rejects(
    startTestSigner(hsmConfig(), { TRUSTDESK_SIGNER_PKCS11_PIN: '0000' }),
    /PIN/,
  );

  // After a restart the key is found on the token again; DeleteKey destroys it there.
  signer = await startTestSigner(hsmConfig(), env);
  c = new SignerClient(`127.0.0.1:${signer.port}`, creds);
  try {
    const info = await c.getKeyInfo(keyId);
    const pk = new PublicKey('ecdsa', new Uint8Array(info.publicKey));
    const sig = await c.sign(keyId, message);
    assert.ok(pk.verify('ecdsa', message, new Uint8Array(sig.content)));
    await c.deleteKey(keyId);
    assert.deepEqual(tokenPrivateKeys(keyId), []);
    assert.equal((await statusOf(c.sign(keyId, message))).code, grpc.status.NOT_FOUND);
  } finally {
    c.close();
    await signer.close(0);
  }
});
