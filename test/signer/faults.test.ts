// Faults of trustdesk-signer: the key database going away and coming back (clear UNAVAILABLE
// answers, recovery without a restart), kill -9 in the middle of key creation (no half-written
// key, nothing acknowledged lost), and the binary refusing to start on a wrong passphrase or a
// config without mutual TLS.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { PublicKey } from '../../src/tuf/keys.js';
import { openPrivate } from '../../signer/jwe.js';
import { keyFromGoPrivateBytes } from '../../signer/key-material.js';
import { SqliteKeyStore } from '../../signer/store/sqlite.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../support/postgres.js';
import { requireService } from '../support/services.js';
import { REPO_ROOT, useBuiltBin } from '../support/trustdesk-server.js';
import { SignerClient, startTestSigner, statusOf, testConfig } from './support.js';

const BUILT_BIN = join(REPO_ROOT, 'dist', 'signer', 'bin', 'trustdesk-signer.js');
const SOURCE_BIN = join(REPO_ROOT, 'signer', 'bin', 'trustdesk-signer.ts');
const PASSPHRASE = 'fault test passphrase';

let pki: TestPki;
let dir: string;
let cluster: PostgresCluster | undefined;

before(async () => {
  pki = createTestPki();
  dir = mkdtempSync(join(tmpdir(), 'trustdesk-signer-faults-'));
  if (postgresAvailable()) cluster = await startPostgres();
});
after(async () => {
  await cluster?.teardown();
  rmSync(dir, { recursive: true, force: true });
  pki.dispose();
});

function client(port: number): SignerClient {
  return new SignerClient(
    `127.0.0.1:${port}`,
    SignerClient.mtls(pki.ca.cert, { certPem: pki.client.cert, keyPem: pki.client.key }),
  );
}

interface SignerProcess {
  child: ChildProcess;
  port: Promise<number>;
  exit: Promise<number | null>;
  output(): string;
}

/** Runs the trustdesk-signer binary (built under CI, sources otherwise). */
function runBin(args: string[], env: Record<string, string>): SignerProcess {
  const built = useBuiltBin();
  if (built && !existsSync(BUILT_BIN)) throw new Error(`${BUILT_BIN} is missing: npm run build`);
  const entry = built ? [BUILT_BIN] : ['--import', import.meta.resolve('tsx'), SOURCE_BIN];
  const child = spawn(process.execPath, [...entry, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let announce: (p: number) => void = () => undefined;
  const port = new Promise<number>((resolve) => (announce = resolve));
  const onData = (d: Buffer) => {
    out += d.toString();
    const m = /listening on [^\s]*:(\d+)/.exec(out);
    if (m) announce(Number(m[1]));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = Promise.race([
    port,
    exit.then((code) => {
      throw new Error(`trustdesk-signer exited with ${code}:\n${out}`);
    }),
  ]);
  listening.catch(() => undefined); // tests that expect a refusal never ask for the port
  return { child, port: listening, exit, output: () => out };
}

function configFile(
  name: string,
  storage: Record<string, unknown>,
  server: Record<string, unknown> = {},
): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      server: {
        grpc_addr: '127.0.0.1:0',
        tls_cert_file: pki.server.certFile,
        tls_key_file: pki.server.keyFile,
        client_ca_file: pki.ca.certFile,
        ...server,
      },
      storage,
      logging: { level: 'warn' },
    }),
  );
  return file;
}

