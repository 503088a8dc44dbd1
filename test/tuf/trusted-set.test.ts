import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256Hex, toHex } from '../../src/tuf/encoding.js';
import { formatRfc3339 } from '../../src/tuf/metadata.js';
import {
  RootChangedError,
  TrustedMetadataSet,
  type TrustedSetOptions,
} from '../../src/tuf/trusted-set.js';
import { mutateMeta, offsetVersion, resign } from '../support/corrupt.js';
import { DAY_MS, RepoSim, YEAR_MS } from '../support/repo-sim.js';
import { fetchRole, loadAll, loadRole } from '../support/sim-client.js';

const GUN = 'example.com/app';

function opts(sim: RepoSim, extra: Partial<TrustedSetOptions> = {}): TrustedSetOptions {
  return { gun: sim.gun, nowMs: sim.clock.nowMs, ...extra };
}

function serve(sim: RepoSim) {
  return (p: string) => sim.serve(p);
}

function fresh(sim: RepoSim, extra: Partial<TrustedSetOptions> = {}): TrustedMetadataSet {
  return TrustedMetadataSet.fromCachedRoot(sim.current('root'), opts(sim, extra));
}

function mustServe(sim: RepoSim, path: string): Uint8Array {
  const b = sim.serve(path);
  assert.ok(b, `${path} is served`);
  return b;
}

describe('TrustedMetadataSet: happy paths', () => {
  test('first contact (TOFU), then timestamp → snapshot → targets; getters hold what was loaded', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addTarget('hello', 'hello world');
    await sim.publish();
    const set = TrustedMetadataSet.firstContact(sim.current('root'), opts(sim));
    assert.equal(set.snapshot?.raw, undefined);
    loadAll(set, serve(sim));
    assert.deepEqual(set.root.raw, sim.current('root'));
    assert.deepEqual(set.timestamp?.raw, sim.current('timestamp'));
    assert.deepEqual(set.snapshot?.raw, sim.current('snapshot'));
    assert.deepEqual(set.targets?.raw, sim.current('targets'));
    assert.equal(set.targets?.signed.version, 2);
    const hit = set.findTarget('hello');
    assert.equal(hit?.role, 'targets');
    assert.equal(hit?.meta.length, 11);
    assert.equal(set.findTarget('nope'), undefined);
  });

  test('reloading identical bytes returns what is held, until the next stage is loaded', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const set = fresh(sim);
    assert.equal(set.updateRoot(sim.current('root')), set.root);
    for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
      const update = (b: Uint8Array) =>
        role === 'timestamp'
          ? set.updateTimestamp(b)
          : role === 'snapshot'
            ? set.updateSnapshot(b)
            : set.updateTargets(b);
      const first = update(sim.current(role));
      assert.equal(update(sim.current(role).slice()), first, role);
    }
  });

  test('nested delegations: effective paths are restricted by every ancestor', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addTarget('top', 't');
    sim.addDelegation('targets/releases', { paths: ['v1/', 'v2/'] });
    sim.addDelegation('targets/releases/beta', { paths: ['v1/beta/', 'v3/'] });
    sim.addTarget('v1/app', 'a', 'targets/releases');
    sim.addTarget('other/app', 'o', 'targets/releases'); // outside its own paths
    sim.addTarget('v1/beta/app', 'b', 'targets/releases/beta');
    sim.addTarget('v3/app', 'c', 'targets/releases/beta'); // v3/ is not within the parent's paths
    await sim.publish();
    const set = fresh(sim);
    loadAll(set, serve(sim));
    assert.deepEqual(set.delegatedRoles, ['targets/releases', 'targets/releases/beta']);
    assert.deepEqual(
      set.childRoles('targets/releases').map((d) => [d.name, d.paths]),
      [['targets/releases/beta', ['v1/beta/']]],
    );
    assert.deepEqual(
      set.childRoles('targets').map((d) => d.paths),
      [['v1/', 'v2/']],
    );
    assert.deepEqual(set.childRoles('targets/none'), []);
    assert.equal(set.findTarget('v1/app')?.role, 'targets/releases');
    assert.equal(set.findTarget('v1/beta/app')?.role, 'targets/releases/beta');
    assert.equal(set.findTarget('v3/app'), undefined);
    assert.equal(set.findTarget('other/app'), undefined);
    assert.deepEqual(
      set.listTargets().map((t) => [t.name, t.role]),
      [
        ['top', 'targets'],
        ['v1/app', 'targets/releases'],
        ['v1/beta/app', 'targets/releases/beta'],
      ],
    );
  });

  test('lookup is breadth-first, children in their parent order, first hit wins', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addDelegation('targets/a');
    sim.addDelegation('targets/b');
    sim.addDelegation('targets/a/c');
    sim.addTarget('t1', 'from targets');
    sim.addTarget('t1', 'from a', 'targets/a');
    sim.addTarget('shared', 'from a', 'targets/a');
    sim.addTarget('shared', 'from b', 'targets/b');
    sim.addTarget('deep', 'from b', 'targets/b');
    sim.addTarget('deep', 'from a/c', 'targets/a/c'); // pre-order would pick this one
    sim.addTarget('only-c', 'c', 'targets/a/c');
    await sim.publish();
    const set = fresh(sim);
    loadAll(set, serve(sim));
    assert.equal(set.findTarget('t1')?.role, 'targets');
    assert.equal(set.findTarget('shared')?.role, 'targets/a');
    assert.equal(set.findTarget('deep')?.role, 'targets/b');
    assert.equal(set.findTarget('only-c')?.role, 'targets/a/c');
    assert.deepEqual(
      set.listTargets().map((t) => `${t.name}@${t.role}`),
      ['t1@targets', 'shared@targets/a', 'deep@targets/b', 'only-c@targets/a/c'],
    );
  });

  test('a delegation that is not loaded is skipped with its subtree', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addDelegation('targets/a');
    sim.addTarget('x', 'x', 'targets/a');
    await sim.publish();
    const set = fresh(sim);
    for (const r of ['timestamp', 'snapshot', 'targets']) loadRole(set, r, serve(sim));
    assert.equal(set.findTarget('x'), undefined);
    loadRole(set, 'targets/a', serve(sim));
    assert.equal(set.findTarget('x')?.role, 'targets/a');
  });
});

