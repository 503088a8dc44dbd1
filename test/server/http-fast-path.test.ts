// The fast path (server/http/fast-path.ts) over real sockets: cached metadata GETs are answered
// before Fastify with exactly Fastify's answer (status, headers in order, bytes), counted in the
// metrics and logged once; whatever the cache cannot answer at once — a stale entry, an expired
// timestamp, HEAD, a request token auth refuses — still reaches Fastify.
// Which path answered is seen through a Fastify onRequest hook: the fast path never runs it.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createServer, type TrustdeskServer } from '../../server/app.js';
import { TokenIssuer } from '../../server/auth/issuer.js';
import { createLogger } from '../../server/log.js';
import { MemoryMetaStore } from '../../server/storage/memory.js';
import { type MetaStore } from '../../server/storage/types.js';
import { sha256Hex } from '../../src/tuf/encoding.js';
import { parseTimestamp } from '../../src/tuf/metadata.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { DAY_MS, Publisher, TestClock, localTrust, testConfig } from './http-support.js';

const GUN = 'example.com/app';
const TUF = `/v2/${GUN}/_trust/tuf`;
/** caching.revalidate_ms of the servers below. */
const REVALIDATE_MS = 1_000;

interface Answer {
  status: number;
  /** Raw header list without Date (which changes by the second). */
  headers: string[];
  body: Buffer;
}

interface Running {
  server: TrustdeskServer;
  clock: TestClock;
  port: number;
  /** Requests that reached Fastify so far. */
  fastify(): number;
  /** The `request` log lines so far. */
  requestLines(): Record<string, unknown>[];
  get(path: string, headers?: Record<string, string>, method?: string): Promise<Answer>;
  close(): Promise<void>;
}

async function start(
  config: Record<string, unknown> = {},
  clock = new TestClock(),
  store: MetaStore = new MemoryMetaStore(),
): Promise<Running> {
  const lines: string[] = [];
  const server = await createServer(
    testConfig({
      caching: { revalidate_ms: REVALIDATE_MS },
      logging: { level: 'info' },
      ...config,
    }),
    {
      store,
      trust: await localTrust(store),
      nowMs: clock.nowMs,
      monotonic: clock.monotonic,
      defaultMetrics: false,
      logger: createLogger({
        level: 'info',
        destination: { write: (s: string) => void lines.push(s) },
      }),
    },
  );
  let reached = 0;
  server.app.addHook('onRequest', (_req, _reply, done) => {
    reached++;
    done();
  });
  const { port } = await server.start();
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    new Promise<Answer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = res.rawHeaders;
          const kept: string[] = [];
          for (let i = 0; i < raw.length; i += 2)
            if (raw[i] !== 'Date') kept.push(raw[i] as string, raw[i + 1] as string);
          resolve({ status: res.statusCode ?? 0, headers: kept, body: Buffer.concat(chunks) });
        });
      });
      req.on('error', reject);
      req.end();
    });
  const running: Running = {
    server,
    clock,
    port,
    fastify: () => reached,
    requestLines: () =>
      lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request'),
    get,
    close: () => server.stop(),
  };
  return running;
}

/** GETs `path` twice after the cache entry went stale: Fastify, then the fast path. */
async function coldThenHot(
  s: Running,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ cold: Answer; hot: Answer }> {
  s.clock.mono += REVALIDATE_MS;
  const before = s.fastify();
  const cold = await s.get(path, headers);
  assert.equal(s.fastify(), before + 1, `${path}: a stale entry is answered by Fastify`);
  const hot = await s.get(path, headers);
  assert.equal(s.fastify(), before + 1, `${path}: then from the cache, before Fastify`);
  return { cold, hot };
}

const header = (a: Answer, name: string): string | undefined =>
  a.headers[a.headers.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === name) + 1];

