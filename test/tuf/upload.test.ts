import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RepoBuilder, fileMetaFor, type SignerLookup } from '../../src/tuf/builder.js';
import { TufError } from '../../src/tuf/errors.js';
import { checkFileMeta, fileMetaToJson } from '../../src/tuf/filemeta.js';
import { type JsonObject } from '../../src/tuf/json.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { type Signer } from '../../src/tuf/keys.js';
import {
  formatRfc3339,
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
} from '../../src/tuf/metadata.js';
import { rootRoleVerifier, verifyRoot } from '../../src/tuf/root-trust.js';
import { signEnvelope } from '../../src/tuf/sign.js';
import {
  UploadValidationError,
  checkVersionsIncrease,
  refreshTimestamp,
  validateUpdate,
  type MetaUpdate,
  type ServerKeys,
  type StoredState,
} from '../../src/tuf/upload.js';
import { verifyThreshold } from '../../src/tuf/verify.js';
import { createRootCertificate } from '../../src/tuf/x509.js';

const GUN = 'example.com/trustdesk/upload';
const NOW = Date.UTC(2031, 5, 15, 12, 0, 0);
const DAY = 86_400_000;
const utf8 = new TextEncoder();

async function rootSigner(gun = GUN): Promise<KeyObjectSigner> {
  const bare = KeyObjectSigner.generate('ecdsa');
  return new KeyObjectSigner(
    bare.privateKey,
    await createRootCertificate(bare, gun, { nowMs: NOW }),
  );
}

const offer =
  (...signers: Signer[]): SignerLookup =>
  () =>
    signers;

/** The server's trust service: holds some keys, returns those asked for. */
function serverKeys(...held: Signer[]): ServerKeys {
  return {
    signers: (_role, keyIds) => Promise.resolve(held.filter((s) => keyIds.includes(s.keyId))),
  };
}

/** A store as a map role → current bytes. */
class Store {
  files = new Map<string, Uint8Array>();
  get state(): StoredState {
    return {
      root: this.files.get('root'),
      snapshot: this.files.get('snapshot'),
      timestamp: this.files.get('timestamp'),
      targets: (role) => this.files.get(role),
    };
  }
  apply(updates: MetaUpdate[]): void {
    for (const u of updates) this.files.set(u.role, u.bytes);
  }
}

interface World {
  root: KeyObjectSigner;
  targets: KeyObjectSigner;
  snapshot: KeyObjectSigner; // held by the server
  timestamp: KeyObjectSigner; // held by the server
  keys: ServerKeys;
  builder: RepoBuilder;
  /** Client's first publish: root v1 + targets v2, snapshot left to the server. */
  first: Array<{ role: string; bytes: Uint8Array }>;
}

async function world(): Promise<World> {
  const root = await rootSigner();
  const targets = KeyObjectSigner.generate('ecdsa');
  const snapshot = KeyObjectSigner.generate('ed25519');
  const timestamp = KeyObjectSigner.generate('ed25519');
  const builder = RepoBuilder.create({
    gun: GUN,
    rootKeys: [root.publicKey],
    targetsKeys: [targets.publicKey],
    snapshotKeys: [snapshot.publicKey],
    timestampKeys: [timestamp.publicKey],
  });
  const init = await builder.sign({ nowMs: NOW, signers: offer(root, targets) });
  builder.addTarget('targets', 'hello', fileMetaFor(utf8.encode('hello')));
  const pub = await builder.sign({ nowMs: NOW, signers: offer(root, targets) });
  return {
    root,
    targets,
    snapshot,
    timestamp,
    keys: serverKeys(snapshot, timestamp),
    builder,
    first: [
      { role: 'root', bytes: init.get('root') as Uint8Array },
      { role: 'targets', bytes: pub.get('targets') as Uint8Array },
    ],
  };
}

