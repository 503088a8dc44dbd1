// The notary-signer gRPC API of trustdesk-signer over mutual TLS, with a grpc-js client:
// CreateKey / GetKeyInfo / Sign / DeleteKey for both key types (key IDs as src/tuf computes
// them, signatures that verify with PublicKey.verify), Go's key reuse, the error → status table
// of signer/grpc-service.ts, the health service, and what the log may contain.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { PublicKey, signatureMethodFor } from '../../src/tuf/keys.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { SignerClient, startTestSigner, statusOf, testConfig, type TestSigner } from './support.js';

let pki: TestPki;
let signer: TestSigner;
let client: SignerClient;

before(async () => {
  pki = createTestPki();
  signer = await startTestSigner(
    testConfig(
      { server: pki.server, clientCaFile: pki.ca.certFile },
      { backend: 'memory' },
      {},
      {
        server: {
          grpc_addr: '127.0.0.1:0',
          tls_cert_file: pki.server.certFile,
          tls_key_file: pki.server.keyFile,
          client_ca_file: pki.ca.certFile,
          max_message_bytes: 65536,
          debug_addr: '127.0.0.1:0',
        },
      },
    ),
  );
  client = new SignerClient(
    `127.0.0.1:${signer.port}`,
    SignerClient.mtls(pki.ca.cert, { certPem: pki.client.cert, keyPem: pki.client.key }),
  );
});

after(async () => {
  client.close();
  await signer.close(0);
  pki.dispose();
});

describe('key lifecycle', () => {
  for (const algorithm of ['ecdsa', 'ed25519'] as const) {
    test(`${algorithm}: create, look up, sign, delete`, async () => {
      const gun = `docker.io/library/${algorithm}`;
      const created = await client.createKey(algorithm, gun, 'timestamp');
      const pk = new PublicKey(
        created.keyInfo.algorithm.algorithm,
        new Uint8Array(created.publicKey),
      );
      assert.equal(pk.keytype, algorithm);
      assert.equal(created.keyInfo.keyID.ID, pk.id, 'the key ID is the TUF ID of the returned key');
      assert.ok(pk.cryptoKey(), 'the public bytes load as a key');

      const info = await client.getKeyInfo(pk.id);
      assert.equal(info.keyInfo.keyID.ID, pk.id);
      assert.equal(info.keyInfo.algorithm.algorithm, algorithm);
      assert.deepEqual(new Uint8Array(info.publicKey), pk.publicBytes);
      assert.equal(info.role, 'timestamp');

      const message = Buffer.from(`{"signed":{"_type":"Timestamp","version":1,"gun":"${gun}"}}`);
      const sig = await client.sign(pk.id, message);
      const method = signatureMethodFor(algorithm);
      assert.equal(sig.algorithm.algorithm, method);
      assert.equal(sig.keyInfo.keyID.ID, pk.id);
      assert.equal(sig.content.length, 64);
      assert.equal(pk.verify(method, message, new Uint8Array(sig.content)), true);
      assert.equal(pk.verify(method, Buffer.from('other'), new Uint8Array(sig.content)), false);

      await client.deleteKey(pk.id);
      const gone = await statusOf(client.getKeyInfo(pk.id));
      assert.equal(gone.code, grpc.status.NOT_FOUND);
      assert.equal(gone.details, `key ${pk.id} not found`);
    });
  }

  test('CreateKey hands out the same never-used key until it signs (Go SQL store)', async () => {
    const gun = 'example.com/reuse';
    const a = await client.createKey('ecdsa', gun, 'snapshot');
    const b = await client.createKey('ecdsa', gun, 'snapshot');
    assert.equal(b.keyInfo.keyID.ID, a.keyInfo.keyID.ID);
    const other = await client.createKey('ecdsa', gun, 'timestamp');
    assert.notEqual(other.keyInfo.keyID.ID, a.keyInfo.keyID.ID, 'another role gets another key');
    const [c1, c2] = await Promise.all([
      client.createKey('ed25519', gun, 'snapshot'),
      client.createKey('ed25519', gun, 'snapshot'),
    ]);
    assert.equal(c1.keyInfo.keyID.ID, c2.keyInfo.keyID.ID, 'concurrent CreateKeys share one key');

    await client.sign(a.keyInfo.keyID.ID, Buffer.from('x'));
    const next = await client.createKey('ecdsa', gun, 'snapshot');
    assert.notEqual(
      next.keyInfo.keyID.ID,
      a.keyInfo.keyID.ID,
      'a used key is never handed out again',
    );
  });
});

