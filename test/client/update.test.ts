// The updater through the real HTTP stack and a real trust dir: Go's fetch order and names
// (§7.6), TOFU and trust pinning, the cache as the anchor, root rotation chains, delegations,
// offline mode, expiry reporting — and an attack table: a hostile server serves rolled-back,
// frozen, mixed, wrongly signed, oversized, truncated, slow, endless or wrong-status answers;
// the client must refuse with the attack's code and leave its cache byte-for-byte unchanged.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ErrorCode } from '../../src/tuf/errors.js';
import { sha256Hex } from '../../src/tuf/encoding.js';
import { type TrustPinning } from '../../src/tuf/root-trust.js';
import { RemoteServer, type RemoteServerOptions } from '../../src/client/remote/remote-store.js';
import { MetadataCache } from '../../src/client/trust-dir/metadata-cache.js';
import { type UpdateEvent } from '../../src/client/update/events.js';
import {
  sixMonthsFrom,
  updateRepository,
  type UpdateOptions,
} from '../../src/client/update/updater.js';
import { type RepositoryView } from '../../src/client/update/repository-view.js';
import {
  expire,
  flipSignatureByte,
  fork,
  invalidJson,
  mapSignatures,
  offsetVersion,
  pad,
  removeSignatures,
  resign,
  setVersion,
  addUnsignedMember,
} from '../support/corrupt.js';
import { HostileServer } from '../support/hostile-server.js';
import { DAY_MS, RepoSim } from '../support/repo-sim.js';

const GUN = 'example.com/update';

/** A repository with a delegation tree: targets → {a → a/b, c}. */
async function makeSim(): Promise<RepoSim> {
  const sim = await RepoSim.create({ gun: GUN });
  sim.addTarget('hello', 'hello world');
  sim.addDelegation('targets/a', { paths: ['a/'] });
  sim.addDelegation('targets/a/b', { paths: ['a/b/'] });
  sim.addDelegation('targets/c', { paths: ['c/'] });
  sim.addTarget('a/one', '1', 'targets/a');
  sim.addTarget('a/b/two', '2', 'targets/a/b');
  sim.addTarget('c/three', '3', 'targets/c');
  sim.addTarget('outside', 'x', 'targets/c'); // outside c's paths: never listed
  await sim.publish();
  sim.touch('targets/a', 'targets/a/b', 'targets/c');
  await sim.publish(); // every role above version 1, so each can be rolled back
  return sim;
}

interface Client {
  srv: HostileServer;
  server: RemoteServer;
  trustDir: string;
  cache: MetadataCache;
  events: UpdateEvent[];
  update(opts?: Partial<UpdateOptions>): Promise<RepositoryView>;
  close(): Promise<void>;
}

async function client(
  sim: RepoSim,
  remoteOpts: Partial<RemoteServerOptions> = {},
): Promise<Client> {
  const srv = await HostileServer.start({ sim });
  const trustDir = await mkdtemp(join(tmpdir(), 'trustdesk-update-'));
  const events: UpdateEvent[] = [];
  const server = new RemoteServer({
    url: srv.url,
    retry: { attempts: 1 },
    ...remoteOpts,
    onEvent: (e) => events.push(e),
  });
  const cache = new MetadataCache(trustDir, sim.gun);
  return {
    srv,
    server,
    trustDir,
    cache,
    events,
    update: (opts = {}) =>
      updateRepository({
        gun: sim.gun,
        cache,
        remote: server.repository(sim.gun, 'pull'),
        nowMs: sim.clock.nowMs,
        onEvent: (e) => events.push(e),
        ...opts,
      }),
    close: async () => {
      await server.close();
      await srv.close();
    },
  };
}

/** Every file under the trust dir → its bytes (hex), for byte-for-byte comparisons. */
async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const ent of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!ent.isFile()) continue;
    const p = join(ent.parentPath, ent.name);
    out[p.slice(dir.length)] = (await readFile(p)).toString('hex');
  }
  return out;
}

