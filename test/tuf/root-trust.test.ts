import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TufError } from '../../src/tuf/errors.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { PublicKey } from '../../src/tuf/keys.js';
import { parseRoot, parseTargets, type Metadata, type RootSigned } from '../../src/tuf/metadata.js';
import { signEnvelope } from '../../src/tuf/sign.js';
import { rootRoleVerifier, verifyRoot, type TrustPinning } from '../../src/tuf/root-trust.js';
import { Verified, verifyThreshold } from '../../src/tuf/verify.js';
import { notarySrc, serviceSkip } from '../support/services.js';
import { EKU, KU, newKey, pemOf } from '../support/certs.js';
import { DAY, NOW, certSigner, goRootKey, makeCert, makeRoot, roleSigner } from './cert-factory.js';

const GUN = 'docker.io/library/alpine';
const isCode = (c: string, re?: RegExp) => (e: unknown) =>
  e instanceof TufError && e.code === c && (re === undefined || re.test(e.message));

/** A root with one Go-made root key, signed by it. */
async function simpleRoot(gun = GUN) {
  const k = await goRootKey(gun);
  const root = await makeRoot({ rootKeys: [k.publicKey], signers: [k] });
  return { k, root };
}

function trust(root: Metadata<RootSigned>, opts: { gun?: string; pinning?: TrustPinning } = {}) {
  return verifyRoot(root, {
    gun: opts.gun ?? GUN,
    nowMs: NOW,
    ...(opts.pinning ? { pinning: opts.pinning } : {}),
  });
}

test('first contact: TOFU accepts a well-formed root and returns it verified', async () => {
  const { k, root } = await simpleRoot();
  const v = trust(root);
  assert.ok(v instanceof Verified);
  assert.equal(v.role, 'root');
  assert.deepEqual(v.validKeyIds, [k.keyId]);
  assert.equal(v.metadata, root);
});

test('first contact: structural and certificate failures', async () => {
  const { k, root } = await simpleRoot();
  const plain = KeyObjectSigner.generate('ecdsa');
  const other = await goRootKey(GUN);
  const cases: [string, () => Promise<Metadata<RootSigned>>, string, RegExp, string?][] = [
    [
      'wrong GUN',
      () => Promise.resolve(root),
      'ERR_BAD_ROOT',
      /unable to retrieve valid leaf certificates.*does not match/,
      'docker.io/library/busybox',
    ],
    [
      'plain (non-x509) root key',
      () => makeRoot({ rootKeys: [plain.publicKey], signers: [plain] }),
      'ERR_BAD_ROOT',
      /unable to retrieve valid leaf certificates.*not an x509/,
    ],
    [
      'no signatures',
      () =>
        Promise.resolve(
          parseRoot(
            new TextEncoder().encode(JSON.stringify({ signed: root.signedJson, signatures: [] })),
          ),
        ),
      'ERR_BAD_ROOT',
      /integrity.*no signatures/,
    ],
    [
      'signed by a key outside the root role',
      () => makeRoot({ rootKeys: [k.publicKey], signers: [other] }),
      'ERR_BAD_ROOT',
      /integrity.*0 of 1/,
    ],
    [
      'signed only by the targets key',
      () => makeRoot({ rootKeys: [k.publicKey], signers: [roleSigner] }),
      'ERR_BAD_ROOT',
      /integrity/,
    ],
  ];
  for (const [name, make, code, re, gun] of cases) {
    const r = await make();
    assert.throws(() => trust(r, gun ? { gun } : {}), isCode(code, re), name);
  }
});

test('a signature whose keyid is a non-Go PEM encoding of the certificate does not count', async () => {
  const k = await goRootKey(GUN);
  const text = new TextDecoder().decode(k.publicKey.publicBytes);
  for (const variant of [text.replace(/\n/g, '\r\n'), text.trimEnd(), 'comment\n' + text]) {
    const odd = new PublicKey('ecdsa-x509', new TextEncoder().encode(variant));
    assert.notEqual(odd.id, k.publicKey.id);
    const signer = new KeyObjectSigner(k.privateKey, odd);
    const root = await makeRoot({ rootKeys: [odd], signers: [signer] });
    assert.throws(
      () => trust(root),
      isCode('ERR_BAD_ROOT', /integrity.*0 of 1/),
      JSON.stringify(variant.slice(-3)),
    );
  }
});