async function published(w: World): Promise<Store> {
  const store = new Store();
  store.apply(
    await validateUpdate({
      gun: GUN,
      nowMs: NOW,
      stored: store.state,
      updates: w.first,
      keys: w.keys,
    }),
  );
  return store;
}

function rejectsWith(name: string, msg?: string | RegExp, code?: string) {
  return (e: unknown) => {
    assert.ok(
      e instanceof UploadValidationError,
      `expected UploadValidationError, got ${String(e)}`,
    );
    assert.equal(e.goName, name);
    if (typeof msg === 'string') assert.equal(e.msg, msg);
    else if (msg) assert.match(e.msg, msg);
    if (code) assert.equal(e.code, code);
    return true;
  };
}

test('first publish: root v1 + targets v2 → server generates snapshot v1 and timestamp v1', async () => {
  const w = await world();
  const out = await validateUpdate({
    gun: GUN,
    nowMs: NOW,
    stored: new Store().state,
    updates: w.first,
    keys: w.keys,
  });
  assert.deepEqual(
    out.map((u) => [u.role, u.version]),
    [
      ['root', 1],
      ['targets', 2],
      ['snapshot', 1],
      ['timestamp', 1],
    ],
  );
  assert.equal(out[0]?.bytes, w.first[0]?.bytes, 'uploaded bytes are stored verbatim');
  const byRole = new Map(out.map((u) => [u.role, u.bytes]));
  const root = verifyRoot(parseRoot(byRole.get('root') as Uint8Array), { gun: GUN, nowMs: NOW });
  const snap = parseSnapshot(byRole.get('snapshot') as Uint8Array);
  verifyThreshold(snap, 'snapshot', rootRoleVerifier(root, 'snapshot'));
  assert.equal(snap.signed.expires, formatRfc3339(NOW + 3 * 365 * DAY));
  checkFileMeta(byRole.get('root') as Uint8Array, snap.signed.meta.get('root'), 'root');
  checkFileMeta(byRole.get('targets') as Uint8Array, snap.signed.meta.get('targets'), 'targets');
  const ts = parseTimestamp(byRole.get('timestamp') as Uint8Array);
  verifyThreshold(ts, 'timestamp', rootRoleVerifier(root, 'timestamp'));
  assert.equal(ts.signed.expires, formatRfc3339(NOW + 14 * DAY));
  checkFileMeta(byRole.get('snapshot') as Uint8Array, ts.signed.meta.get('snapshot'), 'snapshot');
});

test('later publish: snapshot carries over entries, versions follow the stored ones', async () => {
  const w = await world();
  const store = await published(w);
  const d = KeyObjectSigner.generate('ecdsa');
  w.builder.addDelegation('targets/d', [d.publicKey], ['']);
  w.builder.addTarget('targets/d', 'x', fileMetaFor(utf8.encode('x')));
  const pub = await w.builder.sign({ nowMs: NOW, signers: offer(w.targets, d) });
  const updates = [...pub].map(([role, bytes]) => ({ role, bytes }));
  assert.deepEqual(
    updates.map((u) => u.role),
    ['targets', 'targets/d'],
  );
  const out = await validateUpdate({
    gun: GUN,
    nowMs: NOW + DAY,
    stored: store.state,
    updates,
    keys: w.keys,
  });
  assert.deepEqual(
    out.map((u) => [u.role, u.version]),
    [
      ['targets', 3],
      ['targets/d', 1],
      ['snapshot', 2],
      ['timestamp', 2],
    ],
  );
  store.apply(out);
  const snap = parseSnapshot(store.files.get('snapshot') as Uint8Array);
  for (const role of ['root', 'targets', 'targets/d'])
    checkFileMeta(store.files.get(role) as Uint8Array, snap.signed.meta.get(role), role);

  // A delegation alone: its parent comes from storage; the snapshot keeps the other entries.
  w.builder.addTarget('targets/d', 'y', fileMetaFor(utf8.encode('y')));
  const pub2 = await w.builder.sign({ nowMs: NOW, signers: offer(d) });
  const out2 = await validateUpdate({
    gun: GUN,
    nowMs: NOW + DAY,
    stored: store.state,
    updates: [{ role: 'targets/d', bytes: pub2.get('targets/d') as Uint8Array }],
    keys: w.keys,
  });
  assert.deepEqual(
    out2.map((u) => u.role),
    ['targets/d', 'snapshot', 'timestamp'],
  );
  const snap2 = parseSnapshot(out2[1]?.bytes as Uint8Array);
  assert.deepEqual(snap2.signed.meta.get('root'), snap.signed.meta.get('root'));
  checkFileMeta(pub2.get('targets/d') as Uint8Array, snap2.signed.meta.get('targets/d'), 'd');
});

