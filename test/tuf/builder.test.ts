import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RepoBuilder,
  DEFAULT_EXPIRY_MS,
  fileMetaFor,
  type SignerLookup,
} from '../../src/tuf/builder.js';
import { encodeEnvelope, canonicalText } from '../../src/tuf/canonical.js';
import { TufError } from '../../src/tuf/errors.js';
import { checkFileMeta } from '../../src/tuf/filemeta.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { type Signer } from '../../src/tuf/keys.js';
import {
  formatRfc3339,
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type Metadata,
  type TargetsSigned,
} from '../../src/tuf/metadata.js';
import { toBase64 } from '../../src/tuf/encoding.js';
import { rootRoleVerifier, verifyRoot } from '../../src/tuf/root-trust.js';
import { signEnvelope } from '../../src/tuf/sign.js';
import { verifyThreshold, type RoleVerifier } from '../../src/tuf/verify.js';
import { createRootCertificate } from '../../src/tuf/x509.js';

const GUN = 'example.com/trustdesk/builder';
const NOW = Date.UTC(2031, 5, 15, 12, 0, 0);
const DAY = 86_400_000;
const utf8 = new TextEncoder();

const code = (c: string) => (e: unknown) => e instanceof TufError && e.code === c;

/** A root key signing as its Go-style certificate. */
async function rootSigner(): Promise<KeyObjectSigner> {
  const bare = KeyObjectSigner.generate('ecdsa');
  return new KeyObjectSigner(
    bare.privateKey,
    await createRootCertificate(bare, GUN, { nowMs: NOW }),
  );
}

interface Keys {
  root: KeyObjectSigner;
  targets: KeyObjectSigner;
  snapshot: KeyObjectSigner;
  timestamp: KeyObjectSigner;
}

async function newKeys(): Promise<Keys> {
  return {
    root: await rootSigner(),
    targets: KeyObjectSigner.generate('ecdsa'),
    snapshot: KeyObjectSigner.generate('ecdsa'),
    timestamp: KeyObjectSigner.generate('ed25519'),
  };
}

/** Every signer is offered for every role: the builder must pick by key. */
const offer =
  (...signers: Signer[]): SignerLookup =>
  () =>
    signers;

function create(k: Keys): RepoBuilder {
  return RepoBuilder.create({
    gun: GUN,
    rootKeys: [k.root.publicKey],
    targetsKeys: [k.targets.publicKey],
    snapshotKeys: [k.snapshot.publicKey],
    timestampKeys: [k.timestamp.publicKey],
  });
}

function delegationVerifier(parent: Metadata<TargetsSigned>, name: string): RoleVerifier {
  const d = parent.signed.delegations;
  const r = d.roles.find((x) => x.name === name);
  assert.ok(r, `${name} declared in parent`);
  return { keys: d.keys, keyids: r.keyids, threshold: r.threshold };
}

function get(out: Map<string, Uint8Array>, role: string): Uint8Array {
  const b = out.get(role);
  assert.ok(b, `${role} was produced`);
  return b;
}

/** Signs a fresh repository and reloads it from the produced bytes. */
async function published(k: Keys, extra: Signer[] = []): Promise<RepoBuilder> {
  const b = create(k);
  const out = await b.sign({ nowMs: NOW, signers: offer(k.root, k.targets, k.snapshot, ...extra) });
  return RepoBuilder.load({
    gun: GUN,
    root: parseRoot(get(out, 'root')),
    targets: parseTargets(get(out, 'targets')),
    snapshot: parseSnapshot(get(out, 'snapshot')),
  });
}