test('threshold 2 root: both keys must sign', async () => {
  const [a, b] = [await goRootKey(GUN), await goRootKey(GUN)];
  const keys = [a.publicKey, b.publicKey];
  const both = await makeRoot({ rootKeys: keys, threshold: 2, signers: [a, b] });
  assert.deepEqual([...trust(both).validKeyIds].sort(), [a.keyId, b.keyId].sort());
  const one = await makeRoot({ rootKeys: keys, threshold: 2, signers: [a] });
  assert.throws(() => trust(one), isCode('ERR_BAD_ROOT', /1 of 2/));
  // Two listings of the same key count once.
  const dup = await makeRoot({ rootKeys: [a.publicKey, a.publicKey], threshold: 2, signers: [a] });
  assert.throws(() => trust(dup), isCode('ERR_BAD_ROOT', /1 of 2/));
});

test('expiry: expired roots and expired leaf certificates are refused unless allowExpired', async () => {
  const k = await goRootKey(GUN);
  const expiredRoot = await makeRoot({
    rootKeys: [k.publicKey],
    signers: [k],
    expiresMs: NOW - 1000,
  });
  assert.throws(() => trust(expiredRoot), isCode('ERR_EXPIRED'));
  assert.ok(verifyRoot(expiredRoot, { gun: GUN, nowMs: NOW, allowExpired: true }));

  const old = await goRootKey(GUN, NOW - 20 * DAY, 10 * DAY); // certificate expired 10 days ago
  const oldCertRoot = await makeRoot({ rootKeys: [old.publicKey], signers: [old] });
  assert.throws(
    () => trust(oldCertRoot),
    isCode('ERR_BAD_ROOT', /unable to retrieve valid leaf certificates.*expired/),
  );
  assert.ok(verifyRoot(oldCertRoot, { gun: GUN, nowMs: NOW, allowExpired: true }));

  // A root with one expired and one valid certificate still validates through the valid one.
  const mixed = await makeRoot({ rootKeys: [old.publicKey, k.publicKey], signers: [old, k] });
  assert.deepEqual(trust(mixed).validKeyIds, [k.keyId]);
});

test('trust pinning by certificate ID (exact GUN and prefix*)', async () => {
  const { k, root } = await simpleRoot();
  const id = k.keyId;
  const cases: [string, TrustPinning, boolean][] = [
    ['exact GUN, listed', { certs: { [GUN]: [id] } }, true],
    ['exact GUN, other ID', { certs: { [GUN]: ['ab'.repeat(32)] } }, false],
    [
      'exact GUN, canonical (bare key) ID is not enough',
      { certs: { [GUN]: [k.publicKey.canonicalId] } },
      false,
    ],
    ['exact GUN, empty list', { certs: { [GUN]: [] } }, false],
    ['prefix*, listed', { certs: { 'docker.io/*': [id] } }, true],
    ['prefix*, other ID', { certs: { 'docker.io/*': ['cd'.repeat(32)] } }, false],
    [
      'longest prefix* wins',
      { certs: { 'docker.io/*': [id], 'docker.io/library/*': ['ef'.repeat(32)] } },
      false,
    ],
    [
      'longest prefix* wins (listed)',
      { certs: { 'docker.io/*': ['ef'.repeat(32)], 'docker.io/lib*': [id] } },
      true,
    ],
    ['exact beats prefix*', { certs: { [GUN]: ['ab'.repeat(32)], 'docker.io/*': [id] } }, false],
    [
      'a prefix without * is not a wildcard → TOFU',
      { certs: { 'docker.io/': ['ab'.repeat(32)] } },
      true,
    ],
    [
      'other GUN pinned → TOFU',
      { certs: { 'docker.io/library/busybox': ['ab'.repeat(32)] } },
      true,
    ],
    ['certs take precedence over ca', { certs: { [GUN]: [id] }, ca: { '': 'not even PEM' } }, true],
    ['certs pinning satisfies disableTofu', { certs: { [GUN]: [id] }, disableTofu: true }, true],
  ];
  for (const [name, pinning, ok] of cases) {
    if (ok) assert.ok(trust(root, { pinning }), name);
    else
      assert.throws(
        () => trust(root, { pinning }),
        isCode('ERR_TRUST_PINNING', /unable to match/),
        name,
      );
  }
});

