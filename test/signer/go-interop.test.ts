// Interop with the real Go binaries (Debian package `notary`):
//   1. Go notary-server with `trust_service.type: remote` pointed at trustdesk-signer runs the
//      full Go `notary` CLI scenario (test/support/go-cli-scenario.ts), then the short list the
//      issue names (init -p, add -p, list, key rotate snapshot/timestamp -r, publish) — every
//      server key lives in our signer;
//   2. trustdesk-server + trustdesk-signer, both on PostgreSQL, run the same scenario;
//   3. Go notary-signer and trustdesk-signer share one PostgreSQL key DB: each opens, serves and
//      signs with the keys the other created (Go's jose2go JWE ↔ our `jose` JWE, Go's private
//      key serialisation ↔ ours).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { PublicKey } from '../../src/tuf/keys.js';
import { openPrivate } from '../../signer/jwe.js';
import { keyFromGoPrivateBytes } from '../../signer/key-material.js';
import { PostgresKeyStore } from '../../signer/store/postgres.js';
import { hasGoCliScenarioTools, runGoCliScenario } from '../support/go-cli-scenario.js';
import {
  GoNotaryCli,
  hasGoNotary,
  startNotaryServer,
  tempDir,
  type GoTrustService,
} from '../support/go-notary.js';
import { GoSigner, hasGoSigner } from '../support/go-signer.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../support/postgres.js';
import { requireService } from '../support/services.js';
import { startTrustdeskServer } from '../support/trustdesk-server.js';
import { SignerClient, startTestSigner, testConfig, type TestSigner } from './support.js';

const ALIAS = 'interop';
const PASSPHRASE = 'interop key db passphrase';
const ENV = { TRUSTDESK_SIGNER_INTEROP: PASSPHRASE };

let pki: TestPki;
let pgCluster: PostgresCluster | undefined;

before(async () => {
  pki = createTestPki();
  if (postgresAvailable()) pgCluster = await startPostgres();
});

after(async () => {
  await pgCluster?.teardown();
  pki.dispose();
});

function remoteTrustFor(signer: TestSigner): GoTrustService {
  return {
    type: 'remote',
    hostname: '127.0.0.1',
    port: signer.port,
    caFile: pki.ca.certFile,
    clientCertFile: pki.client.certFile,
    clientKeyFile: pki.client.keyFile,
    keyAlgorithm: 'ecdsa',
  };
}

async function sqliteSigner(dir: string): Promise<TestSigner> {
  return startTestSigner(
    testConfig(
      { server: pki.server, clientCaFile: pki.ca.certFile },
      { backend: 'sqlite', db_url: join(dir, 'signer.db'), default_alias: ALIAS },
    ),
    ENV,
  );
}

test('Go notary-server + Go notary CLI with trustdesk-signer holding the server keys', async (t) => {
  if (
    !requireService(
      t,
      hasGoNotary() && hasGoCliScenarioTools(),
      'Go notary, notary-server and openssl',
    )
  )
    return;
  const dir = await tempDir('signer-go-server');
  const signer = await sqliteSigner(dir);
  const server = await startNotaryServer({
    trustService: remoteTrustFor(signer),
    logLevel: 'info',
  });
  try {
    const result = await runGoCliScenario({
      url: server.url,
      gun: 'docker.io/trustdesk/remote-signer',
      log: (l) => t.diagnostic(l),
    });
    t.diagnostic(`${result.commands} Go CLI commands in ${result.steps.length} steps`);

    // The short list of the issue, on a fresh GUN.
    const gun = 'example.com/trustdesk/short';
    const cli = new GoNotaryCli(server.url, join(dir, 'cli'));
    const file = join(dir, 'payload.txt');
    writeFileSync(file, 'payload\n');
    await cli.ok(['init', '-p', gun]);
    await cli.ok(['add', '-p', gun, 'payload', file]);
    assert.deepEqual(await cli.list(gun), [{ name: 'payload', role: 'targets' }]);
    await cli.ok(['key', 'rotate', gun, 'snapshot', '-r']);
    await cli.ok(['key', 'rotate', gun, 'timestamp', '-r']);
    await cli.ok(['add', gun, 'second', file]);
    await cli.ok(['publish', gun]);
    assert.deepEqual((await cli.list(gun)).map((x) => x.name).sort(), ['payload', 'second']);

    // Every key Go's server used lives in our key DB, and our signer signed with them.
    const res = await fetch(`${server.url}/v2/${gun}/_trust/tuf/timestamp.key`);
    const tsKey = PublicKey.fromJSON(JSON.parse(await res.text()) as never, 'timestamp.key');
    const info = await signer.keys.keyInfo(tsKey.id);
    assert.equal(info.role, 'timestamp');
    assert.equal(info.gun, gun);
    const signs = signer.logs.filter((l) => l.rpc === 'Sign' && l.code === 'OK');
    assert.ok(signs.length > 0, 'notary-server signed through trustdesk-signer');
    assert.ok(
      signs.every((l) => l.caller === 'trustdesk-server'),
      'caller CN logged',
    );
  } finally {
    await server.stop();
    await signer.close(0);
  }
});

