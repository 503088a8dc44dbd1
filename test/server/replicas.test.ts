// Two trustdesk-server processes ("replicas") on one PostgreSQL database, concurrent publishers to
// one GUN through both (issue 3, "Proof"). Replica A caches current metadata for 100 ms, replica
// B revalidates on every read (caching.revalidate_ms 0), so B's publishers always build on the
// latest state and A's may build on a stale one.
//
// Each round every publisher reads the GUN from its replica like a Go client (root, timestamp →
// snapshot → targets by checksum), adds its own target with our RepoBuilder (server-managed
// snapshot: only targets is uploaded) and then all upload at once. Rules checked:
//   - every upload answers 200 or Go's 400 VERSION envelope (no 500, nothing else);
//   - exactly one upload per round lands: some publisher (one of B's) built on the latest
//     version, and two uploads of the same version can never both land (no lost update);
//   - history: targets, snapshot and timestamp versions 1…rounds+1, each timestamp naming the
//     snapshot of the same version and that one naming the targets of the same version; each
//     targets version adds exactly the target of the upload that landed with it;
//   - the final chain walks with our trusted set from 1.root.json on both replicas, lists exactly
//     the landed targets, and both replicas serve identical current bytes and changefeeds once A's
//     cache window has passed (an in-process cache must not hide another replica's writes);
//   - both replicas shut down cleanly on SIGTERM.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RepoBuilder } from '../../src/tuf/builder.js';
import { sha256Hex, toHex, utf8Encode } from '../../src/tuf/encoding.js';
import { fileMetaFor } from '../../src/tuf/filemeta.js';
import { type Signer } from '../../src/tuf/keys.js';
import { parseRoot, parseSnapshot, parseTargets, parseTimestamp } from '../../src/tuf/metadata.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../support/postgres.js';
import { requireService } from '../support/services.js';
import {
  errorCode,
  serverManagedOwner,
  startTrustdeskServer,
  verifyRepository,
  type RunningServer,
  type TufClient,
} from '../support/trustdesk-server.js';

const GUN = 'example.com/replicas/app';
const ROUNDS = 5;
const FREE_ATTEMPTS = 4;
const PUBLISHERS_PER_REPLICA = 2;
const A_REVALIDATE_MS = 100;
const VERSION_BODY =
  '{"errors":[{"code":"VERSION","message":"A newer version of metadata is already available.","detail":{}}]}\n';

interface Outcome {
  publisher: string;
  target: string;
  status: number;
  body: string;
  /** The targets version the upload carried. */
  version: number;
}

/** Reads the GUN as a Go client does and signs the next targets with one more target. */
async function nextUpload(
  client: TufClient,
  target: string,
  signers: (role: string) => Signer[],
): Promise<{ files: Map<string, Uint8Array>; version: number }> {
  const root = parseRoot(await client.metadata(GUN, 'root'));
  const timestamp = parseTimestamp(await client.metadata(GUN, 'timestamp'));
  const snapSha = timestamp.signed.meta.get('snapshot')?.hashes.sha256 as Uint8Array;
  const snapshot = parseSnapshot(await client.metadata(GUN, `snapshot.${toHex(snapSha)}`));
  const targetsSha = snapshot.signed.meta.get('targets')?.hashes.sha256 as Uint8Array;
  const targets = parseTargets(await client.metadata(GUN, `targets.${toHex(targetsSha)}`));
  const builder = RepoBuilder.load({ gun: GUN, root, targets, snapshot, timestamp });
  builder.addTarget('targets', target, fileMetaFor(utf8Encode(target)));
  const files = await builder.sign({ nowMs: Date.now(), signers });
  assert.deepEqual([...files.keys()], ['targets'], 'the server makes snapshot and timestamp');
  return { files, version: builder.version('targets') };
}

const names = (bytes: Uint8Array) => [...parseTargets(bytes).signed.targets.keys()].sort();

