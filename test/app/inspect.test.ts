// `trustdesk inspect` end to end (in-process CLI, files on disk, fixed clock): which inputs pass,
// and that every failure carries the right code, exit status and JSON document.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDemoRepository, inspectDemo } from '../../src/app/commands/demo.js';
import { EXIT } from '../../src/app/exit-codes.js';
import { fileMetaFor, RepoBuilder } from '../../src/tuf/builder.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { parseRfc3339 } from '../../src/tuf/metadata.js';
import { createRootCertificate } from '../../src/tuf/x509.js';
import { cli } from './harness.js';

const NOW = parseRfc3339('2026-06-01T12:00:00Z');
const GUN = 'example.com/app/inspect';
const OTHER_GUN = 'example.com/app/other';
let dir = '';

/** Flips one byte of the first signature, keeping the file valid JSON. */
function corruptSignature(raw: Uint8Array): Uint8Array {
  const doc = JSON.parse(Buffer.from(raw).toString()) as {
    signatures: { sig: string }[];
  };
  const sig = Buffer.from(doc.signatures[0]!.sig, 'base64');
  sig[5]! ^= 0x01;
  doc.signatures[0]!.sig = sig.toString('base64');
  return new TextEncoder().encode(JSON.stringify(doc));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trustdesk-inspect-'));
  const repo = await buildDemoRepository(GUN, NOW);
  const other = await buildDemoRepository(OTHER_GUN, NOW);
  const w = (name: string, bytes: Uint8Array | string) => writeFile(join(dir, name), bytes);
  for (const [role, bytes] of repo.files) await w(`${role.replace('/', '-')}.json`, bytes);
  await w('other-root.json', other.files.get('root')!);
  await w('bad-sig-targets.json', corruptSignature(repo.files.get('targets')!));
  await w('bad-sig-root.json', corruptSignature(repo.files.get('root')!));
  await w('not-json.json', '{"signed": ');
  await w('float.json', '{"signed":{"_type":"Targets","version":1.0},"signatures":[]}');

  // A root rotation: v2 signed by the old and the new root key, and a v2 signed by the new only.
  const oldKey = KeyObjectSigner.generate('ecdsa');
  const newKey = KeyObjectSigner.generate('ecdsa');
  const targets = KeyObjectSigner.generate('ecdsa');
  const b = RepoBuilder.create({
    gun: GUN,
    rootKeys: [await createRootCertificate(oldKey, GUN, { nowMs: NOW })],
    targetsKeys: [targets.publicKey],
    snapshotKeys: [targets.publicKey],
    timestampKeys: [targets.publicKey],
  });
  b.addTarget('targets', 'a', fileMetaFor(new Uint8Array([1])));
  const signers = (role: string) => (role === 'root' ? [oldKey, newKey] : [targets]);
  const v1 = await b.sign({ nowMs: NOW, signers });
  b.rotateBaseRoleKeys('root', [await createRootCertificate(newKey, GUN, { nowMs: NOW })]);
  const v2 = await b.sign({ nowMs: NOW, signers });
  await w('root-v1.json', v1.get('root')!);
  await w('root-v2.json', v2.get('root')!);
  const doc = JSON.parse(Buffer.from(v2.get('root')!).toString()) as {
    signed: { roles: { root: { keyids: string[] } } };
    signatures: { keyid: string }[];
  };
  const newIds = new Set(doc.signed.roles.root.keyids);
  doc.signatures = doc.signatures.filter((s) => newIds.has(s.keyid));
  await w('root-v2-new-only.json', JSON.stringify(doc));
});

after(() => rm(dir, { recursive: true, force: true }));

const YEARS_LATER = '2031-01-01T00:00:00Z';

interface Case {
  name: string;
  args: string[];
  exit: number;
  code?: string;
}