test('trustdesk-server + trustdesk-signer over PostgreSQL run the Go CLI scenario', async (t) => {
  if (!requireService(t, pgCluster !== undefined, 'PostgreSQL')) return;
  if (!requireService(t, hasGoCliScenarioTools(), 'Go notary CLI and openssl')) return;
  const cluster = pgCluster as PostgresCluster;
  const signer = await startTestSigner(
    testConfig(
      { server: pki.server, clientCaFile: pki.ca.certFile },
      { backend: 'postgres', db_url: await cluster.createDatabase(), default_alias: ALIAS },
    ),
    ENV,
  );
  const server = await startTrustdeskServer({
    mode: 'in-process',
    config: {
      trust_service: {
        type: 'remote',
        hostname: '127.0.0.1',
        port: String(signer.port),
        tls_ca_file: pki.ca.certFile,
        key_algorithm: 'ecdsa',
        tls_client_cert: pki.client.certFile,
        tls_client_key: pki.client.keyFile,
      },
      storage: { backend: 'postgres', db_url: await cluster.createDatabase() },
    },
  });
  try {
    const result = await runGoCliScenario({
      url: server.url,
      gun: 'docker.io/trustdesk/both-pg',
      log: (l) => t.diagnostic(l),
    });
    t.diagnostic(`${result.commands} Go CLI commands in ${result.steps.length} steps`);
    const keys = await signer.keys.store.all();
    assert.ok(
      keys.some((k) => k.role === 'timestamp') && keys.some((k) => k.role === 'snapshot'),
      'the server keys are in the signer DB',
    );
  } finally {
    await server.stop();
    await signer.close(0);
  }
});

test('Go notary-signer and trustdesk-signer share one PostgreSQL key DB', async (t) => {
  if (!requireService(t, pgCluster !== undefined, 'PostgreSQL')) return;
  if (!requireService(t, hasGoSigner(), 'Go notary-signer')) return;
  const url = await (pgCluster as PostgresCluster).createDatabase();
  // Our schema first: the Debian Go build ships no migrations (notary-protocol §9).
  await (await PostgresKeyStore.open({ connectionString: url })).close();
  const go = await GoSigner.start({
    pki,
    storage: { backend: 'postgres', db_url: url, default_alias: ALIAS },
    alias: ALIAS,
    passphrase: PASSPHRASE,
  });
  const ours = await startTestSigner(
    testConfig(
      { server: pki.server, clientCaFile: pki.ca.certFile },
      { backend: 'postgres', db_url: url, default_alias: ALIAS },
    ),
    ENV,
  );
  const creds = SignerClient.mtls(pki.ca.cert, {
    certPem: pki.client.cert,
    keyPem: pki.client.key,
  });
  const goClient = new SignerClient(`127.0.0.1:${go.port}`, creds);
  const ourClient = new SignerClient(`127.0.0.1:${ours.port}`, creds);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const message = Buffer.from('{"signed":{"_type":"Timestamp"}}');
    for (const algorithm of ['ecdsa', 'ed25519'] as const) {
      // Go creates; its row decrypts with our JWE code to the same key; we sign with it.
      const byGo = await goClient.createKey(algorithm, 'example.com/go', 'timestamp');
      const goKey = new PublicKey(algorithm, new Uint8Array(byGo.publicKey));
      const row = await db.query<{
        private: Buffer;
        passphrase_alias: string;
        keywrap_alg: string;
      }>('SELECT private, passphrase_alias, keywrap_alg FROM private_keys WHERE key_id = $1', [
        goKey.id,
      ]);
      const goRow = row.rows[0];
      assert.ok(goRow, 'Go stored the key');
      assert.equal(goRow.passphrase_alias, ALIAS);
      assert.equal(goRow.keywrap_alg, 'PBES2-HS256+A128KW');
      const plain = await openPrivate(goRow.private.toString(), PASSPHRASE, 'Go key');
      keyFromGoPrivateBytes(goKey, plain, 'Go key'); // throws unless it is the same key pair
      const info = await ourClient.getKeyInfo(goKey.id);
      assert.equal(info.role, 'timestamp');
      const sig = await ourClient.sign(goKey.id, message);
      assert.ok(goKey.verify(sig.algorithm.algorithm, message, new Uint8Array(sig.content)));

      // We create; Go opens our JWE and signs with it.
      const byUs = await ourClient.createKey(algorithm, 'example.com/ours', 'snapshot');
      const ourKey = new PublicKey(algorithm, new Uint8Array(byUs.publicKey));
      const goInfo = await goClient.getKeyInfo(ourKey.id);
      assert.equal(goInfo.keyInfo.keyID.ID, ourKey.id);
      assert.equal(goInfo.role, 'snapshot');
      const goSig = await goClient.sign(ourKey.id, message);
      assert.ok(ourKey.verify(goSig.algorithm.algorithm, message, new Uint8Array(goSig.content)));
    }
    // Go marked the key it signed with as used; our CreateKey no longer hands it out.
    const used = await db.query(
      'SELECT COUNT(*)::int AS n FROM private_keys WHERE last_used IS NOT NULL',
    );
    assert.equal((used.rows[0] as { n: number }).n, 4);
  } finally {
    await db.end();
    goClient.close();
    ourClient.close();
    await go.stop();
    await ours.close(0);
  }
});
