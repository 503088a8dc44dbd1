import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalText } from '../../src/tuf/canonical.js';
import { TufError } from '../../src/tuf/errors.js';
import type { JsonObject, JsonValue } from '../../src/tuf/json.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import {
  MAX_VERSION,
  formatRfc3339,
  parseAny,
  parseRfc3339,
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
} from '../../src/tuf/metadata.js';
import { isDelegationName, parentRole, pathAllowed, restrictPaths } from '../../src/tuf/roles.js';

const H32 = Buffer.alloc(32, 1).toString('base64');
const H64 = Buffer.alloc(64, 2).toString('base64');
const key = KeyObjectSigner.generate('ecdsa').publicKey;
const dkey = KeyObjectSigner.generate('ed25519').publicKey;

const envelope = (signed: JsonValue, extra: Record<string, JsonValue> = {}) =>
  new TextEncoder().encode(
    JSON.stringify({
      signed,
      signatures: [{ keyid: key.id, method: 'ECDSA', sig: 'AAAA' }],
      ...extra,
    }),
  );

const root = (): JsonObject => ({
  _type: 'Root',
  consistent_snapshot: false,
  expires: '2036-11-18T22:00:07.124992914Z',
  keys: { [key.id]: key.toJSON() as unknown as JsonObject },
  roles: Object.fromEntries(
    ['root', 'targets', 'snapshot', 'timestamp'].map((r) => [
      r,
      { keyids: [key.id], threshold: 1 },
    ]),
  ),
  version: 1,
});
const targets = (): JsonObject => ({
  _type: 'Targets',
  delegations: {
    keys: { [dkey.id]: dkey.toJSON() as unknown as JsonObject },
    roles: [{ keyids: [dkey.id], name: 'targets/releases', paths: ['rel/'], threshold: 1 }],
  },
  expires: '2029-11-20T22:00:35.6075Z',
  targets: {
    hello: { custom: { b: [1] }, hashes: { sha256: H32, sha512: H64, md5: 'AAAA' }, length: 6 },
  },
  version: 3,
});
const snapshot = (): JsonObject => ({
  _type: 'Snapshot',
  expires: '2029-11-20T22:00:35Z',
  meta: {
    root: { hashes: { sha256: H32 }, length: 10 },
    targets: { hashes: { sha256: H32, sha512: H64 }, length: 5 },
  },
  version: 2,
});
const timestamp = (): JsonObject => ({
  _type: 'Timestamp',
  expires: '2026-12-06T22:00:15.496465079-05:00',
  meta: { snapshot: { hashes: { sha256: H32 }, length: 99 } },
  version: 7,
});

test('parses every role into a typed view and keeps the exact bytes', () => {
  const rb = envelope(root());
  const r = parseRoot(rb);
  assert.equal(r.raw, rb);
  assert.equal(r.type, 'Root');
  assert.equal(r.signed.version, 1);
  assert.equal(r.signed.keys.get(key.id)?.keytype, 'ecdsa');
  assert.deepEqual(r.signed.roles.timestamp, { keyids: [key.id], threshold: 1 });
  assert.equal(r.signatures[0]?.method, 'ecdsa', 'method lower-cased as Go does');

  const t = parseTargets(envelope(targets()));
  assert.equal(t.signed.targets.get('hello')?.length, 6);
  assert.equal(t.signed.targets.get('hello')?.hashes.sha512?.length, 64);
  assert.deepEqual(t.signed.targets.get('hello')?.custom, { b: [1] });
  assert.deepEqual(t.signed.delegations.roles[0], {
    name: 'targets/releases',
    keyids: [dkey.id],
    threshold: 1,
    paths: ['rel/'],
  });

  assert.equal(parseSnapshot(envelope(snapshot())).signed.meta.get('targets')?.length, 5);
  const ts = parseTimestamp(envelope(timestamp()));
  assert.equal(ts.signed.expiresMs, Date.UTC(2026, 11, 7, 3, 0, 15, 496));
  assert.equal(
    ts.signed.expires,
    '2026-12-06T22:00:15.496465079-05:00',
    'expiry string kept verbatim',
  );
  assert.equal(parseAny(envelope(timestamp())).type, 'Timestamp');
});