test('client-signed snapshot is accepted when it matches the uploaded bytes; timestamp part ignored', async () => {
  const w = await world();
  const snapKey = KeyObjectSigner.generate('ecdsa');
  const store = await published(w);
  w.builder.rotateBaseRoleKeys('snapshot', [snapKey.publicKey]);
  const pub = await w.builder.sign({
    nowMs: NOW,
    signers: offer(w.root, snapKey, w.timestamp),
    timestamp: true,
  });
  assert.deepEqual([...pub.keys()], ['root', 'snapshot', 'timestamp']);
  const updates = [...pub].map(([role, bytes]) => ({ role, bytes }));
  const out = await validateUpdate({
    gun: GUN,
    nowMs: NOW,
    stored: store.state,
    updates,
    keys: w.keys,
  });
  assert.deepEqual(
    out.map((u) => u.role),
    ['root', 'snapshot', 'timestamp'],
  );
  assert.equal(out[1]?.bytes, pub.get('snapshot'));
  assert.notDeepEqual(out[2]?.bytes, pub.get('timestamp'), 'the uploaded timestamp is not used');
});

/** The `signed` body of a file with one change, re-signed by `signers`. */
async function resign(
  raw: Uint8Array,
  change: (s: JsonObject) => void,
  signers: Signer[],
): Promise<Uint8Array> {
  const signed = signedOf(raw);
  change(signed);
  return signEnvelope(signed, signers);
}

function signedOf(raw: Uint8Array): JsonObject {
  const doc = JSON.parse(new TextDecoder().decode(raw)) as { signed: JsonObject };
  return doc.signed;
}

