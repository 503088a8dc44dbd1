// Go Notary's backwards-compatibility fixtures (fixtures/compatibility/notary0.1 and notary0.3 in
// the Go source, read at test time from $NOTARY_SRC, never committed) parse and verify with our
// core: roots against their GUN, every role against its root (or its delegating parent), and the
// snapshot/timestamp hashes against the exact file bytes. Times are fixed instants, not the clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectMetadata } from '../../src/app/inspect/report.js';
import { canonicalText, encodeEnvelope } from '../../src/tuf/canonical.js';
import { toBase64 } from '../../src/tuf/encoding.js';
import { TufError } from '../../src/tuf/errors.js';
import { checkFileMeta } from '../../src/tuf/filemeta.js';
import {
  parseAny,
  parseRfc3339,
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type Metadata,
} from '../../src/tuf/metadata.js';
import { rootRoleVerifier, verifyRoot } from '../../src/tuf/root-trust.js';
import { verifyThreshold } from '../../src/tuf/verify.js';
import { hasNotarySrc, notarySrc, requireService } from '../support/services.js';

interface Fixture {
  name: string;
  gun: string;
  dir: string;
  targets: string[];
  /** Delegation role → the targets it lists. */
  delegations: Record<string, string[]>;
}

const FIXTURES: Fixture[] = [
  {
    name: 'notary0.1',
    gun: 'docker.com/notary0.1/samplerepo',
    dir: 'notary0.1/tuf/docker.com/notary0.1/samplerepo/metadata',
    targets: ['LICENSE'],
    delegations: {},
  },
  {
    name: 'notary0.3',
    gun: 'docker.com/notary0.3/tst',
    dir: 'notary0.3/tuf/docker.com/notary0.3/tst/metadata',
    targets: ['LICENSE', 'change'],
    delegations: { 'targets/releases': ['hello'] },
  },
];

/** Both fixtures' certificates and metadata were valid then. */
const FIXTURE_ERA = parseRfc3339('2016-09-01T00:00:00Z');
/** After the notary0.3 root certificate expired (2026-07-25); its metadata runs to 2116. */
const AFTER_CERT_EXPIRY = parseRfc3339('2026-12-01T00:00:00Z');

const available = hasNotarySrc();
const what = `Go Notary compatibility fixtures (NOTARY_SRC=${notarySrc()})`;

function read(f: Fixture, role: string): Uint8Array {
  return new Uint8Array(
    readFileSync(join(notarySrc(), 'fixtures', 'compatibility', f.dir, `${role}.json`)),
  );
}

function load(f: Fixture) {
  const root = parseRoot(read(f, 'root'));
  const trusted = verifyRoot(root, { gun: f.gun, nowMs: FIXTURE_ERA });
  return {
    root,
    trusted,
    targets: parseTargets(read(f, 'targets')),
    snapshot: parseSnapshot(read(f, 'snapshot')),
    timestamp: parseTimestamp(read(f, 'timestamp')),
  };
}

const code = (c: string) => (e: unknown) => e instanceof TufError && e.code === c;

