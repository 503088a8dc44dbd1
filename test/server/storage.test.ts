// One contract suite for every MetaStore backend (server/storage/types.ts): each case runs
// against memory, SQLite (temp dir), PostgreSQL (throwaway cluster) and MariaDB (throwaway
// server), each time on a fresh, empty database. Backend-specific behaviour (outages, file
// modes, DSN parsing) is tested after the table.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mysqlConnection, postgresConnectionString } from '../../server/storage/dsn.js';
import {
  DEFAULT_SQLITE_FILE,
  openMetaStore,
  type OpenMetaStoreOptions,
} from '../../server/storage/open.js';
import {
  type MetaStore,
  type NewTufFile,
  StorageError,
  StorageInputError,
  StorageUnavailableError,
  VersionConflictError,
} from '../../server/storage/types.js';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { mariadbAvailable, startMariaDb, type MariaDbServer } from '../support/mariadb.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../support/postgres.js';
import { requireService } from '../support/services.js';

const enc = (s: string) => new TextEncoder().encode(s);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Distinct bytes for (role, version), unique per call so racing writers differ. */
function file(role: string, version: number, data?: Uint8Array): NewTufFile {
  return {
    role,
    version,
    data:
      data ??
      enc(
        `{"signed":{"_type":"${role}","version":${version}},"n":"${randomBytes(6).toString('hex')}"}`,
      ),
  };
}

function chain(
  version: number,
  roles = ['root', 'targets', 'snapshot', 'timestamp'],
): NewTufFile[] {
  return roles.map((r) => file(r, version));
}

function isConflict(role: string, version: number) {
  return (e: unknown) => {
    assert.ok(e instanceof VersionConflictError, `expected VersionConflictError, got ${String(e)}`);
    assert.equal(e.code, 'ERR_VERSION_CONFLICT');
    assert.equal(e.role, role);
    assert.equal(e.version, version);
    return true;
  };
}

function isInputError(e: unknown): boolean {
  assert.ok(e instanceof StorageInputError, `expected StorageInputError, got ${String(e)}`);
  assert.equal(e.code, 'ERR_STORAGE_INPUT');
  return true;
}

// ---------------------------------------------------------------------------------------------
// Backends

interface Backend {
  name: string;
  what: string;
  available: () => boolean;
  setup?: () => Promise<void>;
  teardown?: () => Promise<void>;
  /** Options that open a fresh, empty store (the same options reopen that database). */
  location: () => Promise<OpenMetaStoreOptions>;
  /** Whether reopening `location` gives the same data (false for memory). */
  persistent: boolean;
}

let pg: PostgresCluster | undefined;
let maria: MariaDbServer | undefined;
let sqliteDir: string | undefined;
let sqliteCount = 0;

const BACKENDS: Backend[] = [
  {
    name: 'memory',
    what: 'memory',
    available: () => true,
    location: () => Promise.resolve({ backend: 'memory' }),
    persistent: false,
  },
  {
    name: 'sqlite',
    what: 'SQLite',
    available: () => true,
    setup: () => {
      sqliteDir = mkdtempSync(join(tmpdir(), 'trustdesk-sqlite-'));
      return Promise.resolve();
    },
    teardown: () => {
      if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
      return Promise.resolve();
    },
    location: () =>
      Promise.resolve({
        backend: 'sqlite3',
        dbUrl: join(sqliteDir!, `db${++sqliteCount}`, 'server.db'),
      }),
    persistent: true,
  },
  {
    name: 'postgres',
    what: 'PostgreSQL (Debian postgresql)',
    available: postgresAvailable,
    setup: async () => {
      pg = await startPostgres();
    },
    teardown: async () => {
      await pg?.teardown();
    },
    location: async () => ({ backend: 'postgres', dbUrl: await pg!.createDatabase() }),
    persistent: true,
  },
  {
    name: 'mysql',
    what: 'MariaDB (Debian mariadb-server)',
    available: mariadbAvailable,
    setup: async () => {
      maria = await startMariaDb();
    },
    teardown: async () => {
      await maria?.teardown();
    },
    location: async () => ({ backend: 'mysql', dbUrl: (await maria!.createDatabase()).dsn }),
    persistent: true,
  },
];

// ---------------------------------------------------------------------------------------------
// The contract

interface Ctx {
  store: MetaStore;
  backend: Backend;
  /** Opens another store on the same database. */
  reopen: () => Promise<MetaStore>;
}

