// The remote store through the real HTTP stack against the hostile server: URL building, Go's
// status mapping (§4.11), size caps while streaming, timeouts, retries (GET only), abort, the
// ping/offline rule (§7.14), the token flow (§4.9), the multipart upload (§4.2), key
// endpoints, TLS and proxies. No test depends on timing: slow and stalled bodies run against
// small configured timeouts and only the resulting error is asserted.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { type ErrorCode } from '../../src/tuf/errors.js';
import { sha256Hex, utf8Encode } from '../../src/tuf/encoding.js';
import { type RemoteError } from '../../src/client/remote/errors.js';
import { multipartMetadata } from '../../src/client/remote/multipart.js';
import { parseChallenges, parseTokenResponse } from '../../src/client/remote/auth.js';
import {
  RemoteServer,
  checkMetadataName,
  type RemoteEvent,
  type RemoteServerOptions,
} from '../../src/client/remote/remote-store.js';
import {
  HostileServer,
  type AuthOptions,
  type HostileServerOptions,
  type Misbehaviour,
} from '../support/hostile-server.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { RepoSim } from '../support/repo-sim.js';

const GUN = 'example.com/remote';
let sim: RepoSim;

before(async () => {
  sim = await RepoSim.create({ gun: GUN });
  sim.addTarget('hello', 'hello world');
  sim.addDelegation('targets/releases');
  await sim.publish();
});

interface Rig {
  srv: HostileServer;
  server: RemoteServer;
  events: RemoteEvent[];
}

const FAST: Partial<RemoteServerOptions> = { retry: { baseDelayMs: 0, maxDelayMs: 0 } };

async function rig(
  opts: Partial<RemoteServerOptions> = {},
  srvOpts: Partial<HostileServerOptions> = {},
): Promise<Rig> {
  const srv = await HostileServer.start({ sim, ...srvOpts });
  const events: RemoteEvent[] = [];
  const server = new RemoteServer({
    url: srv.url,
    ...FAST,
    ...opts,
    onEvent: (e) => events.push(e),
  });
  return { srv, server, events };
}

async function done(r: Rig): Promise<void> {
  await r.server.close();
  await r.srv.close();
}

