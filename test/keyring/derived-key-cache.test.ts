// The derived-key cache: argon2id runs once per (passphrase, salt, cost), never at the expense of
// the passphrase check. Runs are counted with kdf.ts's argon2idRuns() (real argon2id at the cheap
// TEST_COST); lifetimes use an injected clock.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { parseJson, type JsonObject } from '../../src/tuf/json.js';
import {
  DerivedKeyCache,
  configureDerivedKeyCache,
  defaultDerivedKeyCache,
  type DeriveFn,
} from '../../src/keyring/derived-key-cache.js';
import { CEREMONY, KdfMemoryError, argon2idRuns } from '../../src/keyring/kdf.js';
import { FORMAT_VERSION, openKeyFile, parseKeyFile } from '../../src/keyring/keyfile-format.js';
import type { KeyRecord } from '../../src/keyring/types.js';
import { NOW, ScriptedPrompter, TEST_COST, fileBackend, tempTrustDir } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof TrustdeskError && e.code === code;
const MIN = 60_000;

/** argon2id runs made while `fn` ran. */
async function runsDuring(fn: () => Promise<unknown>): Promise<number> {
  const before = argon2idRuns();
  await fn();
  return argon2idRuns() - before;
}

class Clock {
  constructor(public ms = NOW) {}
  readonly now = (): number => this.ms;
}

async function newKey(
  dir: string,
  cache: DerivedKeyCache,
  pass: string,
  role = 'targets',
): Promise<KeyRecord> {
  return fileBackend(dir, { kdfCache: cache }).generate(
    { algorithm: 'ecdsa', role, gun: role === 'root' ? '' : 'example.com/app', nowMs: NOW },
    new ScriptedPrompter([pass]),
  );
}

async function saltOf(r: KeyRecord): Promise<Uint8Array> {
  return parseKeyFile(await readFile(r.location), r.location).header.kdf.salt;
}

async function unlock(dir: string, cache: DerivedKeyCache, r: KeyRecord, pass: string) {
  const s = await fileBackend(dir, { kdfCache: cache }).signer(r, new ScriptedPrompter([pass]));
  assert.equal(s.keyId, r.tufId);
}

/**
 * Records the 64-byte buffers zeroed while `fn` runs (the cache's own copies: nothing else is
 * wiped inside the cache calls these tests wrap).
 */
async function wipedDuring(t: TestContext, fn: () => unknown): Promise<Uint8Array[]> {
  const wiped: Uint8Array[] = [];
  const proto = Buffer.prototype as Buffer;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply below
  const fill = proto.fill as (this: Buffer, ...a: unknown[]) => Buffer;
  t.mock.method(proto, 'fill', function (this: Buffer, ...args: unknown[]) {
    if (this.length === 64 && args[0] === 0) wiped.push(new Uint8Array(this));
    return fill.apply(this, args);
  });
  try {
    await fn();
  } finally {
    t.mock.restoreAll();
  }
  return wiped;
}

const wipedValue = (wiped: Uint8Array[], value: Uint8Array) =>
  wiped.some((w) => Buffer.from(w).equals(value));

test('unlocking the same file twice runs argon2id once', async (t) => {
  const dir = await tempTrustDir(t);
  const r = await newKey(dir, new DerivedKeyCache(), 'passphrase-1');
  const cache = new DerivedKeyCache();
  assert.equal(await runsDuring(() => unlock(dir, cache, r, 'passphrase-1')), 1);
  assert.equal(await runsDuring(() => unlock(dir, cache, r, 'passphrase-1')), 0);
  assert.deepEqual(cache.stats(), { entries: 1, hits: 1, misses: 1 });
});

test('two keys sealed with one passphrase and cost: one run, one salt, and both open with a fresh cache', async (t) => {
  const dir = await tempTrustDir(t);
  const cache = new DerivedKeyCache();
  let a!: KeyRecord, b!: KeyRecord;
  assert.equal(
    await runsDuring(async () => {
      a = await newKey(dir, cache, 'shared passphrase');
      b = await newKey(dir, cache, 'shared passphrase', 'snapshot');
    }),
    1,
  );
  assert.deepEqual(await saltOf(a), await saltOf(b));
  // Nonces stay random per file, so the shared key never meets the same nonce twice.
  const nonces = await Promise.all(
    [a, b].map(async (r) => parseKeyFile(await readFile(r.location), 'k').header.nonce),
  );
  assert.notDeepEqual(nonces[0], nonces[1]);
  const fresh = new DerivedKeyCache();
  assert.equal(
    await runsDuring(async () => {
      await unlock(dir, fresh, a, 'shared passphrase');
      await unlock(dir, fresh, b, 'shared passphrase');
    }),
    1,
    'the shared salt lets a fresh cache open both with one run',
  );
});