test('create → sign → parse → verify round trip', async () => {
  const k = await newKeys();
  const b = create(k);
  b.addTarget('targets', 'hello', fileMetaFor(utf8.encode('hello\n')));
  const out = await b.sign({
    nowMs: NOW,
    signers: offer(k.root, k.targets, k.snapshot, k.timestamp),
    timestamp: true,
  });
  assert.deepEqual([...out.keys()], ['root', 'targets', 'snapshot', 'timestamp']);

  const root = verifyRoot(parseRoot(get(out, 'root')), { gun: GUN, nowMs: NOW });
  assert.equal(root.signed.version, 1);
  assert.equal(root.signed.consistentSnapshot, false);
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const)
    assert.equal(root.signed.roles[role].threshold, 1);

  const targets = parseTargets(get(out, 'targets'));
  verifyThreshold(targets, 'targets', rootRoleVerifier(root, 'targets'));
  assert.equal(targets.signed.version, 1);
  assert.deepEqual(targets.signed.targets.get('hello'), fileMetaFor(utf8.encode('hello\n')));
  assert.deepEqual(b.targets('targets').get('hello'), fileMetaFor(utf8.encode('hello\n')));

  const snapshot = parseSnapshot(get(out, 'snapshot'));
  verifyThreshold(snapshot, 'snapshot', rootRoleVerifier(root, 'snapshot'));
  assert.deepEqual([...snapshot.signed.meta.keys()].sort(), ['root', 'targets']);
  checkFileMeta(get(out, 'root'), snapshot.signed.meta.get('root'), 'root');
  checkFileMeta(get(out, 'targets'), snapshot.signed.meta.get('targets'), 'targets');

  const ts = parseTimestamp(get(out, 'timestamp'));
  verifyThreshold(ts, 'timestamp', rootRoleVerifier(root, 'timestamp'));
  assert.equal(ts.signatures[0]?.method, 'eddsa');
  checkFileMeta(get(out, 'snapshot'), ts.signed.meta.get('snapshot'), 'snapshot');

  // The builder moved to the signed state.
  assert.equal(b.version('targets'), 1);
  assert.deepEqual(b.bytes('snapshot'), get(out, 'snapshot'));
  assert.equal(b.isDirty('root'), false);
});

test('envelope bytes are Go-exact: signed first, HTML escapes, empty delegations emitted', async () => {
  const k = await newKeys();
  const b = create(k);
  const name = 'a<b>&c\u2028d';
  b.addTarget('targets', name, fileMetaFor(utf8.encode('x')));
  const out = await b.sign({ nowMs: NOW, signers: offer(k.root, k.targets) });
  const raw = get(out, 'targets');
  const text = new TextDecoder().decode(raw);
  assert.ok(text.startsWith('{"signed":{"_type":"Targets","delegations":{"keys":{},"roles":[]},'));
  assert.ok(text.includes('"a\\u003cb\\u003e\\u0026c\\u2028d"'));
  assert.ok(!text.includes('<'));
  const md = parseTargets(raw);
  assert.ok(md.signed.targets.has(name));
  // Re-encoding the parsed value reproduces the exact bytes.
  const sigs = md.signatures.map((s) => ({
    keyid: s.keyid,
    method: s.method,
    sig: toBase64(s.sig),
  }));
  assert.deepEqual(encodeEnvelope(canonicalText(md.signedJson), sigs), raw);
  // The signature covers the canonical (unescaped) text.
  verifyThreshold(md, 'targets', {
    keys: new Map([[k.targets.keyId, k.targets.publicKey]]),
    keyids: [k.targets.keyId],
    threshold: 1,
  });
});

test('default expiries per role (a year is 365 days)', async () => {
  const k = await newKeys();
  const b = create(k);
  const out = await b.sign({
    nowMs: NOW,
    signers: offer(k.root, k.targets, k.snapshot, k.timestamp),
    timestamp: true,
  });
  const table = [
    ['root', 10 * 365 * DAY],
    ['targets', 3 * 365 * DAY],
    ['snapshot', 3 * 365 * DAY],
    ['timestamp', 14 * DAY],
  ] as const;
  for (const [role, ms] of table) {
    assert.equal(DEFAULT_EXPIRY_MS[role], ms);
    const signed = parseRoleAny(role, get(out, role));
    assert.equal(signed.expires, formatRfc3339(NOW + ms), role);
  }
});

function parseRoleAny(role: string, raw: Uint8Array) {
  switch (role) {
    case 'root':
      return parseRoot(raw).signed;
    case 'snapshot':
      return parseSnapshot(raw).signed;
    case 'timestamp':
      return parseTimestamp(raw).signed;
    default:
      return parseTargets(raw, { role }).signed;
  }
}