test(
  'two trustdesk-server processes on one PostgreSQL: concurrent publishers, one valid chain',
  { timeout: 300_000 },
  async (t) => {
    if (!requireService(t, postgresAvailable(), 'PostgreSQL')) return;
    let pg: PostgresCluster | undefined;
    const replicas: RunningServer[] = [];
    try {
      pg = await startPostgres();
      const dbUrl = await pg.createDatabase();
      const config = (revalidateMs: number) => ({
        storage: { backend: 'postgres', db_url: dbUrl },
        trust_service: { type: 'local' },
        caching: { revalidate_ms: revalidateMs },
      });
      // Started together: they race the schema migration and the trust service's first start.
      replicas.push(
        ...(await Promise.all([
          startTrustdeskServer({ mode: 'process', config: config(A_REVALIDATE_MS) }),
          startTrustdeskServer({ mode: 'process', config: config(0) }),
        ])),
      );
      const [a, b] = replicas as [RunningServer, RunningServer];

      // The owner: root certificate and targets key here, snapshot and timestamp on the servers.
      const nowMs = Date.now();
      const { repo: owner, signers } = await serverManagedOwner(
        GUN,
        {
          snapshot: await a.client.serverKey(GUN, 'snapshot'),
          timestamp: await b.client.serverKey(GUN, 'timestamp'),
        },
        nowMs,
      );
      owner.addTarget('targets', 'initial', fileMetaFor(utf8Encode('initial')));
      const initial = await owner.sign({ nowMs, signers });
      const up = await a.client.upload(GUN, initial);
      assert.equal(up.status, 200, up.body.toString());

      const publishers = replicas.flatMap((srv, i) =>
        Array.from({ length: PUBLISHERS_PER_REPLICA }, (_, j) => ({
          name: `${'AB'[i]}${j}`,
          client: srv.client,
        })),
      );
      const attempt = async (p: (typeof publishers)[number], target: string) => {
        const { files, version } = await nextUpload(p.client, target, signers);
        const res = await p.client.upload(GUN, files);
        const body = res.body.toString();
        return { publisher: p.name, target, status: res.status, body, version };
      };
      const outcomes: Outcome[] = [];
      // Phase 1, in lockstep: everyone reads, then everyone uploads.
      for (let round = 1; round <= ROUNDS; round++) {
        const built = await Promise.all(
          publishers.map(async (p) => {
            const target = `round-${round}-by-${p.name}`;
            return { p, target, ...(await nextUpload(p.client, target, signers)) };
          }),
        );
        const results = await Promise.all(
          built.map(async ({ p, target, files, version }) => {
            const res = await p.client.upload(GUN, files);
            const body = res.body.toString();
            return { publisher: p.name, target, status: res.status, body, version };
          }),
        );
        outcomes.push(...results);
        assert.equal(
          results.filter((r) => r.status === 200).length,
          1,
          `round ${round}: exactly one publish lands\n${JSON.stringify(results, null, 1)}`,
        );
      }
      // Phase 2, free-running: reads and uploads of all publishers interleave.
      await Promise.all(
        publishers.map(async (p) => {
          for (let i = 1; i <= FREE_ATTEMPTS; i++)
            outcomes.push(await attempt(p, `free-${i}-by-${p.name}`));
        }),
      );

      // 200 or Go's conflict error, nothing else.
      for (const o of outcomes) {
        if (o.status === 200) continue;
        assert.equal(o.status, 400, `${o.publisher}: ${o.status} ${o.body}`);
        assert.equal(errorCode(o.body), 'VERSION');
        assert.equal(o.body, VERSION_BODY);
      }
      const landed = outcomes.filter((o) => o.status === 200);
      const final = landed.length + 1;
      const byVersion = new Map(landed.map((o) => [o.version, o.target]));
      assert.deepEqual(
        [...byVersion.keys()].sort((x, y) => x - y),
        Array.from({ length: landed.length }, (_, i) => i + 2),
        'each landed upload carried the next targets version, and no version landed twice',
      );
      t.diagnostic(
        `${outcomes.length} uploads: ${landed.length} landed, ${outcomes.length - landed.length} conflicts`,
      );

      // A's cache window passes (monotonic clock): both replicas now serve the same bytes.
      await sleep(A_REVALIDATE_MS * 2.5);
      for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
        assert.deepEqual(
          await a.client.metadata(GUN, role),
          await b.client.metadata(GUN, role),
          `${role}.json on both replicas`,
        );
      }
      const wantNames = ['initial', ...landed.map((o) => o.target)].sort();
      for (const srv of replicas) {
        const view = await verifyRepository(srv.client, GUN, Date.now());
        assert.deepEqual(
          view.set
            .listTargets()
            .map((x) => x.name)
            .sort(),
          wantNames,
        );
        assert.equal(view.set.targets?.signed.version, final);
        assert.equal(view.set.snapshot?.signed.version, final);
        assert.equal(view.set.timestamp?.signed.version, final);
      }

      // History: version v of timestamp → snapshot v → targets v, each adding one landed target.
      let previous: string[] = [];
      for (let v = 1; v <= final; v++) {
        const targets = await a.client.metadata(GUN, `${v}.targets`);
        assert.deepEqual(await b.client.metadata(GUN, `${v}.targets`), targets);
        const ts = parseTimestamp(await b.client.metadata(GUN, `${v}.timestamp`));
        const snapSha = toHex(ts.signed.meta.get('snapshot')?.hashes.sha256 as Uint8Array);
        const snapBytes = await a.client.metadata(GUN, `${v}.snapshot`);
        assert.equal(sha256Hex(snapBytes), snapSha, `timestamp v${v} names snapshot v${v}`);
        const targetsSha = parseSnapshot(snapBytes).signed.meta.get('targets')?.hashes.sha256;
        assert.equal(
          toHex(targetsSha as Uint8Array),
          sha256Hex(targets),
          `snapshot v${v} → targets v${v}`,
        );
        const now = names(targets);
        const added = now.filter((n) => !previous.includes(n));
        assert.ok(
          previous.every((n) => now.includes(n)),
          `targets v${v} keeps every earlier target`,
        );
        assert.deepEqual(
          added,
          [v === 1 ? 'initial' : (byVersion.get(v) as string)],
          `targets v${v}`,
        );
        previous = now;
      }
      for (const role of ['targets', 'snapshot', 'timestamp']) {
        const res = await b.client.fetchMetadata(GUN, `${final + 1}.${role}`);
        assert.equal(res.status, 404, `no ${role} beyond version ${final}`);
      }

      // The changefeed: one update per timestamp, in order, the same on both replicas.
      const feed = async (srv: RunningServer) => {
        const res = await srv.client.request('GET', `/v2/${GUN}/_trust/changefeed?records=100`);
        assert.equal(res.status, 200);
        return res.body.toString();
      };
      const feedA = await feed(a);
      assert.equal(await feed(b), feedA);
      const records = (JSON.parse(feedA) as { records: { Version: number; Category: string }[] })
        .records;
      assert.deepEqual(
        records.map((r) => [r.Category, r.Version]),
        Array.from({ length: final }, (_, i) => ['update', i + 1]),
      );

      for (const srv of replicas.splice(0)) assert.equal(await srv.stop(), 0, 'clean shutdown');
    } catch (e) {
      if (e instanceof Error)
        for (const [i, srv] of replicas.entries())
          e.message += `\n--- replica ${'AB'[i]} log ---\n${srv.log().slice(-3000)}`;
      throw e;
    } finally {
      await Promise.all(replicas.map((s) => s.stop()));
      await pg?.teardown();
    }
  },
);
