// trustdesk-server's HTTP API against Go notary-server's (notary-protocol §4): every route,
// status codes, headers, the error envelope, changefeed parameters, key endpoints, GET-time
// re-signing, cache invalidation across two instances sharing one store, and a failing signer.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type LightMyRequestResponse } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryMetaStore } from '../../server/storage/memory.js';
import { openSqliteStore } from '../../server/storage/sqlite.js';
import {
  StorageError,
  StorageUnavailableError,
  type MetaStore,
} from '../../server/storage/types.js';
import { type TrustService } from '../../server/trust/types.js';
import { sha256Hex, utf8Encode } from '../../src/tuf/encoding.js';
import { parseRoot, parseSnapshot, parseTargets, parseTimestamp } from '../../src/tuf/metadata.js';
import { RepoBuilder } from '../../src/tuf/builder.js';
import { fileMetaFor } from '../../src/tuf/filemeta.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { createLogger } from '../../server/log.js';
import { TokenIssuer } from '../../server/auth/issuer.js';
import { createTestPki } from '../support/pki.js';
import {
  BOUNDARY,
  DAY_MS,
  Publisher,
  TestClock,
  errorOf,
  get,
  harness,
  localTrust,
  multipart,
  upload,
  type Harness,
} from './http-support.js';

const GUN = 'example.com/app';
const TUF = `/v2/${GUN}/_trust/tuf`;
const LAST_MODIFIED =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} UTC$/;
const CURRENT_CC = 'public, max-age=300, s-maxage=300, must-revalidate';
const CONSISTENT_CC = 'public, max-age=2592000, s-maxage=2592000';

function envelopeOf(code: string, message: string, detail?: string): string {
  return `{"errors":[{"code":"${code}","message":"${message}"${detail === undefined ? '' : `,"detail":${detail}`}}]}\n`;
}
const NOT_FOUND = envelopeOf(
  'METADATA_NOT_FOUND',
  'You have requested metadata that does not exist.',
);
const NOT_FOUND_EMPTY = envelopeOf(
  'METADATA_NOT_FOUND',
  'You have requested metadata that does not exist.',
  '{}',
);

async function stored(h: Harness, role: string): Promise<Uint8Array> {
  const f = await h.store.getLatest(GUN, role);
  assert.ok(f, `${role} is stored`);
  return f.data;
}

function assertMetadata(res: LightMyRequestResponse, bytes: Uint8Array, cc: string): void {
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(new Uint8Array(res.rawPayload), bytes);
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(res.headers['cache-control'], cc);
  assert.equal(res.headers.pragma, undefined);
  assert.match(String(res.headers['last-modified']), LAST_MODIFIED);
}

