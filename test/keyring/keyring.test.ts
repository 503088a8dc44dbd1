import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { createRootCertificate } from '../../src/tuf/x509.js';
import { Keyring, normaliseRoleGun } from '../../src/keyring/keyring.js';
import { encodeGoPem } from '../../src/keyring/go-pem.js';
import { mnemonicFor } from '../../src/keyring/paper-backup.js';
import { generateMaterial, publicKeyOfMaterial } from '../../src/keyring/private-key.js';
import type { KeyBackend, KeyRecord } from '../../src/keyring/types.js';
import { NOW, ScriptedPrompter, fileBackend, fileKeyring, tempTrustDir } from './helpers.js';

const isCode = (code: string, msg?: RegExp) => (e: unknown) =>
  e instanceof TrustdeskError && e.code === code && (!msg || msg.test(e.message));
const MSG = new TextEncoder().encode('payload');
const PASS = 'keyring passphrase';

async function withKeys(t: Parameters<typeof tempTrustDir>[0]) {
  const dir = await tempTrustDir(t);
  const p = new ScriptedPrompter([PASS]);
  const kr = fileKeyring(dir, p);
  const made: Record<string, KeyRecord> = {};
  for (const [name, algorithm, role, gun] of [
    ['deleg', 'ed25519', 'targets/releases', ''],
    ['snapB', 'ecdsa', 'snapshot', 'example.com/b'],
    ['targA', 'ecdsa', 'targets', 'example.com/a'],
    ['root', 'ecdsa', 'root', ''],
    ['snapA', 'ecdsa', 'snapshot', 'example.com/a'],
  ] as const) {
    made[name] = await kr.generate({ algorithm, role, gun, nowMs: NOW });
  }
  return { dir, p, kr, made };
}

test('list: root, targets, snapshot, timestamp, then delegations; gun then id within a role', async (t) => {
  const { kr, made } = await withKeys(t);
  const listed = await kr.list();
  assert.deepEqual(
    listed.map((k) => `${k.role}|${k.gun}`),
    [
      'root|',
      'targets|example.com/a',
      'snapshot|example.com/a',
      'snapshot|example.com/b',
      'targets/releases|',
    ],
  );
  assert.equal(listed[0]!.id, made.root!.id);
});

test('role/gun normalisation follows Go key import', () => {
  assert.deepEqual(normaliseRoleGun('root', 'example.com/x'), { role: 'root', gun: '' });
  assert.deepEqual(normaliseRoleGun('targets/releases', 'g'), {
    role: 'targets/releases',
    gun: '',
  });
  assert.deepEqual(normaliseRoleGun('targets', 'g'), { role: 'targets', gun: 'g' });
  assert.throws(() => normaliseRoleGun('snapshot', ''), isCode('ERR_USAGE', /GUN/));
  assert.throws(() => normaliseRoleGun('bad role\n', ''), isCode('ERR_BAD_ROLE'));
  assert.throws(() => normaliseRoleGun('targets', 'a\nb'), isCode('ERR_USAGE'));
});

test('find by id prefix (Go: first match), unique lookups refuse ambiguity', async (t) => {
  const { kr, made } = await withKeys(t);
  const id = made.targA!.id;
  assert.equal((await kr.find(id.slice(0, 6))).id, id);
  assert.equal((await kr.find(id.toUpperCase())).id, id);
  await assert.rejects(kr.find('0000000000000000000000'), isCode('ERR_KEY_NOT_FOUND'));
  await assert.rejects(kr.find('xyz'), isCode('ERR_USAGE'));
  // The empty prefix matches all keys: Go's rule takes the first; findUnique refuses.
  const sorted = (await kr.list()).map((k) => k.id).sort();
  assert.equal((await kr.find('')).id, sorted[0]);
  await assert.rejects(kr.findUnique(''), isCode('ERR_KEY_AMBIGUOUS'));
});

test('signerFor picks the key by role and gun (root and delegations carry none) and caches it', async (t) => {
  const { kr, made, p } = await withKeys(t);
  const s = await kr.signerFor('snapshot', 'example.com/b');
  assert.equal(s.keyId, made.snapB!.id);
  assert.ok(s.publicKey.verify('ecdsa', MSG, await s.sign(MSG)));
  const asked = p.asked.length;
  assert.equal(await kr.signerFor('snapshot', 'example.com/b'), s);
  assert.equal(p.asked.length, asked, 'a cached signer asks nothing');
  assert.equal((await kr.signerFor('root', 'example.com/anything')).keyId, made.root!.id);
  assert.equal((await kr.signerFor('targets/releases', 'x')).keyId, made.deleg!.id);
  await assert.rejects(kr.signerFor('timestamp', 'example.com/a'), isCode('ERR_MISSING_KEY'));
  await assert.rejects(kr.signerFor('targets', 'example.com/zzz'), isCode('ERR_MISSING_KEY'));
});