test('versions: only dirty roles are re-signed, each +1; snapshot always follows', async () => {
  const k = await newKeys();
  const b = await published(k);
  assert.equal(b.version('root'), 1);
  const later = NOW + 5 * DAY;
  const out = await b.sign({ nowMs: later, signers: offer(k.root, k.targets, k.snapshot) });
  assert.deepEqual([...out.keys()], ['snapshot']);
  assert.equal(parseSnapshot(get(out, 'snapshot')).signed.version, 2);

  b.witness('targets');
  const out2 = await b.sign({ nowMs: later, signers: offer(k.root, k.targets, k.snapshot) });
  assert.deepEqual([...out2.keys()], ['targets', 'snapshot']);
  const t = parseTargets(get(out2, 'targets'));
  assert.equal(t.signed.version, 2);
  assert.equal(t.signed.expires, formatRfc3339(later + 3 * 365 * DAY));
  assert.equal(parseSnapshot(get(out2, 'snapshot')).signed.version, 3);

  b.markRootDirty();
  const out3 = await b.sign({ nowMs: later, signers: offer(k.root, k.targets, k.snapshot) });
  assert.equal(parseRoot(get(out3, 'root')).signed.version, 2);
  // Unchanged targets keep their bytes, and the snapshot lists them.
  checkFileMeta(
    get(out2, 'targets'),
    parseSnapshot(get(out3, 'snapshot')).signed.meta.get('targets'),
    't',
  );
});

test('adding an identical target changes nothing; removing an absent one neither', async () => {
  const k = await newKeys();
  const b = await published(k);
  const fm = fileMetaFor(utf8.encode('v1'));
  b.addTarget('targets', 'app', fm);
  assert.equal(b.isDirty('targets'), true);
  await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot) });
  b.addTarget('targets', 'app', fileMetaFor(utf8.encode('v1')));
  b.removeTarget('targets', 'nope');
  assert.equal(b.isDirty('targets'), false);
  b.removeTarget('targets', 'app');
  assert.equal(b.isDirty('targets'), true);
});

test('server-managed snapshot: omitted when no snapshot key is held', async () => {
  const k = await newKeys();
  const b = create(k);
  const out = await b.sign({ nowMs: NOW, signers: offer(k.root, k.targets) });
  assert.deepEqual([...out.keys()], ['root', 'targets']);
  assert.equal(b.bytes('snapshot'), undefined);
});

test('signing requirements are checked before anything is produced', async () => {
  const k = await newKeys();
  const t2 = KeyObjectSigner.generate('ecdsa');
  const cases: Array<{ name: string; signers: Signer[]; code: string; timestamp?: boolean }> = [
    { name: 'no root key', signers: [k.targets, t2], code: 'ERR_MISSING_KEY' },
    { name: 'no targets key', signers: [k.root], code: 'ERR_MISSING_KEY' },
    { name: 'targets below threshold', signers: [k.root, k.targets], code: 'ERR_THRESHOLD' },
    {
      name: 'timestamp asked, no key',
      signers: [k.root, k.targets, t2, k.snapshot],
      code: 'ERR_MISSING_KEY',
      timestamp: true,
    },
  ];
  for (const c of cases) {
    const b = RepoBuilder.create({
      gun: GUN,
      rootKeys: [k.root.publicKey],
      targetsKeys: [k.targets.publicKey, t2.publicKey],
      snapshotKeys: [k.snapshot.publicKey],
      timestampKeys: [k.timestamp.publicKey],
      thresholds: { targets: 2 },
    });
    await assert.rejects(
      b.sign({ nowMs: NOW, signers: offer(...c.signers), timestamp: c.timestamp }),
      code(c.code),
      c.name,
    );
    assert.equal(b.version('root'), 0, c.name);
    assert.equal(b.bytes('root'), undefined, c.name);
    assert.equal(b.isDirty('targets'), true, c.name);
  }
  // A snapshot key held below its threshold is an error, not "server-managed".
  const s2 = KeyObjectSigner.generate('ecdsa');
  const b = RepoBuilder.create({
    gun: GUN,
    rootKeys: [k.root.publicKey],
    targetsKeys: [k.targets.publicKey],
    snapshotKeys: [k.snapshot.publicKey, s2.publicKey],
    timestampKeys: [k.timestamp.publicKey],
    thresholds: { snapshot: 2 },
  });
  await assert.rejects(
    b.sign({ nowMs: NOW, signers: offer(k.root, k.targets, k.snapshot) }),
    code('ERR_THRESHOLD'),
  );
});