async function refused(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.equal((e as { code?: string }).code, code, `expected ${code}, got: ${String(e)}`);
    return e as Error;
  }
  assert.fail(`expected ${code}, but the update succeeded`);
}

const sum = (b: Uint8Array) => sha256Hex(b);

describe('happy paths', () => {
  test('first contact (TOFU): Go file names in Go order, exact bytes cached, targets listed', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      const view = await c.update();
      const cur = (r: string) => sim.current(r);
      assert.deepEqual(c.srv.files(), [
        'root.json',
        'timestamp.json',
        `snapshot.${sum(cur('snapshot'))}.json`,
        `targets.${sum(cur('targets'))}.json`,
        `targets/a.${sum(cur('targets/a'))}.json`,
        `targets/a/b.${sum(cur('targets/a/b'))}.json`,
        `targets/c.${sum(cur('targets/c'))}.json`,
      ]);
      for (const role of sim.roles()) {
        assert.deepEqual(await c.cache.read(role), cur(role), `${role} cached verbatim`);
      }
      assert.deepEqual(
        view.targets().map((t) => [t.name, t.role]),
        [
          ['hello', 'targets'],
          ['a/one', 'targets/a'],
          ['c/three', 'targets/c'],
          ['a/b/two', 'targets/a/b'],
        ],
      );
      assert.equal(view.lookup('outside'), undefined);
      assert.equal(view.lookup('a/b/two')?.hashes.sha256, sha256Hex('2'));
      assert.equal(view.lookup('a/b/two')?.length, 1);
      assert.deepEqual(view.info.skipped, []);
      assert.equal(view.info.offline, false);
      const order = [
        'root',
        'timestamp',
        'snapshot',
        'targets',
        'targets/a',
        'targets/a/b',
        'targets/c',
      ];
      assert.deepEqual(
        view.roles().map((r) => [r.role, r.version]),
        order.map((r) => [r, sim.version(r)]),
      );
      assert.equal(view.version('targets/a'), 2);
    } finally {
      await c.close();
    }
  });

  test('the cached root is the anchor; unchanged roles come from the cache', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      await c.update();
      c.srv.requests.length = 0;
      await c.update();
      assert.deepEqual(c.srv.files(), ['timestamp.json']);
      sim.addTarget('new', 'new');
      await sim.publish();
      c.srv.requests.length = 0;
      const view = await c.update();
      assert.deepEqual(c.srv.files(), [
        'timestamp.json',
        `snapshot.${sum(sim.current('snapshot'))}.json`,
        `targets.${sum(sim.current('targets'))}.json`,
      ]);
      assert.equal(view.lookup('new')?.role, 'targets');
      assert.deepEqual(await c.cache.read('targets'), sim.current('targets'));
      assert.deepEqual(await c.cache.read('timestamp'), sim.current('timestamp'));
    } finally {
      await c.close();
    }
  });

  test('root rotation chain v1 → v3 through <v>.root.json', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      await c.update();
      await sim.rotateRoot();
      await sim.publish(); // root v2: signed by v1 and v2 keys
      const v2 = sim.current('root');
      await sim.rotateRoot();
      await sim.publish(); // root v3: signed by v2 and v3 keys only
      c.srv.requests.length = 0;
      c.events.length = 0;
      const view = await c.update();
      const snap = `snapshot.${sum(sim.current('snapshot'))}.json`;
      assert.deepEqual(c.srv.files(), [
        'timestamp.json',
        snap, // lists root v3 → ERR_ROOT_CHANGED
        `root.${sum(sim.current('root'))}.json`, // not signed by v1 keys
        '2.root.json',
        'timestamp.json',
        snap,
      ]);
      assert.deepEqual(c.srv.sim.serve('2.root.json'), v2);
      assert.equal(view.trusted.root.signed.version, 3);
      assert.deepEqual(await c.cache.read('root'), sim.current('root'));
      assert.ok(c.events.some((e) => e.type === 'retrying' && e.code === 'ERR_ROOT_CHANGED'));
      assert.ok(c.events.some((e) => e.type === 'root-updated' && e.from === 1 && e.to === 3));
    } finally {
      await c.close();
    }
  });

  test('a one-step rotation needs no chain walk', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      await c.update();
      await sim.rotateRoot();
      await sim.publish();
      c.srv.requests.length = 0;
      const view = await c.update();
      assert.equal(view.trusted.root.signed.version, 2);
      assert.ok(!c.srv.files().some((f) => /^\d+\.root\.json$/.test(f)));
    } finally {
      await c.close();
    }
  });

  test('offline: the cache alone, no request at all', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      const online = await c.update();
      c.srv.requests.length = 0;
      const offline = await c.update({ offline: true });
      assert.deepEqual(c.srv.requests, []);
      assert.equal(offline.info.offline, true);
      assert.deepEqual(offline.targets(), online.targets());
      // 15 days later the cached timestamp has expired: reported, not silently used.
      const e = await refused(
        c.update({ offline: true, nowMs: sim.clock.nowMs + 15 * DAY_MS }),
        'ERR_EXPIRED',
      );
      assert.match(e.message, /timestamp.*stale/);
      assert.deepEqual(c.srv.requests, []);
    } finally {
      await c.close();
    }
  });

  test('a corrupted cached root fails hard: it is the trust anchor', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      await c.update();
      await writeFile(c.cache.pathOf('root'), '{"signed":');
      c.srv.requests.length = 0;
      const e = await refused(c.update(), 'ERR_BAD_JSON');
      assert.ok(e.message.includes(c.cache.pathOf('root')), e.message);
      assert.deepEqual(c.srv.files(), [], 'the server is not asked for a replacement');
    } finally {
      await c.close();
    }
  });

  test('offline with nothing cached is a clear error', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      const e = await refused(c.update({ offline: true }), 'ERR_NOT_FOUND');
      assert.match(e.message, /no cached root\.json/);
      await refused(c.update({ remote: undefined }), 'ERR_NOT_FOUND');
    } finally {
      await c.close();
    }
  });

  test('an unreachable timestamp falls back to the cached one, with a warning', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      await c.update();
      sim.addTarget('new', 'new');
      await sim.publish();
      c.srv.when('timestamp.json', { kind: 'status', status: 503 });
      c.events.length = 0;
      const view = await c.update();
      assert.equal(view.info.usedCachedTimestamp, true);
      assert.equal(view.lookup('new'), undefined); // the cached (older) view
      assert.ok(
        c.events.some(
          (e) =>
            e.type === 'warning' && e.role === 'timestamp' && e.code === 'ERR_SERVER_UNAVAILABLE',
        ),
      );
    } finally {
      await c.close();
    }
  });

  test('a server in offline mode (failed ping) still lets the cache answer', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      await c.update();
      const down = new RemoteServer({ url: c.srv.url, retry: { attempts: 1 } });
      c.srv.when((q) => q.path === '/v2/', { kind: 'status', status: 502 });
      const view = await c.update({ remote: down.repository(GUN, 'pull') });
      assert.equal(view.info.usedCachedTimestamp, true);
      assert.equal(view.lookup('hello')?.role, 'targets');
      await down.close();
    } finally {
      await c.close();
    }
  });

  test('write operations GET root.json to prove the repository exists', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      await c.update();
      c.srv.requests.length = 0;
      await c.update({ checkExists: true });
      assert.deepEqual(c.srv.files(), ['root.json', 'timestamp.json']);
      c.srv.when('root.json', { kind: 'status', status: 404 });
      await refused(c.update({ checkExists: true }), 'ERR_REPO_NOT_FOUND');
      // The timestamp is asked for alongside; a repository that does not exist is still the
      // error, and no fallback to the cached timestamp is announced.
      c.srv.when('timestamp.json', { kind: 'status', status: 503 });
      c.events.length = 0;
      await refused(c.update({ checkExists: true }), 'ERR_REPO_NOT_FOUND');
      assert.deepEqual(
        c.events.filter((e) => e.type === 'warning' || e.type === 'retrying'),
        [],
      );
    } finally {
      await c.close();
    }
  });

  test('a repository the server does not know', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      c.srv.when('root.json', { kind: 'status', status: 404 });
      const e = await refused(c.update(), 'ERR_REPO_NOT_FOUND');
      assert.match(e.message, /does not exist/);
      assert.deepEqual(await snapshotDir(c.trustDir), {});
    } finally {
      await c.close();
    }
  });

  test('expiry within six months is reported with the time left', async () => {
    const sim = await makeSim();
    sim.setLifetime('targets', 100 * DAY_MS);
    sim.setLifetime('targets/c', 200 * DAY_MS);
    sim.touch('targets', 'targets/c');
    await sim.publish();
    const c = await client(sim);
    try {
      const view = await c.update();
      const expiry = c.events.filter((e) => e.type === 'expiry');
      assert.deepEqual(
        expiry.map((e) => (e.type === 'expiry' ? [e.role, e.leftMs, e.expired] : [])),
        [['targets', 100 * DAY_MS, false]],
      );
      assert.deepEqual(
        view.info.expiring.map((x) => x.role),
        ['targets'],
      );
      assert.equal(sixMonthsFrom(Date.UTC(2030, 0, 31)), Date.UTC(2030, 6, 31));
      assert.equal(sixMonthsFrom(Date.UTC(2030, 7, 31)), Date.UTC(2031, 2, 3)); // Go normalises Feb 31
    } finally {
      await c.close();
    }
  });

  test('delegations the snapshot no longer lists are dropped from the cache', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      await c.update();
      sim.removeDelegation('targets/c');
      await sim.publish();
      await c.update();
      assert.equal(await c.cache.read('targets/c'), undefined);
      assert.deepEqual(await c.cache.roles(), [
        'root',
        'snapshot',
        'targets',
        'targets/a',
        'targets/a/b',
        'timestamp',
      ]);
    } finally {
      await c.close();
    }
  });
});

