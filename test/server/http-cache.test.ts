// The in-process cache of current metadata (server/http/current.ts): how often it asks the store,
// what it keeps, and that it never keeps a state read across a write.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { CurrentCache, readCurrentRole, rfc1123 } from '../../server/http/current.js';
import { MemoryMetaStore } from '../../server/storage/memory.js';
import { type MetaStore } from '../../server/storage/types.js';
import { Publisher, harness } from './http-support.js';

const GUNS = ['example.com/a', 'example.com/b', 'example.com/c'];

/** The store with every call counted by method name. */
function counted(inner: MetaStore): { store: MetaStore; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls };
}

describe('CurrentCache', () => {
  const base = new MemoryMetaStore();
  before(async () => {
    const h = await harness({ store: base });
    for (const gun of GUNS) {
      const p = await Publisher.init(h, gun);
      p.addTarget('x', gun);
      assert.equal((await p.publish()).statusCode, 200);
    }
    await h.close();
  });

  const make = (over: Partial<ConstructorParameters<typeof CurrentCache>[1]> = {}) => {
    const { store, calls } = counted(base);
    let now = 0;
    const cache = new CurrentCache(store, {
      revalidateMs: 100,
      maxEntries: 100,
      maxBytes: 1 << 30,
      monotonic: () => now,
      ...over,
    });
    return { cache, calls, store, advance: (ms: number) => (now += ms) };
  };

  test('concurrent readers share one build; within revalidate_ms nothing is read again', async () => {
    const { cache, calls, advance } = make();
    const [a, b] = await Promise.all([cache.get(GUNS[0] as string), cache.get(GUNS[0] as string)]);
    assert.equal(a, b);
    assert.equal(calls.get('getLatest'), 1);
    advance(99);
    assert.equal(await cache.get(GUNS[0] as string), a);
    assert.equal(calls.get('getLatest'), 1);
    advance(1);
    assert.equal(await cache.get(GUNS[0] as string), a, 'unchanged timestamp: same entry');
    assert.equal(calls.get('getLatest'), 2);
    assert.equal(calls.get('getByChecksum'), 1, 'the snapshot is not read again');
  });

  test('files are read once per entry and misses are not kept', async () => {
    const { cache, calls, store } = make();
    const gun = GUNS[1] as string;
    const e = await cache.get(gun);
    const load = () => readCurrentRole(store, gun, e.chain, 'targets');
    const before = calls.get('getByChecksum') ?? 0;
    const f1 = await cache.file(e, 'c:targets', load);
    const f2 = await cache.file(e, 'c:targets', load);
    assert.equal(f1, f2);
    assert.equal(calls.get('getByChecksum'), before + 1);
    assert.equal(f1?.lastModified, rfc1123(f1?.file.createdAt as Date));
    await cache.file(e, 'h:none', () => Promise.resolve(undefined));
    await cache.file(e, 'h:none', () => Promise.resolve(undefined));
    let misses = 0;
    await cache.file(e, 'h:none', () => {
      misses++;
      return Promise.resolve(undefined);
    });
    assert.equal(misses, 1, 'a miss is asked again');
  });

  test('an invalidate() during a build: that build is served once but not kept', async () => {
    const { cache, calls } = make();
    const gun = GUNS[2] as string;
    const building = cache.get(gun);
    cache.invalidate(gun);
    await building;
    assert.equal(cache.size, 0);
    await cache.get(gun);
    assert.equal(calls.get('getLatest'), 2);
    assert.equal(cache.size, 1);
  });

  test('max entries and max bytes: least recently filled GUN dropped, newest kept', async () => {
    const byCount = make({ maxEntries: 2 });
    for (const gun of GUNS) await byCount.cache.get(gun);
    assert.equal(byCount.cache.size, 2);
    await byCount.cache.get(GUNS[1] as string);
    await byCount.cache.get(GUNS[2] as string);
    assert.equal(byCount.calls.get('getLatest'), 3, 'b and c still cached');
    await byCount.cache.get(GUNS[0] as string);
    assert.equal(byCount.calls.get('getLatest'), 4, 'a was dropped');

    const byBytes = make({ maxBytes: 1 });
    for (const gun of GUNS) await byBytes.cache.get(gun);
    assert.equal(byBytes.cache.size, 1);
    assert.ok(byBytes.cache.bytes > 1, 'the newest entry is kept even over budget');
    const e = await byBytes.cache.get(GUNS[2] as string);
    const held = byBytes.cache.bytes;
    await byBytes.cache.file(e, 'c:root', () =>
      readCurrentRole(byBytes.store, GUNS[2] as string, e.chain, 'root'),
    );
    assert.ok(byBytes.cache.bytes > held, 'file bytes are counted');
    byBytes.cache.invalidate(GUNS[2] as string);
    assert.equal(byBytes.cache.bytes, 0);
  });
});