test('unknown fields survive in signedJson and in the canonical message', () => {
  const body = { ...targets(), x_future: { z: 1, a: [true] } };
  const md = parseTargets(envelope(body));
  assert.deepEqual(md.signedJson.x_future, { z: 1, a: [true] });
  assert.equal(Buffer.from(md.canonicalSigned()).toString(), canonicalText(body));
});

test('targets without optional maps parse (Go writes them, older files may not)', () => {
  const { targets: _t, delegations: _d, ...bare } = targets();
  const md = parseTargets(envelope(bare));
  assert.equal(md.signed.targets.size, 0);
  assert.deepEqual(md.signed.delegations.roles, []);
});

type Mutation = [string, () => JsonObject, (b: JsonObject) => void, string, RegExp];
const set = (path: string[], v: JsonValue | undefined) => (b: JsonObject) => {
  let o = b as Record<string, JsonValue>;
  for (const p of path.slice(0, -1)) o = o[p] as Record<string, JsonValue>;
  const last = path.at(-1) as string;
  if (v === undefined) delete o[last];
  else o[last] = v;
};

const MUTATIONS: Mutation[] = [
  ['wrong _type', root, set(['_type'], 'Targets'), 'ERR_WRONG_TYPE', /expected "Root"/],
  ['_type not a string', root, set(['_type'], 1), 'ERR_BAD_METADATA', /_type/],
  ['version 0', root, set(['version'], 0), 'ERR_BAD_METADATA', /version: must be >= 1/],
  ['version negative', targets, set(['version'], -1), 'ERR_BAD_METADATA', /version/],
  [
    'version a string',
    snapshot,
    set(['version'], '2'),
    'ERR_BAD_METADATA',
    /version: must be an integer/,
  ],
  ['version 2147483647', targets, set(['version'], 2147483647), 'ERR_BAD_METADATA', /maximum/],
  ['expires missing', timestamp, set(['expires'], undefined), 'ERR_BAD_METADATA', /expires/],
  [
    'expires not RFC 3339',
    timestamp,
    set(['expires'], '2026-12-06 22:00:15'),
    'ERR_BAD_METADATA',
    /RFC 3339/,
  ],
  [
    'expires without zone',
    timestamp,
    set(['expires'], '2026-12-06T22:00:15'),
    'ERR_BAD_METADATA',
    /RFC 3339/,
  ],
  [
    'expires impossible date',
    timestamp,
    set(['expires'], '2026-02-30T00:00:00Z'),
    'ERR_BAD_METADATA',
    /real date/,
  ],
  [
    'root missing a base role',
    root,
    set(['roles', 'snapshot'], undefined),
    'ERR_BAD_METADATA',
    /missing the snapshot role/,
  ],
  [
    'root role threshold 0',
    root,
    set(['roles', 'root', 'threshold'], 0),
    'ERR_BAD_METADATA',
    /threshold: must be >= 1/,
  ],
  [
    'root role key not in keys',
    root,
    set(['roles', 'targets', 'keyids'], ['ab'.repeat(32)]),
    'ERR_BAD_METADATA',
    /not in signed.keys/,
  ],
  [
    'root key listed under a wrong ID',
    root,
    (b) => ((b.keys as JsonObject)['00'.repeat(32)] = key.toJSON() as unknown as JsonObject),
    'ERR_BAD_METADATA',
    /key ID does not match/,
  ],
  [
    'root key with private material',
    root,
    set(['keys', key.id, 'keyval', 'private'], 'c2VjcmV0'),
    'ERR_BAD_METADATA',
    /private/,
  ],
  [
    'consistent_snapshot not boolean',
    root,
    set(['consistent_snapshot'], 'no'),
    'ERR_BAD_METADATA',
    /consistent_snapshot/,
  ],
  [
    'target length negative',
    targets,
    set(['targets', 'hello', 'length'], -1),
    'ERR_BAD_METADATA',
    /length/,
  ],
  [
    'target sha256 wrong size',
    targets,
    set(['targets', 'hello', 'hashes', 'sha256'], H64),
    'ERR_BAD_METADATA',
    /32 bytes/,
  ],
  [
    'target hash hex not base64',
    targets,
    set(['targets', 'hello', 'hashes', 'sha256'], 'ab'.repeat(32) + '!'),
    'ERR_BAD_METADATA',
    /base64/,
  ],
  [
    'delegation name invalid',
    targets,
    set(['delegations', 'roles', '0', 'name'], 'targets/Releases'),
    'ERR_BAD_ROLE',
    /valid delegation name/,
  ],
  [
    'delegation not a direct child',
    targets,
    set(['delegations', 'roles', '0', 'name'], 'targets/a/b'),
    'ERR_BAD_DELEGATION',
    /direct child/,
  ],
  [
    'delegation key missing',
    targets,
    set(['delegations', 'roles', '0', 'keyids'], [key.id]),
    'ERR_BAD_METADATA',
    /delegations.keys/,
  ],
  [
    'delegation threshold 0',
    targets,
    set(['delegations', 'roles', '0', 'threshold'], 0),
    'ERR_BAD_METADATA',
    /threshold/,
  ],
  [
    'delegation paths not strings',
    targets,
    set(['delegations', 'roles', '0', 'paths'], [1]),
    'ERR_BAD_METADATA',
    /paths\[0\]/,
  ],
  [
    'snapshot missing root',
    snapshot,
    set(['meta', 'root'], undefined),
    'ERR_BAD_METADATA',
    /missing the root entry/,
  ],
  [
    'snapshot entry without sha256',
    snapshot,
    set(['meta', 'targets', 'hashes'], { sha512: H64 }),
    'ERR_BAD_METADATA',
    /sha256/,
  ],
  [
    'snapshot meta with custom',
    snapshot,
    set(['meta', 'targets', 'custom'], 1),
    'ERR_BAD_METADATA',
    /custom/,
  ],
  [
    'timestamp without snapshot',
    timestamp,
    set(['meta'], {}),
    'ERR_BAD_METADATA',
    /snapshot entry/,
  ],
  [
    'timestamp sha512 wrong size',
    timestamp,
    set(['meta', 'snapshot', 'hashes', 'sha512'], H32),
    'ERR_BAD_METADATA',
    /64 bytes/,
  ],
];