const CASES: Case[] = [
  { name: 'root, self-signed', args: ['root.json'], exit: EXIT.ok },
  {
    name: 'root, trusted on first use for its GUN',
    args: ['root.json', '--gun', GUN],
    exit: EXIT.ok,
  },
  {
    name: 'root for another GUN',
    args: ['root.json', '--gun', OTHER_GUN],
    exit: EXIT.verification,
    code: 'ERR_BAD_ROOT',
  },
  { name: 'targets under its root', args: ['targets.json', '--root', 'root.json'], exit: EXIT.ok },
  {
    name: 'targets, root and GUN',
    args: ['targets.json', '--root', 'root.json', '--gun', GUN],
    exit: EXIT.ok,
  },
  {
    name: 'snapshot under its root',
    args: ['snapshot.json', '--root', 'root.json'],
    exit: EXIT.ok,
  },
  {
    name: 'timestamp under its root',
    args: ['timestamp.json', '--root', 'root.json'],
    exit: EXIT.ok,
  },
  { name: 'targets without a root (nothing to check)', args: ['targets.json'], exit: EXIT.ok },
  {
    name: 'delegation under its parent',
    args: [
      'targets-releases.json',
      '--role',
      'targets/releases',
      '--parent',
      'targets.json',
      '--root',
      'root.json',
    ],
    exit: EXIT.ok,
  },
  {
    name: 'targets under another repository root',
    args: ['targets.json', '--root', 'other-root.json'],
    exit: EXIT.verification,
    code: 'ERR_THRESHOLD',
  },
  {
    name: 'corrupted targets signature',
    args: ['bad-sig-targets.json', '--root', 'root.json'],
    exit: EXIT.verification,
    code: 'ERR_BAD_SIGNATURE',
  },
  {
    name: 'corrupted root signature',
    args: ['bad-sig-root.json'],
    exit: EXIT.verification,
    code: 'ERR_BAD_SIGNATURE',
  },
  {
    name: 'corrupted trusted root',
    args: ['targets.json', '--root', 'bad-sig-root.json'],
    exit: EXIT.verification,
    code: 'ERR_BAD_SIGNATURE',
  },
  {
    name: 'expired timestamp',
    args: ['timestamp.json', '--root', 'root.json', '--now', '2026-07-01T00:00:00Z'],
    exit: EXIT.verification,
    code: 'ERR_EXPIRED',
  },
  {
    name: 'expired targets',
    args: ['targets.json', '--now', YEARS_LATER],
    exit: EXIT.verification,
    code: 'ERR_EXPIRED',
  },
  {
    name: 'delegation not declared by the parent',
    args: ['targets-releases.json', '--role', 'targets/other', '--parent', 'targets.json'],
    exit: EXIT.verification,
    code: 'ERR_BAD_DELEGATION',
  },
  {
    name: 'delegation checked against the wrong parent',
    args: ['targets-releases.json', '--role', 'targets/releases', '--parent', 'snapshot.json'],
    exit: EXIT.verification,
    code: 'ERR_WRONG_TYPE',
  },
  {
    name: 'file is not the role given',
    args: ['snapshot.json', '--role', 'timestamp'],
    exit: EXIT.verification,
    code: 'ERR_WRONG_TYPE',
  },
  {
    name: 'invalid role name',
    args: ['targets.json', '--role', 'targets/Bad'],
    exit: EXIT.error,
    code: 'ERR_BAD_ROLE',
  },
  {
    name: 'a targets file given as --root',
    args: ['targets.json', '--root', 'targets.json'],
    exit: EXIT.verification,
    code: 'ERR_WRONG_TYPE',
  },
  { name: 'not JSON', args: ['not-json.json'], exit: EXIT.error, code: 'ERR_BAD_JSON' },
  {
    name: 'non-integer version',
    args: ['float.json'],
    exit: EXIT.error,
    code: 'ERR_NON_CANONICAL',
  },
  { name: 'missing file', args: ['nope.json'], exit: EXIT.notFound, code: 'ERR_NOT_FOUND' },
  {
    name: 'bad --now',
    args: ['root.json', '--now', 'tomorrow'],
    exit: EXIT.usage,
    code: 'ERR_USAGE',
  },
  {
    name: 'root rotation signed by old and new keys',
    args: ['root-v2.json', '--root', 'root-v1.json'],
    exit: EXIT.ok,
  },
  {
    name: 'root rotation without the old key',
    args: ['root-v2-new-only.json', '--root', 'root-v1.json', '--gun', GUN],
    exit: EXIT.verification,
    code: 'ERR_BAD_ROOT',
  },
  {
    name: 'root rollback',
    args: ['root-v1.json', '--root', 'root-v2.json'],
    exit: EXIT.verification,
    code: 'ERR_ROLLBACK',
  },
];