test('create refuses bad inputs', async () => {
  const k = await newKeys();
  const base = {
    gun: GUN,
    rootKeys: [k.root.publicKey],
    targetsKeys: [k.targets.publicKey],
    snapshotKeys: [k.snapshot.publicKey],
    timestampKeys: [k.timestamp.publicKey],
  };
  const cases = [
    {
      name: 'bare root key',
      opts: { ...base, rootKeys: [k.targets.publicKey] },
      code: 'ERR_BAD_CERT',
    },
    { name: 'no targets keys', opts: { ...base, targetsKeys: [] }, code: 'ERR_MISSING_KEY' },
    { name: 'threshold 0', opts: { ...base, thresholds: { root: 0 } }, code: 'ERR_THRESHOLD' },
    {
      name: 'threshold > keys',
      opts: { ...base, thresholds: { snapshot: 2 } },
      code: 'ERR_THRESHOLD',
    },
  ];
  for (const c of cases) assert.throws(() => RepoBuilder.create(c.opts), code(c.code), c.name);
});

test('a bare key signs for its root certificate under the certificate key ID', async () => {
  const k = await newKeys();
  const bare = new KeyObjectSigner(k.root.privateKey);
  assert.notEqual(bare.keyId, k.root.keyId);
  const b = create(k);
  const out = await b.sign({ nowMs: NOW, signers: offer(bare, k.targets) });
  const root = parseRoot(get(out, 'root'));
  assert.deepEqual(
    root.signatures.map((s) => s.keyid),
    [k.root.keyId],
  );
  verifyRoot(root, { gun: GUN, nowMs: NOW });
});

test('delegations: add, nested, paths enforced, signed by the right keys', async () => {
  const k = await newKeys();
  const rel = KeyObjectSigner.generate('ecdsa');
  const beta = KeyObjectSigner.generate('ed25519');
  const b = await published(k);
  b.addDelegation('targets/releases', [rel.publicKey], ['rel/']);
  b.addDelegation('targets/releases/beta', [beta.publicKey], ['rel/beta/']);
  const bad: Array<[string, () => void, string]> = [
    [
      'target outside paths',
      () => b.addTarget('targets/releases', 'other/x', fileMetaFor(utf8.encode('x'))),
      'ERR_BAD_DELEGATION',
    ],
    [
      'nested target outside parent paths',
      () => b.addTarget('targets/releases/beta', 'rel/x', fileMetaFor(utf8.encode('x'))),
      'ERR_BAD_DELEGATION',
    ],
    [
      'child path outside parent',
      () => b.addDelegation('targets/releases/rc', [beta.publicKey], ['other/']),
      'ERR_BAD_DELEGATION',
    ],
    [
      'parent missing',
      () => b.addDelegation('targets/nope/child', [beta.publicKey], ['']),
      'ERR_BAD_DELEGATION',
    ],
    ['bad name', () => b.addDelegation('targets/Upper', [beta.publicKey], ['']), 'ERR_BAD_ROLE'],
    [
      'not a targets role',
      () => b.addTarget('snapshot', 'x', fileMetaFor(utf8.encode('x'))),
      'ERR_BAD_ROLE',
    ],
    [
      'undeclared role',
      () => b.addTarget('targets/ghost', 'x', fileMetaFor(utf8.encode('x'))),
      'ERR_BAD_DELEGATION',
    ],
    [
      'control char',
      () => b.addTarget('targets', 'a\nb', fileMetaFor(utf8.encode('x'))),
      'ERR_UNENCODABLE',
    ],
    [
      'update unknown',
      () => b.updateDelegation('targets/ghost', { addPaths: [''] }),
      'ERR_BAD_DELEGATION',
    ],
  ];
  for (const [name, f, c] of bad) assert.throws(f, code(c), name);

  b.addTarget('targets/releases', 'rel/app', fileMetaFor(utf8.encode('app')));
  b.addTarget('targets/releases/beta', 'rel/beta/app', fileMetaFor(utf8.encode('beta')));
  assert.deepEqual(b.role('targets/releases/beta').paths, ['rel/beta/']);

  // Without the beta key nothing is signed.
  await assert.rejects(
    b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot, rel) }),
    code('ERR_MISSING_KEY'),
  );
  const out = await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot, rel, beta) });
  assert.deepEqual(
    [...out.keys()],
    ['targets', 'targets/releases', 'targets/releases/beta', 'snapshot'],
  );
  const targets = parseTargets(get(out, 'targets'));
  assert.equal(targets.signed.version, 2);
  assert.deepEqual(targets.signed.delegations.roles, [
    { name: 'targets/releases', keyids: [rel.keyId], threshold: 1, paths: ['rel/'] },
  ]);
  const releases = parseTargets(get(out, 'targets/releases'), { role: 'targets/releases' });
  assert.equal(releases.signed.version, 1);
  verifyThreshold(releases, 'targets/releases', delegationVerifier(targets, 'targets/releases'));
  const betaMd = parseTargets(get(out, 'targets/releases/beta'), { role: 'targets/releases/beta' });
  verifyThreshold(
    betaMd,
    'targets/releases/beta',
    delegationVerifier(releases, 'targets/releases/beta'),
  );
  assert.ok(betaMd.signed.targets.has('rel/beta/app'));
  const snap = parseSnapshot(get(out, 'snapshot'));
  for (const role of ['targets', 'targets/releases', 'targets/releases/beta'])
    checkFileMeta(get(out, role), snap.signed.meta.get(role), role);
});

