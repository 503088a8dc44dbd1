// Every corruption of the toolkit against every role, through the client trust core. Each case
// must be refused with its ERR_ code at the step that loads the corrupted file, and the set must
// still hold exactly what it held before that step.
//
// The repository has threshold 2 for every base role and for targets/releases, so "one
// signature left" and "one key counted twice" fall below the threshold. The client trusted the
// repository at state S1 (its cache is the rollback floor); the server has since published S2.
// Rollback/fork attacks are built from the S1 copy, the others from the S2 copy. For roles whose
// hashes another file records, the attacker is assumed to re-sign those files (a malicious server
// holding the snapshot and timestamp keys, as notary-server usually does) unless the point of the
// attack is the mismatch itself.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ErrorCode } from '../../src/tuf/errors.js';
import { toHex } from '../../src/tuf/encoding.js';
import { DEFAULT_SIZE_LIMITS, TrustedMetadataSet } from '../../src/tuf/trusted-set.js';
import {
  FILE_CORRUPTIONS,
  REFERENCE_CORRUPTIONS,
  type FileCorruptionName,
  type ReferenceCorruptionName,
} from '../support/corrupt.js';
import { RepoSim } from '../support/repo-sim.js';
import { fetchRole, loadAll, loadRole } from '../support/sim-client.js';

const ROLES = ['root', 'timestamp', 'snapshot', 'targets', 'targets/releases'] as const;
type Role = (typeof ROLES)[number];
const STEPS = ['timestamp', 'snapshot', 'targets', 'targets/releases'] as const;
type Step = 'root' | (typeof STEPS)[number];

/** Refused with `code` when loading the corrupted role, or at a later `step`. */
type Expect = ErrorCode | { code: ErrorCode; step: Step } | 'n/a';

const ROOT_LIMIT = 64 * 1024;

const sig = (root: ErrorCode, other: ErrorCode): Record<Role, Expect> => ({
  root,
  timestamp: other,
  snapshot: other,
  targets: other,
  'targets/releases': other,
});
const all = (code: ErrorCode) => sig(code, code);

const FILE_EXPECT: Record<FileCorruptionName, Record<Role, Expect>> = {
  'invalid-json': all('ERR_BAD_JSON'),
  truncated: all('ERR_BAD_JSON'),
  // verifyRoot reports every signature problem of a root as ERR_BAD_ROOT.
  'flipped-signature': sig('ERR_BAD_ROOT', 'ERR_BAD_SIGNATURE'),
  'wrong-method': sig('ERR_BAD_ROOT', 'ERR_METHOD_MISMATCH'),
  rollback: all('ERR_ROLLBACK'),
  fork: all('ERR_ROLLBACK'),
  // An expired intermediate root is accepted; the root must be fresh before the timestamp.
  expired: { ...all('ERR_EXPIRED'), root: { code: 'ERR_EXPIRED', step: 'timestamp' } },
  'no-signatures': sig('ERR_BAD_ROOT', 'ERR_NO_SIGNATURES'),
  'threshold-not-met': sig('ERR_BAD_ROOT', 'ERR_THRESHOLD'),
  'swapped-keys': sig('ERR_BAD_ROOT', 'ERR_THRESHOLD'),
  'duplicate-signatures': sig('ERR_BAD_ROOT', 'ERR_THRESHOLD'),
  oversize: all('ERR_TOO_LARGE'),
  'unsigned-member': all('ERR_BAD_METADATA'),
  'max-version': all('ERR_BAD_METADATA'),
  'wrong-type': all('ERR_WRONG_TYPE'),
};

// The file recording the role's hashes is altered (and re-signed by its legitimate key).
const REFERENCE_EXPECT: Record<ReferenceCorruptionName, Record<Role, Expect>> = {
  'hash-mismatch': {
    root: { code: 'ERR_ROOT_CHANGED', step: 'snapshot' },
    timestamp: 'n/a',
    snapshot: 'ERR_HASH_MISMATCH',
    targets: 'ERR_HASH_MISMATCH',
    'targets/releases': 'ERR_HASH_MISMATCH',
  },
  'sha512-mismatch': {
    root: { code: 'ERR_ROOT_CHANGED', step: 'snapshot' },
    timestamp: 'n/a',
    snapshot: 'ERR_HASH_MISMATCH',
    targets: 'ERR_HASH_MISMATCH',
    'targets/releases': 'ERR_HASH_MISMATCH',
  },
  'length-mismatch': {
    root: { code: 'ERR_ROOT_CHANGED', step: 'snapshot' },
    timestamp: 'n/a',
    snapshot: 'ERR_HASH_MISMATCH',
    targets: 'ERR_HASH_MISMATCH',
    'targets/releases': 'ERR_HASH_MISMATCH',
  },
};

