// The schema our migrations create is the one Go notary-server's gorm models use, so an
// operator can point Go notary-server and trustdesk-server at the same database (to migrate
// either way, or to benchmark both on identical storage). Proof: Go notary-server runs on a
// PostgreSQL / MariaDB database created by openMetaStore, the Go CLI publishes through it, and
// our store reads Go's rows (bytes, sha256, changefeed) — and Go serves rows we wrote, and its
// DELETE leaves the changefeed record we expect.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openMetaStore } from '../../server/storage/open.js';
import { GoNotaryCli, hasGoNotary, startNotaryServer } from '../support/go-notary.js';
import { mariadbAvailable, startMariaDb } from '../support/mariadb.js';
import { postgresAvailable, startPostgres } from '../support/postgres.js';
import { requireService } from '../support/services.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function withGoServer(
  backend: 'postgres' | 'mysql',
  dbUrl: string,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  // Up when healthy: its health check reads our tuf_files table.
  const server = await startNotaryServer({ storage: { backend, dbUrl } }).catch((e: unknown) =>
    assert.fail(`Go notary-server did not become healthy on our schema: ${String(e)}`),
  );
  try {
    await fn(server.url);
  } finally {
    await server.stop();
  }
}

async function roundTrip(backend: 'postgres' | 'mysql', dbUrl: string): Promise<void> {
  const gun = 'example.com/go-schema';
  const store = await openMetaStore({ backend, dbUrl }); // creates the schema
  const trustDir = await mkdtemp(join(tmpdir(), 'trustdesk-go-cli-'));
  try {
    await withGoServer(backend, dbUrl, async (url) => {
      // Go writes through gorm into our tables…
      await new GoNotaryCli(url, trustDir).ok(['init', '-p', gun]);
      const versions = await store.latestVersions(gun);
      assert.deepEqual([...versions.keys()].sort(), ['root', 'snapshot', 'targets', 'timestamp']);
      const ts = (await store.getLatest(gun, 'timestamp'))!;
      assert.equal(ts.sha256, sha256(ts.data));
      const served = new Uint8Array(
        await (await fetch(`${url}/v2/${gun}/_trust/tuf/timestamp.json`)).arrayBuffer(),
      );
      assert.ok(Buffer.from(served).equals(Buffer.from(ts.data)), 'we read the bytes Go serves');
      const feed = await store.changefeed({ gun, changeId: '0', records: 10 });
      assert.deepEqual(
        feed.map((c) => [c.category, c.version, c.sha256]),
        [['update', ts.version, ts.sha256]],
      );

      // …and serves what we write.
      const ours = new TextEncoder().encode('{"written by":"trustdesk"}');
      await store.updateMany(gun, [{ role: 'targets', version: 99, data: ours }]);
      const got = await fetch(`${url}/v2/${gun}/_trust/tuf/99.targets.json`);
      assert.equal(got.status, 200);
      assert.equal(await got.text(), '{"written by":"trustdesk"}');

      const del = await fetch(`${url}/v2/${gun}/_trust/tuf/`, { method: 'DELETE' });
      assert.equal(del.status, 200);
      assert.deepEqual(await store.latestVersions(gun), new Map());
      const after = await store.changefeed({ gun, changeId: feed[0]!.id, records: 10 });
      assert.deepEqual(
        after.map((c) => [c.category, c.version, c.sha256]),
        [['deletion', 0, '']],
      );
    });
  } finally {
    await store.close();
    await rm(trustDir, { recursive: true, force: true });
  }
}

test('Go notary-server runs on a PostgreSQL schema made by our migrations', async (t) => {
  if (!requireService(t, hasGoNotary(), 'Go notary and notary-server (Debian notary)')) return;
  if (!requireService(t, postgresAvailable(), 'PostgreSQL (Debian postgresql)')) return;
  const pg = await startPostgres();
  try {
    await roundTrip('postgres', await pg.createDatabase());
  } finally {
    await pg.teardown();
  }
});

test('Go notary-server runs on a MariaDB schema made by our migrations', async (t) => {
  if (!requireService(t, hasGoNotary(), 'Go notary and notary-server (Debian notary)')) return;
  if (!requireService(t, mariadbAvailable(), 'MariaDB (Debian mariadb-server)')) return;
  const db = await startMariaDb();
  try {
    await roundTrip('mysql', (await db.createDatabase()).dsn);
  } finally {
    await db.teardown();
  }
});