/** Awaits the rejection and checks its code; returns the error for further checks. */
async function refused(p: Promise<unknown>, code: ErrorCode): Promise<RemoteError> {
  try {
    await p;
  } catch (e) {
    assert.equal((e as RemoteError).code, code, `expected ${code}, got ${(e as Error).message}`);
    return e as RemoteError;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

const envelope = (code: string, detail: unknown = {}): string =>
  JSON.stringify({ errors: [{ code, message: 'm', detail }] }) + '\n';

describe('requests and URLs', () => {
  test('GET <url>/v2/<gun>/_trust/tuf/<name>.json by plain concatenation, under a path prefix', async () => {
    const r = await rig({}, { prefix: '/notary/v0' });
    try {
      assert.match(r.server.url, /\/notary\/v0$/);
      const repo = r.server.repository(GUN, 'pull');
      const sum = sha256Hex(sim.current('targets'));
      assert.deepEqual(await repo.getMetadata(`targets.${sum}`, 1 << 20), sim.current('targets'));
      assert.deepEqual(
        await repo.getMetadata('targets/releases', 1 << 20),
        sim.current('targets/releases'),
      );
      assert.deepEqual(
        r.srv.requests.map((q) => `${q.method} ${q.path}`),
        [
          'GET /v2/',
          `GET /v2/${GUN}/_trust/tuf/targets.${sum}.json`,
          `GET /v2/${GUN}/_trust/tuf/targets/releases.json`,
        ],
      );
    } finally {
      await done(r);
    }
  });

  test('bad GUNs and file names are refused before any request', async () => {
    const r = await rig();
    try {
      for (const gun of [
        '../etc',
        '/abs',
        'a//b',
        'a/./b',
        'nul\0x',
        'sp ace',
        'q?x',
        'h#x',
        'p%2e',
        'st*r',
        '',
      ]) {
        assert.throws(() => r.server.repository(gun, 'pull'), { code: 'ERR_BAD_GUN' }, gun);
      }
      const repo = r.server.repository(GUN, 'pull');
      for (const name of [
        '../root',
        'root/../x',
        'Root',
        'targets//x',
        '2.root.' + 'a'.repeat(64),
        'x',
      ]) {
        assert.throws(() => checkMetadataName(name), { code: 'ERR_BAD_ROLE' }, name);
        await refused(repo.getMetadata(name, 100), 'ERR_BAD_ROLE');
      }
      for (const name of [
        'root',
        '3.root',
        'timestamp',
        'targets/a/b',
        'snapshot.' + 'ab'.repeat(32),
      ])
        assert.equal(checkMetadataName(name), name);
      assert.deepEqual(r.srv.requests, []);
    } finally {
      await done(r);
    }
  });
});

describe('status mapping (Go storage/httpstore.go)', () => {
  const cases: Array<{ status: number; file?: string; body?: string; code: ErrorCode }> = [
    { status: 201, code: 'ERR_SERVER_UNAVAILABLE' }, // only 200 is success
    { status: 204, code: 'ERR_SERVER_UNAVAILABLE' },
    { status: 301, code: 'ERR_SERVER_UNAVAILABLE' }, // redirects are not followed
    { status: 403, code: 'ERR_SERVER_UNAVAILABLE' },
    { status: 401, code: 'ERR_UNAUTHORIZED' },
    { status: 404, code: 'ERR_NOT_FOUND' },
    { status: 404, file: 'root.json', code: 'ERR_REPO_NOT_FOUND' },
    { status: 404, file: '7.root.json', code: 'ERR_REPO_NOT_FOUND' },
    { status: 404, file: `root.${'c'.repeat(64)}.json`, code: 'ERR_REPO_NOT_FOUND' },
    { status: 400, body: 'not json', code: 'ERR_SERVER_REJECTED' },
    { status: 500, code: 'ERR_SERVER_UNAVAILABLE' },
    { status: 503, code: 'ERR_SERVER_UNAVAILABLE' },
  ];
  for (const c of cases) {
    const file = c.file ?? 'timestamp.json';
    test(`GET ${file} → HTTP ${c.status} → ${c.code}`, async () => {
      const r = await rig({ retry: { attempts: 1 } });
      try {
        r.srv.when(file, { kind: 'status', status: c.status, body: c.body ?? '' });
        const err = await refused(
          r.server.repository(GUN, 'pull').getMetadata(file.slice(0, -5), 1 << 20),
          c.code,
        );
        assert.equal(err.status, c.status);
        assert.equal(err.resource, file);
      } finally {
        await done(r);
      }
    });
  }

  const rejections: Array<{
    name: string;
    body: string;
    code: ErrorCode;
    check?: (e: RemoteError) => void;
  }> = [
    {
      name: 'ErrBadRoot',
      body: envelope('INVALID_UPDATE', { Name: 'ErrBadRoot', Error: { Msg: 'no valid leaf' } }),
      code: 'ERR_BAD_ROOT',
      check: (e) => {
        assert.equal(e.server?.name, 'ErrBadRoot');
        assert.match(e.message, /no valid leaf/);
      },
    },
    {
      name: 'ErrBadHierarchy (Missing)',
      body: envelope('INVALID_UPDATE', {
        Name: 'ErrBadHierarchy',
        Error: { Missing: 'snapshot', Msg: 'no snapshot was included' },
      }),
      code: 'ERR_BAD_HIERARCHY',
      check: (e) => assert.equal(e.server?.missing, 'snapshot'),
    },
    {
      name: 'ErrBadTargets',
      body: envelope('INVALID_UPDATE', { Name: 'ErrBadTargets', Error: { Msg: 'bad sig' } }),
      code: 'ERR_VALIDATION',
      check: (e) => assert.equal(e.server?.name, 'ErrBadTargets'),
    },
    {
      name: 'ErrBadSnapshot',
      body: envelope('INVALID_UPDATE', { Name: 'ErrBadSnapshot', Error: { Msg: 'x' } }),
      code: 'ERR_VALIDATION',
    },
    {
      name: 'ErrValidation',
      body: envelope('INVALID_UPDATE', { Name: 'ErrValidation', Error: { Msg: 'no root' } }),
      code: 'ERR_VALIDATION',
    },
    { name: 'VERSION', body: envelope('VERSION'), code: 'ERR_VERSION_CONFLICT' },
    {
      name: 'MALFORMED_UPLOAD',
      body: envelope('MALFORMED_UPLOAD', null),
      code: 'ERR_SERVER_REJECTED',
      check: (e) => assert.equal(e.server?.code, 'MALFORMED_UPLOAD'),
    },
    {
      name: 'an unknown detail name',
      body: envelope('INVALID_UPDATE', { Name: 'ErrOther', Error: { Msg: 'x' } }),
      code: 'ERR_SERVER_REJECTED',
    },
    {
      name: 'two errors',
      body: JSON.stringify({ errors: [{ code: 'VERSION' }, { code: 'VERSION' }] }),
      code: 'ERR_SERVER_REJECTED',
    },
    {
      // Go reads at most 1 KiB of an error body; a longer one is not decoded.
      name: 'an envelope longer than 1 KiB',
      body: JSON.stringify({
        errors: [{ code: 'VERSION', message: 'x'.repeat(1100), detail: {} }],
      }),
      code: 'ERR_SERVER_REJECTED',
    },
  ];
  for (const c of rejections) {
    test(`upload answered 400 with ${c.name} → ${c.code}`, async () => {
      const r = await rig();
      try {
        r.srv.when('', { kind: 'status', status: 400, body: c.body }, { method: 'POST' });
        const e = await refused(
          r.server.repository(GUN, 'push').upload(new Map([['targets', sim.current('targets')]])),
          c.code,
        );
        assert.equal(e.status, 400);
        c.check?.(e);
      } finally {
        await done(r);
      }
    });
  }
});

describe('size caps and broken bodies', () => {
  test('a body of exactly the cap is accepted; one byte more is refused while streaming', async () => {
    const r = await rig();
    try {
      const repo = r.server.repository(GUN, 'pull');
      const bytes = sim.current('timestamp');
      assert.deepEqual(await repo.getMetadata('timestamp', bytes.length), bytes);
      const e = await refused(repo.getMetadata('timestamp', bytes.length - 1), 'ERR_TOO_LARGE');
      assert.equal(e.duringBody, true);
    } finally {
      await done(r);
    }
  });

  test('a Content-Length above the cap is refused before the body is read', async () => {
    const r = await rig();
    try {
      // The body that follows is short and the socket then dies: reading it would give a
      // network error, so ERR_TOO_LARGE proves the header alone decided.
      r.srv.when('timestamp.json', { kind: 'content-length', length: 2048 });
      const e = await refused(
        r.server.repository(GUN, 'pull').getMetadata('timestamp', 1024),
        'ERR_TOO_LARGE',
      );
      assert.match(e.message, /announced 2048 bytes/);
    } finally {
      await done(r);
    }
  });

  test('an endless chunked body stops at the cap, without retries', async () => {
    const r = await rig();
    try {
      r.srv.when(/^snapshot\./, { kind: 'endless' });
      const sum = sha256Hex(sim.current('snapshot'));
      await refused(
        r.server.repository(GUN, 'pull').getMetadata(`snapshot.${sum}`, 4 * 1024 * 1024),
        'ERR_TOO_LARGE',
      );
      assert.equal(r.srv.files().length, 1);
    } finally {
      await done(r);
    }
  });

  // Broken bodies and headers on GET timestamp.json: the error code, whether it came during the
  // body, and (where given) how many requests the server saw.
  const broken: Array<{
    name: string;
    opts: Partial<RemoteServerOptions>;
    behaviour: Misbehaviour;
    code: ErrorCode;
    duringBody: boolean;
    requests?: number;
  }> = [
    {
      name: 'a truncated body is a network error during the body, not retried',
      opts: {},
      behaviour: { kind: 'truncated' },
      code: 'ERR_NETWORK',
      duringBody: true,
      requests: 1,
    },
    {
      name: 'a drip-fed body is cut off by the overall deadline',
      opts: { timeouts: { requestMs: 200 } },
      behaviour: { kind: 'slow', chunkBytes: 1, intervalMs: 20 },
      code: 'ERR_TIMEOUT',
      duringBody: true,
    },
    {
      name: 'a stalled body is cut off by the idle timeout',
      opts: { timeouts: { bodyIdleMs: 100 } },
      behaviour: { kind: 'slow', chunkBytes: 10, intervalMs: 600_000 },
      code: 'ERR_TIMEOUT',
      duringBody: true,
    },
    {
      name: 'missing headers hit the headers timeout (then GETs are retried)',
      opts: { timeouts: { headersMs: 100 }, retry: { attempts: 2, baseDelayMs: 0 } },
      behaviour: { kind: 'hang' },
      code: 'ERR_TIMEOUT',
      duringBody: false,
      requests: 2,
    },
  ];
  for (const c of broken) {
    test(c.name, async () => {
      const r = await rig(c.opts);
      try {
        r.srv.when('timestamp.json', c.behaviour);
        const e = await refused(
          r.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20),
          c.code,
        );
        assert.equal(e.duringBody, c.duringBody);
        if (c.requests !== undefined) assert.equal(r.srv.files().length, c.requests);
      } finally {
        await done(r);
      }
    });
  }
});

describe('retries only for idempotent GETs', () => {
  test('GET: 5xx and resets are retried with backoff until success', async () => {
    const r = await rig({ retry: { attempts: 3, baseDelayMs: 0 } });
    try {
      r.srv.when('timestamp.json', { kind: 'status', status: 503 }, { times: 1 });
      r.srv.when('timestamp.json', { kind: 'reset' }, { times: 1 });
      const bytes = await r.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20);
      assert.deepEqual(bytes, sim.current('timestamp'));
      assert.deepEqual(r.srv.files(), ['timestamp.json', 'timestamp.json', 'timestamp.json']);
      const retries = r.events.filter((e) => e.type === 'retry');
      assert.deepEqual(
        retries.map((e) => (e.type === 'retry' ? e.reason : '')),
        ['HTTP 503', 'ERR_NETWORK'],
      );
    } finally {
      await done(r);
    }
  });

  const notRetried: Array<{ name: string; status: number; code: ErrorCode; requests: number }> = [
    {
      name: 'GET: gives up after the configured attempts',
      status: 502,
      code: 'ERR_SERVER_UNAVAILABLE',
      requests: 3,
    },
    { name: 'GET: 4xx is never retried', status: 404, code: 'ERR_NOT_FOUND', requests: 1 },
  ];
  for (const c of notRetried) {
    test(c.name, async () => {
      const r = await rig({ retry: { attempts: 3, baseDelayMs: 0 } });
      try {
        r.srv.when('timestamp.json', { kind: 'status', status: c.status });
        await refused(r.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20), c.code);
        assert.equal(r.srv.files().length, c.requests);
      } finally {
        await done(r);
      }
    });
  }

  const once: Array<{ name: string; run: (r: Rig) => Promise<unknown>; method: string }> = [
    {
      name: 'upload (POST)',
      method: 'POST',
      run: (r) => r.server.repository(GUN, 'push').upload(new Map([['root', sim.current('root')]])),
    },
    {
      name: 'delete (DELETE)',
      method: 'DELETE',
      run: (r) => r.server.repository(GUN, 'admin').deleteAll(),
    },
    {
      name: 'rotate key (POST)',
      method: 'POST',
      run: (r) => r.server.repository(GUN, 'admin').rotateKey('snapshot'),
    },
  ];
  for (const c of once) {
    for (const b of [{ kind: 'status', status: 503 } as const, { kind: 'reset' } as const]) {
      test(`${c.name} is sent exactly once on ${b.kind === 'reset' ? 'a reset' : 'HTTP 503'}`, async () => {
        const r = await rig({ retry: { attempts: 5, baseDelayMs: 0 } });
        try {
          r.srv.when(() => true, b, { method: c.method });
          await refused(c.run(r), b.kind === 'reset' ? 'ERR_NETWORK' : 'ERR_SERVER_UNAVAILABLE');
          assert.equal(r.srv.requests.filter((q) => q.method === c.method).length, 1);
          assert.equal(r.events.filter((e) => e.type === 'retry').length, 0);
        } finally {
          await done(r);
        }
      });
    }
  }
});