test('disableTofu refuses first contact, but not a rotation from a trusted root', async () => {
  const { k, root } = await simpleRoot();
  assert.throws(
    () => trust(root, { pinning: { disableTofu: true } }),
    isCode('ERR_TRUST_PINNING', /invalid trust pinning specified/),
  );
  assert.throws(
    () =>
      trust(root, {
        pinning: { disableTofu: true, certs: { 'docker.io/library/busybox': [k.keyId] } },
      }),
    isCode('ERR_TRUST_PINNING', /invalid trust pinning specified/),
  );
  const trusted = trust(root);
  const v2 = await makeRoot({ rootKeys: [k.publicKey], signers: [k], version: 2 });
  assert.ok(verifyRoot(v2, { gun: GUN, nowMs: NOW, trusted, pinning: { disableTofu: true } }));
});

test('trust pinning by CA', async () => {
  const caKey = newKey();
  const intKey = newKey();
  const ca = makeCert({
    cn: 'Pinned CA',
    key: caKey,
    ca: true,
    keyUsage: KU.certSign | KU.crlSign,
    notBeforeMs: NOW - 30 * DAY,
    notAfterMs: NOW + 3650 * DAY,
  });
  const otherCa = makeCert({
    cn: 'Pinned CA',
    key: newKey(),
    ca: true,
    keyUsage: KU.certSign,
  });
  const expiredCa = makeCert({
    cn: 'Pinned CA',
    key: caKey,
    ca: true,
    notBeforeMs: NOW - 30 * DAY,
    notAfterMs: NOW - DAY,
  });
  const intermediate = makeCert({
    cn: 'Int CA',
    key: intKey,
    issuer: { cn: 'Pinned CA', key: caKey },
    ca: true,
    keyUsage: KU.certSign,
  });
  const bundle = pemOf(ca);

  /** A root whose single root key is a CA-issued certificate (+ optional intermediates). */
  async function caRoot(eku: string[] | undefined, viaIntermediate = false, cn = GUN) {
    const leafKey = newKey();
    const leaf = makeCert({
      cn,
      key: leafKey,
      issuer: viaIntermediate ? { cn: 'Int CA', key: intKey } : { cn: 'Pinned CA', key: caKey },
      ca: false,
      keyUsage: KU.digitalSignature,
      ...(eku ? { eku } : {}),
    });
    const signer = viaIntermediate
      ? certSigner(leafKey, leaf, intermediate)
      : certSigner(leafKey, leaf);
    return makeRoot({ rootKeys: [signer.publicKey], signers: [signer] });
  }

  const cases: [string, () => Promise<Metadata<RootSigned>>, TrustPinning, RegExp | null][] = [
    ['serverAuth leaf', () => caRoot([EKU.serverAuth]), { ca: { [GUN]: bundle } }, null],
    ['leaf without EKU', () => caRoot(undefined), { ca: { [GUN]: bundle } }, null],
    ['anyExtendedKeyUsage leaf', () => caRoot([EKU.any]), { ca: { [GUN]: bundle } }, null],
    [
      'codeSigning-only leaf (what Notary generates)',
      () => caRoot([EKU.codeSigning]),
      { ca: { [GUN]: bundle } },
      /unable to match/,
    ],
    [
      'through an intermediate in root.json',
      () => caRoot([EKU.serverAuth], true),
      { ca: { [GUN]: bundle } },
      null,
    ],
    [
      'wrong CA',
      () => caRoot([EKU.serverAuth]),
      { ca: { [GUN]: pemOf(otherCa) } },
      /unable to match/,
    ],
    [
      'self-signed Notary root against a CA',
      async () => (await simpleRoot()).root,
      { ca: { [GUN]: bundle } },
      /unable to match/,
    ],
    [
      'CA prefix of the GUN',
      () => caRoot([EKU.serverAuth]),
      { ca: { 'docker.io/': bundle } },
      null,
    ],
    [
      'empty prefix matches every GUN',
      () => caRoot([EKU.serverAuth]),
      { ca: { '': bundle } },
      null,
    ],
    [
      'longest CA prefix wins',
      () => caRoot([EKU.serverAuth]),
      { ca: { 'docker.io/': bundle, 'docker.io/library/': pemOf(otherCa) } },
      /unable to match/,
    ],
    [
      'CA of another GUN → TOFU',
      () => caRoot([EKU.codeSigning]),
      { ca: { 'quay.io/': bundle } },
      null,
    ],
    [
      'bundle with only an expired CA',
      () => caRoot([EKU.serverAuth]),
      { ca: { [GUN]: pemOf(expiredCa) } },
      /invalid CA certs/,
    ],
    [
      'bundle with an expired and a valid CA',
      () => caRoot([EKU.serverAuth]),
      { ca: { [GUN]: pemOf(expiredCa, ca) } },
      null,
    ],
    [
      'bundle that is not PEM',
      () => caRoot([EKU.serverAuth]),
      { ca: { [GUN]: 'nope' } },
      /could not load the pinned CA bundle/,
    ],
    [
      'wildcard-CN leaf under the CA',
      () => caRoot([EKU.serverAuth], false, 'docker.io/*'),
      { ca: { [GUN]: bundle } },
      null,
    ],
  ];
  for (const [name, make, pinning, err] of cases) {
    const root = await make();
    if (err) assert.throws(() => trust(root, { pinning }), isCode('ERR_TRUST_PINNING', err), name);
    else assert.ok(trust(root, { pinning }), name);
  }
});