describe('trust pinning on first contact', () => {
  const cases: Array<{ name: string; pin: (sim: RepoSim) => TrustPinning; code?: ErrorCode }> = [
    { name: 'TOFU', pin: () => ({}) },
    {
      name: 'the pinned root key',
      pin: (s) => ({ certs: { [GUN]: [s.signersFor('root')[0]!.keyId] } }),
    },
    {
      name: 'a wildcard pin',
      pin: (s) => ({ certs: { 'example.com/*': [s.signersFor('root')[0]!.keyId] } }),
    },
    {
      name: 'another key pinned',
      pin: () => ({ certs: { [GUN]: ['0'.repeat(64)] } }),
      code: 'ERR_TRUST_PINNING',
    },
    {
      name: 'disable_tofu without pins',
      pin: () => ({ disableTofu: true }),
      code: 'ERR_TRUST_PINNING',
    },
  ];
  for (const tc of cases) {
    test(`${tc.name} → ${tc.code ?? 'trusted'}`, async () => {
      const sim = await makeSim();
      const c = await client(sim);
      try {
        const run = c.update({ pinning: tc.pin(sim) });
        if (tc.code) {
          await refused(run, tc.code);
          assert.deepEqual(await snapshotDir(c.trustDir), {}, 'nothing cached');
        } else {
          assert.equal((await run).trusted.root.signed.version, 1);
        }
      } finally {
        await c.close();
      }
    });
  }
});