describe('cancellation', () => {
  test('an AbortSignal cancels a request in flight', async () => {
    const r = await rig();
    try {
      const ac = new AbortController();
      r.srv.when(
        (q) => {
          if (q.file !== 'timestamp.json') return false;
          ac.abort(); // the request has reached the server
          return true;
        },
        { kind: 'hang' },
      );
      await refused(
        r.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20, ac.signal),
        'ERR_ABORTED',
      );
    } finally {
      await done(r);
    }
  });

  test('an already aborted signal sends nothing', async () => {
    const r = await rig();
    try {
      const repo = r.server.repository(GUN, 'push');
      await repo.getMetadata('root', 1 << 20); // ping done
      const before = r.srv.requests.length;
      const signal = AbortSignal.abort();
      await refused(repo.getMetadata('timestamp', 1 << 20, signal), 'ERR_ABORTED');
      await refused(repo.upload(new Map([['root', sim.current('root')]]), signal), 'ERR_ABORTED');
      assert.equal(r.srv.requests.length, before);
    } finally {
      await done(r);
    }
  });
});

describe('ping and offline mode (§7.14)', () => {
  const cases: Array<{ status: number; online: boolean }> = [
    { status: 200, online: true },
    { status: 204, online: true },
    { status: 401, online: true },
    { status: 404, online: false },
    { status: 500, online: false },
  ];
  for (const c of cases) {
    test(`GET /v2/ answered ${c.status} → ${c.online ? 'online' : 'offline'}`, async () => {
      const r = await rig();
      try {
        r.srv.when((q) => q.path === '/v2/', { kind: 'status', status: c.status });
        const ping = await r.server.ping();
        assert.equal(ping.online, c.online);
        const get = r.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20);
        if (c.online) assert.deepEqual(await get, sim.current('timestamp'));
        else await refused(get, 'ERR_OFFLINE');
        assert.equal(r.srv.requests.filter((q) => q.path === '/v2/').length, 1); // pinged once
      } finally {
        await done(r);
      }
    });
  }

  test('an unreachable server puts the client offline', async () => {
    const r = await rig();
    await r.srv.close(); // nothing listens on that port any more
    try {
      const ping = await r.server.ping();
      assert.equal(ping.online, false);
      assert.equal(ping.error?.code, 'ERR_NETWORK');
      await refused(r.server.repository(GUN, 'pull').getMetadata('root', 1 << 20), 'ERR_OFFLINE');
    } finally {
      await r.server.close();
    }
  });

  test('a ping that never answers times out into offline mode', async () => {
    const r = await rig({ pingTimeoutMs: 100 });
    try {
      r.srv.when((q) => q.path === '/v2/', { kind: 'hang' });
      const ping = await r.server.ping();
      assert.equal(ping.online, false);
      assert.equal(ping.error?.code, 'ERR_TIMEOUT');
    } finally {
      await done(r);
    }
  });
});