interface Case {
  name: string;
  persistentOnly?: boolean;
  run: (ctx: Ctx) => Promise<void>;
}

const CASES: Case[] = [
  {
    name: 'stores and returns exactly the bytes given, non-UTF-8 and large included',
    async run({ store }) {
      const gun = 'example.com/ünïcode/😀';
      const binary = new Uint8Array([
        0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0d, 0x0a, 0x00, 0xed, 0xa0, 0x80,
      ]);
      const big = randomBytes(300_000);
      const sliced = new Uint8Array(randomBytes(64).buffer, 8, 40); // a view with an offset
      await store.updateMany(gun, [
        file('root', 1, binary),
        file('targets', 1, big),
        file('targets/releases', 1, sliced),
        file('snapshot', 1, new Uint8Array(0)),
      ]);
      for (const [role, data] of [
        ['root', binary],
        ['targets', big],
        ['targets/releases', sliced],
        ['snapshot', new Uint8Array(0)],
      ] as const) {
        const got = await store.getLatest(gun, role);
        assert.ok(got, role);
        assert.ok(Buffer.from(got.data).equals(Buffer.from(data)), `${role} bytes differ`);
        assert.equal(got.sha256, sha256(data));
        assert.equal(got.gun, gun);
        assert.equal(got.role, role);
        assert.equal(got.version, 1);
        assert.ok(got.createdAt instanceof Date && !Number.isNaN(got.createdAt.getTime()));
      }
      // Mutating what we passed in or got back does not change what is stored.
      binary[0] = 0;
      const again = await store.getLatest(gun, 'root');
      again!.data[1] = 0;
      assert.deepEqual([...(await store.getLatest(gun, 'root'))!.data.slice(0, 2)], [0xff, 0xfe]);
    },
  },
  {
    name: 'getLatest, getByVersion, getByChecksum and latestVersions find exactly the right row',
    async run({ store }) {
      const gun = 'docker.io/library/alpine';
      const v = [1, 2, 3].map((n) => file('targets', n));
      for (const f of v) await store.updateMany(gun, [f]);
      await store.updateMany(gun, [file('root', 1)]);
      assert.equal((await store.getLatest(gun, 'targets'))?.version, 3);
      assert.deepEqual((await store.getByVersion(gun, 'targets', 2))?.data, v[1]!.data);
      assert.equal((await store.getByChecksum(gun, 'targets', sha256(v[0]!.data)))?.version, 1);
      assert.deepEqual(
        await store.latestVersions(gun),
        new Map([
          ['targets', 3],
          ['root', 1],
        ]),
      );
      // Misses: other version, other checksum, uppercase or 128-hex checksum, other role.
      assert.equal(await store.getByVersion(gun, 'targets', 4), undefined);
      assert.equal(await store.getByVersion(gun, 'targets', 0), undefined);
      assert.equal(await store.getByChecksum(gun, 'targets', sha256(enc('other'))), undefined);
      assert.equal(
        await store.getByChecksum(gun, 'targets', sha256(v[0]!.data).toUpperCase()),
        undefined,
      );
      assert.equal(
        await store.getByChecksum(gun, 'targets', sha256(v[0]!.data).repeat(2)),
        undefined,
      );
      assert.equal(await store.getByChecksum(gun, 'root', sha256(v[0]!.data)), undefined);
      assert.equal(await store.getLatest(gun, 'snapshot'), undefined);
      // GUNs match exactly: no prefix, case or trailing-space folding (MySQL collations!).
      for (const other of [
        'docker.io/library',
        'docker.io/library/alpine/x',
        'Docker.io/library/alpine',
        `${gun} `,
      ]) {
        assert.equal(await store.getLatest(other, 'targets'), undefined, JSON.stringify(other));
        assert.deepEqual(await store.latestVersions(other), new Map(), JSON.stringify(other));
      }
      await store.updateMany(`${gun} `, [file('targets', 1)]);
      assert.equal((await store.getLatest(gun, 'targets'))?.version, 3);
      assert.equal((await store.getLatest(`${gun} `, 'targets'))?.version, 1);
      await store.updateMany('DOCKER.IO/library/alpine', [file('targets', 1)]);
      assert.equal((await store.getLatest(gun, 'targets'))?.version, 3);
    },
  },
  {
    name: 'a version conflict on the last file of an update stores nothing at all',
    async run({ store }) {
      const gun = 'example.com/conflict';
      const first = chain(1);
      await store.updateMany(gun, first);
      const feedBefore = await store.changefeed({ gun: null, changeId: '0', records: 100 });
      const idBefore = await store.latestChangeId();
      const attempt = [
        file('root', 2),
        file('targets', 2),
        file('snapshot', 2),
        file('timestamp', 1),
      ];
      await assert.rejects(store.updateMany(gun, attempt), isConflict('timestamp', 1));
      assert.deepEqual(
        await store.latestVersions(gun),
        new Map([
          ['root', 1],
          ['targets', 1],
          ['snapshot', 1],
          ['timestamp', 1],
        ]),
      );
      for (const f of attempt)
        assert.equal(await store.getByChecksum(gun, f.role, sha256(f.data)), undefined);
      assert.deepEqual(
        await store.changefeed({ gun: null, changeId: '0', records: 100 }),
        feedBefore,
      );
      assert.equal(await store.latestChangeId(), idBefore);
      for (const f of first) assert.deepEqual((await store.getLatest(gun, f.role))?.data, f.data);

      // Lower version, equal version, and the same role twice in one call all conflict.
      await assert.rejects(store.updateMany(gun, [file('targets', 0)]), isConflict('targets', 0));
      await assert.rejects(
        store.updateMany(gun, [file('snapshot', 2), file('targets', 1)]),
        isConflict('targets', 1),
      );
      await assert.rejects(
        store.updateMany(gun, [file('targets', 5), file('targets', 5)]),
        isConflict('targets', 5),
      );
      await assert.rejects(
        store.updateMany(gun, [file('targets', 6), file('targets', 4)]),
        isConflict('targets', 4),
      );
      assert.equal((await store.getLatest(gun, 'snapshot'))?.version, 1);
      // Versions need only increase, not by one; roles are independent; an empty update is a no-op.
      await store.updateMany(gun, [file('targets', 10)]);
      await store.updateMany(gun, [file('targets/a', 1)]);
      await store.updateMany(gun, []);
      assert.deepEqual(
        await store.latestVersions(gun),
        new Map([
          ['root', 1],
          ['targets', 10],
          ['snapshot', 1],
          ['timestamp', 1],
          ['targets/a', 1],
        ]),
      );
    },
  },
  {
    name: '20 concurrent writers of the same next version: exactly one wins, the rest conflict',
    async run({ store }) {
      const gun = 'example.com/race';
      await store.updateMany(gun, chain(1));
      const attempts = Array.from({ length: 20 }, () =>
        chain(2, ['targets', 'snapshot', 'timestamp']),
      );
      const results = await Promise.allSettled(
        attempts.map((files) => store.updateMany(gun, files)),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(won.length, 1, 'exactly one writer succeeds');
      for (const r of results) {
        if (r.status === 'rejected')
          assert.ok(r.reason instanceof VersionConflictError, String(r.reason));
      }
      const winner = attempts[won[0]!]!;
      for (const f of winner) assert.deepEqual((await store.getLatest(gun, f.role))?.data, f.data);
      const feed = await store.changefeed({ gun, changeId: '0', records: 100 });
      assert.deepEqual(
        feed.map((c) => [c.version, c.sha256]),
        [
          [1, (await store.getByVersion(gun, 'timestamp', 1))!.sha256],
          [2, sha256(winner[2]!.data)],
        ],
      );
    },
  },
  {
    name: '20 concurrent writers of different versions: whatever lands, lands in increasing order',
    async run({ store }) {
      const gun = 'example.com/race-up';
      await store.updateMany(gun, chain(1));
      // Writer i publishes version i+2 (2…21) at once; without per-GUN serialisation two writers
      // could both pass the version check and a lower version be committed after a higher one.
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          store.updateMany(gun, chain(i + 2, ['targets', 'timestamp'])),
        ),
      );
      for (const r of results) {
        if (r.status === 'rejected')
          assert.ok(r.reason instanceof VersionConflictError, String(r.reason));
      }
      const landed = results.filter((r) => r.status === 'fulfilled').length;
      assert.ok(landed >= 1);
      // Commit order is changefeed order: versions must be strictly increasing along it.
      const feed = await store.changefeed({ gun, changeId: '0', records: 100 });
      assert.equal(feed.length, landed + 1);
      for (let i = 1; i < feed.length; i++) {
        assert.ok(
          feed[i]!.version > feed[i - 1]!.version,
          `version ${feed[i]!.version} committed after ${feed[i - 1]!.version}`,
        );
      }
      assert.equal((await store.getLatest(gun, 'targets'))?.version, feed.at(-1)!.version);
    },
  },
  {
    name: 'changefeed: ids increase, pages forwards and backwards, filters per GUN, records deletions',
    async run({ store }) {
      assert.equal(await store.latestChangeId(), '0');
      assert.deepEqual(await store.changefeed({ gun: null, changeId: '0', records: 10 }), []);
      assert.deepEqual(await store.changefeed({ gun: null, changeId: '-1', records: 10 }), []);
      const ts: Record<string, Uint8Array> = {};
      const stamp = async (gun: string, version: number) => {
        const f = file('timestamp', version);
        ts[`${gun}@${version}`] = f.data;
        await store.updateMany(gun, [file('snapshot', version), f]);
      };
      await stamp('g/one', 1);
      await store.updateMany('g/one', [file('targets', 1)]); // no timestamp: no record
      await stamp('g/two', 1);
      await stamp('g/one', 2);
      assert.equal(await store.deleteGun('g/two'), true);
      await stamp('g/three', 1);

      const all = await store.changefeed({ gun: null, changeId: '0', records: 100 });
      assert.deepEqual(
        all.map((c) => [c.gun, c.version, c.category, c.sha256]),
        [
          ['g/one', 1, 'update', sha256(ts['g/one@1']!)],
          ['g/two', 1, 'update', sha256(ts['g/two@1']!)],
          ['g/one', 2, 'update', sha256(ts['g/one@2']!)],
          ['g/two', 0, 'deletion', ''],
          ['g/three', 1, 'update', sha256(ts['g/three@1']!)],
        ],
      );
      const ids = all.map((c) => BigInt(c.id));
      for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, 'ids increase');
      for (const c of all)
        assert.ok(c.createdAt instanceof Date && !Number.isNaN(c.createdAt.getTime()));
      assert.equal(await store.latestChangeId(), all[4]!.id);

      const page = async (gun: string | null, changeId: string, records: number) =>
        (await store.changefeed({ gun, changeId, records })).map((c) => c.id);
      const id = all.map((c) => c.id);
      // Forwards: ids strictly after changeId, oldest first.
      assert.deepEqual(await page(null, '0', 2), [id[0], id[1]]);
      assert.deepEqual(await page(null, id[1]!, 2), [id[2], id[3]]);
      assert.deepEqual(await page(null, id[3]!, 2), [id[4]]);
      assert.deepEqual(await page(null, id[4]!, 2), []);
      assert.deepEqual(await page(null, '9223372036854775807', 2), []);
      assert.deepEqual(await page(null, '99999999999999999999999', 2), []);
      // Backwards (negative records): ids strictly before changeId, still oldest → newest.
      assert.deepEqual(await page(null, id[3]!, -2), [id[1], id[2]]);
      assert.deepEqual(await page(null, id[1]!, -5), [id[0]]);
      assert.deepEqual(await page(null, id[0]!, -5), []);
      // A negative change id (or 0 with negative records) means "from the latest, backwards".
      assert.deepEqual(await page(null, '-1', 2), [id[3], id[4]]);
      assert.deepEqual(await page(null, '-1', -2), [id[3], id[4]]);
      assert.deepEqual(await page(null, '0', -3), [id[2], id[3], id[4]]);
      // Per-GUN filter, both directions.
      assert.deepEqual(await page('g/one', '0', 100), [id[0], id[2]]);
      assert.deepEqual(await page('g/one', id[0]!, 100), [id[2]]);
      assert.deepEqual(await page('g/two', '-1', 1), [id[3]]);
      assert.deepEqual(await page('g/two', '-1', 5), [id[1], id[3]]);
      assert.deepEqual(await page('g/one', id[4]!, -1), [id[2]]);
      assert.deepEqual(await page('g/none', '0', 100), []);
      assert.deepEqual(await page('g', '0', 100), []);
      assert.deepEqual(await page('bad\0gun', '0', 100), []);
      // Malformed queries are the caller's input error.
      await assert.rejects(
        store.changefeed({ gun: null, changeId: 'abc', records: 1 }),
        isInputError,
      );
      await assert.rejects(
        store.changefeed({ gun: null, changeId: '1.5', records: 1 }),
        isInputError,
      );
      await assert.rejects(
        store.changefeed({ gun: null, changeId: '0', records: 0 }),
        isInputError,
      );
      await assert.rejects(
        store.changefeed({ gun: null, changeId: '0', records: 1.5 }),
        isInputError,
      );
    },
  },
  {
    name: 'deleteGun removes every version of every role of that GUN only, once',
    async run({ store }) {
      await store.updateMany('a/b', chain(1));
      await store.updateMany('a/b', [file('targets', 2), file('targets/x', 1)]);
      await store.updateMany('a/b/c', chain(1));
      await store.updateMany('a/bc', chain(1));
      const before = await store.latestChangeId();
      assert.equal(await store.deleteGun('a/b'), true);
      assert.deepEqual(await store.latestVersions('a/b'), new Map());
      for (const role of ['root', 'targets', 'targets/x', 'snapshot', 'timestamp']) {
        assert.equal(await store.getLatest('a/b', role), undefined, role);
      }
      assert.equal(await store.getByVersion('a/b', 'targets', 1), undefined);
      assert.equal((await store.latestVersions('a/b/c')).size, 4);
      assert.equal((await store.latestVersions('a/bc')).size, 4);
      const del = await store.changefeed({ gun: 'a/b', changeId: before, records: 10 });
      assert.deepEqual(
        del.map((c) => [c.gun, c.version, c.sha256, c.category]),
        [['a/b', 0, '', 'deletion']],
      );
      // Nothing left: false and no second deletion record.
      const after = await store.latestChangeId();
      assert.equal(await store.deleteGun('a/b'), false);
      assert.equal(await store.deleteGun('never/stored'), false);
      assert.equal(await store.latestChangeId(), after);
      // The GUN can start again from version 1.
      await store.updateMany('a/b', chain(1));
      assert.equal((await store.getLatest('a/b', 'timestamp'))?.version, 1);
    },
  },
  {
    name: 'server keys: exact bytes, lowest unused key id first, used keys never handed out again',
    async run({ store }) {
      const key = (
        keyId: string,
        over: Partial<{ gun: string; role: 'timestamp' | 'snapshot'; algorithm: string }> = {},
      ) => ({
        keyId,
        gun: 'k/gun',
        role: 'timestamp' as const,
        algorithm: 'ecdsa',
        publicKey: randomBytes(65),
        encryptedPrivate: new Uint8Array([0xff, 0x00, 0xfe, ...randomBytes(100)]),
        ...over,
      });
      const b = key('bb');
      await store.putServerKey(b);
      await store.putServerKey(key('aa'));
      await store.putServerKey(key('00', { algorithm: 'ed25519' }));
      await store.putServerKey(key('01', { role: 'snapshot' }));
      await store.putServerKey(key('02', { gun: 'k/other' }));
      assert.equal(await store.getServerKey('zz'), undefined);
      const got = await store.getServerKey('bb');
      assert.ok(got);
      assert.ok(Buffer.from(got.publicKey).equals(b.publicKey));
      assert.ok(Buffer.from(got.encryptedPrivate).equals(Buffer.from(b.encryptedPrivate)));
      assert.deepEqual(
        [got.gun, got.role, got.algorithm, got.lastUsed],
        ['k/gun', 'timestamp', 'ecdsa', null],
      );
      assert.ok(got.createdAt instanceof Date && !Number.isNaN(got.createdAt.getTime()));

      assert.equal((await store.findUnusedServerKey('k/gun', 'timestamp', 'ecdsa'))?.keyId, 'aa');
      await store.markServerKeyUsed('aa');
      assert.ok((await store.getServerKey('aa'))?.lastUsed instanceof Date);
      assert.equal((await store.findUnusedServerKey('k/gun', 'timestamp', 'ecdsa'))?.keyId, 'bb');
      await store.markServerKeyUsed('bb');
      await store.markServerKeyUsed('bb'); // again: still used
      await store.markServerKeyUsed('unknown'); // no such key: nothing happens
      assert.equal(await store.findUnusedServerKey('k/gun', 'timestamp', 'ecdsa'), undefined);
      assert.equal((await store.findUnusedServerKey('k/gun', 'timestamp', 'ed25519'))?.keyId, '00');
      assert.equal((await store.findUnusedServerKey('k/gun', 'snapshot', 'ecdsa'))?.keyId, '01');
      assert.equal((await store.findUnusedServerKey('k/other', 'timestamp', 'ecdsa'))?.keyId, '02');
      assert.equal(await store.findUnusedServerKey('k/none', 'timestamp', 'ecdsa'), undefined);

      await assert.rejects(
        store.putServerKey(key('aa')),
        (e) => e instanceof StorageError && e.code === 'ERR_STORAGE',
      );
      await assert.rejects(
        store.putServerKey({ ...key('r'), role: 'root' as 'snapshot' }),
        isInputError,
      );
      await assert.rejects(store.putServerKey(key('')), isInputError);
      // Deleting a GUN's metadata keeps its keys (as Go does).
      await store.updateMany('k/gun', chain(1));
      await store.deleteGun('k/gun');
      assert.equal((await store.getServerKey('aa'))?.keyId, 'aa');
    },
  },
  {
    name: 'refuses GUNs, roles and versions it cannot hold, and never finds them',
    async run({ store }) {
      const long = 'x'.repeat(254) + '😀'; // 255 code points, 256 UTF-16 units
      await store.updateMany(long, [file('targets', 1)]);
      assert.equal((await store.getLatest(long, 'targets'))?.version, 1);
      const refuse: [string, NewTufFile[]][] = [
        ['y'.repeat(256), [file('targets', 1)]],
        ['', [file('targets', 1)]],
        ['nul\0gun', [file('targets', 1)]],
        ['lone\ud800surrogate', [file('targets', 1)]],
        ['ok/gun', [file('', 1)]],
        ['ok/gun', [file('r'.repeat(256), 1)]],
        ['ok/gun', [file('targets', 2 ** 31)]],
        ['ok/gun', [file('targets', -1)]],
        ['ok/gun', [file('targets', 1.5)]],
        ['ok/gun', [file('root', 1), file('targets', Number.NaN)]],
      ];
      for (const [gun, files] of refuse) {
        await assert.rejects(
          store.updateMany(gun, files),
          isInputError,
          JSON.stringify([gun, files[0]!.role]),
        );
      }
      assert.deepEqual(await store.latestVersions('ok/gun'), new Map());
      await store.updateMany('ok/gun', [file('targets', 2 ** 31 - 1)]);
      assert.equal((await store.getLatest('ok/gun', 'targets'))?.version, 2 ** 31 - 1);
      for (const gun of ['y'.repeat(256), '', 'nul\0gun', 'lone\ud800surrogate']) {
        assert.equal(await store.getLatest(gun, 'targets'), undefined);
        assert.equal(await store.getByVersion(gun, 'targets', 1), undefined);
        assert.equal(await store.getByChecksum(gun, 'targets', sha256(enc('x'))), undefined);
        assert.deepEqual(await store.latestVersions(gun), new Map());
        assert.equal(await store.deleteGun(gun), false);
      }
    },
  },
  {
    name: 'check() passes on a healthy store; a closed store is unavailable',
    async run({ store }) {
      await store.check();
      await store.close();
      await store.close(); // idempotent
      for (const call of [
        () => store.check(),
        () => store.getLatest('g', 'root'),
        () => store.updateMany('g', [file('root', 1)]),
        () => store.latestChangeId(),
      ]) {
        await assert.rejects(
          call(),
          (e) => e instanceof StorageUnavailableError && e.code === 'ERR_STORAGE_UNAVAILABLE',
        );
      }
    },
  },
  {
    name: 'migrations are idempotent: reopening, and two stores opening at once, keep the data',
    persistentOnly: true,
    async run({ store, reopen }) {
      await store.updateMany('m/gun', chain(1));
      const [a, b] = await Promise.all([reopen(), reopen()]);
      try {
        for (const s of [a, b]) {
          assert.equal((await s.getLatest('m/gun', 'timestamp'))?.version, 1);
          await s.check();
        }
        await a.updateMany('m/gun', [file('targets', 2)]);
        assert.equal((await b.getLatest('m/gun', 'targets'))?.version, 2);
        assert.equal((await store.getLatest('m/gun', 'targets'))?.version, 2);
      } finally {
        await a.close();
        await b.close();
      }
    },
  },
];