describe('routes of a published repository', () => {
  let h: Harness;
  let p: Publisher;
  before(async () => {
    h = await harness();
    p = await Publisher.init(h, GUN);
    p.addTarget('hello', 'hello world');
    const res = await p.publish();
    assert.equal(res.statusCode, 200, res.body);
  });
  after(() => h.close());

  test('GET /v2/ answers {} (the Go CLI ping)', async () => {
    const res = await get(h.app, '/v2/');
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '{}');
  });

  test('a successful upload answers 200 with an empty body and no content type', async () => {
    p.addTarget('second', 'two');
    const res = await p.publish();
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '');
    assert.equal(res.headers['content-type'], undefined);
  });

  test('current metadata: stored bytes verbatim with the current cache headers', async () => {
    for (const role of ['root', 'targets', 'snapshot', 'timestamp']) {
      assertMetadata(await get(h.app, `${TUF}/${role}.json`), await stored(h, role), CURRENT_CC);
    }
  });

  test('current snapshot is the one the current timestamp lists', async () => {
    const ts = parseTimestamp(await stored(h, 'timestamp'));
    const res = await get(h.app, `${TUF}/snapshot.json`);
    const sha = Buffer.from(ts.signed.meta.get('snapshot')?.hashes.sha256 ?? []).toString('hex');
    assert.equal(sha256Hex(new Uint8Array(res.rawPayload)), sha);
  });

  test('by checksum: lowercase sha256 only; 96/128 hex route but never match', async () => {
    const targets = await stored(h, 'targets');
    const sha = sha256Hex(targets);
    assertMetadata(await get(h.app, `${TUF}/targets.${sha}.json`), targets, CONSISTENT_CC);
    for (const path of [
      `targets.${sha.toUpperCase()}.json`,
      `targets.${'a'.repeat(96)}.json`,
      `targets.${'b'.repeat(128)}.json`,
      `targets.${'0'.repeat(64)}.json`,
      `root.${sha}.json`,
    ]) {
      const res = await get(h.app, `${TUF}/${path}`);
      assert.equal(res.statusCode, 404, path);
      assert.equal(res.body, NOT_FOUND_EMPTY, path);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(res.headers['cache-control'], undefined);
    }
  });

  test('by version: Go regex and Atoi (01 = 1, 0 and huge numbers are 404)', async () => {
    const v1 = await h.store.getByVersion(GUN, 'targets', 1);
    assert.ok(v1);
    assertMetadata(await get(h.app, `${TUF}/1.targets.json`), v1.data, CONSISTENT_CC);
    assertMetadata(await get(h.app, `${TUF}/01.targets.json`), v1.data, CONSISTENT_CC);
    assert.equal((await get(h.app, `${TUF}/0.targets.json`)).body, NOT_FOUND_EMPTY);
    assert.equal((await get(h.app, `${TUF}/99.targets.json`)).body, NOT_FOUND_EMPTY);
    const huge = await get(h.app, `${TUF}/99999999999999999999.root.json`);
    assert.equal(huge.statusCode, 404);
    assert.deepEqual(errorOf(huge).detail, { Func: 'Atoi', Num: '99999999999999999999', Err: {} });
  });

  test('HEAD, PUT and unknown paths fall to the catch-all 404; other methods get plain 404', async () => {
    for (const [method, url] of [
      ['GET', '/nothing/here'],
      ['GET', `${TUF}/targets.key`],
      ['PUT', `${TUF}/`],
      ['DELETE', `${TUF}/root.json`],
      ['POST', '/v2/'],
    ] as const) {
      const res = await h.app.inject({ method, url });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.body, NOT_FOUND, `${method} ${url}`);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    }
    const head = await h.app.inject({ method: 'HEAD', url: `${TUF}/root.json` });
    assert.equal(head.statusCode, 404);
    const patch = await h.app.inject({ method: 'PATCH', url: `${TUF}/root.json` });
    assert.equal(patch.statusCode, 404);
    assert.equal(patch.body, '404 page not found\n');
  });

  test('a role the snapshot does not list has no current file', async () => {
    const res = await get(h.app, `${TUF}/targets/nothing.json`);
    assert.equal(res.statusCode, 404);
    assert.equal(res.body, NOT_FOUND_EMPTY);
  });

  test('GET timestamp.key returns the key root lists; GET snapshot.key too', async () => {
    const root = p.builder.role('timestamp');
    const key = await Publisher.serverKey(h.app, GUN, 'timestamp');
    assert.deepEqual(root.keyids, [key.id]);
    const res = await get(h.app, `${TUF}/timestamp.key`);
    assert.match(
      res.body,
      /^\{"keytype":"ecdsa","keyval":\{"public":"[A-Za-z0-9+/=]+","private":null\}\}$/,
    );
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    const snap = await Publisher.serverKey(h.app, GUN, 'snapshot');
    assert.deepEqual(p.builder.role('snapshot').keyids, [snap.id]);
  });

  test('POST <role>.key creates a new key, rate-limited to one unused key', async () => {
    const rotate = () => h.app.inject({ method: 'POST', url: `${TUF}/timestamp.key` });
    const a = await rotate();
    const b = await rotate();
    assert.equal(a.statusCode, 200);
    assert.equal(a.body, b.body, 'a second rotation before use returns the same pending key');
    const current = await get(h.app, `${TUF}/timestamp.key`);
    assert.notEqual(a.body, current.body, 'GET still returns the key root lists');
  });

  test('the metrics count requests per Go operation', async () => {
    await get(h.app, `${TUF}/root.json`);
    const res = await get(h.app, '/metrics');
    assert.equal(res.statusCode, 200);
    assert.match(
      res.body,
      /notary_server_http_requests_total\{operation="GetRole",code="200",method="get"\} \d+/,
    );
    assert.match(
      res.body,
      /notary_server_http_request_duration_microseconds\{quantile="0.5",operation="GetRole"\}/,
    );
    assert.match(
      res.body,
      /notary_server_http_response_size_bytes_count\{operation="UpdateTUF"\} \d+/,
    );
    assert.doesNotMatch(res.body, /operation="Main"/, 'Go instruments only its eight operations');
  });

  test('health answers 200 {} when database and trust service work', async () => {
    const res = await get(h.app, '/_notary_server/health');
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '{}');
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  });
});