describe('token flow (§4.9)', () => {
  const users = { alice: 'wonderland' };
  const alice = () => Promise.resolve({ username: 'alice', password: 'wonderland' });

  test('read-only: an anonymous token first, cached for the next request', async () => {
    const r = await rig({ credentials: alice }, { auth: { users, anonymous: ['pull'] } });
    try {
      const repo = r.server.repository(GUN, 'pull');
      assert.deepEqual(await repo.getMetadata('timestamp', 1 << 20), sim.current('timestamp'));
      assert.deepEqual(await repo.getMetadata('root', 1 << 20), sim.current('root'));
      assert.deepEqual(r.srv.tokenRequests, [
        { scope: `repository:${GUN}:pull`, user: undefined, account: undefined },
      ]);
      const gets = r.srv.requests.filter((q) => q.file !== undefined);
      assert.ok(gets.every((q) => q.authorization?.startsWith('Bearer ')));
    } finally {
      await done(r);
    }
  });

  test('read-only: a 401 with the anonymous token retries once with credentials', async () => {
    const r = await rig({ credentials: alice }, { auth: { users } });
    try {
      const repo = r.server.repository(GUN, 'pull');
      assert.deepEqual(await repo.getMetadata('timestamp', 1 << 20), sim.current('timestamp'));
      assert.deepEqual(await repo.getMetadata('root', 1 << 20), sim.current('root'));
      assert.deepEqual(r.srv.tokenRequests, [
        { scope: `repository:${GUN}:pull`, user: undefined, account: undefined },
        { scope: `repository:${GUN}:pull`, user: 'alice', account: 'alice' },
      ]);
    } finally {
      await done(r);
    }
  });

  test('scopes: push+pull for publishing, * for delete and key rotation', async () => {
    const r = await rig({ credentials: alice }, { auth: { users } });
    try {
      await r.server.repository(GUN, 'push').upload(new Map([['targets', sim.current('targets')]]));
      await r.server.repository(GUN, 'admin').deleteAll();
      await r.server.repository(GUN, 'admin').rotateKey('timestamp');
      assert.deepEqual(
        r.srv.tokenRequests.map((t) => [t.scope, t.user]),
        [
          [`repository:${GUN}:push,pull`, 'alice'],
          [`repository:${GUN}:*`, 'alice'],
        ],
      );
    } finally {
      await done(r);
    }
  });

  test('credentials are asked for once per server', async () => {
    let asked = 0;
    const r = await rig(
      {
        credentials: (req) => {
          asked++;
          assert.equal(req.realm.endsWith('/token'), true);
          return alice();
        },
      },
      { auth: { users } },
    );
    try {
      await r.server.repository(GUN, 'push').getMetadata('root', 1 << 20);
      await r.server.repository(GUN, 'admin').deleteAll();
      assert.equal(asked, 1);
    } finally {
      await done(r);
    }
  });

  test('tokens are cached until they expire (at least 60 s)', async () => {
    let now = 1_000_000;
    const r = await rig(
      { credentials: alice, nowMs: () => now },
      { auth: { users, expiresIn: 5 } },
    );
    try {
      const repo = r.server.repository(GUN, 'push');
      await repo.getMetadata('root', 1 << 20);
      now += 59_000; // expires_in 5 counts as 60
      await repo.getMetadata('root', 1 << 20);
      assert.equal(r.srv.tokenRequests.length, 1);
      now += 2_000;
      await repo.getMetadata('root', 1 << 20);
      assert.equal(r.srv.tokenRequests.length, 2);
    } finally {
      await done(r);
    }
  });

  test('a revoked token is replaced once; a second 401 is an auth error', async () => {
    const r = await rig({ credentials: alice }, { auth: { users } });
    try {
      const repo = r.server.repository(GUN, 'push');
      await repo.getMetadata('root', 1 << 20);
      r.srv.revokeTokens();
      assert.deepEqual(await repo.getMetadata('timestamp', 1 << 20), sim.current('timestamp'));
      assert.equal(r.srv.tokenRequests.length, 2);
      assert.equal(r.srv.files().filter((f) => f === 'timestamp.json').length, 2);
      r.srv.when('timestamp.json', { kind: 'status', status: 401 });
      await refused(repo.getMetadata('timestamp', 1 << 20), 'ERR_UNAUTHORIZED');
      assert.equal(r.srv.files().filter((f) => f === 'timestamp.json').length, 4); // + one retry
      assert.equal(r.srv.tokenRequests.length, 3);
    } finally {
      await done(r);
    }
  });

  const denied: Array<{
    name: string;
    auth: AuthOptions;
    credentials?: RemoteServerOptions['credentials'];
  }> = [
    { name: 'no credentials and no anonymous access', auth: { users } },
    {
      name: 'a wrong password',
      auth: { users },
      credentials: () => Promise.resolve({ username: 'alice', password: 'nope' }),
    },
  ];
  for (const c of denied) {
    test(`${c.name} → ERR_UNAUTHORIZED`, async () => {
      const r = await rig({ credentials: c.credentials }, { auth: c.auth });
      try {
        await refused(
          r.server.repository(GUN, 'push').getMetadata('root', 1 << 20),
          'ERR_UNAUTHORIZED',
        );
      } finally {
        await done(r);
      }
    });
  }

  test('a server that sent no challenge never sees the credentials', async () => {
    const r = await rig({ credentials: alice });
    try {
      r.srv.when('root.json', { kind: 'status', status: 401 });
      await refused(
        r.server.repository(GUN, 'push').getMetadata('root', 1 << 20),
        'ERR_UNAUTHORIZED',
      );
      assert.ok(r.srv.requests.every((q) => q.authorization === undefined));
      assert.equal(r.srv.files().length, 1);
    } finally {
      await done(r);
    }
  });

  test('challenge and token response parsing', () => {
    assert.deepEqual(
      parseChallenges([
        'Bearer realm="https://a/token",service="notary, server",scope="repository:g:pull,push",error="invalid_token"',
        'Basic realm="r\\"q"',
      ]),
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://a/token',
            service: 'notary, server',
            scope: 'repository:g:pull,push',
            error: 'invalid_token',
          },
        },
        { scheme: 'basic', params: { realm: 'r"q' } },
      ],
    );
    const t = parseTokenResponse(utf8Encode('{"access_token":"abc","expires_in":300}'), 1000);
    assert.deepEqual(t, { token: 'abc', expiresMs: 1000 + 300_000 });
    assert.equal(
      parseTokenResponse(utf8Encode('{"token":"x","expires_in":1}'), 0).expiresMs,
      60_000,
    );
    assert.throws(() => parseTokenResponse(utf8Encode('{"token":""}'), 0), {
      code: 'ERR_UNAUTHORIZED',
    });
  });
});