test('rotation: the new root must be signed by the trusted root keys and by its own', async () => {
  const old = await goRootKey(GUN);
  const next = await goRootKey(GUN);
  const trusted = trust(await makeRoot({ rootKeys: [old.publicKey], signers: [old] }));
  const rotated = (signers: KeyObjectSigner[]) =>
    makeRoot({ rootKeys: [next.publicKey], signers, version: 2 });
  const cases: [string, KeyObjectSigner[], RegExp | null][] = [
    ['signed by old and new', [old, next], null],
    ['signed only by the new key', [next], /rotation failed/],
    ['signed only by the old key', [old], /integrity/],
  ];
  for (const [name, signers, err] of cases) {
    const r = await rotated(signers);
    const run = () => verifyRoot(r, { gun: GUN, nowMs: NOW, trusted });
    if (err) assert.throws(run, isCode('ERR_BAD_ROOT', err), name);
    else assert.deepEqual(run().validKeyIds, [next.keyId], name);
  }
});

test('rotation: the trusted root threshold applies, and its expired certificates still count', async () => {
  const [a, b] = [await goRootKey(GUN), await goRootKey(GUN)];
  const trusted2 = trust(
    await makeRoot({ rootKeys: [a.publicKey, b.publicKey], threshold: 2, signers: [a, b] }),
  );
  const next = await goRootKey(GUN);
  const byOne = await makeRoot({ rootKeys: [next.publicKey], signers: [a, next], version: 2 });
  assert.throws(
    () => verifyRoot(byOne, { gun: GUN, nowMs: NOW, trusted: trusted2 }),
    isCode('ERR_BAD_ROOT', /rotation failed.*1 of 2/),
  );
  const byBoth = await makeRoot({ rootKeys: [next.publicKey], signers: [a, b, next], version: 2 });
  assert.ok(verifyRoot(byBoth, { gun: GUN, nowMs: NOW, trusted: trusted2 }));

  // The trusted root's certificate has expired by now (and the root itself too): still usable
  // to authorise the rotation.
  const aged = await goRootKey(GUN, NOW - 400 * DAY, 365 * DAY);
  const agedRoot = await makeRoot({
    rootKeys: [aged.publicKey],
    signers: [aged],
    expiresMs: NOW - 30 * DAY,
  });
  const trustedAged = verifyRoot(agedRoot, { gun: GUN, nowMs: NOW - 100 * DAY });
  const fresh = await makeRoot({ rootKeys: [next.publicKey], signers: [aged, next], version: 2 });
  assert.deepEqual(verifyRoot(fresh, { gun: GUN, nowMs: NOW, trusted: trustedAged }).validKeyIds, [
    next.keyId,
  ]);
});