describe('delegations that fail verification', () => {
  test('an expired delegation is warned about and skipped with its subtree', async () => {
    const sim = await makeSim();
    sim.setLifetime('targets/a', DAY_MS);
    sim.touch('targets/a');
    await sim.publish();
    const c = await client(sim);
    try {
      const view = await c.update({ nowMs: sim.clock.nowMs + 2 * DAY_MS });
      assert.deepEqual(
        view
          .targets()
          .map((t) => t.name)
          .sort(),
        ['c/three', 'hello'],
      );
      assert.deepEqual(
        view.info.skipped.map((s) => [s.role, s.error.code]),
        [['targets/a', 'ERR_EXPIRED']],
      );
      assert.deepEqual(view.info.skipped[0]?.raw, sim.current('targets/a'));
      assert.ok(c.events.some((e) => e.type === 'warning' && e.role === 'targets/a'));
      assert.ok(!c.srv.files().some((f) => f.startsWith('targets/a/b')), 'subtree not fetched');
    } finally {
      await c.close();
    }
  });

  const underSigned: Array<[string, (b: Uint8Array) => Uint8Array, ErrorCode]> = [
    ['bad signature', flipSignatureByte, 'ERR_BAD_SIGNATURE'],
    ['no signatures', removeSignatures, 'ERR_NO_SIGNATURES'],
  ];
  for (const [name, damage, code] of underSigned) {
    test(`an under-signed delegation (${name}) is skipped; top-level targets is fatal`, async () => {
      const sim = await makeSim();
      await sim.inject('targets/c', damage(sim.current('targets/c')));
      const c = await client(sim);
      try {
        const view = await c.update();
        assert.deepEqual(
          view.info.skipped.map((s) => [s.role, s.error.code]),
          [['targets/c', code]],
        );
        assert.equal(view.lookup('c/three'), undefined);
        await sim.inject('targets', damage(sim.current('targets')));
        await refused(c.update(), code);
      } finally {
        await c.close();
      }
    });
  }
});