test('delegations: the parent file is created when missing', async () => {
  const k = await newKeys();
  const a = KeyObjectSigner.generate('ecdsa');
  const ab = KeyObjectSigner.generate('ecdsa');
  const b = await published(k);
  b.addDelegation('targets/a', [a.publicKey], ['']);
  await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot) });
  assert.equal(b.bytes('targets/a'), undefined);
  b.addDelegation('targets/a/b', [ab.publicKey], ['']);
  const out = await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot, a) });
  assert.deepEqual([...out.keys()], ['targets/a', 'snapshot']);
  const md = parseTargets(get(out, 'targets/a'), { role: 'targets/a' });
  assert.equal(md.signed.version, 1);
  assert.deepEqual(
    md.signed.delegations.roles.map((r) => r.name),
    ['targets/a/b'],
  );
});

test('delegations: update keys by canonical ID, paths, threshold; unused keys pruned', async () => {
  const k = await newKeys();
  const certSigner = await rootSigner(); // a delegation key given as a certificate
  const plain = KeyObjectSigner.generate('ecdsa');
  const b = await published(k);
  b.addDelegation('targets/team', [certSigner.publicKey, plain.publicKey], ['a/', 'b/']);
  assert.notEqual(certSigner.publicKey.canonicalId, certSigner.keyId);

  const cases: Array<{
    change: Parameters<RepoBuilder['updateDelegation']>[1];
    keyids: string[];
    paths: string[];
    threshold: number;
  }> = [
    {
      change: { removeKeyIds: [certSigner.publicKey.canonicalId] },
      keyids: [plain.keyId],
      paths: ['a/', 'b/'],
      threshold: 1,
    },
    {
      change: { removePaths: ['a/'], addPaths: ['c/'] },
      keyids: [plain.keyId],
      paths: ['b/', 'c/'],
      threshold: 1,
    },
    {
      change: { clearPaths: true, addPaths: [''] },
      keyids: [plain.keyId],
      paths: [''],
      threshold: 1,
    },
    {
      change: { addKeys: [certSigner.publicKey], threshold: 2 },
      keyids: [plain.keyId, certSigner.keyId],
      paths: [''],
      threshold: 2,
    },
    {
      change: { clearPaths: true },
      keyids: [plain.keyId, certSigner.keyId],
      paths: [],
      threshold: 2,
    },
  ];
  for (const c of cases) {
    b.updateDelegation('targets/team', c.change);
    const out = await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot) });
    const md = parseTargets(get(out, 'targets'));
    const r = md.signed.delegations.roles[0];
    assert.deepEqual(r, {
      name: 'targets/team',
      keyids: c.keyids,
      threshold: c.threshold,
      paths: c.paths,
    });
    assert.deepEqual([...md.signed.delegations.keys.keys()].sort(), [...c.keyids].sort());
  }
  assert.throws(() => b.updateDelegation('targets/team', { threshold: 0 }), code('ERR_THRESHOLD'));
});