describe('TrustedMetadataSet: root', () => {
  test('chain walk v1 → v2 → v3 across two cross-signed rotations', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const v1 = sim.current('root');
    await sim.rotateRoot();
    await sim.publish();
    await sim.rotateRoot({ threshold: 2 });
    await sim.publish();
    const v2 = mustServe(sim, '2.root.json');
    const v3 = mustServe(sim, '3.root.json');
    const set = TrustedMetadataSet.fromCachedRoot(v1, opts(sim));
    // v3 is not signed by v1's keys: even a jump cannot skip the chain.
    assert.throws(() => set.updateRoot(v3, { allowVersionJump: true }), { code: 'ERR_BAD_ROOT' });
    assert.equal(set.root.signed.version, 1);
    assert.equal(set.updateRoot(v2).signed.version, 2);
    assert.equal(set.updateRoot(v3).signed.version, 3);
    assert.equal(set.root.signed.roles.root.threshold, 2);
    // v2 is not signed by v3's keys; it could not roll back even if it were.
    assert.throws(() => set.updateRoot(v2), { code: 'ERR_BAD_ROOT' });
    loadAll(set, serve(sim));
    assert.equal(set.snapshot?.signed.version, 3);
  });

  test('versions: exactly +1 when walking, any higher with allowVersionJump, never lower', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const v1 = sim.current('root');
    sim.touch('root');
    await sim.publish();
    sim.touch('root');
    await sim.publish();
    const v3 = sim.current('root');
    const set = TrustedMetadataSet.fromCachedRoot(v1, opts(sim));
    assert.throws(() => set.updateRoot(v3), { code: 'ERR_BAD_ROOT', message: /2\.root\.json/ });
    assert.equal(set.updateRoot(v3, { allowVersionJump: true }).signed.version, 3);
    assert.throws(() => set.updateRoot(v1), { code: 'ERR_ROLLBACK' });
    const fork = await resign(
      v3,
      sim.signersFor('root'),
      (s) => void (s.expires = formatRfc3339(sim.clock.nowMs + YEAR_MS)),
    );
    assert.throws(() => set.updateRoot(fork), { code: 'ERR_ROLLBACK', message: /fork/ });
    assert.deepEqual(set.root.raw, v3);
  });

  test('cannot update the root after the timestamp', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const set = fresh(sim);
    sim.touch('root');
    await sim.publish();
    loadRole(set, 'timestamp', serve(sim));
    assert.throws(() => set.updateRoot(sim.current('root')), { code: 'ERR_ORDER' });
    assert.equal(set.root.signed.version, 1);
  });

  test('first contact with certs pinning: the pinned cert passes, others are refused', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const root = sim.current('root');
    const id = sim.signersFor('root')[0]?.keyId ?? '';
    const pins: Array<Record<string, string[]>> = [{ [GUN]: [id] }, { 'example.com/*': [id] }];
    for (const certs of pins) {
      const set = TrustedMetadataSet.firstContact(root, opts(sim, { pinning: { certs } }));
      loadAll(set, serve(sim));
      assert.equal(set.targets?.signed.version, 1);
    }
    assert.throws(
      () =>
        TrustedMetadataSet.firstContact(
          root,
          opts(sim, { pinning: { certs: { [GUN]: ['0'.repeat(64)] } } }),
        ),
      { code: 'ERR_TRUST_PINNING' },
    );
    assert.throws(
      () => TrustedMetadataSet.firstContact(root, opts(sim, { pinning: { disableTofu: true } })),
      { code: 'ERR_TRUST_PINNING' },
    );
    assert.throws(
      () => TrustedMetadataSet.firstContact(root, { ...opts(sim), gun: 'example.com/other' }),
      { code: 'ERR_BAD_ROOT' },
    );
  });

  test('first contact refuses an expired root; a cached expired root is an anchor only', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.setLifetime('root', DAY_MS);
    sim.touch('root');
    await sim.publish();
    const shortRoot = sim.current('root');
    sim.clock.advance(2 * DAY_MS);
    assert.throws(() => TrustedMetadataSet.firstContact(shortRoot, opts(sim)), {
      code: 'ERR_EXPIRED',
    });
    const set = TrustedMetadataSet.fromCachedRoot(shortRoot, opts(sim));
    assert.deepEqual(
      set.expiryReport(0).map((e) => [e.role, e.expired]),
      [['root', true]],
    );
    sim.setLifetime('root', 10 * YEAR_MS);
    sim.touch('root');
    await sim.publish();
    assert.throws(() => loadRole(set, 'timestamp', serve(sim)), { code: 'ERR_EXPIRED' });
    assert.equal(set.timestamp, undefined);
    set.updateRoot(sim.current('root'));
    loadAll(set, serve(sim));
    assert.equal(set.root.signed.version, 3);
  });

  test('expired anchor with expired certificates: the successor must pass pinning', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const v1 = sim.current('root');
    sim.clock.advance(11 * YEAR_MS); // v1 and its certificates have expired
    await sim.rotateRoot();
    sim.touch('targets');
    await sim.publish();
    const v2 = sim.current('root');
    const newId = sim.signersFor('root')[0]?.keyId ?? '';
    const wrong = { certs: { [GUN]: ['0'.repeat(64)] } };
    const pinnedOut = TrustedMetadataSet.fromCachedRoot(v1, opts(sim, { pinning: wrong }));
    assert.throws(() => pinnedOut.updateRoot(v2), { code: 'ERR_TRUST_PINNING' });
    const set = TrustedMetadataSet.fromCachedRoot(
      v1,
      opts(sim, { pinning: { certs: { [GUN]: [newId] } } }),
    );
    assert.throws(() => loadRole(set, 'timestamp', serve(sim)), { code: 'ERR_EXPIRED' });
    set.updateRoot(v2);
    loadAll(set, serve(sim));
    assert.equal(set.timestamp?.signed.version, 2);
    // With a current anchor, pinning is not re-applied to updates (Go: only on first contact or
    // from an expired cached root).
    sim.touch('root');
    await sim.publish();
    const current = TrustedMetadataSet.fromCachedRoot(v2, opts(sim, { pinning: wrong }));
    assert.equal(current.updateRoot(sim.current('root')).signed.version, 3);
  });

  test('a snapshot naming another root raises RootChangedError with what to fetch', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const v1 = sim.current('root');
    await sim.rotateRoot();
    await sim.publish();
    const set = TrustedMetadataSet.fromCachedRoot(v1, opts(sim));
    loadRole(set, 'timestamp', serve(sim));
    const bytes = fetchRole(set, 'snapshot', serve(sim));
    let err: unknown;
    try {
      set.updateSnapshot(bytes);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof RootChangedError);
    assert.equal(err.code, 'ERR_ROOT_CHANGED');
    assert.equal(set.snapshot, undefined);
    const sha = err.expected.hashes.sha256;
    assert.ok(sha);
    assert.equal(toHex(sha), sha256Hex(sim.current('root')));
    // The updater fetches root.<sha256>.json, walks to it in a new set and starts over.
    const next = TrustedMetadataSet.fromCachedRoot(v1, opts(sim));
    next.updateRoot(mustServe(sim, `root.${toHex(sha)}.json`));
    loadAll(next, serve(sim));
    assert.equal(next.root.signed.version, 2);
  });
});

