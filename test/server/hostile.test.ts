// The issue's hostile-input table: every bad upload or path gets the Go-compatible 4xx, the
// stored state is byte-for-byte unchanged afterwards, and the server keeps answering.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type LightMyRequestResponse } from 'fastify';
import { MemoryMetaStore } from '../../server/storage/memory.js';
import { type MetaStore } from '../../server/storage/types.js';
import { RepoBuilder } from '../../src/tuf/builder.js';
import { encodeEnvelope, canonicalText } from '../../src/tuf/canonical.js';
import { utf8Encode } from '../../src/tuf/encoding.js';
import { fileMetaFor } from '../../src/tuf/filemeta.js';
import { parseJson, type JsonObject } from '../../src/tuf/json.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { type Signer } from '../../src/tuf/keys.js';
import { formatRfc3339, parseRoot, parseTargets } from '../../src/tuf/metadata.js';
import { signEnvelope } from '../../src/tuf/sign.js';
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
  type PartSpec,
} from './http-support.js';

const GUN = 'example.com/hostile';
const TUF = `/v2/${GUN}/_trust/tuf`;

/** Every stored row (role, version, sha256) of the GUNs plus the whole changefeed. */
async function fingerprint(store: MetaStore, guns: readonly string[]): Promise<string> {
  const rows: string[] = [];
  for (const gun of guns) {
    for (const [role, max] of [...(await store.latestVersions(gun))].sort()) {
      for (let v = 0; v <= max; v++) {
        const f = await store.getByVersion(gun, role, v);
        if (f) rows.push(`${gun} ${role} ${v} ${f.sha256}`);
      }
    }
  }
  const feed = await store.changefeed({ gun: null, changeId: '0', records: 10_000 });
  return JSON.stringify({
    rows,
    feed: feed.map((c) => [c.id, c.gun, c.version, c.sha256, c.category]),
  });
}

interface WireSig {
  keyid: string;
  method: string;
  sig: string;
}

function envelopeJson(bytes: Uint8Array): { signed: JsonObject; signatures: WireSig[] } {
  return parseJson(bytes) as unknown as { signed: JsonObject; signatures: WireSig[] };
}

/** Re-signs a modified `signed` body with the given signers (Go wire bytes). */
function resign(signed: JsonObject, signers: Signer[]): Promise<Uint8Array> {
  return signEnvelope(signed, signers);
}

interface Case {
  name: string;
  status: number;
  code: string;
  detail?: (d: unknown) => void;
  /** The request: parts to upload, or a full custom request. */
  parts?: () => Promise<PartSpec[]> | PartSpec[];
  raw?: () => { headers: Record<string, string>; payload: Buffer };
}