test('delegations: remove drops the role, its subtree, snapshot entries and unused keys', async () => {
  const k = await newKeys();
  const x = KeyObjectSigner.generate('ecdsa');
  const y = KeyObjectSigner.generate('ecdsa');
  const b = await published(k);
  b.addDelegation('targets/x', [x.publicKey], ['']);
  b.addDelegation('targets/x/y', [y.publicKey], ['']);
  b.addDelegation('targets/keep', [y.publicKey], ['']);
  b.addTarget('targets/x/y', 'f', fileMetaFor(utf8.encode('f')));
  b.addTarget('targets/keep', 'g', fileMetaFor(utf8.encode('g')));
  const first = await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot, x, y) });
  assert.ok(parseSnapshot(get(first, 'snapshot')).signed.meta.has('targets/x/y'));

  b.removeDelegation('targets/x');
  assert.deepEqual(b.targetsRoles(), ['targets', 'targets/keep']);
  const out = await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot) });
  const t = parseTargets(get(out, 'targets'));
  assert.deepEqual(
    t.signed.delegations.roles.map((r) => r.name),
    ['targets/keep'],
  );
  assert.deepEqual([...t.signed.delegations.keys.keys()], [y.keyId]);
  assert.deepEqual([...parseSnapshot(get(out, 'snapshot')).signed.meta.keys()].sort(), [
    'root',
    'targets',
    'targets/keep',
  ]);
});

test('delegations: purge removes a key from every loaded targets file', async () => {
  const k = await newKeys();
  const shared = KeyObjectSigner.generate('ecdsa');
  const other = KeyObjectSigner.generate('ecdsa');
  const b = await published(k);
  b.addDelegation('targets/a', [shared.publicKey, other.publicKey], ['']);
  b.addDelegation('targets/a/b', [shared.publicKey], ['']);
  b.addDelegation('targets/c', [other.publicKey], ['']);
  await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot, shared) });
  assert.deepEqual(b.purgeDelegationKeys([shared.publicKey.canonicalId]), ['targets', 'targets/a']);
  assert.deepEqual(b.role('targets/a').keyids, [other.keyId]);
  assert.deepEqual(b.role('targets/a/b').keyids, []);
  assert.equal(b.isDirty('targets/a'), true);
});

test('root rotation: old cert kept in keys, new root cross-signed, verifies against the old root', async () => {
  const k = await newKeys();
  const b = await published(k);
  const v1 = verifyRoot(parseRoot(b.bytes('root') as Uint8Array), { gun: GUN, nowMs: NOW });
  const newRoot = await rootSigner();
  b.rotateBaseRoleKeys('root', [newRoot.publicKey]);
  assert.throws(() => b.rotateBaseRoleKeys('root', [k.targets.publicKey]), code('ERR_BAD_CERT'));

  // The old root role must sign too.
  await assert.rejects(
    b.sign({ nowMs: NOW, signers: offer(newRoot, k.snapshot) }),
    code('ERR_MISSING_KEY'),
  );
  const out = await b.sign({ nowMs: NOW, signers: offer(newRoot, k.root, k.snapshot) });
  const md = parseRoot(get(out, 'root'));
  assert.equal(md.signed.version, 2);
  assert.deepEqual(md.signed.roles.root.keyids, [newRoot.keyId]);
  assert.ok(md.signed.keys.has(k.root.keyId), 'old root certificate kept in keys');
  assert.deepEqual(md.signatures.map((s) => s.keyid).sort(), [k.root.keyId, newRoot.keyId].sort());
  verifyRoot(md, { gun: GUN, nowMs: NOW, trusted: v1 });

  // Signed only by the new key, a root does not pass against the old trusted root.
  b.markRootDirty();
  const out2 = await b.sign({ nowMs: NOW, signers: offer(newRoot, k.snapshot) });
  const v3 = parseRoot(get(out2, 'root'));
  assert.deepEqual(
    v3.signatures.map((s) => s.keyid),
    [newRoot.keyId],
  );
  assert.throws(() => verifyRoot(v3, { gun: GUN, nowMs: NOW, trusted: v1 }), code('ERR_BAD_ROOT'));
});