test('different passphrases run separately and get different salts', async (t) => {
  const dir = await tempTrustDir(t);
  const cache = new DerivedKeyCache();
  let a!: KeyRecord, b!: KeyRecord;
  assert.equal(
    await runsDuring(async () => {
      a = await newKey(dir, cache, 'passphrase-one');
      b = await newKey(dir, cache, 'passphrase-two');
    }),
    2,
  );
  assert.notDeepEqual(await saltOf(a), await saltOf(b));
  // The same passphrase at another cost does not share either.
  const c = await fileBackend(dir, {
    kdfCache: cache,
    costFor: () => ({ ...TEST_COST, iterations: 2 }),
  }).generate(
    { algorithm: 'ecdsa', role: 'targets', gun: 'g', nowMs: NOW },
    new ScriptedPrompter(['passphrase-one']),
  );
  assert.notDeepEqual(await saltOf(c), await saltOf(a));
  assert.equal(cache.size, 3);
});

test('a wrong passphrase after a cached success fails, costs a run and caches nothing', async (t) => {
  const dir = await tempTrustDir(t);
  const cache = new DerivedKeyCache();
  const r = await newKey(dir, cache, 'the right passphrase');
  const f = parseKeyFile(await readFile(r.location), r.location);
  for (let i = 0; i < 2; i++) {
    assert.equal(
      await runsDuring(() =>
        assert.rejects(
          openKeyFile(f, 'a wrong passphrase', 'k', { kdf: cache }),
          isCode('ERR_BAD_PASSPHRASE'),
        ),
      ),
      1,
      'every wrong attempt pays the full KDF (nothing was saved for it)',
    );
    assert.equal(cache.size, 1);
  }
  assert.equal(cache.saltFor('a wrong passphrase', TEST_COST), undefined);
  assert.equal(
    await runsDuring(() => openKeyFile(f, 'the right passphrase', 'k', { kdf: cache })),
    0,
  );
  // Through the backend's retry loop: the wrong answer fails, the right one is still a hit.
  const p = new ScriptedPrompter(['a wrong passphrase', 'the right passphrase']);
  assert.equal(await runsDuring(() => fileBackend(dir, { kdfCache: cache }).signer(r, p)), 1);
  assert.equal(p.asked.length, 2);
});

test('a derivation the caller rejects is never cached; concurrent uses share one run', async () => {
  const cache = new DerivedKeyCache();
  const salt = new Uint8Array(16).fill(7);
  (await cache.derive('pass-pass', salt, TEST_COST, () => false)).fill(0);
  assert.equal(cache.size, 0);
  const runs = await runsDuring(async () => {
    const [x, y] = await Promise.all([
      cache.derive('pass-pass', salt, TEST_COST),
      cache.derive('pass-pass', salt, TEST_COST),
    ]);
    assert.deepEqual(x, y);
    assert.notEqual(x.buffer, y.buffer, 'each caller owns its copy');
    x.fill(0);
    assert.deepEqual(
      await cache.derive('pass-pass', salt, TEST_COST),
      y,
      'wiping a copy is harmless',
    );
  });
  assert.equal(runs, 1);
  assert.deepEqual(cache.stats(), { entries: 1, hits: 2, misses: 2 });
});