describe('hostile uploads', () => {
  let h: Harness;
  let p: Publisher;
  /** A valid next update (targets v3 signed, not uploaded). */
  let next: Map<string, Uint8Array>;
  let oldTargets: Uint8Array;
  const guns = [GUN, 'example.com/fresh'];

  before(async () => {
    h = await harness({
      config: {
        server: {
          http_addr: '127.0.0.1:0',
          max_part_bytes: 4096,
          max_upload_bytes: 16384,
          max_parts: 8,
        },
      },
    });
    p = await Publisher.init(h, GUN);
    p.addTarget('one', '1');
    const first = await p.sign();
    oldTargets = first.get('targets') as Uint8Array;
    assert.equal((await upload(h.app, GUN, first)).statusCode, 200);
    p.addTarget('two', '2');
    assert.equal((await p.publish()).statusCode, 200);
    p.addTarget('three', '3');
    next = await p.sign();
  });
  after(() => h.close());

  const targetsPart = (body: Uint8Array | string): PartSpec[] => [{ filename: 'targets', body }];
  const nextTargets = () => envelopeJson(next.get('targets') as Uint8Array);
  const tSigners = () => p.signersFor('targets');

  const cases: Case[] = [
    {
      name: 'not multipart (application/json)',
      status: 400,
      code: 'MALFORMED_UPLOAD',
      raw: () => ({ headers: { 'content-type': 'application/json' }, payload: Buffer.from('{}') }),
    },
    {
      name: 'no Content-Type at all',
      status: 400,
      code: 'MALFORMED_UPLOAD',
      raw: () => ({ headers: {}, payload: Buffer.from('root') }),
    },
    {
      name: 'multipart without a boundary',
      status: 400,
      code: 'MALFORMED_UPLOAD',
      raw: () => ({
        headers: { 'content-type': 'multipart/form-data' },
        payload: multipart([{ filename: 'targets', body: '{}' }]),
      }),
    },
    {
      name: 'body cut off before the closing boundary',
      status: 400,
      code: 'MALFORMED_UPLOAD',
      raw: () => ({
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        payload: multipart([
          { filename: 'targets', body: next.get('targets') as Uint8Array },
        ]).subarray(0, 200),
      }),
    },
    {
      name: 'malformed part header line',
      status: 400,
      code: 'MALFORMED_UPLOAD',
      raw: () => ({
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        payload: Buffer.from(`--${BOUNDARY}\r\nthis is no header\r\n\r\n{}\r\n--${BOUNDARY}--\r\n`),
      }),
    },
    {
      name: 'body is not multipart at all',
      status: 400,
      code: 'MALFORMED_UPLOAD',
      raw: () => ({
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        payload: Buffer.from('just some bytes'),
      }),
    },
    {
      name: 'empty filename',
      status: 400,
      code: 'NO_FILENAME',
      parts: () => [{ filename: '', body: '{}' }],
    },
    {
      name: 'part without Content-Disposition filename',
      status: 400,
      code: 'NO_FILENAME',
      parts: () => [{ disposition: 'form-data; name="files"', body: '{}' }],
    },
    {
      name: 'unknown role',
      status: 400,
      code: 'INVALID_ROLE',
      detail: (d) => assert.equal(d, 'foo'),
      parts: () => [{ filename: 'foo', body: '{}' }],
    },
    {
      name: 'role escaping with ..',
      status: 400,
      code: 'INVALID_ROLE',
      detail: (d) => assert.equal(d, 'targets/../root'),
      parts: () => [{ filename: 'targets/../root.json', body: '{}' }],
    },
    {
      name: 'upper-case delegation name',
      status: 400,
      code: 'INVALID_ROLE',
      parts: () => [{ filename: 'targets/Releases', body: '{}' }],
    },
    {
      name: 'not JSON',
      status: 400,
      code: 'MALFORMED_JSON',
      parts: () => targetsPart('{"signed":'),
    },
    {
      name: 'JSON followed by garbage',
      status: 400,
      code: 'MALFORMED_JSON',
      parts: () =>
        targetsPart(Buffer.concat([next.get('targets') as Uint8Array, Buffer.from('xx')])),
    },
    {
      name: 'duplicate JSON keys',
      status: 400,
      code: 'MALFORMED_JSON',
      parts: () => targetsPart('{"signed":{"version":1,"version":2},"signatures":[]}'),
    },
    {
      name: 'version is a string',
      status: 400,
      code: 'MALFORMED_JSON',
      parts: () => targetsPart('{"signed":{"_type":"Targets","version":"3"},"signatures":[]}'),
    },
    {
      name: 'expires is not RFC 3339',
      status: 400,
      code: 'MALFORMED_JSON',
      parts: () =>
        targetsPart('{"signed":{"_type":"Targets","expires":"tomorrow"},"signatures":[]}'),
    },
    {
      name: 'signature is not base64',
      status: 400,
      code: 'MALFORMED_JSON',
      parts: () =>
        targetsPart('{"signed":{},"signatures":[{"keyid":"a","method":"ecdsa","sig":"!!"}]}'),
    },
    {
      name: 'targets signed by a key root does not list',
      status: 400,
      code: 'INVALID_UPDATE',
      detail: (d) => assert.equal((d as { Name: string }).Name, 'ErrBadTargets'),
      parts: async () =>
        targetsPart(await resign(nextTargets().signed, [KeyObjectSigner.generate('ecdsa')])),
    },
    {
      name: 'targets altered after signing',
      status: 400,
      code: 'INVALID_UPDATE',
      detail: (d) => assert.equal((d as { Name: string }).Name, 'ErrBadTargets'),
      parts: () => {
        const env = nextTargets();
        env.signed.version = 4;
        return targetsPart(encodeEnvelope(canonicalText(env.signed), env.signatures));
      },
    },
    {
      name: 'signature method that does not match the key type',
      status: 400,
      code: 'INVALID_UPDATE',
      detail: (d) =>
        assert.match(JSON.stringify(d), /"Name":"ErrBadTargets".*does not match its key type/),
      parts: () => {
        const env = nextTargets();
        const sigs = env.signatures.map((s) => ({ ...s, method: 'eddsa' }));
        return targetsPart(encodeEnvelope(canonicalText(env.signed), sigs));
      },
    },
    {
      name: 'root listing its key under the wrong key type',
      status: 400,
      code: 'INVALID_UPDATE',
      detail: (d) => assert.equal((d as { Name: string }).Name, 'ErrBadRoot'),
      parts: async () => {
        const root = parseRoot((await h.store.getLatest(GUN, 'root'))?.data as Uint8Array);
        const signed = structuredClone(root.signedJson);
        const keys = signed.keys as JsonObject;
        for (const k of Object.values(keys)) (k as JsonObject).keytype = 'ed25519';
        signed.version = 2;
        return [{ filename: 'root', body: await resign(signed, p.signersFor('root')) }];
      },
    },
    {
      name: 'root version jumping from 1 to 3',
      status: 400,
      code: 'INVALID_UPDATE',
      detail: (d) =>
        assert.deepEqual(d, {
          Name: 'ErrBadRoot',
          Error: { Msg: 'Root modifications must increment the version. Current 1, new 3' },
        }),
      parts: async () => {
        const root = parseRoot((await h.store.getLatest(GUN, 'root'))?.data as Uint8Array);
        const signed = { ...root.signedJson, version: 3 };
        return [{ filename: 'root', body: await resign(signed, p.signersFor('root')) }];
      },
    },
    {
      name: 'rolled-back targets (an older, validly signed version)',
      status: 400,
      code: 'VERSION',
      detail: (d) => assert.deepEqual(d, {}),
      parts: () => targetsPart(oldTargets),
    },
    {
      name: 'absurd version 2147483647 (would lock the role out)',
      status: 400,
      code: 'INVALID_UPDATE',
      detail: (d) => assert.match(JSON.stringify(d), /"Name":"ErrBadTargets".*2147483647/),
      parts: async () =>
        targetsPart(await resign({ ...nextTargets().signed, version: 2147483647 }, tSigners())),
    },
    {
      name: 'extra unsigned member beside signed/signatures (Cure53 2018)',
      status: 400,
      code: 'INVALID_UPDATE',
      detail: (d) => assert.match(JSON.stringify(d), /"Name":"ErrBadTargets".*unsigned member/),
      parts: () => {
        const text = Buffer.from(next.get('targets') as Uint8Array).toString('utf8');
        return targetsPart(text.slice(0, -1) + ',"extra":{"targets":{}}}');
      },
    },
    {
      name: 'expired targets',
      status: 400,
      code: 'INVALID_UPDATE',
      detail: (d) => assert.equal((d as { Name: string }).Name, 'ErrBadTargets'),
      parts: async () =>
        targetsPart(
          await resign(
            { ...nextTargets().signed, expires: formatRfc3339(h.clock.nowMs() - DAY_MS) },
            tSigners(),
          ),
        ),
    },
    {
      name: 'the same role twice',
      status: 400,
      code: 'INVALID_UPDATE',
      detail: (d) => assert.equal((d as { Name: string }).Name, 'ErrValidation'),
      parts: () => [
        { filename: 'targets', body: next.get('targets') as Uint8Array },
        { filename: 'targets.json', body: next.get('targets') as Uint8Array },
      ],
    },
    {
      name: 'a part over the per-part limit',
      status: 413,
      code: 'TOO_LARGE',
      detail: (d) =>
        assert.match(String(d), /part "targets" is 5000 bytes; the limit is 4096 bytes/),
      parts: () => targetsPart('x'.repeat(5000)),
    },
    {
      name: 'a body over the upload limit',
      status: 413,
      code: 'TOO_LARGE',
      parts: () =>
        Array.from({ length: 6 }, (_, i) => ({
          filename: `targets/r${i}`,
          body: 'x'.repeat(3000),
        })),
    },
    {
      name: 'more parts than allowed',
      status: 413,
      code: 'TOO_LARGE',
      parts: () => Array.from({ length: 9 }, (_, i) => ({ filename: `targets/r${i}`, body: '{}' })),
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const before = await fingerprint(h.store, guns);
      let res: LightMyRequestResponse;
      if (c.raw) {
        const r = c.raw();
        res = await h.app.inject({
          method: 'POST',
          url: `${TUF}/`,
          headers: r.headers,
          payload: r.payload,
        });
      } else {
        res = await upload(h.app, GUN, await (c.parts as () => Promise<PartSpec[]>)());
      }
      assert.equal(res.statusCode, c.status, res.body);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.ok(res.body.endsWith('\n'));
      const err = errorOf(res);
      assert.equal(err.code, c.code, res.body);
      c.detail?.(err.detail);
      assert.equal(await fingerprint(h.store, guns), before, 'stored state unchanged');
      assert.equal((await get(h.app, '/v2/')).statusCode, 200, 'server still answers');
    });
  }

  test('a new GUN without a root', async () => {
    const before = await fingerprint(h.store, guns);
    const res = await upload(
      h.app,
      'example.com/fresh',
      new Map([['targets', next.get('targets') as Uint8Array]]),
    );
    assert.equal(res.statusCode, 400);
    assert.deepEqual(errorOf(res).detail, {
      Name: 'ErrValidation',
      Error: { Msg: 'no pre-existing root and no root provided in update.' },
    });
    assert.equal(await fingerprint(h.store, guns), before);
  });

  test('after all of that the valid update still lands', async () => {
    assert.equal((await upload(h.app, GUN, next)).statusCode, 200);
    assert.deepEqual((await h.store.getLatest(GUN, 'targets'))?.data, next.get('targets'));
  });
});

