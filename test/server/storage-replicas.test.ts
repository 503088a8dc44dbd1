// Two separate processes ("replicas") open one database at the same moment (racing the schema
// migration) and publish to the same GUN concurrently, three publish loops each. Every publish
// must either land or get VersionConflictError; afterwards the GUN's history must be one
// unforked chain: versions 1…M of targets, snapshot and timestamp with no gaps, each version's
// three files written by the same publish and linked by sha256, and the changefeed listing
// timestamps 1…M in commit order. Run against PostgreSQL (how operators scale out), MariaDB,
// and a SQLite file shared by two processes.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { openMetaStore } from '../../server/storage/open.js';
import { mariadbAvailable, startMariaDb } from '../support/mariadb.js';
import { postgresAvailable, startPostgres } from '../support/postgres.js';
import { requireService } from '../support/services.js';

const ROOT = join(import.meta.dirname, '..', '..');
const WRITER = join(import.meta.dirname, 'storage-replica-writer.ts');
const LOOPS = 3;
const ATTEMPTS = 12;

interface WriterResult {
  wins: number;
  conflicts: number;
  errors: string[];
}

interface Replica {
  ready: Promise<void>;
  go: () => void;
  done: Promise<WriterResult>;
}

function startReplica(backend: string, dbUrl: string, gun: string, name: string): Replica {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', WRITER, backend, dbUrl, gun, name, String(LOOPS), String(ATTEMPTS)],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout });
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  let result: WriterResult | undefined;
  lines.on('line', (line) => {
    if (line === 'ready') onReady();
    else if (line.startsWith('{')) result = JSON.parse(line) as WriterResult;
  });
  const done = new Promise<WriterResult>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`replica ${name} exited with ${code}: ${stderr}`));
    });
  });
  // A replica that dies before "ready" must fail the test rather than hang it.
  const readyOrDead = Promise.race([ready, done.then(() => undefined)]);
  return { ready: readyOrDead, go: () => child.stdin.end('go\n'), done };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function raceAndVerify(backend: string, dbUrl: string): Promise<void> {
  const gun = 'example.com/replicated';
  const replicas = ['a', 'b'].map((n) => startReplica(backend, dbUrl, gun, n));
  await Promise.all(replicas.map((r) => r.ready));
  for (const r of replicas) r.go();
  const results = await Promise.all(replicas.map((r) => r.done));

  for (const r of results) {
    assert.deepEqual(r.errors, [], 'every publish either lands or conflicts');
    assert.equal(r.wins + r.conflicts, LOOPS * ATTEMPTS);
  }
  const wins = results.reduce((n, r) => n + r.wins, 0);
  assert.ok(wins >= 1);

  const store = await openMetaStore({ backend, dbUrl });
  try {
    assert.deepEqual(
      await store.latestVersions(gun),
      new Map([
        ['targets', wins],
        ['snapshot', wins],
        ['timestamp', wins],
      ]),
      'one stored version per successful publish, no gaps',
    );
    for (let v = 1; v <= wins; v++) {
      const [t, s, ts] = await Promise.all(
        ['targets', 'snapshot', 'timestamp'].map((role) => store.getByVersion(gun, role, v)),
      );
      assert.ok(t && s && ts, `version ${v} complete`);
      const [tj, sj, tsj] = [t, s, ts].map(
        (f) => JSON.parse(new TextDecoder().decode(f.data)) as Record<string, unknown>,
      );
      assert.equal(sj!.tag, tj!.tag, `v${v}: snapshot and targets from one publish`);
      assert.equal(tsj!.tag, tj!.tag, `v${v}: timestamp and targets from one publish`);
      assert.equal(sj!.targets, t.sha256);
      assert.equal(tsj!.snapshot, s.sha256);
      assert.equal(t.sha256, sha256(t.data));
    }
    const feed = await store.changefeed({ gun, changeId: '0', records: 1000 });
    assert.deepEqual(
      feed.map((c) => c.version),
      Array.from({ length: wins }, (_, i) => i + 1),
      'changefeed lists each timestamp once, in commit order',
    );
    for (const c of feed)
      assert.equal(c.sha256, (await store.getByVersion(gun, 'timestamp', c.version))!.sha256);
  } finally {
    await store.close();
  }
}

test('two PostgreSQL replicas publishing to one GUN never fork it', async (t) => {
  if (!requireService(t, postgresAvailable(), 'PostgreSQL (Debian postgresql)')) return;
  const pg = await startPostgres();
  try {
    await raceAndVerify('postgres', await pg.createDatabase());
  } finally {
    await pg.teardown();
  }
});

test('two MariaDB replicas publishing to one GUN never fork it', async (t) => {
  if (!requireService(t, mariadbAvailable(), 'MariaDB (Debian mariadb-server)')) return;
  const db = await startMariaDb();
  try {
    await raceAndVerify('mysql', (await db.createDatabase()).dsn);
  } finally {
    await db.teardown();
  }
});

test('two processes sharing one SQLite file never fork a GUN', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trustdesk-replicas-'));
  try {
    await raceAndVerify('sqlite3', join(dir, 'server.db'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