test('every refusal carries Go’s error name and message, and nothing is returned', async () => {
  const w = await world();
  const [rootV1, targetsV2] = [w.first[0]?.bytes as Uint8Array, w.first[1]?.bytes as Uint8Array];
  const stranger = KeyObjectSigner.generate('ecdsa');
  const otherGunRoot = await rootSigner('example.com/other');
  const stored = await published(w);

  const snapshotOver = async (
    files: Record<string, Uint8Array>,
    tweak?: (m: JsonObject) => void,
  ) => {
    const meta: JsonObject = {};
    for (const [r, b] of Object.entries(files)) meta[r] = fileMetaToJson(fileMetaFor(b));
    tweak?.(meta);
    return signEnvelope(
      { _type: 'Snapshot', expires: formatRfc3339(NOW + DAY), meta, version: 5 },
      [w.snapshot],
    );
  };
  const newTargets = await resign(targetsV2, (s) => (s.version = 3), [w.targets]);

  const otherGun = RepoBuilder.create({
    gun: 'example.com/other',
    rootKeys: [otherGunRoot.publicKey],
    targetsKeys: [w.targets.publicKey],
    snapshotKeys: [w.snapshot.publicKey],
    timestampKeys: [w.timestamp.publicKey],
  });
  const otherRoot = (
    await otherGun.sign({ nowMs: NOW, signers: offer(otherGunRoot, w.targets) })
  ).get('root') as Uint8Array;

  // Rotation to a new root key, signed by the new key only.
  const rotated = RepoBuilder.load({
    gun: GUN,
    root: parseRoot(rootV1),
    targets: parseTargets(targetsV2),
  });
  const newRoot = await rootSigner();
  rotated.rotateBaseRoleKeys('root', [newRoot.publicKey]);
  const notCrossSigned = (await rotated.sign({ nowMs: NOW, signers: offer(newRoot, w.root) })).get(
    'root',
  ) as Uint8Array;
  const onlyNew = await resign(notCrossSigned, () => undefined, [
    new KeyObjectSigner(newRoot.privateKey, newRoot.publicKey),
  ]);

  const noTimestampKeyRoot = RepoBuilder.load({
    gun: GUN,
    root: parseRoot(rootV1),
    targets: parseTargets(targetsV2),
  });
  noTimestampKeyRoot.rotateBaseRoleKeys('timestamp', [stranger.publicKey]);
  const rootWithoutServerTs = (
    await noTimestampKeyRoot.sign({ nowMs: NOW, signers: offer(w.root) })
  ).get('root') as Uint8Array;

  const none = new Store().state;
  const cases: Array<{
    name: string;
    stored: StoredState;
    updates: Array<{ role: string; bytes: Uint8Array }>;
    keys?: ServerKeys;
    check: (e: unknown) => boolean;
  }> = [
    {
      name: 'no root at all',
      stored: none,
      updates: [{ role: 'targets', bytes: targetsV2 }],
      check: rejectsWith('ErrValidation', 'no pre-existing root and no root provided in update.'),
    },
    {
      name: 'first root version 3',
      stored: none,
      updates: [
        { role: 'root', bytes: await resign(rootV1, (s) => (s.version = 3), [w.root]) },
        { role: 'targets', bytes: targetsV2 },
      ],
      check: rejectsWith(
        'ErrBadRoot',
        'Root modifications must increment the version. Current 1, new 3',
      ),
    },
    {
      name: 'root version skips one',
      stored: stored.state,
      updates: [{ role: 'root', bytes: await resign(rootV1, (s) => (s.version = 3), [w.root]) }],
      check: rejectsWith(
        'ErrBadRoot',
        'Root modifications must increment the version. Current 1, new 3',
      ),
    },
    {
      name: 'root for another GUN',
      stored: none,
      updates: [
        { role: 'root', bytes: otherRoot },
        { role: 'targets', bytes: targetsV2 },
      ],
      check: rejectsWith(
        'ErrBadRoot',
        /unable to retrieve valid leaf certificates/,
        'ERR_BAD_ROOT',
      ),
    },
    {
      name: 'rotation not signed by the stored root',
      stored: stored.state,
      updates: [{ role: 'root', bytes: onlyNew }],
      check: rejectsWith('ErrBadRoot', /rotation/),
    },
    {
      name: 'root expired',
      stored: none,
      updates: [
        {
          role: 'root',
          bytes: await resign(rootV1, (s) => (s.expires = formatRfc3339(NOW - 1)), [w.root]),
        },
        { role: 'targets', bytes: targetsV2 },
      ],
      check: rejectsWith('ErrBadRoot', /expired/, 'ERR_EXPIRED'),
    },
    {
      name: 'targets signed by a stranger',
      stored: stored.state,
      updates: [
        { role: 'targets', bytes: await resign(targetsV2, (s) => (s.version = 3), [stranger]) },
      ],
      check: rejectsWith('ErrBadTargets', /threshold/),
    },
    {
      name: 'targets without signatures',
      stored: stored.state,
      updates: [
        {
          role: 'targets',
          bytes: utf8.encode(
            JSON.stringify({ signed: { ...signedOf(targetsV2), version: 3 }, signatures: [] }),
          ),
        },
      ],
      check: rejectsWith('ErrBadTargets', /no signatures/, 'ERR_NO_SIGNATURES'),
    },
    {
      name: 'targets expired',
      stored: stored.state,
      updates: [
        {
          role: 'targets',
          bytes: await resign(
            targetsV2,
            (s) => {
              s.version = 3;
              s.expires = formatRfc3339(NOW - 1000);
            },
            [w.targets],
          ),
        },
      ],
      check: rejectsWith('ErrBadTargets', /expired/, 'ERR_EXPIRED'),
    },
    {
      name: 'targets version 2^31-1',
      stored: stored.state,
      updates: [
        {
          role: 'targets',
          bytes: await resign(targetsV2, (s) => (s.version = 2147483647), [w.targets]),
        },
      ],
      check: rejectsWith('ErrBadTargets', /maximum/),
    },
    {
      name: 'unsigned member beside signed',
      stored: stored.state,
      updates: [
        {
          role: 'targets',
          bytes: utf8.encode(new TextDecoder().decode(newTargets).slice(0, -1) + ',"extra":1}'),
        },
      ],
      check: rejectsWith('ErrBadTargets', /unsigned member/),
    },
    {
      name: 'delegation its parent does not declare',
      stored: stored.state,
      updates: [
        { role: 'targets/ghost', bytes: await resign(targetsV2, () => undefined, [stranger]) },
      ],
      check: rejectsWith('ErrBadTargets', /does not exist/),
    },
    {
      name: 'snapshot hash of targets wrong',
      stored: stored.state,
      updates: [
        { role: 'targets', bytes: newTargets },
        { role: 'snapshot', bytes: await snapshotOver({ root: rootV1, targets: targetsV2 }) },
      ],
      check: rejectsWith('ErrBadSnapshot', /targets: sha256/),
    },
    {
      name: 'snapshot with the right hashes but a wrong length',
      stored: stored.state,
      updates: [
        { role: 'targets', bytes: newTargets },
        {
          role: 'snapshot',
          bytes: await snapshotOver({ root: rootV1, targets: newTargets }, (m) => {
            (m.targets as JsonObject).length = newTargets.length + 1;
          }),
        },
      ],
      check: rejectsWith('ErrBadSnapshot', /length/),
    },
    {
      name: 'snapshot not signed by the snapshot role',
      stored: stored.state,
      updates: [
        {
          role: 'snapshot',
          bytes: await resign(
            await snapshotOver({ root: rootV1, targets: targetsV2 }),
            () => undefined,
            [stranger],
          ),
        },
      ],
      check: rejectsWith('ErrBadSnapshot', /threshold/),
    },
    {
      name: 'server lacks the snapshot key',
      stored: stored.state,
      updates: [{ role: 'targets', bytes: newTargets }],
      keys: serverKeys(w.timestamp),
      check: rejectsWith(
        'ErrBadHierarchy',
        'no snapshot was included in update and server does not hold current snapshot key for repository',
      ),
    },
    {
      name: 'first upload without targets and no snapshot',
      stored: none,
      updates: [{ role: 'root', bytes: rootV1 }],
      check: rejectsWith('ErrValidation', 'targets must be loaded first'),
    },
    {
      name: 'server lacks the timestamp key',
      stored: stored.state,
      updates: [{ role: 'root', bytes: rootWithoutServerTs }],
      check: rejectsWith('ErrBadRoot', 'no  timestamp keys exist on the server'),
    },
    {
      name: 'role named twice',
      stored: stored.state,
      updates: [
        { role: 'targets', bytes: newTargets },
        { role: 'targets', bytes: newTargets },
      ],
      check: rejectsWith('ErrValidation', /more than once/),
    },
  ];
  for (const c of cases) {
    await assert.rejects(
      validateUpdate({
        gun: GUN,
        nowMs: NOW,
        stored: c.stored,
        updates: c.updates,
        keys: c.keys ?? w.keys,
      }),
      c.check,
      c.name,
    );
  }
});