describe('upload, keys and delete', () => {
  test('one multipart POST with every role, exactly as Go writes it', async () => {
    const r = await rig();
    try {
      const files = new Map([
        ['root', sim.current('root')],
        ['targets', sim.current('targets')],
        ['targets/releases', sim.current('targets/releases')],
        ['snapshot', sim.current('snapshot')],
      ]);
      await r.server.repository(GUN, 'push').upload(files);
      assert.equal(r.srv.uploads.length, 1);
      const up = r.srv.uploads[0]!;
      assert.match(up.contentType, /^multipart\/form-data; boundary=[0-9a-f]{60}$/);
      assert.deepEqual(
        up.parts.map((p) => [p.name, p.filename, p.contentType]),
        [...files.keys()].map((role) => ['files', role, 'application/octet-stream']),
      );
      for (const p of up.parts) assert.deepEqual(p.bytes, files.get(p.filename));
      assert.equal(r.srv.requests.at(-1)?.path, `/v2/${GUN}/_trust/tuf/`);
    } finally {
      await done(r);
    }
  });

  test('the multipart framing is byte-for-byte Go mime/multipart', () => {
    const mp = multipartMetadata(
      new Map([
        ['root', utf8Encode('{"a":1}')],
        ['targets/x', utf8Encode('{}')],
      ]),
      'B0',
    );
    assert.equal(mp.contentType, 'multipart/form-data; boundary=B0');
    assert.equal(
      Buffer.from(mp.body).toString(),
      '--B0\r\nContent-Disposition: form-data; name="files"; filename="root"\r\n' +
        'Content-Type: application/octet-stream\r\n\r\n{"a":1}' +
        '\r\n--B0\r\nContent-Disposition: form-data; name="files"; filename="targets/x"\r\n' +
        'Content-Type: application/octet-stream\r\n\r\n{}\r\n--B0--\r\n',
    );
    assert.throws(() => multipartMetadata(new Map([['../x', new Uint8Array()]])), {
      code: 'ERR_BAD_ROLE',
    });
  });

  test('getKey (GET) and rotateKey (POST) return the server key; delete is a DELETE', async () => {
    const r = await rig();
    try {
      const repo = r.server.repository(GUN, 'admin');
      const want = sim.signersFor('timestamp')[0]!.publicKey.id;
      assert.equal((await repo.getKey('timestamp')).id, want);
      assert.equal((await repo.rotateKey('timestamp')).id, want);
      await repo.deleteAll();
      assert.deepEqual(
        r.srv.requests.slice(1).map((q) => `${q.method} ${q.file}`),
        ['GET timestamp.key', 'POST timestamp.key', 'DELETE '],
      );
    } finally {
      await done(r);
    }
  });

  test('a key answer is capped at 256 KiB', async () => {
    const r = await rig();
    try {
      r.srv.when('snapshot.key', {
        kind: 'bytes',
        body: new Uint8Array(256 * 1024 + 1).fill(0x20),
      });
      await refused(r.server.repository(GUN, 'push').getKey('snapshot'), 'ERR_TOO_LARGE');
      r.srv.reset();
      r.srv.when('snapshot.key', { kind: 'bytes', body: utf8Encode('{"keytype":"nope"}') });
      await assert.rejects(r.server.repository(GUN, 'push').getKey('snapshot'));
    } finally {
      await done(r);
    }
  });
});