interface Base {
  sim: RepoSim;
  /** S1 as the client cached it. */
  cache: Map<string, Uint8Array>;
  trustedRoot: Uint8Array;
}

async function setup(): Promise<Base> {
  const thresholds = { root: 2, targets: 2, snapshot: 2, timestamp: 2 };
  const sim = await RepoSim.create({ gun: 'example.com/attacks', thresholds });
  sim.addTarget('hello', 'hello');
  sim.addDelegation('targets/releases', { threshold: 2, paths: ['releases/'] });
  sim.addDelegation('targets/releases/beta', { paths: ['releases/beta/'] });
  sim.addTarget('releases/v1', 'v1', 'targets/releases');
  sim.addTarget('releases/beta/x', 'x', 'targets/releases/beta');
  await sim.publish();
  sim.touch('root', 'targets', 'targets/releases', 'targets/releases/beta');
  await sim.publish(); // S1: every role at version 2 or more
  const base = { sim, cache: sim.cache(), trustedRoot: sim.current('root') };
  sim.touch('root', 'targets', 'targets/releases', 'targets/releases/beta');
  await sim.publish(); // S2
  return base;
}

const base = setup();

type State = Record<string, string | undefined>;

function state(set: TrustedMetadataSet): State {
  const hex = (b: Uint8Array | undefined) => (b ? toHex(b) : undefined);
  const out: State = {
    root: hex(set.root.raw),
    timestamp: hex(set.timestamp?.raw),
    snapshot: hex(set.snapshot?.raw),
    targets: hex(set.targets?.raw),
  };
  for (const r of set.delegatedRoles) out[r] = hex(set.delegated(r)?.raw);
  return out;
}

/**
 * Runs `steps` in order; those before `failAt` must pass, `failAt` must throw `code` and leave
 * the set as it was.
 */
function expectRefusal(
  set: TrustedMetadataSet,
  steps: Array<[Step, () => void]>,
  failAt: Step,
  code: ErrorCode,
): void {
  for (const [name, run] of steps) {
    if (name !== failAt) {
      run();
      continue;
    }
    const before = state(set);
    assert.throws(run, (e: unknown) => {
      assert.equal((e as { code?: unknown }).code, code, `${String(e)}`);
      return true;
    });
    assert.deepEqual(state(set), before, 'the set is unchanged');
    return;
  }
  assert.fail(`step ${failAt} never ran`);
}

function split(e: Exclude<Expect, 'n/a'>, role: Role): { code: ErrorCode; step: Step } {
  return typeof e === 'string' ? { code: e, step: role } : e;
}

const CHECKSUM_PATH = /^(.+)\.[0-9a-f]{64}\.json$/;

/** The load steps after root; `lying` serves a role's current file under any checksum asked for. */
function chain(set: TrustedMetadataSet, sim: RepoSim, lying = false): Array<[Step, () => void]> {
  const serve = (p: string) => {
    const m = lying ? CHECKSUM_PATH.exec(p) : null;
    return sim.serve(p) ?? (m ? sim.current(m[1] ?? '') : undefined);
  };
  return STEPS.map((s) => [s, () => loadRole(set, s, serve)]);
}

test('the baseline loads cleanly from S1 and from S2', async () => {
  const { sim, cache, trustedRoot } = await base;
  const s1 = TrustedMetadataSet.fromCachedRoot(trustedRoot, {
    gun: sim.gun,
    nowMs: sim.clock.nowMs,
  });
  loadAll(s1, (p) => {
    const m = CHECKSUM_PATH.exec(p);
    return p === 'timestamp.json' ? cache.get('timestamp') : m ? cache.get(m[1] ?? '') : undefined;
  });
  assert.deepEqual(s1.delegatedRoles, ['targets/releases', 'targets/releases/beta']);
  const s2 = TrustedMetadataSet.fromCachedRoot(trustedRoot, {
    gun: sim.gun,
    nowMs: sim.clock.nowMs,
    previous: cache,
  });
  s2.updateRoot(sim.current('root'));
  loadAll(s2, (p) => sim.serve(p));
  assert.equal(s2.findTarget('releases/beta/x')?.role, 'targets/releases/beta');
});