describe('errors map to the status codes Go notary-server expects', () => {
  const unknownId = 'f'.repeat(64);
  const cases: {
    name: string;
    call: () => Promise<unknown>;
    code: grpc.status;
    details?: string | RegExp;
  }[] = [
    {
      name: 'unsupported algorithm',
      call: () => client.createKey('rsa', 'g', 'timestamp'),
      code: grpc.status.UNKNOWN,
      details: 'algorithm rsa not supported for create key',
    },
    {
      name: 'empty algorithm',
      call: () => client.createKey('', 'g', 'timestamp'),
      code: grpc.status.UNKNOWN,
      details: 'algorithm  not supported for create key',
    },
    {
      name: 'GUN over 255 characters',
      call: () => client.createKey('ecdsa', 'g'.repeat(256), 'timestamp'),
      code: grpc.status.INVALID_ARGUMENT,
    },
    {
      name: 'GetKeyInfo of an unknown key',
      call: () => client.getKeyInfo(unknownId),
      code: grpc.status.NOT_FOUND,
      details: `key ${unknownId} not found`,
    },
    {
      name: 'GetKeyInfo of an absurdly long ID',
      call: () => client.getKeyInfo('a'.repeat(10_000)),
      code: grpc.status.NOT_FOUND,
    },
    {
      name: 'Sign with an unknown key',
      call: () => client.sign(unknownId, Buffer.from('x')),
      code: grpc.status.NOT_FOUND,
      details: `signing key not found: ${unknownId}`,
    },
    {
      name: 'Sign with an empty payload',
      call: async () => {
        const k = await client.createKey('ecdsa', 'example.com/empty', 'timestamp');
        return client.sign(k.keyInfo.keyID.ID, Buffer.alloc(0));
      },
      code: grpc.status.INVALID_ARGUMENT,
      details: /empty/,
    },
    {
      name: 'Sign with a payload over the message size cap',
      call: async () => {
        const k = await client.createKey('ecdsa', 'example.com/huge', 'timestamp');
        return client.sign(k.keyInfo.keyID.ID, Buffer.alloc(70_000, 0x61));
      },
      code: grpc.status.RESOURCE_EXHAUSTED,
    },
    {
      name: 'malformed protobuf',
      call: () =>
        client.raw('/proto.KeyManagement/GetKeyInfo', Buffer.from([0x0a, 0xff, 0xff, 0xff])),
      code: grpc.status.INTERNAL,
    },
    {
      name: 'health of an unknown service',
      call: () => client.health('grpc.health.v1.Health.Nope'),
      code: grpc.status.NOT_FOUND,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const got = await statusOf(c.call());
      assert.equal(got.code, c.code, `${grpc.status[got.code]}: ${got.details}`);
      if (typeof c.details === 'string') assert.equal(got.details, c.details);
      else if (c.details) assert.match(got.details, c.details);
    });
  }

  test('DeleteKey of a missing key succeeds', async () => {
    assert.deepEqual(await client.deleteKey(unknownId), {});
  });
});

test('health: "", KeyManagement and Signer are SERVING', async () => {
  for (const service of [
    '',
    'grpc.health.v1.Health.KeyManagement',
    'grpc.health.v1.Health.Signer',
  ]) {
    assert.deepEqual(await client.health(service), { status: 'SERVING' });
  }
});

test('every RPC is logged with the caller CN and never with key material', async () => {
  const k = await client.createKey('ed25519', 'example.com/logs', 'timestamp');
  const secretContent = 'very-secret-payload-7c1d';
  await client.sign(k.keyInfo.keyID.ID, Buffer.from(secretContent));
  const line = signer.logs.find((l) => l.rpc === 'Sign' && l.keyId === k.keyInfo.keyID.ID);
  assert.ok(line, 'the Sign call is logged with its key ID');
  assert.equal(line.caller, 'trustdesk-server');
  assert.equal(line.code, 'OK');
  const created = signer.logs.find((l) => l.rpc === 'CreateKey' && l.keyId === k.keyInfo.keyID.ID);
  assert.equal(created?.gun, 'example.com/logs');
  assert.equal(created?.role, 'timestamp');
  const text = signer.logText();
  assert.ok(!text.includes(secretContent), 'signed content is not logged');
  assert.ok(!text.includes('PBES2'), 'sealed keys are not logged');
});

test('the debug port serves Prometheus metrics and the database health', async () => {
  const k = await client.createKey('ecdsa', 'example.com/metrics', 'timestamp');
  await client.sign(k.keyInfo.keyID.ID, Buffer.from('m'));
  await statusOf(client.getKeyInfo('0'.repeat(64)));
  const base = `http://127.0.0.1:${signer.debugPort ?? 0}`;
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /trustdesk_signer_rpc_requests_total\{method="Sign",code="OK"\} [1-9]/);
  assert.match(
    metrics,
    /trustdesk_signer_rpc_requests_total\{method="GetKeyInfo",code="NOT_FOUND"\} [1-9]/,
  );
  assert.match(
    metrics,
    /trustdesk_signer_keys_created_total\{algorithm="ecdsa",reused="false"\} [1-9]/,
  );
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  assert.equal(await health.text(), '{}');
  assert.equal((await fetch(`${base}/nope`)).status, 404);
});