test('detail() is Go’s SerializableError shape', () => {
  const cases: Array<[UploadValidationError, string]> = [
    [
      new UploadValidationError('ErrBadHierarchy', 'no snapshot', { missing: 'snapshot' }),
      '{"Name":"ErrBadHierarchy","Error":{"Missing":"snapshot","Msg":"no snapshot"}}',
    ],
    [new UploadValidationError('ErrBadRoot', 'bad'), '{"Name":"ErrBadRoot","Error":{"Msg":"bad"}}'],
  ];
  for (const [e, json] of cases) assert.equal(JSON.stringify(e.detail()), json);
  const e = new UploadValidationError('ErrBadTargets', 'x', {
    cause: new TufError('ERR_EXPIRED', 'x'),
  });
  assert.equal(e.message, 'The targets metadata is invalid: x');
  assert.equal(e.code, 'ERR_EXPIRED');
  assert.ok(e instanceof TufError);
});

test('checkVersionsIncrease', () => {
  const stored = new Map([
    ['root', 1],
    ['targets', 4],
  ]);
  const cases: Array<[Array<{ role: string; version: number }>, string[]]> = [
    [
      [
        { role: 'root', version: 2 },
        { role: 'targets', version: 5 },
        { role: 'snapshot', version: 1 },
      ],
      [],
    ],
    [[{ role: 'root', version: 1 }], ['root']],
    [
      [
        { role: 'targets', version: 3 },
        { role: 'root', version: 2 },
      ],
      ['targets'],
    ],
  ];
  for (const [updates, bad] of cases) {
    assert.deepEqual(
      checkVersionsIncrease(updates, (r) => stored.get(r)).map((c) => c.role),
      bad,
    );
  }
});