describe('TrustedMetadataSet: ordering', () => {
  test('each role needs its predecessor; loaded predecessors are frozen', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addDelegation('targets/a');
    sim.addDelegation('targets/a/b');
    await sim.publish();
    const set = fresh(sim);
    const cur = (r: string) => sim.current(r);
    assert.throws(() => set.updateSnapshot(cur('snapshot')), { code: 'ERR_ORDER' });
    assert.throws(() => set.updateTargets(cur('targets')), { code: 'ERR_ORDER' });
    set.updateTimestamp(cur('timestamp'));
    assert.throws(() => set.updateTargets(cur('targets')), { code: 'ERR_ORDER' });
    assert.throws(() => set.updateDelegatedTargets(cur('targets/a'), 'targets/a'), {
      code: 'ERR_ORDER',
    });
    set.updateSnapshot(cur('snapshot'));
    assert.throws(() => set.updateTimestamp(cur('timestamp')), { code: 'ERR_ORDER' });
    assert.throws(() => set.updateDelegatedTargets(cur('targets/a'), 'targets/a'), {
      code: 'ERR_ORDER',
    });
    set.updateTargets(cur('targets'));
    assert.throws(() => set.updateSnapshot(cur('snapshot')), { code: 'ERR_ORDER' });
    assert.throws(() => set.updateDelegatedTargets(cur('targets/a/b'), 'targets/a/b'), {
      code: 'ERR_ORDER',
    });
    set.updateDelegatedTargets(cur('targets/a'), 'targets/a');
    set.updateDelegatedTargets(cur('targets/a/b'), 'targets/a/b');
    assert.deepEqual(set.delegatedRoles, ['targets/a', 'targets/a/b']);
  });

  test('a newer timestamp may replace the held one until the snapshot is loaded', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const ts1 = sim.current('timestamp');
    await sim.publish();
    const ts2 = sim.current('timestamp');
    const set = fresh(sim);
    set.updateTimestamp(ts1);
    set.updateTimestamp(ts2);
    assert.equal(set.timestamp?.signed.version, 2);
    assert.throws(() => set.updateTimestamp(ts1), { code: 'ERR_ROLLBACK' });
    assert.deepEqual(set.timestamp?.raw, ts2);
  });
});