for (const f of FIXTURES) {
  test(`${f.name}: root is trusted on first use for ${f.gun}`, (t) => {
    if (!requireService(t, available, what)) return;
    const { trusted } = load(f);
    assert.equal(trusted.role, 'root');
    assert.equal(trusted.validKeyIds.length, trusted.signed.roles.root.threshold);
    // The certificate CN binds the root to its GUN.
    assert.throws(
      () => verifyRoot(parseRoot(read(f, 'root')), { gun: 'docker.com/other', nowMs: FIXTURE_ERA }),
      (e: unknown) => e instanceof TufError,
    );
  });

  test(`${f.name}: timestamp, snapshot and targets meet their thresholds under the root`, (t) => {
    if (!requireService(t, available, what)) return;
    const { trusted, targets, snapshot, timestamp } = load(f);
    for (const [role, md] of [
      ['timestamp', timestamp],
      ['snapshot', snapshot],
      ['targets', targets],
    ] as const) {
      const v = verifyThreshold(md as Metadata, role, rootRoleVerifier(trusted, role));
      assert.deepEqual(v.validKeyIds, trusted.signed.roles[role].keyids, role);
    }
    assert.deepEqual([...targets.signed.targets.keys()].sort(), [...f.targets].sort());
    // Key IDs are role-specific: the targets file does not verify as the snapshot role.
    assert.throws(
      () => verifyThreshold(targets, 'targets', rootRoleVerifier(trusted, 'snapshot')),
      code('ERR_THRESHOLD'),
    );
  });

  test(`${f.name}: snapshot and timestamp hashes cover the exact bytes`, (t) => {
    if (!requireService(t, available, what)) return;
    const { snapshot, timestamp } = load(f);
    checkFileMeta(read(f, 'snapshot'), timestamp.signed.meta.get('snapshot'), 'snapshot');
    for (const role of ['root', 'targets', ...Object.keys(f.delegations)]) {
      checkFileMeta(read(f, role), snapshot.signed.meta.get(role), role);
    }
    // One byte of whitespace added at the end changes the hash (and the length).
    const padded = new Uint8Array([...read(f, 'targets'), 0x0a]);
    assert.throws(
      () => checkFileMeta(padded, snapshot.signed.meta.get('targets'), 'targets'),
      code('ERR_HASH_MISMATCH'),
    );
  });

  test(`${f.name}: delegations verify against their parent`, (t) => {
    if (!requireService(t, available, what)) return;
    const { targets } = load(f);
    const declared = targets.signed.delegations.roles.map((r) => r.name);
    assert.deepEqual(declared, Object.keys(f.delegations));
    for (const [role, names] of Object.entries(f.delegations)) {
      const md = parseTargets(read(f, role), { role });
      const entry = targets.signed.delegations.roles.find((r) => r.name === role)!;
      const v = verifyThreshold(md, role, {
        keys: targets.signed.delegations.keys,
        keyids: entry.keyids,
        threshold: entry.threshold,
      });
      assert.equal(v.validKeyIds.length, entry.threshold);
      assert.deepEqual([...md.signed.targets.keys()], names);
    }
  });

  test(`${f.name}: our wire encoder reproduces Go's bytes`, (t) => {
    if (!requireService(t, available, what)) return;
    for (const role of [
      'root',
      'targets',
      'snapshot',
      'timestamp',
      ...Object.keys(f.delegations),
    ]) {
      const raw = read(f, role);
      const md = parseAny(raw, { role });
      const sigs = md.signatures.map((s) => ({
        keyid: s.keyid,
        method: s.method,
        sig: toBase64(s.sig),
      }));
      const again = encodeEnvelope(canonicalText(md.signedJson), sigs);
      assert.equal(Buffer.from(again).toString(), Buffer.from(raw).toString(), role);
    }
  });

  test(`${f.name}: a tampered targets file is refused`, (t) => {
    if (!requireService(t, available, what)) return;
    const { trusted } = load(f);
    const text = Buffer.from(read(f, 'targets')).toString();
    const tampered = new TextEncoder().encode(text.replace('"length":', '"length":1'));
    assert.notEqual(Buffer.from(tampered).toString(), text);
    assert.throws(
      () =>
        verifyThreshold(parseTargets(tampered), 'targets', rootRoleVerifier(trusted, 'targets')),
      code('ERR_BAD_SIGNATURE'),
    );
  });

  test(`${f.name}: inspect passes every file at the fixture's time`, (t) => {
    if (!requireService(t, available, what)) return;
    const file = (role: string) => ({ name: `${role}.json`, bytes: read(f, role) });
    const root = file('root');
    const runs = [
      inspectMetadata({ file: root, gun: f.gun, nowMs: FIXTURE_ERA }),
      ...['targets', 'snapshot', 'timestamp'].map((r) =>
        inspectMetadata({ file: file(r), root, gun: f.gun, nowMs: FIXTURE_ERA }),
      ),
      ...Object.keys(f.delegations).map((r) =>
        inspectMetadata({
          file: file(r),
          role: r,
          parent: file('targets'),
          root,
          nowMs: FIXTURE_ERA,
        }),
      ),
    ];
    for (const { report, failure } of runs) {
      assert.equal(failure, undefined, `${report.file}: ${failure?.message}`);
      assert.ok(report.checks.length >= 2, report.file);
      assert.ok(report.checks.every((c) => c.ok));
      assert.ok(report.signatures.every((s) => s.status === 'valid'));
    }
  });
}

test('notary0.3: the root certificate has expired; allowExpired still verifies the root', (t) => {
  if (!requireService(t, available, what)) return;
  const f = FIXTURES[1]!;
  const root = parseRoot(read(f, 'root'));
  assert.throws(
    () => verifyRoot(root, { gun: f.gun, nowMs: AFTER_CERT_EXPIRY }),
    (e: unknown) => e instanceof TufError,
  );
  const v = verifyRoot(root, { gun: f.gun, nowMs: AFTER_CERT_EXPIRY, allowExpired: true });
  assert.equal(v.signed.version, root.signed.version);
  // inspect reports the certificate as no longer current and fails the trust check.
  const { report, failure } = inspectMetadata({
    file: { name: 'root.json', bytes: read(f, 'root') },
    gun: f.gun,
    nowMs: AFTER_CERT_EXPIRY,
  });
  assert.ok(failure);
  assert.equal(report.keys.find((k) => k.certificate)?.certificate?.current, false);
});
