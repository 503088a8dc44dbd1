// The embedded dev setup (no config file): a throwaway PKI and passphrase are made in the data
// dir, a client with the generated client certificate gets in, and a restart reuses both (the
// keys made before are still there and still open).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { devConfig, parseAddr } from '../../signer/config.js';
import { SignerClient, startTestSigner } from './support.js';

test('dev setup: generated PKI and passphrase, reused on the next start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trustdesk-signer-dev-'));
  const env = { TRUSTDESK_SIGNER_DATA_DIR: dir };
  const config = () => ({ ...devConfig(env), listen: parseAddr('127.0.0.1:0', 'test') });
  const pki = join(dir, 'pki');
  const connect = (port: number) =>
    new SignerClient(
      `127.0.0.1:${port}`,
      SignerClient.mtls(readFileSync(join(pki, 'ca.crt'), 'utf8'), {
        certPem: readFileSync(join(pki, 'client.crt'), 'utf8'),
        keyPem: readFileSync(join(pki, 'client.key'), 'utf8'),
      }),
    );
  try {
    let signer = await startTestSigner(config(), env);
    let c = connect(signer.port);
    const made = await c.createKey('ecdsa', 'example.com/dev', 'timestamp');
    c.close();
    await signer.close(0);
    for (const f of ['dev-passphrase', 'signer.db', 'pki/signer.key', 'pki/client.key'])
      assert.equal(statSync(join(dir, f)).mode & 0o077, 0, `${f} is private`);
    const caBefore = readFileSync(join(pki, 'ca.crt'), 'utf8');

    signer = await startTestSigner(config(), env);
    c = connect(signer.port);
    try {
      assert.equal(readFileSync(join(pki, 'ca.crt'), 'utf8'), caBefore, 'the PKI is reused');
      const sig = await c.sign(made.keyInfo.keyID.ID, Buffer.from('again'));
      assert.equal(sig.content.length, 64);
    } finally {
      c.close();
      await signer.close(0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