for (const c of CASES) {
  test(`inspect: ${c.name} → exit ${c.exit}${c.code ? ` ${c.code}` : ''}`, async () => {
    const human = await cli(['inspect', ...c.args], { nowMs: NOW, cwd: dir });
    assert.equal(human.code, c.exit, human.stdout + human.stderr);
    const json = await cli(['inspect', ...c.args, '--json'], { nowMs: NOW, cwd: dir });
    assert.equal(json.code, c.exit);
    assert.equal(json.stderr, '');
    const doc = JSON.parse(json.stdout) as {
      ok: boolean;
      error?: { code: string; message: string; hint: string };
    };
    assert.equal(doc.ok, c.exit === EXIT.ok);
    if (c.code) {
      assert.equal(doc.error?.code, c.code);
      assert.ok(doc.error.hint.length > 0);
      assert.match(human.stderr, new RegExp(`^error \\[${c.code}\\]: .+\\nhint: .+`, 'm'));
    } else {
      assert.equal(human.stderr, '');
    }
  });
}

test('inspect report: keys, certificates, signatures and checks of a root', async () => {
  const r = await cli(['inspect', 'root.json', '--gun', GUN, '--json'], { nowMs: NOW, cwd: dir });
  const { report } = JSON.parse(r.stdout) as {
    report: {
      role: string;
      version: number;
      keys: {
        keytype: string;
        id: string;
        canonicalId: string;
        usedBy: string[];
        certificate?: { subjectCN: string; current: boolean };
      }[];
      roles: { name: string; threshold: number }[];
      signatures: { status: string; countsFor: string[] }[];
      checks: { name: string; ok: boolean }[];
    };
  };
  assert.equal(report.role, 'root');
  assert.equal(report.version, 1);
  assert.deepEqual(
    report.roles.map((x) => x.name),
    ['root', 'targets', 'snapshot', 'timestamp'],
  );
  const rootKey = report.keys.find((k) => k.usedBy.includes('root'))!;
  assert.equal(rootKey.keytype, 'ecdsa-x509');
  assert.notEqual(rootKey.canonicalId, rootKey.id);
  assert.deepEqual(
    rootKey.certificate && [rootKey.certificate.subjectCN, rootKey.certificate.current],
    [GUN, true],
  );
  assert.deepEqual(
    report.signatures.map((s) => s.status),
    ['valid'],
  );
  assert.deepEqual(
    report.checks.map((c) => [c.name, c.ok]),
    [
      ['self-signed', true],
      ['root trust', true],
      ['expiry', true],
    ],
  );
});

test('inspect report: targets, delegations and the human listing', async () => {
  const r = await cli(['inspect', 'targets.json', '--root', 'root.json'], { nowMs: NOW, cwd: dir });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^targets \(3\)$/m);
  assert.match(r.stdout, /^ {2}README\.md +7 +[0-9a-f]{64}$/m);
  assert.match(r.stdout, /^ {2}targets\/releases +threshold 1 +paths "releases\/" +[0-9a-f]{64}$/m);
  assert.match(r.stdout, /✓ signatures: 1 valid signature by the targets role of --root/);
  assert.ok(!r.stdout.includes('\u001b['), 'no colour when stdout is not a terminal');
});

test('inspect without a root says the signatures were not verified', async () => {
  const r = await cli(['inspect', 'snapshot.json', '--json'], { nowMs: NOW, cwd: dir });
  const { report } = JSON.parse(r.stdout) as {
    report: { signatures: { status: string }[]; notes: string[] };
  };
  assert.deepEqual(
    report.signatures.map((s) => s.status),
    ['unchecked'],
  );
  assert.match(report.notes.join('\n'), /pass --root/);
});

test('demo: every file of the demo repository passes inspect', async () => {
  const runs = inspectDemo(await buildDemoRepository(GUN, NOW), NOW);
  assert.deepEqual(
    runs.map((r) => r.report.role),
    ['root', 'targets', 'targets/releases', 'snapshot', 'timestamp'],
  );
  for (const r of runs) {
    assert.equal(r.failure, undefined, r.failure?.message);
    assert.ok(
      r.report.signatures.length > 0 && r.report.signatures.every((s) => s.status === 'valid'),
    );
  }
});