test('targets and snapshot rotation: old keys leave root, rotated roles re-signed', async () => {
  const k = await newKeys();
  const b = await published(k);
  const newTargets = KeyObjectSigner.generate('ecdsa');
  const serverSnapshot = KeyObjectSigner.generate('ed25519');
  b.rotateBaseRoleKeys('targets', [newTargets.publicKey]);
  b.rotateBaseRoleKeys('snapshot', [serverSnapshot.publicKey]);
  // The client holds the old snapshot key only: the snapshot becomes server-managed.
  const out = await b.sign({
    nowMs: NOW,
    signers: offer(k.root, newTargets, k.snapshot, k.targets),
  });
  assert.deepEqual([...out.keys()], ['root', 'targets']);
  const root = verifyRoot(parseRoot(get(out, 'root')), { gun: GUN, nowMs: NOW });
  assert.ok(!root.signed.keys.has(k.targets.keyId));
  assert.ok(!root.signed.keys.has(k.snapshot.keyId));
  assert.deepEqual(root.signed.roles.snapshot.keyids, [serverSnapshot.keyId]);
  const t = parseTargets(get(out, 'targets'));
  assert.equal(t.signed.version, 2);
  assert.deepEqual(
    t.signatures.map((s) => s.keyid),
    [newTargets.keyId],
  );
  verifyThreshold(t, 'targets', rootRoleVerifier(root, 'targets'));
});

test('a key shared by two roles stays in root when one role rotates away from it', async () => {
  const k = await newKeys();
  const shared = KeyObjectSigner.generate('ecdsa');
  const b = RepoBuilder.create({
    gun: GUN,
    rootKeys: [k.root.publicKey],
    targetsKeys: [shared.publicKey],
    snapshotKeys: [shared.publicKey],
    timestampKeys: [k.timestamp.publicKey],
  });
  b.rotateBaseRoleKeys('targets', [k.targets.publicKey]);
  const out = await b.sign({ nowMs: NOW, signers: offer(k.root, k.targets, shared) });
  assert.ok(parseRoot(get(out, 'root')).signed.keys.has(shared.keyId));
});

test('witness re-signs a role even without changes; unknown roles are refused', async () => {
  const k = await newKeys();
  const d = KeyObjectSigner.generate('ecdsa');
  const b = await published(k);
  b.addDelegation('targets/d', [d.publicKey], ['']);
  b.addTarget('targets/d', 'x', fileMetaFor(utf8.encode('x')));
  await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot, d) });
  b.witness('targets/d');
  const out = await b.sign({ nowMs: NOW + DAY, signers: offer(k.snapshot, d) });
  assert.deepEqual([...out.keys()], ['targets/d', 'snapshot']);
  assert.equal(parseTargets(get(out, 'targets/d'), { role: 'targets/d' }).signed.version, 2);
  const cases: Array<[string, string]> = [
    ['targets/unknown', 'ERR_BAD_DELEGATION'],
    ['snapshot', 'ERR_BAD_ROLE'],
  ];
  for (const [role, c] of cases) assert.throws(() => b.witness(role), code(c), role);
});

test('load keeps unknown members and revives an invalid delegation copy by witness', async () => {
  const k = await newKeys();
  const d = KeyObjectSigner.generate('ecdsa');
  const b = await published(k);
  b.addDelegation('targets/d', [d.publicKey], ['']);
  const out = await b.sign({ nowMs: NOW, signers: offer(k.targets, k.snapshot) });
  // A delegation file signed by a key that is not (or no longer) the role's: invalid.
  const stranger = KeyObjectSigner.generate('ecdsa');
  const invalid = parseTargets(
    await signEnvelope(
      {
        _type: 'Targets',
        delegations: { keys: {}, roles: [] },
        expires: formatRfc3339(NOW + DAY),
        targets: {
          kept: { hashes: { sha256: toBase64(new Uint8Array(32)), md5: 'AAAA' }, length: 1 },
        },
        version: 4,
        x_future: { a: 1 },
      },
      [stranger],
    ),
    { role: 'targets/d' },
  );
  const loaded = RepoBuilder.load({
    gun: GUN,
    root: parseRoot(b.bytes('root') as Uint8Array),
    targets: parseTargets(get(out, 'targets')),
    delegations: new Map([['targets/d', invalid]]),
  });
  loaded.witness('targets/d');
  const out2 = await loaded.sign({ nowMs: NOW, signers: offer(d) });
  const md = parseTargets(get(out2, 'targets/d'), { role: 'targets/d' });
  assert.equal(md.signed.version, 5);
  assert.deepEqual(md.signedJson.x_future, { a: 1 });
  assert.deepEqual(
    md.signedJson.targets,
    invalid.signedJson.targets,
    'unknown hash algorithms survive',
  );
  verifyThreshold(
    md,
    'targets/d',
    delegationVerifier(parseTargets(get(out, 'targets')), 'targets/d'),
  );
});