test('refreshTimestamp: null while fresh, new timestamp when expired, new snapshot when it expired', async () => {
  const w = await world();
  const store = await published(w);
  assert.equal(
    await refreshTimestamp({ gun: GUN, nowMs: NOW + DAY, stored: store.state, keys: w.keys }),
    null,
  );

  const later = NOW + 15 * DAY;
  const r1 = await refreshTimestamp({ gun: GUN, nowMs: later, stored: store.state, keys: w.keys });
  assert.ok(r1 && !r1.snapshot);
  const ts = parseTimestamp(r1.timestamp);
  assert.equal(ts.signed.version, 2);
  assert.equal(ts.signed.expires, formatRfc3339(later + 14 * DAY));
  checkFileMeta(store.files.get('snapshot') as Uint8Array, ts.signed.meta.get('snapshot'), 's');

  const muchLater = NOW + 3 * 365 * DAY + DAY;
  const r2 = await refreshTimestamp({
    gun: GUN,
    nowMs: muchLater,
    stored: store.state,
    keys: w.keys,
  });
  assert.ok(r2?.snapshot);
  const snap = parseSnapshot(r2.snapshot);
  assert.equal(snap.signed.version, 2);
  assert.ok(!snap.isExpired(muchLater));
  checkFileMeta(store.files.get('targets') as Uint8Array, snap.signed.meta.get('targets'), 't');
  checkFileMeta(r2.snapshot, parseTimestamp(r2.timestamp).signed.meta.get('snapshot'), 's');

  const failures: Array<[string, Promise<unknown>, string]> = [
    [
      'snapshot key missing',
      refreshTimestamp({
        gun: GUN,
        nowMs: muchLater,
        stored: store.state,
        keys: serverKeys(w.timestamp),
      }),
      'ERR_MISSING_KEY',
    ],
    [
      'timestamp key missing',
      refreshTimestamp({
        gun: GUN,
        nowMs: later,
        stored: store.state,
        keys: serverKeys(w.snapshot),
      }),
      'ERR_MISSING_KEY',
    ],
    [
      'nothing stored',
      refreshTimestamp({ gun: GUN, nowMs: later, stored: new Store().state, keys: w.keys }),
      'ERR_NOT_FOUND',
    ],
  ];
  for (const [name, p, c] of failures)
    await assert.rejects(p, (e: unknown) => e instanceof TufError && e.code === c, name);
});