describe('uploads', () => {
  test('filename keeps its slashes, ".json" is stripped, field names and part order do not matter', async () => {
    const h = await harness();
    try {
      const p = await Publisher.init(h, GUN);
      p.addTarget('hello', 'hello');
      assert.equal((await p.publish()).statusCode, 200);
      const delegate = KeyObjectSigner.generate('ed25519');
      p.builder.addDelegation('targets/releases', [delegate.publicKey], ['']);
      p.addSigner('targets/releases', delegate);
      p.addTarget('v1', 'release one', 'targets/releases');
      const files = await p.sign();
      const parts = [...files].reverse().map(([role, body], i) => ({
        filename: role === 'targets' ? 'targets.json' : role,
        name: `field${i}`,
        body,
      }));
      assert.ok(parts.some((x) => x.filename === 'targets/releases'));
      const res = await h.app.inject({
        method: 'POST',
        url: `${TUF}/`,
        headers: { 'content-type': 'multipart/mixed; boundary=xyz' },
        payload: Buffer.concat([
          ...parts.flatMap((x) => [
            Buffer.from(
              `--xyz\r\nContent-Disposition: attachment; name="${x.name}"; filename="${x.filename}"\r\n\r\n`,
            ),
            Buffer.from(x.body),
            Buffer.from('\r\n'),
          ]),
          Buffer.from('--xyz--\r\n'),
        ]),
      });
      assert.equal(res.statusCode, 200, res.body);
      const rel = await get(h.app, `${TUF}/targets/releases.json`);
      assert.deepEqual(new Uint8Array(rel.rawPayload), files.get('targets/releases'));
      const sha = sha256Hex(files.get('targets/releases') as Uint8Array);
      assert.equal((await get(h.app, `${TUF}/targets/releases.${sha}.json`)).statusCode, 200);
    } finally {
      await h.close();
    }
  });

  test('a timestamp part is ignored: the server makes the timestamp', async () => {
    const h = await harness();
    try {
      const p = await Publisher.init(h, GUN);
      p.addTarget('a', 'a');
      const files = await p.sign();
      files.set('timestamp', files.get('targets') as Uint8Array);
      assert.equal((await upload(h.app, GUN, files)).statusCode, 200);
      const ts = parseTimestamp(await stored(h, 'timestamp'));
      assert.equal(ts.signed.version, 1);
    } finally {
      await h.close();
    }
  });

  test('a client-signed snapshot is stored as uploaded', async () => {
    const h = await harness();
    try {
      const p = await Publisher.init(h, GUN, { clientSnapshot: true });
      p.addTarget('a', 'a');
      const files = await p.sign();
      assert.ok(files.has('snapshot'));
      assert.equal((await upload(h.app, GUN, files)).statusCode, 200);
      assert.deepEqual(await stored(h, 'snapshot'), files.get('snapshot'));
    } finally {
      await h.close();
    }
  });
});