describe('TLS', () => {
  let pki: TestPki;
  before(() => {
    pki = createTestPki();
  });
  after(() => pki.dispose());

  const tlsSrv = (): Partial<HostileServerOptions> => ({
    tls: { cert: pki.server.cert, key: pki.server.key },
  });

  test('verified against the configured CA', async () => {
    const r = await rig({ tls: { ca: pki.ca.cert } }, tlsSrv());
    try {
      assert.match(r.srv.url, /^https:/);
      assert.deepEqual(
        await r.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20),
        sim.current('timestamp'),
      );
      assert.equal(r.events.filter((e) => e.type === 'warning').length, 0);
    } finally {
      await done(r);
    }
  });

  test('an unknown CA is refused (ERR_TLS), with no retries', async () => {
    const r = await rig({ retry: { attempts: 3, baseDelayMs: 0 } }, tlsSrv());
    try {
      const e = await refused(
        r.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20),
        'ERR_TLS',
      );
      assert.match(e.message, /TLS/);
      assert.equal(r.srv.requests.length, 0);
    } finally {
      await done(r);
    }
  });

  test('skipTLSVerify connects, and warns', async () => {
    const r = await rig({ tls: { skipVerify: true } }, tlsSrv());
    try {
      await r.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20);
      assert.equal(r.events.filter((e) => e.type === 'warning').length, 1);
    } finally {
      await done(r);
    }
  });

  test('mutual TLS: the client certificate is presented when configured', async () => {
    const mtls = {
      tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true },
    };
    const withCert = await rig(
      { tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key } },
      mtls,
    );
    try {
      await withCert.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20);
    } finally {
      await done(withCert);
    }
    const without = await rig({ tls: { ca: pki.ca.cert } }, mtls);
    try {
      const ping = await without.server.ping();
      assert.equal(ping.online, false);
      assert.equal(without.srv.requests.length, 0);
    } finally {
      await done(without);
    }
  });
});

