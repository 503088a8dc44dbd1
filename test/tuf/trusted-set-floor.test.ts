// The trusted set's floor when the cached copy is byte-identical to the new file (the usual
// update: nothing changed on the server). The copy is then not verified a second time, but the
// new file still passes every rule: signatures by the keys root lists NOW, expiry, version.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TrustedMetadataSet, type TrustedSetOptions } from '../../src/tuf/trusted-set.js';
import { DAY_MS, RepoSim, YEAR_MS } from '../support/repo-sim.js';
import { loadAll } from '../support/sim-client.js';

const GUN = 'example.com/app';

function fresh(sim: RepoSim, extra: Partial<TrustedSetOptions> = {}): TrustedMetadataSet {
  return TrustedMetadataSet.fromCachedRoot(sim.current('root'), {
    gun: sim.gun,
    nowMs: sim.clock.nowMs,
    ...extra,
  });
}

const serve = (sim: RepoSim) => (p: string) => sim.serve(p);

describe('TrustedMetadataSet: a cached copy identical to the new file', () => {
  test('is the floor: every role loads, at the cached versions', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addTarget('a', 'a');
    sim.addDelegation('targets/releases');
    sim.addTarget('v1', 'v', 'targets/releases');
    await sim.publish();
    const cache = sim.cache();
    const set = fresh(sim, { previous: cache });
    loadAll(set, serve(sim));
    for (const role of ['timestamp', 'snapshot', 'targets', 'targets/releases']) {
      const v =
        role === 'timestamp'
          ? set.timestamp
          : role === 'snapshot'
            ? set.snapshot
            : role === 'targets'
              ? set.targets
              : set.delegated(role);
      assert.deepEqual(v?.raw, cache.get(role), role);
    }
  });

  test('does not spare the new file its expiry check', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.setLifetime('timestamp', YEAR_MS);
    sim.setLifetime('snapshot', YEAR_MS);
    sim.setLifetime('targets', DAY_MS);
    sim.addTarget('a', 'a');
    await sim.publish();
    const cache = sim.cache();
    sim.clock.advance(2 * DAY_MS);
    assert.throws(() => loadAll(fresh(sim, { previous: cache }), serve(sim)), {
      code: 'ERR_EXPIRED',
      message: /^targets/,
    });
  });

  test('does not spare the new file its signature check after a key rotation', async () => {
    const sim = await RepoSim.create({ gun: GUN });
    sim.addTarget('a', 'a');
    await sim.publish();
    const cache = sim.cache();
    const old = sim.current('targets');
    sim.rotateKey('targets');
    await sim.publish();
    // A server holding the snapshot key serves the old targets again (re-listed in the snapshot):
    // byte-identical to the cached copy, but signed only by a key root no longer lists.
    await sim.inject('targets', old);
    assert.throws(
      () => loadAll(fresh(sim, { previous: cache }), serve(sim)),
      (e: unknown) => {
        const code = (e as { code?: string }).code;
        assert.ok(code === 'ERR_THRESHOLD' || code === 'ERR_BAD_SIGNATURE', String(code));
        return true;
      },
    );
  });
});