describe('TrustedMetadataSet: delegations', () => {
  test('role name, declaration by the parent and a snapshot entry are required', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addDelegation('targets/a');
    await sim.publish();
    const a = sim.current('targets/a');
    const set = fresh(sim);
    for (const r of ['timestamp', 'snapshot', 'targets']) loadRole(set, r, serve(sim));
    for (const bad of ['targets', 'Targets/a', 'targets/a/', 'targets/../a', 'releases'])
      assert.throws(() => set.updateDelegatedTargets(a, bad), { code: 'ERR_BAD_ROLE' }, bad);
    assert.throws(() => set.updateDelegatedTargets(a, 'targets/b'), {
      code: 'ERR_BAD_DELEGATION',
      message: /not delegated/,
    });
    // A snapshot (re-signed by its legitimate key) that does not list targets/a.
    const snap = await resign(sim.current('snapshot'), sim.signersFor('snapshot'), (s) => {
      delete (s.meta as Record<string, unknown>)['targets/a'];
    });
    await sim.inject('snapshot', snap);
    const unlisted = fresh(sim);
    loadAll(unlisted, serve(sim));
    assert.deepEqual(unlisted.delegatedRoles, []);
    assert.throws(() => unlisted.updateDelegatedTargets(a, 'targets/a'), {
      code: 'ERR_BAD_DELEGATION',
      message: /snapshot does not list/,
    });
  });

  test('a delegation whose snapshot entry has no understood hash is refused', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addDelegation('targets/a');
    await sim.publish();
    const snap = await mutateMeta(
      sim.current('snapshot'),
      'targets/a',
      sim.signersFor('snapshot'),
      (fm) => {
        fm.hashes = { md5: 'AAAAAAAAAAAAAAAAAAAAAA==' };
      },
    );
    await sim.inject('snapshot', snap);
    const set = fresh(sim);
    for (const r of ['timestamp', 'snapshot', 'targets']) loadRole(set, r, serve(sim));
    assert.throws(() => set.updateDelegatedTargets(sim.current('targets/a'), 'targets/a'), {
      code: 'ERR_HASH_MISMATCH',
      message: /no supported hash/,
    });
  });

  test('delegation signatures are checked against the parent entry (keys and threshold)', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addDelegation('targets/a', { threshold: 2 });
    await sim.publish();
    const set = fresh(sim);
    loadAll(set, serve(sim));
    assert.deepEqual(set.delegated('targets/a')?.validKeyIds.length, 2);
    assert.equal(set.delegated('targets'), undefined);
  });
});