test('a root key signs as its x509 certificate: TUF id of the cert, canonical id of the file', async (t) => {
  const { kr, made } = await withKeys(t);
  const bare = await kr.signerForKey(made.root!.id);
  const cert = await createRootCertificate(bare, 'example.com/a', { nowMs: NOW });
  const s = await kr.signerFor('root', '', cert);
  assert.equal(s.keyId, cert.id);
  assert.equal(cert.canonicalId, made.root!.id);
  assert.ok(cert.verify('ecdsa', MSG, await s.sign(MSG)));
  const otherCert = await createRootCertificate(
    KeyObjectSigner.generate('ecdsa'),
    'example.com/a',
    { nowMs: NOW },
  );
  await assert.rejects(kr.signerFor('root', '', otherCert), isCode('ERR_MISSING_KEY'));
});

test('remove and backup need a dangerous confirmation; a refusal changes nothing', async (t) => {
  const { dir, made } = await withKeys(t);
  const no = new ScriptedPrompter([PASS], [PASS], false);
  const kr = fileKeyring(dir, no);
  await assert.rejects(kr.remove(made.targA!.id), isCode('ERR_ABORTED'));
  await assert.rejects(kr.backup(made.root!.id), isCode('ERR_ABORTED'));
  assert.deepEqual(
    no.confirms.map((c) => c.dangerous),
    [true, true],
  );
  assert.equal(no.asked.length, 0, 'no passphrase is asked before the confirmation');
  assert.equal((await kr.list()).length, 5);
  const yes = fileKeyring(dir, new ScriptedPrompter([PASS]));
  const removed = await yes.remove(made.targA!.id.slice(0, 10));
  assert.equal(removed.id, made.targA!.id);
  assert.equal((await yes.list()).length, 4);
  assert.equal((await readdir(join(dir, 'private'))).includes(`${made.targA!.id}.json`), false);
});

test('backup → restore gives back the same key; the wrong id writes nothing', async (t) => {
  const { kr, made } = await withKeys(t);
  const { words } = await kr.backup(made.root!.id);
  assert.equal(words.length, 24);
  const fresh = await tempTrustDir(t);
  const kr2 = fileKeyring(fresh, new ScriptedPrompter(['new store passphrase']));
  await assert.rejects(
    kr2.restore(
      words.join(' '),
      { expectedId: made.targA!.id },
      { role: 'root', gun: '', nowMs: NOW },
    ),
    isCode('ERR_KEY_MISMATCH'),
  );
  assert.deepEqual(await kr2.list(), []);
  const r = await kr2.restore(
    words.join(' '),
    { expectedId: made.root!.id.slice(0, 12) },
    { role: 'root', gun: '', nowMs: NOW },
  );
  assert.equal(r.id, made.root!.id);
  const s = await kr2.signerForKey(r.id);
  assert.ok(made.root!.publicKey.verify('ecdsa', MSG, await s.sign(MSG)));
});

