// The key DB of trustdesk-signer on each backend (memory, SQLite, PostgreSQL): the store
// contract (signer/store/types.ts), keys sealed at rest as Go-compatible JWE, the start-up
// passphrase check, Go's soft-deleted rows, and `rotate-passphrase`.

import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compactDecrypt, decodeProtectedHeader } from 'jose';
import pg from 'pg';
import Database from 'better-sqlite3';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { PublicKey } from '../../src/tuf/keys.js';
import { parseSignerConfig, type SignerConfig } from '../../signer/config.js';
import { KeyService } from '../../signer/key-service.js';
import { Passphrases } from '../../signer/passphrases.js';
import { rotatePassphrase } from '../../signer/rotate.js';
import { openKeyService } from '../../signer/signer.js';
import { MemoryKeyStore } from '../../signer/store/memory.js';
import { PostgresKeyStore } from '../../signer/store/postgres.js';
import { SqliteKeyStore } from '../../signer/store/sqlite.js';
import { type KeyRow, type KeyStore } from '../../signer/store/types.js';
import { JweVault } from '../../signer/vault.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../support/postgres.js';
import { serviceSkip } from '../support/services.js';

let dir: string;
let cluster: PostgresCluster | undefined;
const pgSkip = serviceSkip(postgresAvailable(), 'PostgreSQL');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trustdesk-signer-store-'));
  if (!pgSkip) cluster = await startPostgres();
});
after(async () => {
  await cluster?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

let counter = 0;

interface Backend {
  name: 'memory' | 'sqlite' | 'postgres';
  skip: false | string;
  /** A new, empty database: the Go-style storage section for it. */
  storage(): Promise<Record<string, unknown>>;
  /** Runs raw SQL on that database (not for memory). */
  sql?(storage: Record<string, unknown>, text: string, params?: unknown[]): Promise<unknown[]>;
}

const backends: Backend[] = [
  { name: 'memory', skip: false, storage: () => Promise.resolve({ backend: 'memory' }) },
  {
    name: 'sqlite',
    skip: false,
    storage: () => Promise.resolve({ backend: 'sqlite', db_url: join(dir, `k${++counter}.db`) }),
    sql: (s, text, params = []) => {
      const db = new Database(s.db_url as string);
      try {
        const stmt = db.prepare(text.replace(/\$\d+/g, '?'));
        return Promise.resolve(stmt.reader ? stmt.all(...params) : [stmt.run(...params)]);
      } finally {
        db.close();
      }
    },
  },
  {
    name: 'postgres',
    skip: pgSkip,
    storage: async () => ({
      backend: 'postgres',
      db_url: await (cluster as PostgresCluster).createDatabase(),
    }),
    sql: async (s, text, params = []) => {
      const c = new pg.Client({ connectionString: s.db_url as string });
      await c.connect();
      try {
        return (await c.query(text, params)).rows as unknown[];
      } finally {
        await c.end();
      }
    },
  },
];

function config(storage: Record<string, unknown>, alias = 'alpha'): SignerConfig {
  return parseSignerConfig(
    {
      server: { grpc_addr: '127.0.0.1:0' },
      storage: { ...storage, ...(storage.backend === 'memory' ? {} : { default_alias: alias }) },
    },
    { baseDir: dir, env: {}, insecureDev: true },
  );
}

const quiet = { notice: () => undefined };

function openStore(storage: Record<string, unknown>): Promise<KeyStore> {
  if (storage.backend === 'memory') return Promise.resolve(new MemoryKeyStore());
  if (storage.backend === 'sqlite')
    return Promise.resolve(SqliteKeyStore.open(storage.db_url as string));
  return PostgresKeyStore.open({ connectionString: storage.db_url as string });
}

function row(keyId: string, over: Partial<KeyRow> = {}): KeyRow {
  return {
    keyId,
    algorithm: 'ecdsa',
    gun: 'g',
    role: 'timestamp',
    publicBytes: Uint8Array.of(1, 2, 3),
    private: `sealed-${keyId}`,
    passphraseAlias: 'alpha',
    encryptionAlg: 'A256GCM',
    keywrapAlg: 'PBES2-HS256+A128KW',
    lastUsedMs: null,
    ...over,
  };
}

for (const b of backends) {
  describe(`${b.name} store`, { skip: b.skip }, () => {
    // Passphrases, Go's rows and rotation only mean something for a database on disk.
    const sqlTest = (name: string, fn: () => Promise<void>): void => {
      if (b.name !== 'memory') void test(name, fn);
    };
    test('the KeyStore contract', async () => {
      const store = await openStore(await b.storage());
      try {
        await store.insert(row('bb'));
        await store.insert(row('aa'));
        await store.insert(row('cc', { role: 'snapshot', passphraseAlias: 'beta' }));
        assert.equal(
          (await store.findUnused('g', 'timestamp', 'ecdsa'))?.keyId,
          'aa',
          'lowest key ID first',
        );
        assert.equal(await store.findUnused('g', 'timestamp', 'ed25519'), undefined);
        assert.equal(await store.markUsed('aa', Date.now()), true);
        assert.equal(
          (await store.findUnused('g', 'timestamp', 'ecdsa'))?.keyId,
          'bb',
          'a used key is skipped',
        );
        const aa = await store.get('aa');
        assert.ok(aa?.lastUsedMs !== null && aa?.lastUsedMs !== undefined);
        assert.deepEqual(aa.publicBytes, Uint8Array.of(1, 2, 3));
        assert.equal(aa.private, 'sealed-aa');
        assert.deepEqual(
          (await store.aliasSamples()).map((r) => [r.passphraseAlias, r.keyId]).sort(),
          [
            ['alpha', 'aa'],
            ['beta', 'cc'],
          ],
        );
        await assert.rejects(store.insert(row('aa')), 'key IDs are unique');

        // Rotation is all or nothing: one stale expectation, nothing written.
        await assert.rejects(
          store.replacePrivate([
            { keyId: 'aa', expected: 'sealed-aa', private: 'new-aa', passphraseAlias: 'gamma' },
            { keyId: 'bb', expected: 'stale', private: 'new-bb', passphraseAlias: 'gamma' },
          ]),
          /changed while its passphrase was being rotated/,
        );
        assert.equal((await store.get('aa'))?.private, 'sealed-aa');
        await store.replacePrivate([
          { keyId: 'aa', expected: 'sealed-aa', private: 'new-aa', passphraseAlias: 'gamma' },
        ]);
        assert.equal((await store.get('aa'))?.passphraseAlias, 'gamma');

        assert.equal((await store.delete('bb'))?.keyId, 'bb');
        assert.equal(await store.delete('bb'), undefined);
        assert.equal(await store.get('bb'), undefined);
        assert.equal(await store.markUsed('bb', Date.now()), false);
        assert.deepEqual(
          (await store.all()).map((r) => r.keyId),
          ['aa', 'cc'],
        );
        await store.health();
      } finally {
        await store.close();
      }
    });

    test('keys are sealed at rest as Go-compatible JWE and come back after a restart', async () => {
      const storage = await b.storage();
      const env = { TRUSTDESK_SIGNER_ALPHA: 'alpha passphrase' };
      let keys = await openKeyService(config(storage), { env, ...quiet });
      const made = await keys.createKey('ecdsa', 'example.com/at-rest', 'timestamp');
      const ed = await keys.createKey('ed25519', 'example.com/at-rest', 'snapshot');
      const message = Buffer.from('sign me');
      const rowOf = async (id: string) => (await keys.store.get(id)) as KeyRow;
      for (const { publicKey } of [made, ed]) {
        const r = await rowOf(publicKey.id);
        const header = decodeProtectedHeader(r.private);
        assert.equal(header.alg, 'PBES2-HS256+A128KW');
        assert.equal(header.enc, 'A256GCM');
        assert.equal(header.p2c, 8192);
        assert.equal(Buffer.from(header.p2s as string, 'base64url').length, 12);
        if (b.name === 'memory') continue; // sealed under a per-process secret
        assert.equal(r.passphraseAlias, 'alpha');
        // Independent of signer/jwe.ts: `jose` with the passphrase, then Go's key layout.
        const { plaintext } = await compactDecrypt(
          r.private,
          new TextEncoder().encode('alpha passphrase'),
          {
            keyManagementAlgorithms: ['PBES2-HS256+A128KW'],
          },
        );
        if (publicKey.keytype === 'ecdsa') {
          const k = createPrivateKey({ key: Buffer.from(plaintext), format: 'der', type: 'sec1' });
          assert.equal(PublicKey.fromKeyObject(k).id, publicKey.id);
        } else {
          assert.equal(plaintext.length, 96);
          assert.deepEqual(plaintext.subarray(0, 32), publicKey.publicBytes);
          assert.deepEqual(plaintext.subarray(64), publicKey.publicBytes);
        }
      }
      if (b.name === 'memory') {
        await keys.close();
        return;
      }
      await keys.close();
      keys = await openKeyService(config(storage), { env, ...quiet });
      try {
        for (const { publicKey } of [made, ed]) {
          const { signature } = await keys.sign(publicKey.id, message);
          assert.ok(
            publicKey.verify(publicKey.keytype === 'ecdsa' ? 'ecdsa' : 'eddsa', message, signature),
          );
        }
        assert.notEqual(
          (await rowOf(made.publicKey.id)).lastUsedMs,
          null,
          'Sign marked the key used',
        );
      } finally {
        await keys.close();
      }
    });

    sqlTest('a wrong or missing alias passphrase refuses to start, naming the alias', async () => {
      const storage = await b.storage();
      const keys = await openKeyService(config(storage), {
        env: { TRUSTDESK_SIGNER_ALPHA: 'right' },
        ...quiet,
      });
      await keys.createKey('ecdsa', 'example.com/pass', 'timestamp');
      await keys.close();
      const attempts: [Record<string, string>, RegExp][] = [
        [{ TRUSTDESK_SIGNER_ALPHA: 'wrong' }, /alias "alpha" does not open its keys/],
        [{ NOTARY_SIGNER_ALPHA: 'wrong' }, /alias "alpha" does not open its keys/],
        [{}, /no passphrase for key DB alias "alpha": set TRUSTDESK_SIGNER_ALPHA/],
      ];
      for (const [env, message] of attempts) {
        await assert.rejects(openKeyService(config(storage), { env, ...quiet }), (e: unknown) => {
          assert.ok(e instanceof TrustdeskError);
          assert.equal(e.code, 'ERR_BAD_PASSPHRASE');
          assert.match(e.message, message);
          return true;
        });
      }
      // Go's variable name works too.
      await (
        await openKeyService(config(storage), { env: { NOTARY_SIGNER_ALPHA: 'right' }, ...quiet })
      ).close();
    });

    sqlTest('rows Go soft-deleted (deleted_at set) do not exist', async () => {
      const storage = await b.storage();
      const env = { TRUSTDESK_SIGNER_ALPHA: 'p' };
      const keys = await openKeyService(config(storage), { env, ...quiet });
      try {
        const { publicKey } = await keys.createKey('ecdsa', 'example.com/soft', 'timestamp');
        await keys.close();
        await b.sql?.(
          storage,
          `UPDATE private_keys SET deleted_at = created_at WHERE key_id = $1`,
          [publicKey.id],
        );
        const again = await openKeyService(config(storage), { env, ...quiet });
        try {
          await assert.rejects(again.keyInfo(publicKey.id), /not found/);
          const fresh = await again.createKey('ecdsa', 'example.com/soft', 'timestamp');
          assert.notEqual(fresh.publicKey.id, publicKey.id, 'a soft-deleted key is not reused');
        } finally {
          await again.close();
        }
      } finally {
        await keys.close();
      }
    });

    sqlTest('rotate-passphrase re-seals every key under the new alias in one go', async () => {
      const storage = await b.storage();
      const oldEnv = { TRUSTDESK_SIGNER_ALPHA: 'old one' };
      let keys = await openKeyService(config(storage), { env: oldEnv, ...quiet });
      const ids = [
        (await keys.createKey('ecdsa', 'example.com/rot', 'timestamp')).publicKey,
        (await keys.createKey('ed25519', 'example.com/rot', 'snapshot')).publicKey,
      ];
      await keys.close();

      const both = { ...oldEnv, NOTARY_SIGNER_BRAVO_2: 'new one' };
      await assert.rejects(
        rotatePassphrase(config(storage), 'bravo.2', { env: oldEnv, ...quiet }),
        /NOTARY_SIGNER_BRAVO_2/,
      );
      assert.deepEqual(
        await rotatePassphrase(config(storage), 'bravo.2', { env: both, ...quiet }),
        {
          rotated: 2,
          unchanged: 0,
        },
      );
      assert.deepEqual(
        await rotatePassphrase(config(storage), 'bravo.2', { env: both, ...quiet }),
        {
          rotated: 0,
          unchanged: 2,
        },
      );
      // Only the new passphrase is needed now, with the new default alias.
      keys = await openKeyService(config(storage, 'bravo.2'), {
        env: { NOTARY_SIGNER_BRAVO_2: 'new one' },
        ...quiet,
      });
      try {
        for (const pk of ids) {
          assert.equal((await keys.store.get(pk.id))?.passphraseAlias, 'bravo.2');
          const { signature } = await keys.sign(pk.id, Buffer.from('m'));
          assert.ok(
            pk.verify(pk.keytype === 'ecdsa' ? 'ecdsa' : 'eddsa', Buffer.from('m'), signature),
          );
        }
      } finally {
        await keys.close();
      }
    });
  });
}

test('KeyService: a key deleted elsewhere is dropped from the cache at the next mark', async () => {
  const store = new MemoryKeyStore();
  let now = 1_000_000;
  const keys = new KeyService({
    store,
    vault: new JweVault(new Passphrases({}, new Map([['a', 'p']])), 'a'),
    now: () => now,
    markIntervalMs: 1000,
  });
  const { publicKey } = await keys.createKey('ecdsa', 'g', 'timestamp');
  await keys.sign(publicKey.id, Buffer.from('1'));
  await store.delete(publicKey.id); // another replica deletes it
  now += 5000;
  await keys.sign(publicKey.id, Buffer.from('2')); // cached; the background mark finds no row
  await new Promise((r) => setImmediate(r));
  await assert.rejects(keys.sign(publicKey.id, Buffer.from('3')), /not found/);
});