describe('fast path', () => {
  let s: Running;
  let files: Map<string, Uint8Array>;
  before(async () => {
    s = await start();
    const p = await Publisher.init({ app: s.server.app, clock: s.clock }, GUN);
    p.addTarget('hello', 'hello world');
    assert.equal((await p.publish()).statusCode, 200);
    files = new Map();
    for (const role of ['root', 'targets', 'snapshot', 'timestamp']) {
      const f = await s.server.store.getLatest(GUN, role);
      assert.ok(f);
      files.set(role, f.data);
    }
  });
  after(() => s.close());

  test('answers cached metadata exactly as Fastify does, counted and logged once each', async () => {
    const targetsSha = sha256Hex(files.get('targets') as Uint8Array);
    const cases: { path: string; role: string; op: string; cc: string }[] = [
      ...['timestamp', 'snapshot', 'root', 'targets'].map((role) => ({
        path: `${TUF}/${role}.json`,
        role,
        op: 'GetRole',
        cc: 'public, max-age=300, s-maxage=300, must-revalidate',
      })),
      {
        path: `${TUF}/targets.json?cachebust=1`,
        role: 'targets',
        op: 'GetRole',
        cc: 'public, max-age=300, s-maxage=300, must-revalidate',
      },
      {
        path: `${TUF}/targets.${targetsSha}.json`,
        role: 'targets',
        op: 'GetRoleByHash',
        cc: 'public, max-age=2592000, s-maxage=2592000',
      },
      ...['1.root.json', '0001.root.json'].map((name) => ({
        path: `${TUF}/${name}`,
        role: 'root',
        op: 'GetRoleByVersion',
        cc: 'public, max-age=2592000, s-maxage=2592000',
      })),
    ];
    const counted = new Map<string, number>();
    for (const c of cases) {
      const lines = s.requestLines().length;
      const { cold, hot } = await coldThenHot(s, c.path);
      assert.equal(cold.status, 200, c.path);
      assert.deepEqual(new Uint8Array(cold.body), files.get(c.role), c.path);
      assert.equal(header(cold, 'cache-control'), c.cc, c.path);
      assert.deepEqual(hot, cold, `${c.path}: same status, headers (in order) and bytes`);
      const logged = s.requestLines().slice(lines);
      assert.equal(logged.length, 2, `${c.path}: one log line per request`);
      for (const line of logged) {
        assert.equal(line.method, 'GET');
        assert.equal(line.path, c.path.split('?')[0]);
        assert.equal(line.status, 200);
        assert.equal(typeof line.ms, 'number');
      }
      counted.set(c.op, (counted.get(c.op) ?? 0) + 2);
    }
    const metrics = (await s.get('/metrics')).body.toString();
    for (const [op, n] of counted) {
      assert.match(
        metrics,
        new RegExp(
          `notary_server_http_requests_total\\{operation="${op}",code="200",method="get"\\} ${n}\\n`,
        ),
      );
      assert.match(
        metrics,
        new RegExp(`notary_server_http_response_size_bytes_count\\{operation="${op}"\\} ${n}\\n`),
      );
    }
  });

  test('HEAD and a GUN with nothing stored go to Fastify', async () => {
    await coldThenHot(s, `${TUF}/root.json`);
    const before = s.fastify();
    const head = await s.get(`${TUF}/root.json`, {}, 'HEAD');
    assert.equal(head.status, 404);
    const missing = await s.get('/v2/example.com/none/_trust/tuf/root.json');
    assert.equal(missing.status, 404);
    assert.equal(s.fastify(), before + 2);
  });

  test('an expired timestamp in a fresh entry is re-signed by Fastify, then served fast', async () => {
    await coldThenHot(s, `${TUF}/timestamp.json`);
    s.clock.wall += 15 * DAY_MS; // the entry stays fresh: only the wall clock moves
    const before = s.fastify();
    const resigned = await s.get(`${TUF}/timestamp.json`);
    assert.equal(s.fastify(), before + 1, 'the fast path does not serve an expired timestamp');
    assert.equal(resigned.status, 200);
    const ts = parseTimestamp(new Uint8Array(resigned.body));
    assert.equal(ts.signed.version, 2);
    assert.ok(!ts.isExpired(s.clock.nowMs()));
    const again = await s.get(`${TUF}/timestamp.json`);
    assert.equal(s.fastify(), before + 1, 'the re-signed timestamp is then served fast');
    assert.deepEqual(again, resigned);
  });
});

describe('fast path with token auth', () => {
  let pki: TestPki;
  let open: Running;
  let s: Running;
  let issuer: TokenIssuer;
  before(async () => {
    pki = createTestPki();
    const signer = pki.issue('token-signer', 'token-signer', { usage: 'server' });
    issuer = new TokenIssuer({
      issuer: 'test-issuer',
      signingKeyPem: signer.key,
      certChainPem: signer.cert,
      users: { users: new Map(), anonymous: [] },
    });
    const clock = new TestClock();
    clock.wall = Date.now(); // the issuer signs with the real clock
    // Published through a server without auth on the same store.
    open = await start({}, clock);
    const p = await Publisher.init({ app: open.server.app, clock }, GUN);
    p.addTarget('a', 'a');
    assert.equal((await p.publish()).statusCode, 200);
    s = await start(
      {
        auth: {
          type: 'token',
          options: {
            realm: 'https://auth.example/token',
            service: 'notary',
            issuer: 'test-issuer',
            rootcertbundle: pki.ca.certFile,
          },
        },
      },
      clock,
      open.server.store,
    );
  });
  after(async () => {
    await s.close();
    await open.close();
    pki.dispose();
  });

  const bearer = async (name: string, actions: string[]) => ({
    authorization: `Bearer ${(await issuer.issue('alice', 'notary', [{ type: 'repository', name, actions }])).token}`,
  });

  test('only a token granting pull is answered fast; refusals are Fastify’s 401', async () => {
    const pull = await bearer(GUN, ['pull']);
    const { cold, hot } = await coldThenHot(s, `${TUF}/targets.json`, pull);
    assert.equal(cold.status, 200);
    assert.deepEqual(hot, cold);

    for (const [what, headers] of [
      ['no token', {}],
      ['a token for another GUN', await bearer('example.com/other', ['*'])],
      ['a token without pull', await bearer(GUN, ['push'])],
    ] as const) {
      const before = s.fastify();
      const res = await s.get(`${TUF}/targets.json`, headers);
      assert.equal(res.status, 401, what);
      assert.match(String(header(res, 'www-authenticate')), /^Bearer realm=/, what);
      assert.equal(s.fastify(), before + 1, `${what}: answered by Fastify`);
    }
  });
});