test('rotation with pinning: pinning applies when given (expired cached root), disableTofu does not', async () => {
  const old = await goRootKey(GUN);
  const next = await goRootKey(GUN);
  const trusted = trust(await makeRoot({ rootKeys: [old.publicKey], signers: [old] }));
  const r = await makeRoot({ rootKeys: [next.publicKey], signers: [old, next], version: 2 });
  assert.ok(
    verifyRoot(r, { gun: GUN, nowMs: NOW, trusted, pinning: { certs: { [GUN]: [next.keyId] } } }),
  );
  assert.throws(
    () =>
      verifyRoot(r, { gun: GUN, nowMs: NOW, trusted, pinning: { certs: { [GUN]: [old.keyId] } } }),
    isCode('ERR_TRUST_PINNING'),
  );
});

test(
  'a root.json produced by the Go CLI verifies',
  {
    skip: serviceSkip(
      existsSync(join(notarySrc(), 'fixtures', 'compatibility')),
      'Go Notary source tree',
    ),
  },
  () => {
    const cases: [string, string, boolean][] = [
      [
        'fixtures/compatibility/notary0.1/tuf/docker.com/notary0.1/samplerepo/metadata/root.json',
        'docker.com/notary0.1/samplerepo',
        false,
      ],
      // This one's certificate expired in July 2026: only with allowExpired.
      [
        'fixtures/compatibility/notary0.3/tuf/docker.com/notary0.3/tst/metadata/root.json',
        'docker.com/notary0.3/tst',
        true,
      ],
    ];
    for (const [path, gun, certExpired] of cases) {
      const root = parseRoot(new Uint8Array(readFileSync(join(notarySrc(), path))));
      const v = verifyRoot(root, { gun, nowMs: NOW, allowExpired: true });
      assert.deepEqual(v.validKeyIds, root.signed.roles.root.keyids, path);
      if (certExpired)
        assert.throws(
          () => verifyRoot(root, { gun, nowMs: NOW }),
          isCode('ERR_BAD_ROOT', /expired/),
          path,
        );
      else assert.ok(verifyRoot(root, { gun, nowMs: NOW }), path);
      assert.throws(
        () => verifyRoot(root, { gun: 'docker.com/other', nowMs: NOW, allowExpired: true }),
        isCode('ERR_BAD_ROOT'),
        path,
      );
    }
  },
);

test('rootRoleVerifier: keys and threshold of a base role', async () => {
  const { root } = await simpleRoot();
  const v = trust(root);
  for (const role of ['targets', 'snapshot', 'timestamp'] as const) {
    for (const src of [v, root.signed]) {
      const rv = rootRoleVerifier(src, role);
      assert.deepEqual(rv.keyids, [roleSigner.keyId]);
      assert.equal(rv.threshold, 1);
      assert.equal(rv.keys.get(roleSigner.keyId), root.signed.keys.get(roleSigner.keyId));
    }
  }
  const rootRole = rootRoleVerifier(v, 'root');
  assert.deepEqual(rootRole.keyids, root.signed.roles.root.keyids);
  const targets = parseTargets(
    await signEnvelope(
      {
        _type: 'Targets',
        delegations: { keys: {}, roles: [] },
        expires: '2040-01-01T00:00:00Z',
        targets: {},
        version: 2,
      },
      [roleSigner],
    ),
  );
  assert.ok(verifyThreshold(targets, 'targets', rootRoleVerifier(v, 'targets')));
  assert.throws(
    () =>
      verifyThreshold(targets, 'snapshot', { ...rootRoleVerifier(v, 'snapshot'), threshold: 2 }),
    isCode('ERR_THRESHOLD'),
  );
});