describe('DELETE and the changefeed', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
    for (const gun of ['a.example/one', 'b.example/two']) {
      const p = await Publisher.init(h, gun);
      p.addTarget('x', gun);
      assert.equal((await p.publish()).statusCode, 200);
      p.addTarget('y', gun);
      assert.equal((await p.publish()).statusCode, 200);
    }
    const del = await h.app.inject({ method: 'DELETE', url: '/v2/a.example/one/_trust/tuf/' });
    assert.equal(del.statusCode, 200);
    assert.equal(del.body, '');
  });
  after(() => h.close());

  test('a deleted GUN has no metadata', async () => {
    assert.equal((await get(h.app, '/v2/a.example/one/_trust/tuf/timestamp.json')).statusCode, 404);
    assert.equal((await get(h.app, '/v2/a.example/one/_trust/tuf/1.root.json')).statusCode, 404);
    assert.equal((await get(h.app, '/v2/b.example/two/_trust/tuf/root.json')).statusCode, 200);
  });

  interface Feed {
    count: number;
    records: {
      ID: string;
      GUN: string;
      Version: number;
      SHA256: string;
      Category: string;
      CreatedAt: string;
    }[];
  }
  const feed = async (url: string): Promise<Feed> => {
    const res = await get(h.app, url);
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return JSON.parse(res.body) as Feed;
  };

  test('records: Go field names and order, oldest first', async () => {
    const res = await get(h.app, '/v2/_trust/changefeed?records=10');
    const f = JSON.parse(res.body) as Feed;
    assert.equal(f.count, 5);
    assert.deepEqual(
      f.records.map((r) => [r.GUN, r.Version, r.Category]),
      [
        ['a.example/one', 1, 'update'],
        ['a.example/one', 2, 'update'],
        ['b.example/two', 1, 'update'],
        ['b.example/two', 2, 'update'],
        ['a.example/one', 0, 'deletion'],
      ],
    );
    assert.match(res.body, /^\{"count":5,"records":\[\{"ID":"\d+","CreatedAt":"[^"]+Z","GUN":/);
    const ts = await h.store.getByVersion('b.example/two', 'timestamp', 2);
    assert.equal(f.records[3]?.SHA256, ts?.sha256);
  });

  test('parameters: records required, 0 = 100, negative = before change_id, change_id exclusive', async () => {
    const all = (await feed('/v2/_trust/changefeed?records=0')).records.map((r) => r.ID);
    assert.equal(all.length, 5);
    const ids = async (q: string) =>
      (await feed(`/v2/_trust/changefeed?${q}`)).records.map((r) => r.ID);
    assert.deepEqual(await ids(`records=2&change_id=${all[0]}`), all.slice(1, 3));
    assert.deepEqual(await ids('records=-2'), all.slice(3));
    assert.deepEqual(await ids('records=2&change_id=-1'), all.slice(3));
    assert.deepEqual(await ids(`records=-2&change_id=${all[3]}`), all.slice(1, 3));
    assert.deepEqual(await ids(`records=10&change_id=${all[4]}`), []);
    assert.deepEqual(
      (await feed('/v2/b.example/two/_trust/changefeed?records=10')).records.map((r) => r.GUN),
      ['b.example/two', 'b.example/two'],
    );
  });

  test('bad parameters: Go strconv messages', async () => {
    const cases: [string, unknown][] = [
      ['', 'invalid records parameter: strconv.ParseInt: parsing "": invalid syntax'],
      ['records=abc', 'invalid records parameter: strconv.ParseInt: parsing "abc": invalid syntax'],
      ['records=1.5', 'invalid records parameter: strconv.ParseInt: parsing "1.5": invalid syntax'],
      [
        'records=2147483648',
        'invalid records parameter: strconv.ParseInt: parsing "2147483648": value out of range',
      ],
      ['records=1&change_id=x', {}],
      ['records=1&change_id=99999999999', {}],
    ];
    for (const [q, detail] of cases) {
      const res = await get(h.app, `/v2/_trust/changefeed?${q}`);
      assert.equal(res.statusCode, 400, q);
      assert.equal(errorOf(res).code, 'INVALID_PARAMETERS', q);
      assert.deepEqual(errorOf(res).detail, detail, q);
    }
  });
});

describe('configuration effects', () => {
  test('max_age 0 disables caching with Pragma: no-cache', async () => {
    const h = await harness({
      config: { caching: { max_age: { current_metadata: 0, consistent_metadata: '0' } } },
    });
    try {
      const p = await Publisher.init(h, GUN);
      p.addTarget('a', 'a');
      assert.equal((await p.publish()).statusCode, 200);
      for (const path of ['root.json', '1.root.json']) {
        const res = await get(h.app, `${TUF}/${path}`);
        assert.equal(res.headers['cache-control'], 'max-age=0, no-cache, no-store');
        assert.equal(res.headers.pragma, 'no-cache');
        assert.match(String(res.headers['last-modified']), LAST_MODIFIED);
      }
    } finally {
      await h.close();
    }
  });

  test('GUN prefixes: other GUNs are refused before anything else runs', async () => {
    const h = await harness({ config: { repositories: { gun_prefixes: ['allowed/', 'also/'] } } });
    try {
      const up = await upload(h.app, 'other/app', new Map([['root', new Uint8Array([1])]]));
      assert.equal(up.statusCode, 400);
      assert.deepEqual(errorOf(up), {
        code: 'INVALID_GUN',
        message: 'The server does not support actions on images of this name.',
        detail: 'Require GUNs with prefix: [allowed/ also/]',
      });
      for (const url of [
        '/v2/other/app/_trust/tuf/root.json',
        '/v2/other/app/_trust/tuf/timestamp.key',
        '/v2/other/app/_trust/changefeed?records=1',
      ]) {
        const res = await get(h.app, url);
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.body, NOT_FOUND, url);
      }
      assert.equal((await h.store.latestVersions('other/app')).size, 0);
      const p = await Publisher.init(h, 'allowed/app');
      p.addTarget('a', 'a');
      assert.equal((await p.publish()).statusCode, 200);
      assert.equal((await get(h.app, '/v2/_trust/changefeed?records=5')).statusCode, 200);
    } finally {
      await h.close();
    }
  });
});