test('structure errors name the field and carry a code', () => {
  const parsers = {
    Root: parseRoot,
    Targets: parseTargets,
    Snapshot: parseSnapshot,
    Timestamp: parseTimestamp,
  };
  for (const [name, make, mutate, code, re] of MUTATIONS) {
    const b = make();
    const parse = parsers[b._type as keyof typeof parsers];
    mutate(b);
    assert.throws(
      () => parse(envelope(b)),
      (e: unknown) => e instanceof TufError && e.code === code && re.test(e.message),
      name,
    );
  }
});

test('envelope errors: not an object, extra unsigned members, bad signatures, oversize', () => {
  const t = targets();
  const cases: Array<[string, Uint8Array, string, RegExp]> = [
    ['array', new TextEncoder().encode('[]'), 'ERR_BAD_METADATA', /object/],
    ['no signed', new TextEncoder().encode('{"signatures":[]}'), 'ERR_BAD_METADATA', /signed/],
    ['extra unsigned member', envelope(t, { extra: 1 }), 'ERR_BAD_METADATA', /unsigned member/],
    [
      'signatures not array',
      new TextEncoder().encode(JSON.stringify({ signed: t, signatures: {} })),
      'ERR_BAD_METADATA',
      /signatures/,
    ],
    [
      'sig not base64',
      new TextEncoder().encode(
        JSON.stringify({ signed: t, signatures: [{ keyid: 'a', method: 'ecdsa', sig: '***' }] }),
      ),
      'ERR_BAD_METADATA',
      /base64/,
    ],
    [
      'sig missing method',
      new TextEncoder().encode(
        JSON.stringify({ signed: t, signatures: [{ keyid: 'a', sig: 'AA==' }] }),
      ),
      'ERR_BAD_METADATA',
      /method/,
    ],
    [
      'fraction',
      new TextEncoder().encode(
        JSON.stringify({ signed: t, signatures: [] }).replace('"version":3', '"version":3.0'),
      ),
      'ERR_NON_CANONICAL',
      /integers/,
    ],
    [
      'duplicate key',
      new TextEncoder().encode(
        JSON.stringify({ signed: t, signatures: [] }).replace(
          '"version":3',
          '"version":3,"version":4',
        ),
      ),
      'ERR_BAD_JSON',
      /duplicate/,
    ],
  ];
  for (const [name, bytes, code, re] of cases) {
    assert.throws(
      () => parseTargets(bytes),
      (e: unknown) => e instanceof TufError && e.code === code && re.test(e.message),
      name,
    );
  }
  const big = envelope(t);
  assert.throws(
    () => parseTargets(big, { maxBytes: big.length - 1 }),
    (e: unknown) => e instanceof TufError && e.code === 'ERR_TOO_LARGE',
  );
  assert.doesNotThrow(() => parseTargets(big, { maxBytes: big.length }));
  assert.ok(MAX_VERSION < 2147483647);
});