describe('TrustedMetadataSet: floors from the previous session', () => {
  test('the cached copy is a floor, even when it has expired since', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    await sim.publish();
    const cache = sim.cache();
    sim.clock.advance(20 * DAY_MS); // the cached timestamp (14 days) has expired
    const cachedTs = cache.get('timestamp');
    assert.ok(cachedTs);
    const replay = await resign(cachedTs, sim.signersFor('timestamp'), (s) => {
      s.version = (s.version as number) - 1;
      s.expires = formatRfc3339(sim.clock.nowMs + DAY_MS);
    });
    const set = fresh(sim, { previous: cache });
    assert.throws(() => set.updateTimestamp(replay), {
      code: 'ERR_ROLLBACK',
      message: /previously/,
    });
    await sim.publish();
    loadAll(set, serve(sim));
    assert.equal(set.timestamp?.signed.version, 3);
  });

  test('targets rollback is caught by the floor although the snapshot was re-signed to match', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addTarget('a', 'a');
    await sim.publish();
    const oldTargets = sim.current('targets');
    sim.addTarget('b', 'b');
    await sim.publish();
    const cache = sim.cache();
    await sim.inject('targets', oldTargets); // a server holding the snapshot key replays v2
    assert.throws(() => loadAll(fresh(sim, { previous: cache }), serve(sim)), {
      code: 'ERR_ROLLBACK',
    });
    loadAll(fresh(sim), serve(sim)); // without the floor the replay verifies
  });

  test('a cached copy that no longer verifies gives no floor', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const bogus = await offsetVersion(sim.current('timestamp'), 1000, sim.signersFor('targets'));
    const set = fresh(sim, { previous: new Map([['timestamp', bogus]]) });
    loadAll(set, serve(sim));
    assert.equal(set.timestamp?.signed.version, 1);
  });
});

describe('TrustedMetadataSet: reports and limits', () => {
  test('expiryReport lists roles expiring within the window (timestamp left out)', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.setLifetime('targets', 30 * DAY_MS);
    sim.touch('targets');
    await sim.publish();
    const set = fresh(sim);
    loadAll(set, serve(sim));
    const report = set.expiryReport(182 * DAY_MS);
    assert.deepEqual(
      report.map((e) => [e.role, e.expired, e.expiresMs - sim.clock.nowMs]),
      [['targets', false, 30 * DAY_MS]],
    );
    assert.deepEqual(
      set.expiryReport(4 * YEAR_MS).map((e) => e.role),
      ['snapshot', 'targets'],
    );
  });

  test('size limits are configurable and checked before parsing', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    const root = sim.current('root');
    assert.throws(
      () =>
        TrustedMetadataSet.fromCachedRoot(root, opts(sim, { limits: { root: root.length - 1 } })),
      { code: 'ERR_TOO_LARGE' },
    );
    const set = fresh(sim, { limits: { timestamp: 10 } });
    assert.throws(() => set.updateTimestamp(new Uint8Array(11)), { code: 'ERR_TOO_LARGE' });
    assert.throws(() => set.updateTimestamp(new Uint8Array(10)), { code: 'ERR_BAD_JSON' });
  });
});