describe('cache invalidation across two instances sharing one store', () => {
  test('B serves A’s upload once its entry is revalidated; A’s own cache at once', async () => {
    const store = new MemoryMetaStore();
    const trust = await localTrust(store);
    const clock = new TestClock();
    const a = await harness({ store, trust, clock });
    const b = await harness({ store, trust, clock });
    try {
      const p = await Publisher.init(a, GUN);
      p.addTarget('one', '1');
      assert.equal((await p.publish()).statusCode, 200);
      const v1 = await get(b.app, `${TUF}/targets.json`);
      assert.equal(v1.statusCode, 200);
      const ts1 = (await get(b.app, `${TUF}/timestamp.json`)).body;

      p.addTarget('two', '2');
      assert.equal((await p.publish()).statusCode, 200);
      const v2 = await stored(a, 'targets');
      assert.deepEqual(new Uint8Array((await get(a.app, `${TUF}/targets.json`)).rawPayload), v2);

      // Within revalidate_ms B may still serve its entry; never a mix of old and new.
      assert.equal((await get(b.app, `${TUF}/timestamp.json`)).body, ts1);
      assert.equal((await get(b.app, `${TUF}/targets.json`)).body, v1.body);

      clock.advance(251);
      assert.deepEqual(new Uint8Array((await get(b.app, `${TUF}/targets.json`)).rawPayload), v2);
      assert.deepEqual(
        new Uint8Array((await get(b.app, `${TUF}/timestamp.json`)).rawPayload),
        await stored(a, 'timestamp'),
      );

      // A delete through A: B stops serving after revalidation.
      await a.app.inject({ method: 'DELETE', url: `${TUF}/` });
      assert.equal((await get(a.app, `${TUF}/targets.json`)).statusCode, 404);
      clock.advance(251);
      assert.equal((await get(b.app, `${TUF}/targets.json`)).statusCode, 404);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('with revalidate_ms 0 every read sees the other instance’s write', async () => {
    const store = new MemoryMetaStore();
    const trust = await localTrust(store);
    const config = { caching: { revalidate_ms: 0 } };
    const a = await harness({ store, trust, config });
    const b = await harness({ store, trust, config });
    try {
      const p = await Publisher.init(a, GUN);
      for (let i = 0; i < 3; i++) {
        p.addTarget(`t${i}`, String(i));
        assert.equal((await p.publish()).statusCode, 200);
        assert.deepEqual(
          new Uint8Array((await get(b.app, `${TUF}/snapshot.json`)).rawPayload),
          new Uint8Array((await get(a.app, `${TUF}/snapshot.json`)).rawPayload),
        );
        assert.deepEqual(
          new Uint8Array((await get(b.app, `${TUF}/targets.json`)).rawPayload),
          await stored(a, 'targets'),
        );
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('two instances on one SQLite file (two processes’ worth of stores)', () => {
  test('B sees A’s publish; concurrent publishes through both: one lands, no fork', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustdesk-http-sqlite-'));
    const path = join(dir, 'server.db');
    const storeA = openSqliteStore({ path });
    const storeB = openSqliteStore({ path });
    const config = { caching: { revalidate_ms: 0 } };
    const a = await harness({ store: storeA, trust: await localTrust(storeA), config });
    const b = await harness({ store: storeB, trust: await localTrust(storeB), config });
    try {
      const p = await Publisher.init(a, GUN);
      p.addTarget('one', '1');
      assert.equal((await p.publish()).statusCode, 200);
      assert.equal(
        (await get(b.app, `${TUF}/targets.json`)).body,
        (await get(a.app, `${TUF}/targets.json`)).body,
      );

      const root = parseRoot((await storeA.getLatest(GUN, 'root'))?.data as Uint8Array);
      const targets = parseTargets((await storeA.getLatest(GUN, 'targets'))?.data as Uint8Array);
      const updates = await Promise.all(
        [0, 1, 2, 3].map(async (i) => {
          const builder = RepoBuilder.load({ gun: GUN, root, targets });
          builder.addTarget('targets', `c${i}`, fileMetaFor(utf8Encode(String(i))));
          return builder.sign({ nowMs: a.clock.nowMs(), signers: (r) => p.signersFor(r) });
        }),
      );
      const results = await Promise.all(
        updates.map((u, i) => upload(i % 2 ? b.app : a.app, GUN, u)),
      );
      const codes = results.map((r) => r.statusCode).sort();
      assert.deepEqual(codes, [200, 400, 400, 400]);
      const winner = updates[results.findIndex((r) => r.statusCode === 200)];
      for (const h of [a, b])
        assert.deepEqual(
          new Uint8Array((await get(h.app, `${TUF}/targets.json`)).rawPayload),
          winner?.get('targets'),
        );
      assert.equal((await storeB.latestVersions(GUN)).get('timestamp'), 2);
    } finally {
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GET-time re-signing (§5.3)', () => {
  test('an expired timestamp is re-signed once and the new one is stored and fed', async () => {
    const h = await harness();
    try {
      const p = await Publisher.init(h, GUN);
      p.addTarget('a', 'a');
      assert.equal((await p.publish()).statusCode, 200);
      const before = await stored(h, 'timestamp');
      h.clock.advance(15 * DAY_MS);
      const res = await get(h.app, `${TUF}/timestamp.json`);
      assert.equal(res.statusCode, 200);
      const ts = parseTimestamp(new Uint8Array(res.rawPayload));
      assert.equal(ts.signed.version, 2);
      assert.ok(!ts.isExpired(h.clock.nowMs()));
      assert.deepEqual(await stored(h, 'timestamp'), new Uint8Array(res.rawPayload));
      assert.equal(
        (await get(h.app, `${TUF}/timestamp.json`)).body,
        res.body,
        'not re-signed twice',
      );
      assert.notDeepEqual(before, new Uint8Array(res.rawPayload));
      const feed = JSON.parse(
        (await get(h.app, `/v2/${GUN}/_trust/changefeed?records=-1`)).body,
      ) as {
        records: { Version: number }[];
      };
      assert.equal(feed.records[0]?.Version, 2);
    } finally {
      await h.close();
    }
  });

  test('an expired server-held snapshot is re-signed with the timestamp', async () => {
    const h = await harness();
    try {
      const p = await Publisher.init(h, GUN);
      p.addTarget('a', 'a');
      assert.equal((await p.publish()).statusCode, 200);
      h.clock.advance(4 * 365 * DAY_MS);
      // The root (10 years) is still valid; snapshot (3 years) and timestamp have expired.
      const res = await get(h.app, `${TUF}/snapshot.json`);
      assert.equal(res.statusCode, 200);
      const snap = parseSnapshot(new Uint8Array(res.rawPayload));
      assert.equal(snap.signed.version, 2);
      assert.ok(!snap.isExpired(h.clock.nowMs()));
      const ts = parseTimestamp(await stored(h, 'timestamp'));
      assert.equal(ts.signed.version, 2);
    } finally {
      await h.close();
    }
  });

  test('two replicas re-signing at once: one stores, both serve the winner', async () => {
    const store = new MemoryMetaStore();
    const trust = await localTrust(store);
    const clock = new TestClock();
    const a = await harness({ store, trust, clock });
    const b = await harness({ store, trust, clock });
    try {
      const p = await Publisher.init(a, GUN);
      p.addTarget('a', 'a');
      assert.equal((await p.publish()).statusCode, 200);
      clock.advance(15 * DAY_MS);
      const [ra, rb] = await Promise.all([
        get(a.app, `${TUF}/timestamp.json`),
        get(b.app, `${TUF}/timestamp.json`),
      ]);
      assert.equal(ra.statusCode, 200);
      assert.equal(rb.statusCode, 200);
      assert.equal(ra.body, rb.body);
      assert.equal(parseTimestamp(new Uint8Array(ra.rawPayload)).signed.version, 2);
      assert.equal(await store.getByVersion(GUN, 'timestamp', 3), undefined);
      assert.deepEqual(await stored(a, 'timestamp'), new Uint8Array(ra.rawPayload));
    } finally {
      await a.close();
      await b.close();
    }
  });
});

/** A trust service whose signer is down: key lookups work from cache, signing fails. */
function downSigner(real: TrustService): TrustService {
  const down = new Error('rpc error: code = Unavailable desc = connection refused');
  return {
    type: 'remote',
    keyAlgorithm: real.keyAlgorithm,
    createKey: () => Promise.reject(down),
    getKey: () => Promise.reject(down),
    signers: () => Promise.reject(down),
    check: () => Promise.reject(down),
    close: () => Promise.resolve(),
  };
}

describe('signer down', () => {
  test('reads keep working, uploads fail with a clear error, health reports it', async () => {
    const store = new MemoryMetaStore();
    const trust = await localTrust(store);
    const clock = new TestClock();
    const up = await harness({ store, trust, clock });
    const down = await harness({ store, trust: downSigner(trust), clock });
    try {
      const p = await Publisher.init(up, GUN);
      p.addTarget('a', 'a');
      assert.equal((await p.publish()).statusCode, 200);

      for (const role of ['root', 'targets', 'snapshot', 'timestamp'])
        assert.equal((await get(down.app, `${TUF}/${role}.json`)).statusCode, 200, role);

      const health = await get(down.app, '/_notary_server/health');
      assert.equal(health.statusCode, 503);
      assert.deepEqual(JSON.parse(health.body), {
        'Trust operational': 'rpc error: code = Unavailable desc = connection refused',
      });

      p.addTarget('b', 'b');
      const res = await upload(down.app, GUN, await p.sign());
      assert.equal(res.statusCode, 400);
      assert.deepEqual(errorOf(res).detail, {
        Name: 'ErrValidation',
        Error: { Msg: 'rpc error: code = Unavailable desc = connection refused' },
      });
      assert.equal(parseTimestamp(await stored(up, 'timestamp')).signed.version, 1);

      const key = await get(down.app, `${TUF}/timestamp.key`);
      assert.equal(key.statusCode, 500);
      assert.deepEqual(errorOf(key), { code: 'UNKNOWN', message: 'unknown error', detail: {} });

      // An expired timestamp cannot be re-signed: the stored one is served (the client then
      // reports it expired) rather than a 5xx that the Go client would take for "offline".
      clock.advance(15 * DAY_MS);
      const ts = await get(down.app, `${TUF}/timestamp.json`);
      assert.equal(ts.statusCode, 200);
      assert.deepEqual(new Uint8Array(ts.rawPayload), await stored(up, 'timestamp'));
    } finally {
      await up.close();
      await down.close();
    }
  });
});

describe('request log', () => {
  test('one line per request: method, path, status, latency — no query, no credentials', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: { write: (s: string) => void lines.push(s) },
    });
    const h = await harness({ deps: { logger } });
    try {
      await h.app.inject({
        method: 'GET',
        url: '/v2/_trust/changefeed?records=1&token=querysecret',
        headers: { authorization: 'Bearer headersecret' },
      });
      const reqLines = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'request');
      assert.equal(reqLines.length, 1);
      const line = reqLines[0] as Record<string, unknown>;
      assert.equal(line.method, 'GET');
      assert.equal(line.path, '/v2/_trust/changefeed');
      assert.equal(line.status, 200);
      assert.equal(typeof line.ms, 'number');
      assert.ok(!lines.join('').includes('secret'));
    } finally {
      await h.close();
    }
  });
});

describe('token auth', () => {
  test('401 with Go’s challenge, the actions each route needs, open health and metrics', async () => {
    const pki = createTestPki();
    const signer = pki.issue('token-signer', 'token-signer', { usage: 'server' });
    const issuer = new TokenIssuer({
      issuer: 'test-issuer',
      signingKeyPem: signer.key,
      certChainPem: signer.cert,
      users: { users: new Map(), anonymous: [] },
    });
    const clock = new TestClock();
    clock.wall = Date.now();
    const h = await harness({
      clock,
      config: {
        auth: {
          type: 'token',
          options: {
            realm: 'https://auth.example/token',
            service: 'notary',
            issuer: 'test-issuer',
            rootcertbundle: pki.ca.certFile,
          },
        },
        repositories: { gun_prefixes: ['example.com/'] },
      },
    });
    const token = async (actions: string[], name = GUN) =>
      `Bearer ${(await issuer.issue('alice', 'notary', [{ type: 'repository', name, actions }])).token}`;
    const req = (method: 'GET' | 'POST' | 'DELETE', url: string, authorization?: string) =>
      h.app.inject({ method, url, headers: authorization ? { authorization } : {} });
    try {
      const ping = await req('GET', '/v2/');
      assert.equal(ping.statusCode, 401);
      assert.equal(
        ping.headers['www-authenticate'],
        'Bearer realm="https://auth.example/token",service="notary",scope="registry:catalog:*"',
      );
      assert.equal(errorOf(ping).code, 'UNAUTHORIZED');

      const noToken = await req('GET', `${TUF}/root.json`);
      assert.equal(noToken.statusCode, 401);
      assert.equal(
        noToken.headers['www-authenticate'],
        `Bearer realm="https://auth.example/token",service="notary",scope="repository:${GUN}:pull"`,
      );
      assert.deepEqual(errorOf(noToken).detail, [
        { Type: 'repository', Class: '', Name: GUN, Action: 'pull' },
      ]);

      const pull = await token(['pull']);
      assert.equal((await req('GET', `${TUF}/root.json`, pull)).statusCode, 404, 'authorized');
      const pushOnly = await req('POST', `${TUF}/timestamp.key`, pull);
      assert.equal(pushOnly.statusCode, 401);
      assert.match(String(pushOnly.headers['www-authenticate']), /error="insufficient_scope"/);
      assert.equal(
        (await req('GET', `${TUF}/timestamp.key`, await token(['push', 'pull']))).statusCode,
        200,
      );
      assert.equal((await req('DELETE', `${TUF}/`, await token(['*']))).statusCode, 200);
      const other = await token(['*'], 'example.com/other');
      assert.equal((await req('GET', `${TUF}/root.json`, other)).statusCode, 401);

      // The prefix filter runs before auth, as in Go; health and metrics need nothing.
      assert.equal((await req('GET', '/v2/elsewhere/x/_trust/tuf/root.json')).statusCode, 404);
      assert.equal((await req('GET', '/_notary_server/health')).statusCode, 200);
      assert.equal((await req('GET', '/metrics')).statusCode, 200);
    } finally {
      await h.close();
      pki.dispose();
    }
  });
});

/** The store with `getLatest` failing as given (the database going away). */
function failingReads(inner: MetaStore, error: () => Error): MetaStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'getLatest' || prop === 'check') return () => Promise.reject(error());
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('database failures', () => {
  test('unreachable: 503 UNAVAILABLE and health names the DB; other failures: 500 UNKNOWN', async () => {
    const store = new MemoryMetaStore();
    const trust = await localTrust(store);
    const down = await harness({
      store: failingReads(store, () => new StorageUnavailableError('connect ECONNREFUSED')),
      trust,
    });
    const broken = await harness({
      store: failingReads(store, () => new StorageError('relation "tuf_files" does not exist')),
      trust,
    });
    try {
      const res = await get(down.app, `${TUF}/timestamp.json`);
      assert.equal(res.statusCode, 503);
      assert.equal(errorOf(res).code, 'UNAVAILABLE');
      const health = await get(down.app, '/_notary_server/health');
      assert.equal(health.statusCode, 503);
      assert.deepEqual(JSON.parse(health.body), { 'DB operational': 'connect ECONNREFUSED' });
      const other = await get(broken.app, `${TUF}/root.json`);
      assert.equal(other.statusCode, 500);
      assert.deepEqual(errorOf(other), { code: 'UNKNOWN', message: 'unknown error', detail: {} });
      assert.ok(!other.body.includes('tuf_files'), 'database errors are logged, not sent');
      const up = await upload(
        broken.app,
        GUN,
        new Map([['root', new Uint8Array(Buffer.from('{}'))]]),
      );
      assert.equal(up.statusCode, 500);
      assert.equal(errorOf(up).code, 'UPDATING');
    } finally {
      await down.close();
      await broken.close();
    }
  });
});

describe('graceful shutdown', () => {
  test('stop() lets an in-flight upload finish, then closes; new connections are refused', async () => {
    const store = new MemoryMetaStore();
    const real = await localTrust(store);
    let release: () => void = () => undefined;
    let entered: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const reached = new Promise<void>((r) => (entered = r));
    let holdNext = false;
    const trust: TrustService = {
      type: real.type,
      keyAlgorithm: real.keyAlgorithm,
      createKey: (g, r, a) => real.createKey(g, r, a),
      getKey: (id) => real.getKey(id),
      signers: async (ids) => {
        if (holdNext) {
          holdNext = false;
          entered();
          await gate;
        }
        return real.signers(ids);
      },
      check: () => real.check(),
      close: () => real.close(),
    };
    const h = await harness({ store, trust });
    const { port } = await h.server.start();
    const p = await Publisher.init(h, GUN);
    p.addTarget('a', 'a');
    const files = await p.sign();
    holdNext = true;
    const inflight = fetch(`http://127.0.0.1:${port}${TUF}/`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: multipart([...files].map(([role, body]) => ({ filename: role, body }))),
    });
    await reached;
    let stopped = false;
    const stopping = h.close().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, 'stop waits for the in-flight request');
    release();
    const res = await inflight;
    assert.equal(res.status, 200);
    await stopping;
    const ts = await store.getLatest(GUN, 'timestamp');
    assert.equal(ts && parseTimestamp(ts.data).signed.version, 1);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/v2/`));
  });
});