/** Counts every call into the store, to prove refused requests never reach it. */
function countingStore(inner: MetaStore): { store: MetaStore; calls: () => number } {
  let n = 0;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        n++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls: () => n };
}

function raw(
  port: number,
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: body ? { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('hostile paths over real HTTP', () => {
  let h: Harness;
  let port: number;
  let calls: () => number;
  before(async () => {
    const counted = countingStore(new MemoryMetaStore());
    calls = counted.calls;
    h = await harness({ store: counted.store, trust: await localTrust(new MemoryMetaStore()) });
    port = (await h.server.start()).port;
  });
  after(() => h.close());

  const long = 'a'.repeat(256);
  const badGuns = [
    'a/../b',
    'a/%2e%2e/b',
    'a/%2E%2E/b',
    'a/%2e/b',
    'a/./b',
    'a%00b',
    'a%0ab',
    'a//b',
    '%2Fa',
    long,
    `x/${long}`,
  ];
  const body = multipart([{ filename: 'root', body: '{}' }]);

  for (const gun of badGuns) {
    test(`GUN ${gun.length > 40 ? `of ${gun.length} characters` : JSON.stringify(gun)}`, async () => {
      const before = calls();
      const up = await raw(port, 'POST', `/v2/${gun}/_trust/tuf/`, body);
      assert.equal(up.status, 400, up.body);
      assert.equal(
        (JSON.parse(up.body) as { errors: { code: string }[] }).errors[0]?.code,
        'INVALID_GUN',
      );
      for (const [method, suffix] of [
        ['GET', '_trust/tuf/root.json'],
        ['GET', '_trust/tuf/timestamp.key'],
        ['POST', '_trust/tuf/timestamp.key'],
        ['DELETE', '_trust/tuf/'],
        ['GET', '_trust/changefeed?records=1'],
      ] as const) {
        const res = await raw(port, method, `/v2/${gun}/${suffix}`);
        assert.equal(res.status, 404, `${method} ${suffix}: ${res.body}`);
      }
      assert.equal(calls(), before, 'storage was never touched');
    });
  }

  test('undecodable escapes and NUL are 404 without touching storage', async () => {
    const before = calls();
    for (const path of [
      '/v2/%zz/_trust/tuf/root.json',
      '/v2/a/_trust/tuf/root%00.json',
      '/v2/%ff/_trust/tuf/root.json',
    ]) {
      const res = await raw(port, 'GET', path);
      assert.equal(res.status, 404, path);
    }
    assert.equal(calls(), before);
    assert.equal((await raw(port, 'GET', '/v2/')).status, 200);
  });
});

describe('concurrent conflicting uploads', () => {
  test('through two instances on one store: exactly one lands, the others get VERSION, no fork', async () => {
    const store = new MemoryMetaStore();
    const trust = await localTrust(store);
    const clock = new TestClock();
    const a = await harness({ store, trust, clock });
    const b = await harness({ store, trust, clock });
    try {
      const p = await Publisher.init(a, GUN);
      p.addTarget('base', 'base');
      assert.equal((await p.publish()).statusCode, 200);
      const root = parseRoot((await store.getLatest(GUN, 'root'))?.data as Uint8Array);
      const targets = parseTargets((await store.getLatest(GUN, 'targets'))?.data as Uint8Array);
      const updates: Map<string, Uint8Array>[] = [];
      for (let i = 0; i < 6; i++) {
        const builder = RepoBuilder.load({ gun: GUN, root, targets });
        builder.addTarget('targets', `contender-${i}`, fileMetaFor(utf8Encode(String(i))));
        updates.push(await builder.sign({ nowMs: clock.nowMs(), signers: (r) => p.signersFor(r) }));
      }
      const results = await Promise.all(
        updates.map((u, i) => upload(i % 2 ? b.app : a.app, GUN, u)),
      );
      const ok = results.filter((r) => r.statusCode === 200);
      assert.equal(ok.length, 1, results.map((r) => r.statusCode).join(','));
      for (const r of results.filter((x) => x.statusCode !== 200)) {
        assert.equal(r.statusCode, 400);
        assert.deepEqual(errorOf(r), {
          code: 'VERSION',
          message: 'A newer version of metadata is already available.',
          detail: {},
        });
      }
      const winner = updates[results.indexOf(ok[0] as LightMyRequestResponse)] as Map<
        string,
        Uint8Array
      >;
      // One chain: timestamp v2 → snapshot v2 → the winner's targets, on both instances.
      assert.deepEqual([...(await store.latestVersions(GUN))].sort(), [
        ['root', 1],
        ['snapshot', 2],
        ['targets', 2],
        ['timestamp', 2],
      ]);
      for (const instance of [a, b]) {
        const t = await get(instance.app, `${TUF}/targets.json`);
        assert.deepEqual(new Uint8Array(t.rawPayload), winner.get('targets'));
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});