describe('cancellation', () => {
  test('aborting mid-update refuses with ERR_ABORTED and changes nothing', async () => {
    const sim = await makeSim();
    const c = await client(sim);
    try {
      await c.update();
      const before = await snapshotDir(c.trustDir);
      sim.addTarget('new', 'new');
      await sim.publish();
      const ac = new AbortController();
      c.srv.when(
        (q) => {
          if (!q.file?.startsWith('snapshot.')) return false;
          ac.abort();
          return true;
        },
        { kind: 'hang' },
      );
      c.srv.requests.length = 0;
      await refused(c.update({ signal: ac.signal }), 'ERR_ABORTED');
      assert.deepEqual(await snapshotDir(c.trustDir), before);
      assert.ok(!c.srv.files().includes('root.json'), 'no retry after an abort');
    } finally {
      await c.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Attack table

interface AttackCtx {
  /** The server's repository (state S2), which the hostile server serves. */
  sim: RepoSim;
  /** The state S1 the client trusted (and cached). */
  s1: RepoSim;
  srv: HostileServer;
}

interface Attack {
  name: string;
  code: ErrorCode;
  remote?: Partial<RemoteServerOptions>;
  arm(ctx: AttackCtx): Promise<void> | void;
}

const snapFile = /^snapshot\.[0-9a-f]{64}\.json$/;
const targetsFile = /^targets\.[0-9a-f]{64}\.json$/;
const signers = (s: RepoSim, role: string) => s.signersFor(role);

const ATTACKS: Attack[] = [
  // rolled back (properly signed, older than what the client trusts)
  {
    name: 'rolled-back timestamp',
    code: 'ERR_ROLLBACK',
    arm: async ({ sim, s1 }) =>
      sim.inject(
        'timestamp',
        await offsetVersion(s1.current('timestamp'), -1, signers(sim, 'timestamp')),
      ),
  },
  {
    name: 'forked timestamp (same version, other content)',
    code: 'ERR_ROLLBACK',
    arm: async ({ sim, s1 }) =>
      sim.inject('timestamp', await fork(s1.current('timestamp'), signers(sim, 'timestamp'))),
  },
  {
    name: 'rolled-back snapshot',
    code: 'ERR_ROLLBACK',
    arm: async ({ sim, s1 }) =>
      sim.inject(
        'snapshot',
        await offsetVersion(s1.current('snapshot'), -1, signers(sim, 'snapshot')),
      ),
  },
  {
    name: 'rolled-back targets',
    code: 'ERR_ROLLBACK',
    arm: async ({ sim, s1 }) =>
      sim.inject(
        'targets',
        await offsetVersion(s1.current('targets'), -1, signers(sim, 'targets')),
      ),
  },
  {
    name: 'rolled-back delegation',
    code: 'ERR_ROLLBACK',
    arm: async ({ sim, s1 }) =>
      sim.inject(
        'targets/a',
        await offsetVersion(s1.current('targets/a'), -1, signers(sim, 'targets/a')),
      ),
  },
  // frozen (expired but properly signed)
  {
    name: 'frozen timestamp',
    code: 'ERR_EXPIRED',
    arm: async ({ sim }) =>
      sim.inject(
        'timestamp',
        await expire(sim.current('timestamp'), sim.clock.nowMs, signers(sim, 'timestamp')),
      ),
  },
  {
    name: 'frozen snapshot',
    code: 'ERR_EXPIRED',
    arm: async ({ sim }) =>
      sim.inject(
        'snapshot',
        await expire(sim.current('snapshot'), sim.clock.nowMs, signers(sim, 'snapshot')),
      ),
  },
  {
    name: 'frozen targets',
    code: 'ERR_EXPIRED',
    arm: async ({ sim }) =>
      sim.inject(
        'targets',
        await expire(sim.current('targets'), sim.clock.nowMs, signers(sim, 'targets')),
      ),
  },
  // mix-and-match: bytes that do not match what the referencing file records
  {
    name: 'mix-and-match targets (old file at the new checksum)',
    code: 'ERR_HASH_MISMATCH',
    arm: ({ sim, s1 }) => sim.tamper('targets', s1.current('targets')),
  },
  {
    name: 'mix-and-match snapshot',
    code: 'ERR_HASH_MISMATCH',
    arm: ({ sim, s1 }) => sim.tamper('snapshot', s1.current('snapshot')),
  },
  // wrongly signed
  {
    name: 'timestamp signed by the snapshot key',
    code: 'ERR_THRESHOLD',
    arm: async ({ sim }) =>
      sim.inject('timestamp', await resign(sim.current('timestamp'), signers(sim, 'snapshot'))),
  },
  {
    name: 'snapshot with a flipped signature',
    code: 'ERR_BAD_SIGNATURE',
    arm: ({ sim }) => sim.inject('snapshot', flipSignatureByte(sim.current('snapshot'))),
  },
  {
    name: 'targets without signatures',
    code: 'ERR_NO_SIGNATURES',
    arm: ({ sim }) => sim.inject('targets', removeSignatures(sim.current('targets'))),
  },
  {
    name: 'a new root not signed by the trusted root keys',
    code: 'ERR_BAD_ROOT',
    arm: async ({ sim }) => {
      await sim.rotateRoot();
      await sim.publish();
      // keep only the new key's signature: the cross-signature by the trusted key is gone
      await sim.inject(
        'root',
        mapSignatures(sim.current('root'), (s) => s.slice(1)),
      );
    },
  },
  // structurally bad
  {
    name: 'timestamp that is not JSON',
    code: 'ERR_BAD_JSON',
    arm: ({ sim }) => sim.inject('timestamp', invalidJson(sim.current('timestamp'))),
  },
  {
    name: 'a snapshot served as the timestamp',
    code: 'ERR_WRONG_TYPE',
    arm: ({ sim, srv }) =>
      void srv.when('timestamp.json', { kind: 'bytes', body: sim.current('snapshot') }),
  },
  {
    name: 'timestamp with an unsigned member',
    code: 'ERR_BAD_METADATA',
    arm: ({ sim }) => sim.inject('timestamp', addUnsignedMember(sim.current('timestamp'))),
  },
  {
    name: 'timestamp version 2^31-1 (lock-out)',
    code: 'ERR_BAD_METADATA',
    arm: async ({ sim }) =>
      sim.inject(
        'timestamp',
        await setVersion(sim.current('timestamp'), 2 ** 31 - 1, signers(sim, 'timestamp')),
      ),
  },
  // oversized, truncated, slow, endless
  {
    name: 'endless timestamp',
    code: 'ERR_TOO_LARGE',
    arm: ({ srv }) => void srv.when('timestamp.json', { kind: 'endless' }),
  },
  {
    name: 'oversized snapshot (one byte past its recorded length)',
    code: 'ERR_TOO_LARGE',
    arm: ({ sim, srv }) =>
      void srv.when(snapFile, {
        kind: 'bytes',
        body: pad(sim.current('snapshot'), sim.current('snapshot').length + 1),
      }),
  },
  {
    name: 'endless targets',
    code: 'ERR_TOO_LARGE',
    arm: ({ srv }) => void srv.when(targetsFile, { kind: 'endless' }),
  },
  {
    name: 'Content-Length lie on the snapshot',
    code: 'ERR_TOO_LARGE',
    arm: ({ srv }) => void srv.when(snapFile, { kind: 'content-length', length: 50 * 1024 * 1024 }),
  },
  {
    name: 'truncated snapshot',
    code: 'ERR_NETWORK',
    arm: ({ srv }) => void srv.when(snapFile, { kind: 'truncated' }),
  },
  {
    name: 'drip-fed targets',
    code: 'ERR_TIMEOUT',
    remote: { timeouts: { requestMs: 150 } },
    arm: ({ srv }) => void srv.when(targetsFile, { kind: 'slow', chunkBytes: 1, intervalMs: 20 }),
  },
  {
    name: 'stalled timestamp body',
    code: 'ERR_TIMEOUT',
    remote: { timeouts: { bodyIdleMs: 100 } },
    arm: ({ srv }) =>
      void srv.when('timestamp.json', { kind: 'slow', chunkBytes: 5, intervalMs: 600_000 }),
  },
  // wrong status codes
  {
    name: 'snapshot answered 500',
    code: 'ERR_SERVER_UNAVAILABLE',
    arm: ({ srv }) => void srv.when(snapFile, { kind: 'status', status: 500 }),
  },
  {
    name: 'targets answered 404',
    code: 'ERR_NOT_FOUND',
    arm: ({ srv }) => void srv.when(targetsFile, { kind: 'status', status: 404 }),
  },
  {
    name: 'snapshot answered 204 (only 200 is success)',
    code: 'ERR_SERVER_UNAVAILABLE',
    arm: ({ srv }) => void srv.when(snapFile, { kind: 'status', status: 204 }),
  },
  {
    name: 'delegation answered 401',
    code: 'ERR_UNAUTHORIZED',
    arm: ({ srv }) =>
      void srv.when(/^targets\/a\.[0-9a-f]{64}\.json$/, { kind: 'status', status: 401 }),
  },
];

describe('attack table: the client refuses, names the attack, keeps its cache', () => {
  for (const a of ATTACKS) {
    test(`${a.name} → ${a.code}`, async () => {
      const sim = await makeSim();
      const c = await client(sim, a.remote);
      try {
        await c.update(); // the client trusts and caches S1
        const before = await snapshotDir(c.trustDir);
        const s1 = sim.clone();
        sim.addTarget('new', 'new');
        sim.addTarget('a/new', 'new', 'targets/a');
        sim.touch('targets/a');
        await sim.publish(); // S2, every role changed
        await a.arm({ sim, s1, srv: c.srv });
        await refused(c.update(), a.code);
        assert.deepEqual(await snapshotDir(c.trustDir), before, 'cache unchanged');
      } finally {
        await c.close();
      }
    });
  }
});