describe('proxies', () => {
  test('HTTP_PROXY forwards plain http requests (the target name is never resolved here)', async () => {
    const srv = await HostileServer.start({ sim });
    const target = new URL(srv.url);
    const seen: string[] = [];
    const proxy: Server = createServer((req, res) => {
      seen.push(req.url ?? '');
      const url = new URL(req.url ?? '/');
      const fwd = httpRequest(
        {
          host: '127.0.0.1',
          port: target.port,
          path: url.pathname,
          method: req.method,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(fwd);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const addr = proxy.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const server = new RemoteServer({
      url: `http://notary.invalid:${target.port}`,
      proxy: { http: `http://127.0.0.1:${port}` },
    });
    try {
      const bytes = await server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20);
      assert.deepEqual(bytes, sim.current('timestamp'));
      assert.deepEqual(seen, [
        `http://notary.invalid:${target.port}/v2/`,
        `http://notary.invalid:${target.port}/v2/${GUN}/_trust/tuf/timestamp.json`,
      ]);
    } finally {
      await server.close();
      await new Promise((resolve) => proxy.close(resolve));
      await srv.close();
    }
  });

  test('loopback servers bypass the proxy', async () => {
    const r = await rig({ proxy: { http: 'http://127.0.0.1:9' } }); // nothing listens on port 9
    try {
      await r.server.repository(GUN, 'pull').getMetadata('timestamp', 1 << 20);
    } finally {
      await done(r);
    }
  });
});