test('entries expire after the idle TTL and the maximum TTL, and their values are wiped', async (t) => {
  const clock = new Clock();
  const cache = new DerivedKeyCache({ nowMs: clock.now, ttlMs: 10 * MIN, maxTtlMs: 60 * MIN });
  const salt = new Uint8Array(16).fill(1);
  const derive = () => cache.derive('pass-pass', salt, TEST_COST);
  const value = await derive();

  clock.ms += 10 * MIN - 1;
  assert.equal(await runsDuring(derive), 0, 'just inside the idle TTL');
  clock.ms += 10 * MIN;
  assert.ok(wipedValue(await wipedDuring(t, () => cache.prune()), value), 'idle expiry wipes');
  assert.equal(cache.size, 0);
  assert.equal(cache.saltFor('pass-pass', TEST_COST), undefined);
  assert.equal(await runsDuring(derive), 1, 'idle-expired: runs again');

  // Used every 9 minutes it stays idle-fresh, but not past the maximum TTL.
  const created = clock.ms;
  while (clock.ms + 9 * MIN < created + 60 * MIN) {
    clock.ms += 9 * MIN;
    assert.equal(await runsDuring(derive), 0);
  }
  clock.ms = created + 60 * MIN;
  const wiped = await wipedDuring(t, () =>
    assert.equal(cache.saltFor('pass-pass', TEST_COST), undefined),
  );
  assert.ok(wipedValue(wiped, value), 'max-TTL expiry wipes, found on access');
  assert.equal(await runsDuring(derive), 1, 'max-TTL expired: runs again');
});

test('maxEntries evicts the least recently used entry and wipes it', async (t) => {
  const cache = new DerivedKeyCache({ maxEntries: 2 });
  const salt = (n: number) => new Uint8Array(16).fill(n);
  const d = (n: number) => cache.derive(`passphrase-${n}`, salt(n), TEST_COST);
  await d(1);
  const two = await d(2);
  assert.equal(await runsDuring(() => d(1)), 0, 'touch 1: now 2 is the least recently used');
  const wiped = await wipedDuring(t, () => d(3));
  assert.ok(wipedValue(wiped, two));
  assert.equal(cache.size, 2);
  assert.equal(await runsDuring(() => d(1)), 0);
  assert.equal(await runsDuring(() => d(2)), 1, 'evicted: runs again');
});

test('clear() wipes everything; later uses run again', async (t) => {
  const cache = new DerivedKeyCache();
  const a = await cache.derive('passphrase-a', new Uint8Array(16).fill(1), TEST_COST);
  const b = await cache.derive('passphrase-b', new Uint8Array(16).fill(2), TEST_COST);
  const wiped = await wipedDuring(t, () => cache.clear());
  assert.ok(wipedValue(wiped, a) && wipedValue(wiped, b));
  assert.equal(cache.size, 0);
  assert.equal(cache.saltFor('passphrase-a', TEST_COST), undefined);
  assert.equal(
    await runsDuring(() => cache.derive('passphrase-a', new Uint8Array(16).fill(1), TEST_COST)),
    1,
  );
  // A derivation under way when clear() runs is not stored afterwards.
  const late = cache.derive('passphrase-c', new Uint8Array(16).fill(3), TEST_COST);
  cache.clear();
  await late;
  assert.equal(cache.size, 0);
});

test('a disabled cache runs argon2id every time and never shares salts', async (t) => {
  const dir = await tempTrustDir(t);
  const cache = new DerivedKeyCache({ enabled: false });
  let a!: KeyRecord, b!: KeyRecord;
  assert.equal(
    await runsDuring(async () => {
      a = await newKey(dir, cache, 'one passphrase');
      b = await newKey(dir, cache, 'one passphrase');
    }),
    2,
  );
  assert.notDeepEqual(await saltOf(a), await saltOf(b));
  assert.equal(
    await runsDuring(async () => {
      await unlock(dir, cache, a, 'one passphrase');
      await unlock(dir, cache, a, 'one passphrase');
    }),
    2,
  );
  assert.equal(cache.size, 0);
  // Disabling a live cache empties it at once.
  const live = new DerivedKeyCache();
  await unlock(dir, live, a, 'one passphrase');
  live.configure({ enabled: false });
  assert.equal(live.size, 0);
  assert.equal(await runsDuring(() => unlock(dir, live, a, 'one passphrase')), 1);
});

test('the process-wide cache backs the file backend and configureDerivedKeyCache turns it off', async (t) => {
  const dir = await tempTrustDir(t);
  t.after(() => configureDerivedKeyCache({ enabled: true }));
  const shared = defaultDerivedKeyCache();
  shared.clear();
  const r = await fileBackend(dir).generate(
    { algorithm: 'ecdsa', role: 'targets', gun: 'g', nowMs: NOW },
    new ScriptedPrompter(['process passphrase']),
  );
  assert.ok(shared.saltFor('process passphrase', TEST_COST));
  const signer = () => fileBackend(dir).signer(r, new ScriptedPrompter(['process passphrase']));
  assert.equal(await runsDuring(signer), 0);
  configureDerivedKeyCache({ enabled: false });
  assert.equal(shared.size, 0);
  assert.equal(await runsDuring(signer), 1);
  assert.equal(await runsDuring(signer), 1);
  assert.throws(() => configureDerivedKeyCache({ maxEntries: 0 }), isCode('ERR_USAGE'));
});