test('PostgreSQL down: clear UNAVAILABLE answers; back up: the signer recovers by itself', async (t) => {
  if (!requireService(t, cluster !== undefined, 'PostgreSQL')) return;
  const pg = cluster as PostgresCluster;
  const signer = await startTestSigner(
    testConfig(
      { server: pki.server, clientCaFile: pki.ca.certFile },
      { backend: 'postgres', db_url: await pg.createDatabase(), default_alias: 'faults' },
    ),
    { TRUSTDESK_SIGNER_FAULTS: PASSPHRASE },
  );
  const c = client(signer.port);
  try {
    const key = await c.createKey('ecdsa', 'example.com/outage', 'timestamp');
    await c.sign(key.keyInfo.keyID.ID, Buffer.from('before'));
    await pg.stopServer();
    try {
      for (const call of [
        () => c.createKey('ecdsa', 'example.com/outage-2', 'timestamp'),
        () => c.getKeyInfo('0'.repeat(64)),
        () => c.deleteKey('0'.repeat(64)),
      ]) {
        const s = await statusOf(call());
        assert.equal(s.code, grpc.status.UNAVAILABLE, s.details);
        assert.match(s.details, /key database \(postgres\) unavailable/);
      }
      assert.deepEqual(await c.health('grpc.health.v1.Health.Signer'), { status: 'NOT_SERVING' });
      // A key already opened and marked used keeps signing (timestamps stay fresh).
      const sig = await c.sign(key.keyInfo.keyID.ID, Buffer.from('during'));
      assert.equal(sig.content.length, 64);
    } finally {
      await pg.startServer();
    }
    assert.deepEqual(await c.health('grpc.health.v1.Health.Signer'), { status: 'SERVING' });
    const after = await c.createKey('ecdsa', 'example.com/outage-2', 'timestamp');
    assert.equal((await c.getKeyInfo(after.keyInfo.keyID.ID)).role, 'timestamp');
  } finally {
    c.close();
    await signer.close(0);
  }
});