test('import a Go PEM bundle: headers, --role/--gun fallbacks, Go normalisation, passphrase per role', async (t) => {
  const dir = await tempTrustDir(t);
  const targets = generateMaterial('ecdsa');
  const deleg = generateMaterial('ed25519');
  const noHeaders = generateMaterial('ecdsa');
  const pem =
    encodeGoPem(targets, {
      role: 'targets',
      gun: 'example.com/a',
      path: publicKeyOfMaterial(targets).id,
      passphrase: 'go targets pass',
    }) +
    encodeGoPem(deleg, {
      role: 'targets/releases',
      gun: 'dropped.example.com',
      passphrase: 'go deleg pass',
    }) +
    encodeGoPem(noHeaders, { role: '', gun: '' });
  const p = new ScriptedPrompter(['go targets pass', 'go deleg pass'], ['store pass 1']);
  const kr = fileKeyring(dir, p);
  const recs = await kr.importPem(pem, 'bundle.pem', {
    role: 'user',
    gun: 'fallback.example.com',
    nowMs: NOW,
  });
  assert.deepEqual(
    recs.map((r) => [r.id, r.role, r.gun]),
    [
      [publicKeyOfMaterial(targets).id, 'targets', 'example.com/a'],
      [publicKeyOfMaterial(deleg).id, 'targets/releases', ''],
      [publicKeyOfMaterial(noHeaders).id, 'user', ''],
    ],
  );
  assert.deepEqual(
    p.asked.map((a) => [a.mode, a.role]),
    [
      ['existing', 'targets'],
      ['new', 'targets'],
      ['existing', 'targets/releases'],
      ['new', 'targets/releases'],
      ['new', 'user'],
    ],
  );
  // A targets key without a gun anywhere is refused (Go: "invalid key pem block").
  const lone = encodeGoPem(generateMaterial('ecdsa'), { role: 'snapshot', gun: '' });
  await assert.rejects(kr.importPem(lone, 'lone.pem', { nowMs: NOW }), isCode('ERR_USAGE', /GUN/));
  // Without any role, Go's default import role applies.
  const r = await kr.importPem(
    encodeGoPem(generateMaterial('ecdsa'), { role: '', gun: '' }),
    'x.pem',
    { nowMs: NOW },
  );
  assert.equal(r[0]!.role, 'delegation');
});

test('export → import round trip through the Go format keeps id, role and gun', async (t) => {
  const { kr, made } = await withKeys(t);
  const pem = await kr.exportPem([made.targA!, made.deleg!]);
  assert.match(pem, new RegExp(`path: ${made.targA!.id}`));
  const other = fileKeyring(await tempTrustDir(t), new ScriptedPrompter([PASS]));
  const back = await other.importPem(pem, 'export.pem', { nowMs: NOW });
  assert.deepEqual(
    back.map((r) => [r.id, r.role, r.gun]),
    [
      [made.targA!.id, 'targets', 'example.com/a'],
      [made.deleg!.id, 'targets/releases', ''],
    ],
  );
  await assert.rejects(
    other.importPem(pem, 'export.pem', { nowMs: NOW }),
    isCode('ERR_KEY_EXISTS'),
  );
});

test('a backend that cannot be reached is a problem in scan(), not a failure', async (t) => {
  const dir = await tempTrustDir(t);
  const broken: KeyBackend = {
    name: 'keychain',
    list: () => Promise.reject(new TrustdeskError('ERR_KEYCHAIN_UNAVAILABLE', 'no secret service')),
    generate: () => Promise.reject(new Error('unused')),
    importPrivate: () => Promise.reject(new Error('unused')),
    signer: () => Promise.reject(new Error('unused')),
    remove: () => Promise.reject(new Error('unused')),
    exportPrivate: () => Promise.reject(new Error('unused')),
  };
  const kr = new Keyring({
    prompter: new ScriptedPrompter([PASS]),
    backends: [fileBackend(dir), broken],
  });
  await kr.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW });
  await writeFile(join(dir, 'private', `${'e'.repeat(64)}.json`), '{');
  const { keys, problems } = await kr.scan();
  assert.equal(keys.length, 1);
  assert.deepEqual(
    problems.map((p) => [p.backend, p.error.code]),
    [
      ['file', 'ERR_KEYFILE_CORRUPT'],
      ['keychain', 'ERR_KEYCHAIN_UNAVAILABLE'],
    ],
  );
  await assert.rejects(
    kr.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW, backend: 'pkcs11' }),
    isCode('ERR_USAGE', /not configured/),
  );
});

test('passwd through the facade; the paper backup words match the key', async (t) => {
  const { dir, made } = await withKeys(t);
  const p = new ScriptedPrompter([PASS], ['a brand new passphrase']);
  const kr = fileKeyring(dir, p);
  await kr.passwd(made.snapA!.id);
  const again = fileKeyring(dir, new ScriptedPrompter(['a brand new passphrase']));
  const material = await again.exportMaterial(made.snapA!);
  assert.deepEqual(mnemonicFor(material), (await again.backup(made.snapA!.id)).words);
  assert.equal(publicKeyOfMaterial(material).id, made.snapA!.id);
  // Only a file key has a passphrase; an unknown id is not found.
  await assert.rejects(again.passwd('0000000000'), isCode('ERR_KEY_NOT_FOUND'));
});