test('key files sealed through the cache are ordinary version-1 files', async (t) => {
  const dir = await tempTrustDir(t);
  const cache = new DerivedKeyCache();
  const a = await newKey(dir, cache, 'ordinary passphrase');
  const b = await newKey(dir, cache, 'ordinary passphrase');
  for (const r of [a, b]) {
    const doc = parseJson(await readFile(r.location)) as JsonObject;
    assert.equal(doc.version, FORMAT_VERSION);
    assert.equal(FORMAT_VERSION, 1);
    assert.deepEqual(Object.keys(doc.kdf as JsonObject).sort(), [
      'check',
      'iterations',
      'memoryKiB',
      'name',
      'parallelism',
      'profile',
      'salt',
      'version',
    ]);
    // No cache at all (plain argon2id) and an empty cache both open it.
    const f = parseKeyFile(await readFile(r.location), r.location);
    await openKeyFile(f, 'ordinary passphrase', 'k');
    await unlock(dir, new DerivedKeyCache(), r, 'ordinary passphrase');
  }
});

test('passwd reuses the cached salt of the new passphrase and still rejects the old one', async (t) => {
  const dir = await tempTrustDir(t);
  const cache = new DerivedKeyCache();
  const a = await newKey(dir, cache, 'passphrase-new');
  const b = await newKey(dir, cache, 'passphrase-old');
  const backend = fileBackend(dir, { kdfCache: cache });
  assert.equal(
    await runsDuring(() =>
      backend.changePassphrase(b, new ScriptedPrompter(['passphrase-old'], ['passphrase-new'])),
    ),
    0,
  );
  assert.deepEqual(await saltOf(b), await saltOf(a));
  const f = parseKeyFile(await readFile(b.location), b.location);
  await assert.rejects(
    openKeyFile(f, 'passphrase-old', 'k', { kdf: cache }),
    isCode('ERR_BAD_PASSPHRASE'),
  );
  await openKeyFile(f, 'passphrase-new', 'k');
});

test('the ceremony-reduced retry still works through the cache, and root keys share the result', async (t) => {
  const dir = await tempTrustDir(t);
  // A stand-in KDF (real argon2id at 2 GiB is far too heavy for a unit test) that cannot get
  // more than 64 MiB, like a small machine.
  const calls: number[] = [];
  const derive: DeriveFn = (pass, salt, cost) => {
    calls.push(cost.memoryKiB);
    if (cost.memoryKiB > 64 * 1024) {
      return Promise.reject(new KdfMemoryError('ERR_IO', 'argon2id could not get memory'));
    }
    const h = createHash('sha512').update(pass).update(salt);
    return Promise.resolve(h.update(`${cost.memoryKiB}:${cost.iterations}`).digest());
  };
  const cache = new DerivedKeyCache({ derive });
  const backend = fileBackend(dir, { kdfCache: cache, costFor: () => CEREMONY });
  const gen = () =>
    backend.generate(
      { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW },
      new ScriptedPrompter(['root passphrase']),
    );
  const r = await gen();
  const h = parseKeyFile(await readFile(r.location), r.location).header;
  assert.equal(h.kdf.profile, 'ceremony-reduced');
  assert.equal(h.kdf.memoryKiB, 64 * 1024);
  assert.equal(h.kdf.iterations, CEREMONY.memoryKiB / (64 * 1024));
  assert.equal(calls.at(-1), 64 * 1024);
  assert.equal(cache.size, 1, 'failed allocations are not cached');
  const n = calls.length;
  await backend.signer(r, new ScriptedPrompter(['root passphrase']));
  assert.equal(calls.length, n, 'unlocking the new root key is a hit');
  // A second root key: the ceremony cost fails again, the reduced one reuses the cached salt.
  const r2 = await gen();
  assert.deepEqual(await saltOf(r2), h.kdf.salt);
  assert.equal(calls.filter((m) => m === 64 * 1024).length, 1);
});