test('kill -9 during key creation: no half-written key, every acknowledged key kept', async () => {
  const db = join(dir, 'killed.db');
  const env = { TRUSTDESK_SIGNER_KILL: PASSPHRASE };
  const proc = runBin(
    ['-config', configFile('kill', { backend: 'sqlite', db_url: db, default_alias: 'kill' })],
    env,
  );
  const c = client(await proc.port);
  const acknowledged: string[] = [];
  const total = 400;
  let next = 0;
  let killed = false;
  // Eight callers keep CreateKeys in flight; after 40 answers the process is killed mid-stream.
  const worker = async () => {
    while (next < total && !killed) {
      const i = next++;
      try {
        const k = await c.createKey(
          i % 2 ? 'ecdsa' : 'ed25519',
          `example.com/kill/${i}`,
          'timestamp',
        );
        acknowledged.push(k.keyInfo.keyID.ID);
        if (acknowledged.length === 40) {
          killed = true;
          proc.child.kill('SIGKILL');
        }
      } catch {
        // calls in flight at the kill fail; that is the point
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  c.close();
  await proc.exit;
  assert.ok(acknowledged.length >= 40);

  const store = SqliteKeyStore.open(db);
  try {
    const rows = await store.all();
    const ids = new Set(rows.map((r) => r.keyId));
    for (const id of acknowledged) assert.ok(ids.has(id), `acknowledged key ${id} survived`);
    for (const r of rows) {
      const pk = new PublicKey(r.algorithm, r.publicBytes);
      assert.equal(pk.id, r.keyId, 'the row is the key it says it is');
      const plain = await openPrivate(r.private, PASSPHRASE, r.keyId);
      keyFromGoPrivateBytes(pk, plain, r.keyId); // whole, decryptable, matching
    }
  } finally {
    await store.close();
  }

  // The signer starts again on that database and signs with an acknowledged key.
  const again = runBin(['-config', join(dir, 'kill.json')], env);
  const c2 = client(await again.port);
  try {
    const id = acknowledged[0] as string;
    const sig = await c2.sign(id, Buffer.from('after the crash'));
    const info = await c2.getKeyInfo(id);
    const pk = new PublicKey(info.keyInfo.algorithm.algorithm, new Uint8Array(info.publicKey));
    assert.ok(
      pk.verify(
        sig.algorithm.algorithm,
        Buffer.from('after the crash'),
        new Uint8Array(sig.content),
      ),
    );
  } finally {
    c2.close();
    again.child.kill('SIGTERM');
    assert.equal(await again.exit, 0, 'SIGTERM stops it cleanly');
  }
});

test('the binary refuses to start on a wrong passphrase (naming the alias) or without mTLS', async () => {
  const db = join(dir, 'refuse.db');
  const file = configFile('refuse', { backend: 'sqlite', db_url: db, default_alias: 'refuse.me' });
  const first = runBin(['-config', file], { NOTARY_SIGNER_REFUSE_ME: 'right' });
  const c = client(await first.port);
  await c.createKey('ecdsa', 'example.com/refuse', 'timestamp');
  c.close();
  first.child.kill('SIGTERM');
  assert.equal(await first.exit, 0);

  const wrong = runBin(['-config', file], { TRUSTDESK_SIGNER_REFUSE_ME: 'wrong' });
  assert.equal(await wrong.exit, 1);
  assert.match(wrong.output(), /alias "refuse\.me" does not open its keys/);
  assert.doesNotMatch(wrong.output(), /listening/);

  const noMtls = runBin(
    ['-config', configFile('nomtls', { backend: 'memory' }, { client_ca_file: '' })],
    {},
  );
  assert.equal(await noMtls.exit, 2);
  assert.match(noMtls.output(), /only serves mutual TLS: set server\.client_ca_file/);

  const publicPlaintext = runBin(
    ['--insecure-dev', '-config', configFile('open', { backend: 'memory' }, { grpc_addr: ':0' })],
    {},
  );
  assert.equal(await publicPlaintext.exit, 2);
  assert.match(publicPlaintext.output(), /only on a loopback address/);
});

test('rotate-passphrase from the command line, then a start with only the new passphrase', async () => {
  const file = configFile('rotate', {
    backend: 'sqlite',
    db_url: join(dir, 'rotate.db'),
    default_alias: 'one',
  });
  const first = runBin(['-config', file], { TRUSTDESK_SIGNER_ONE: 'first passphrase' });
  const c = client(await first.port);
  const made = await c.createKey('ed25519', 'example.com/rotate', 'timestamp');
  c.close();
  first.child.kill('SIGTERM');
  await first.exit;

  const rotate = runBin(['rotate-passphrase', '-config', file, '--to', 'two'], {
    TRUSTDESK_SIGNER_ONE: 'first passphrase',
    TRUSTDESK_SIGNER_TWO: 'second passphrase',
  });
  assert.equal(await rotate.exit, 0, rotate.output());
  assert.match(rotate.output(), /re-sealed 1 key\(s\) under alias "two"/);

  const next = runBin(['-config', file], {
    TRUSTDESK_SIGNER_STORAGE_DEFAULT_ALIAS: 'two',
    TRUSTDESK_SIGNER_TWO: 'second passphrase',
  });
  const c2 = client(await next.port);
  try {
    const sig = await c2.sign(made.keyInfo.keyID.ID, Buffer.from('rotated'));
    const pk = new PublicKey('ed25519', new Uint8Array(made.publicKey));
    assert.ok(pk.verify('eddsa', Buffer.from('rotated'), new Uint8Array(sig.content)));
  } finally {
    c2.close();
    next.child.kill('SIGTERM');
    await next.exit;
  }
});

test('--insecure-dev serves plaintext on loopback, with a warning', async () => {
  const proc = runBin(['--insecure-dev', '-config', configFile('dev', { backend: 'memory' })], {});
  const port = await proc.port;
  const c = new SignerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const k = await c.createKey('ed25519', 'example.com/dev', 'timestamp');
    assert.equal(k.keyInfo.algorithm.algorithm, 'ed25519');
    assert.match(proc.output(), /WARNING: --insecure-dev: serving gRPC in PLAINTEXT/);
  } finally {
    c.close();
    proc.child.kill('SIGTERM');
    await proc.exit;
  }
});