for (const backend of BACKENDS) {
  describe(`MetaStore contract: ${backend.name}`, () => {
    let ready = false;
    before(async () => {
      if (!backend.available()) return;
      await backend.setup?.();
      ready = true;
    });
    after(async () => {
      if (ready) await backend.teardown?.();
    });
    for (const c of CASES) {
      if (c.persistentOnly && !backend.persistent) continue;
      test(c.name, async (t) => {
        if (!requireService(t, ready, backend.what)) return;
        const where = await backend.location();
        const store = await openMetaStore(where);
        assert.equal(store.backend, backend.name);
        try {
          await c.run({ store, backend, reopen: () => openMetaStore(where) });
        } finally {
          await store.close();
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Backend-specific behaviour

describe('outages', () => {
  for (const [name, what, available] of [
    ['postgres', 'PostgreSQL (Debian postgresql)', postgresAvailable],
    ['mysql', 'MariaDB (Debian mariadb-server)', mariadbAvailable],
  ] as const) {
    test(`${name}: a database that goes away gives StorageUnavailableError, no crash, and recovers`, async (t) => {
      if (!requireService(t, available(), what)) return;
      const server = name === 'postgres' ? await startPostgres() : await startMariaDb();
      const background: Error[] = [];
      try {
        const dbUrl =
          name === 'postgres'
            ? await (server as PostgresCluster).createDatabase()
            : (await (server as MariaDbServer).createDatabase()).dsn;
        const store = await openMetaStore({
          backend: name,
          dbUrl,
          poolSize: 4,
          onBackgroundError: (e) => background.push(e),
        });
        try {
          await store.updateMany('o/gun', chain(1));
          // Several idle pooled connections, all of which the outage will break.
          await Promise.all(Array.from({ length: 4 }, () => store.getLatest('o/gun', 'root')));
          await server.stopServer();
          await assert.rejects(store.getLatest('o/gun', 'root'), StorageUnavailableError);
          await assert.rejects(
            store.updateMany('o/gun', [file('targets', 2)]),
            StorageUnavailableError,
          );
          await assert.rejects(store.check(), StorageUnavailableError);
          await server.startServer();
          // The pool reconnects by itself; the first call may still hit a stale connection.
          let recovered = false;
          for (let i = 0; i < 5 && !recovered; i++) {
            recovered = await store.check().then(
              () => true,
              (e: unknown) => {
                assert.ok(e instanceof StorageUnavailableError, String(e));
                return false;
              },
            );
          }
          assert.ok(recovered, 'the store works again once the database is back');
          await store.updateMany('o/gun', [file('targets', 2)]);
          assert.equal((await store.getLatest('o/gun', 'targets'))?.version, 2);
          assert.equal((await store.getLatest('o/gun', 'timestamp'))?.version, 1);
        } finally {
          await store.close();
        }
      } finally {
        await server.teardown();
      }
      for (const e of background) assert.ok(e instanceof Error);
    });
  }
});

describe('openMetaStore', () => {
  test('sqlite: a data dir gets the default file, created 0600; sqlite3 and file: URLs work', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustdesk-open-'));
    try {
      const a = await openMetaStore({ backend: 'sqlite', dataDir: join(dir, 'data') });
      await a.updateMany('g', [file('root', 1)]);
      await a.close();
      const path = join(dir, 'data', DEFAULT_SQLITE_FILE);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const b = await openMetaStore({ backend: 'sqlite3', dbUrl: `file://${path}` });
      assert.equal((await b.getLatest('g', 'root'))?.version, 1);
      await b.close();
      const c = await openMetaStore({ backend: 'sqlite3', dbUrl: `file:${path}?cache=shared` });
      assert.equal((await c.getLatest('g', 'root'))?.version, 1);
      await c.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('unknown or unsupported backends and missing db_url are usage errors', async () => {
    for (const opts of [
      { backend: 'rethinkdb', dbUrl: 'x' },
      { backend: 'oracle' },
      { backend: '' },
      { backend: 'postgres' },
      { backend: 'mysql' },
      { backend: 'sqlite3' },
      { backend: 'postgres', dbUrl: 'mysql://u@h/db' },
      { backend: 'postgres', dbUrl: 'host=localhost dbname=x' },
    ]) {
      await assert.rejects(
        openMetaStore(opts),
        (e) => e instanceof TrustdeskError && e.code === 'ERR_USAGE',
        JSON.stringify(opts),
      );
    }
  });

  test('a database that cannot be reached is StorageUnavailableError, and the message hides the password', async () => {
    const port = await (await import('../support/free-port.js')).freePort();
    for (const [backend, dbUrl] of [
      ['postgres', `postgres://u:s3cret-pw@127.0.0.1:${port}/db?sslmode=disable`],
      ['mysql', `u:s3cret-pw@tcp(127.0.0.1:${port})/db?parseTime=True`],
    ] as const) {
      await assert.rejects(openMetaStore({ backend, dbUrl }), (e) => {
        assert.ok(e instanceof StorageUnavailableError, String(e));
        assert.ok(!String(e.message).includes('s3cret-pw'), e.message);
        return true;
      });
    }
  });
});

describe('db_url formats', () => {
  test('Go MySQL DSNs and mysql:// URLs', () => {
    const cases: [string, Record<string, unknown>][] = [
      [
        'server@tcp(mysql:3306)/notaryserver?parseTime=True',
        { user: 'server', host: 'mysql', port: 3306, database: 'notaryserver' },
      ],
      [
        'user:p@ss:w0rd@tcp(127.0.0.1:3307)/db?parseTime=True&charset=utf8mb4',
        { user: 'user', password: 'p@ss:w0rd', host: '127.0.0.1', port: 3307, database: 'db' },
      ],
      [
        'u:pw@tcp([::1]:3308)/d',
        { user: 'u', password: 'pw', host: '::1', port: 3308, database: 'd' },
      ],
      ['u@tcp(dbhost)/d', { user: 'u', host: 'dbhost', port: 3306, database: 'd' }],
      ['/d', { host: '127.0.0.1', port: 3306, database: 'd' }],
      [
        'u@unix(/run/mysqld/mysqld.sock)/d',
        { user: 'u', socketPath: '/run/mysqld/mysqld.sock', database: 'd' },
      ],
      [
        'u:pw@tcp(h:1)/d?tls=skip-verify&timeout=1m30s',
        {
          user: 'u',
          password: 'pw',
          host: 'h',
          port: 1,
          database: 'd',
          ssl: { rejectUnauthorized: false },
          connectTimeoutMs: 90_000,
        },
      ],
      [
        'u@tcp(h)/d?tls=true&timeout=500ms',
        {
          user: 'u',
          host: 'h',
          port: 3306,
          database: 'd',
          ssl: { rejectUnauthorized: true },
          connectTimeoutMs: 500,
        },
      ],
      [
        'mysql://us%40er:p%2Fw@db.example:3310/notary?tls=true',
        {
          user: 'us@er',
          password: 'p/w',
          host: 'db.example',
          port: 3310,
          database: 'notary',
          ssl: { rejectUnauthorized: true },
        },
      ],
      ['mysql://u@[::1]/notary', { user: 'u', host: '::1', port: 3306, database: 'notary' }],
    ];
    for (const [dsn, want] of cases) assert.deepEqual({ ...mysqlConnection(dsn) }, want, dsn);
    for (const bad of [
      'no-slash',
      'u@tcp(h:1)/',
      'u@udp(h:1)/d',
      'u@tcp(h:99999)/d',
      'u@tcp(h)/d?tls=custom',
      'u@tcp(h)/d?timeout=5',
      'mysql://u@h/',
    ]) {
      assert.throws(
        () => mysqlConnection(bad),
        (e) => e instanceof TrustdeskError && e.code === 'ERR_USAGE',
        bad,
      );
    }
    assert.throws(
      () => mysqlConnection('u:secret@udp(h)/d'),
      (e) => e instanceof Error && !e.message.includes('secret'),
    );
  });

  test('postgres URLs keep lib/pq sslmode semantics (default require)', () => {
    const params = (u: string) =>
      Object.fromEntries(new URL(postgresConnectionString(u)).searchParams);
    assert.deepEqual(params('postgres://u:p@h:5432/db?sslmode=disable'), {
      sslmode: 'disable',
      uselibpqcompat: 'true',
    });
    assert.deepEqual(params('postgresql://u@h/db'), { sslmode: 'require', uselibpqcompat: 'true' });
    assert.deepEqual(params('postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem'), {
      sslmode: 'verify-full',
      sslrootcert: '/ca.pem',
      uselibpqcompat: 'true',
    });
    const kept = new URL(
      postgresConnectionString('postgres://us%40er:p%2Fw@h:5433/d%20b?sslmode=disable'),
    );
    assert.deepEqual(
      [kept.username, kept.password, kept.port, kept.pathname],
      ['us%40er', 'p%2Fw', '5433', '/d%20b'],
    );
  });
});