describe('file corruptions', () => {
  for (const c of FILE_CORRUPTIONS) {
    for (const role of ROLES) {
      const expected = FILE_EXPECT[c.name][role];
      if (expected === 'n/a') continue;
      const { code, step } = split(expected, role);
      test(`${c.name} × ${role} → ${code}${step === role ? '' : ` at ${step}`}`, async () => {
        const b = await base;
        const sim = b.sim.clone();
        const trusted = role === 'root' ? b.trustedRoot : b.cache.get(role);
        assert.ok(trusted);
        const input = c.base === 'trusted' ? trusted : sim.current(role);
        const maxBytes =
          role === 'root'
            ? ROOT_LIMIT
            : role === 'timestamp'
              ? DEFAULT_SIZE_LIMITS.timestamp
              : sim.current(role).length;
        const bad = await c.apply(input, {
          signers: sim.signersFor(role),
          otherSigners: sim.signersFor(role === 'targets' ? 'snapshot' : 'targets'),
          nowMs: sim.clock.nowMs,
          maxBytes,
        });
        assert.notDeepEqual(bad, input);
        const opts = {
          gun: sim.gun,
          nowMs: sim.clock.nowMs,
          previous: b.cache,
          limits: { root: ROOT_LIMIT },
        };
        if (role === 'root') {
          // The client trusts S1's root; the corrupted file stands for S2's root.
          const set = TrustedMetadataSet.fromCachedRoot(b.trustedRoot, opts);
          const steps: Array<[Step, () => void]> = [['root', () => set.updateRoot(bad)]];
          expectRefusal(set, [...steps, ...chain(set, sim)], step, code);
          return;
        }
        if (c.rereference) await sim.inject(role, bad);
        else sim.tamper(role, bad);
        const set = TrustedMetadataSet.fromCachedRoot(sim.current('root'), opts);
        expectRefusal(set, chain(set, sim), step, code);
      });
    }
  }
});

describe('reference corruptions', () => {
  for (const c of REFERENCE_CORRUPTIONS) {
    for (const role of ROLES) {
      const expected = REFERENCE_EXPECT[c.name][role];
      if (expected === 'n/a') continue;
      const { code, step } = split(expected, role);
      test(`${c.name} of ${role} → ${code}${step === role ? '' : ` at ${step}`}`, async () => {
        const b = await base;
        const sim = b.sim.clone();
        const referencing = role === 'snapshot' ? 'timestamp' : 'snapshot';
        const bad = await c.apply(sim.current(referencing), role, sim.signersFor(referencing));
        await sim.inject(referencing, bad);
        const set = TrustedMetadataSet.fromCachedRoot(sim.current('root'), {
          gun: sim.gun,
          nowMs: sim.clock.nowMs,
          previous: b.cache,
        });
        // A hash that names no stored file would be a 404; the server answers with its file.
        expectRefusal(set, chain(set, sim, true), step, code);
      });
    }
  }
});

describe('mix-and-match and replays', () => {
  test('an older, validly signed file served under the current checksum is refused', async () => {
    const b = await base;
    for (const role of ['snapshot', 'targets', 'targets/releases'] as const) {
      const sim = b.sim.clone();
      const old = b.cache.get(role);
      assert.ok(old);
      sim.tamper(role, old);
      const set = TrustedMetadataSet.fromCachedRoot(sim.current('root'), {
        gun: sim.gun,
        nowMs: sim.clock.nowMs,
      });
      expectRefusal(set, chain(set, sim), role, 'ERR_HASH_MISMATCH');
    }
  });

  test('after a refusal the set still accepts the legitimate file', async () => {
    const b = await base;
    const sim = b.sim.clone();
    const set = TrustedMetadataSet.fromCachedRoot(sim.current('root'), {
      gun: sim.gun,
      nowMs: sim.clock.nowMs,
      previous: b.cache,
    });
    for (const r of ['timestamp', 'snapshot', 'targets'] as const)
      loadRole(set, r, (p) => sim.serve(p));
    const good = fetchRole(set, 'targets/releases', (p) => sim.serve(p));
    const bad = good.slice();
    const i = bad.length - 3;
    bad[i] = (bad[i] ?? 0) ^ 1;
    assert.throws(() => set.updateDelegatedTargets(bad, 'targets/releases'), {
      code: 'ERR_HASH_MISMATCH',
    });
    assert.equal(set.updateDelegatedTargets(good, 'targets/releases').signed.version, 3);
  });
});