test('RFC 3339 parsing and Go RFC3339Nano formatting', () => {
  const table: Array<[string, number]> = [
    ['2029-11-20T22:00:15Z', Date.UTC(2029, 10, 20, 22, 0, 15)],
    ['2029-11-20T22:00:15.5Z', Date.UTC(2029, 10, 20, 22, 0, 15, 500)],
    ['2029-11-20T22:00:15.123456789Z', Date.UTC(2029, 10, 20, 22, 0, 15, 123)],
    ['2029-11-20T22:00:15+01:30', Date.UTC(2029, 10, 20, 20, 30, 15)],
    ['2116-07-03T17:56:36.027379879-05:00', Date.UTC(2116, 6, 3, 22, 56, 36, 27)],
  ];
  for (const [s, ms] of table) assert.equal(parseRfc3339(s), ms, s);
  for (const s of [
    '2029-11-20',
    '2029-13-01T00:00:00Z',
    '2029-11-20T24:00:00Z',
    '2029-11-20T22:00:15.Z',
    '2029-11-20T22:00:15.1234567890Z',
    '2029-11-20t22:00:15z',
  ]) {
    assert.throws(() => parseRfc3339(s), TufError, s);
  }
  assert.equal(formatRfc3339(Date.UTC(2029, 0, 2, 3, 4, 5, 120)), '2029-01-02T03:04:05.12Z');
  assert.equal(formatRfc3339(Date.UTC(2029, 0, 2, 3, 4, 5, 0)), '2029-01-02T03:04:05Z');
});

test('role names and path rules (spec §1.8)', () => {
  const valid = ['targets/releases', 'targets/a/b', 'targets/a-b_c9'];
  const invalid = [
    'targets',
    'targets/',
    'targets//a',
    'targets/A',
    'targets/a.b',
    'targets/../x',
    'targets/./x',
    'target/x',
    'targets/a/',
    'targets/' + 'a'.repeat(248),
  ];
  for (const n of valid) assert.ok(isDelegationName(n), n);
  for (const n of invalid) assert.equal(isDelegationName(n), false, n);
  assert.equal(parentRole('targets/a/b'), 'targets/a');
  assert.equal(parentRole('targets/a'), 'targets');
  assert.ok(pathAllowed([''], 'anything'));
  assert.ok(pathAllowed(['rel/', 'x'], 'xyz'));
  assert.equal(pathAllowed(['rel/'], 'release'), false);
  assert.deepEqual(restrictPaths(['rel/'], ['rel/a', 'other', 'rel/']), ['rel/a', 'rel/']);
  assert.deepEqual(restrictPaths([''], ['a', '']), ['a', '']);
});
