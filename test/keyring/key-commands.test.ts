// `trustdesk key …` in script mode (no terminal): secrets only from env/files, every missing
// secret or confirmation is an error naming the fix. Uses non-root roles so the real
// (interactive, 64 MiB) KDF profile stays cheap; the 2 GiB root profile is tested once elsewhere.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrustdeskError } from '../../src/tuf/errors.js';
import { decodePemBlocks } from '../../src/tuf/pem.js';
import { decodeGoKeyBlock, readGoKeyBlocks } from '../../src/keyring/go-pem.js';
import { publicKeyOfMaterial } from '../../src/keyring/private-key.js';
import type { KeyRecordJson } from '../../src/app/commands/key-context.js';
import { SOFTHSM_MODULE, SoftHsm, USER_PIN, hasSoftHsm } from '../support/softhsm.js';
import { requireService } from '../support/services.js';
import { keyCli, type KeyCliResult } from './key-cli.js';
import { NOW, tempTrustDir } from './helpers.js';

const PASS = 'delegation pass 1';

function ok(r: KeyCliResult): Extract<KeyCliResult, { ok: true }> {
  if (!r.ok) assert.fail(`expected success, got [${r.error.code}] ${r.error.message}`);
  return r;
}

function failsWith(r: KeyCliResult, code: string, msg?: RegExp): TrustdeskError {
  if (r.ok) assert.fail(`expected ${code}, got success:\n${r.text}`);
  assert.equal(r.error.code, code, r.error.message);
  if (msg) assert.match(`${r.error.message}\n${r.error.hint}`, msg);
  return r.error;
}

async function setup(t: Parameters<typeof tempTrustDir>[0]) {
  const dir = await tempTrustDir(t);
  const env: Record<string, string> = {
    NOTARY_DELEGATION_PASSPHRASE: PASS,
    TRUSTDESK_TARGETS_PASSPHRASE: 'targets pass 1',
  };
  const run = (argv: string[], extraEnv: Record<string, string> = {}) =>
    keyCli(['-d', join(dir, 'trust'), ...argv], {
      env: { ...env, ...extraEnv },
      cwd: dir,
      nowMs: NOW,
    });
  return { dir, run };
}

const keysOf = (r: KeyCliResult) => (ok(r).result.json.keys as KeyRecordJson[]) ?? [];

test('key generate / list: stored in the file backend, listed with role, gun, backend, location', async (t) => {
  const { dir, run } = await setup(t);
  failsWith(await run(['list', 'extra']), 'ERR_USAGE', /takes 0 arguments/);
  assert.match(ok(await run(['list'])).text, /No signing keys found/);
  const g1 = ok(await run(['generate', 'ed25519', '--role', 'targets/releases']));
  const g2 = ok(await run(['generate', '--role', 'targets', '--gun', 'example.com/app']));
  const k1 = g1.result.json.key as KeyRecordJson;
  const k2 = g2.result.json.key as KeyRecordJson;
  assert.equal(k1.algorithm, 'ed25519');
  assert.equal(k2.algorithm, 'ecdsa');
  assert.match(g2.text, new RegExp(`Generated new ecdsa targets key with keyID: ${k2.id}`));
  const keys = keysOf(await run(['list']));
  assert.deepEqual(
    keys.map((k) => [k.role, k.gun, k.backend, k.id, k.location, k.uri]),
    [
      [
        'targets',
        'example.com/app',
        'file',
        k2.id,
        join(dir, 'trust', 'private', `${k2.id}.json`),
        `file:${k2.id}`,
      ],
      [
        'targets/releases',
        '',
        'file',
        k1.id,
        join(dir, 'trust', 'private', `${k1.id}.json`),
        `file:${k1.id}`,
      ],
    ],
  );
  const text = ok(await run(['list'])).text;
  assert.match(text, /^ROLE\s+GUN\s+KEY ID\s+BACKEND\s+ALGORITHM\s+LOCATION/);
  // The real interactive profile is what the CLI writes for non-root keys.
  const file = JSON.parse(await readFile(k1.location, 'utf8')) as {
    kdf: { profile: string; memoryKiB: number };
  };
  assert.deepEqual([file.kdf.profile, file.kdf.memoryKiB], ['interactive', 65536]);
});

test('no terminal: a missing passphrase, confirmation or word list is an error that names the fix', async (t) => {
  const { run } = await setup(t);
  failsWith(
    await run(['generate', '--role', 'snapshot', '--gun', 'g']),
    'ERR_NO_TTY',
    /TRUSTDESK_SNAPSHOT_PASSPHRASE/,
  );
  const id = (ok(await run(['generate', '--role', 'targets/x'])).result.json.key as KeyRecordJson)
    .id;
  failsWith(await run(['remove', id]), 'ERR_NO_TTY', /confirmation flag/);
  failsWith(await run(['backup', id]), 'ERR_NO_TTY');
  failsWith(await run(['passwd', id]), 'ERR_NO_TTY', /--new-passphrase-file/);
  failsWith(await run(['restore', '--key', id]), 'ERR_NO_TTY', /--from-file/);
  assert.equal(keysOf(await run(['list'])).length, 1, 'nothing was removed');
  failsWith(await run(['generate', 'rsa']), 'ERR_USAGE', /ecdsa/);
  failsWith(await run(['frobnicate']), 'ERR_USAGE', /unknown key subcommand/);
  failsWith(await run(['list', '--role', 'root']), 'ERR_USAGE', /does not take --role/);
  failsWith(await run(['generate', '--role', 'targets']), 'ERR_USAGE', /GUN/);
  failsWith(
    await run(['generate', '--role', 'targets/x', '--backend', 'floppy']),
    'ERR_USAGE',
    /--backend/,
  );
  failsWith(await run(['export', '--key', id, '--gun', 'g']), 'ERR_USAGE', /only one/);
});

test('key generate -o writes Go notary files: F-key.pem (encrypted, role header) and F.pem', async (t) => {
  const { dir, run } = await setup(t);
  const r = ok(await run(['generate', '--role', 'targets/releases', '-o', 'mykey']));
  const id = (r.result.json.key as { id: string }).id;
  const priv = await readFile(join(dir, 'mykey-key.pem'), 'utf8');
  assert.equal((await stat(join(dir, 'mykey-key.pem'))).mode & 0o777, 0o600);
  assert.match(priv, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: targets\/releases\n\n/);
  const [block] = readGoKeyBlocks(priv, 'mykey-key.pem');
  assert.equal(publicKeyOfMaterial(decodeGoKeyBlock(block!, PASS, 'k')).id, id);
  const [pub] = decodePemBlocks(await readFile(join(dir, 'mykey.pem'), 'utf8'));
  assert.deepEqual([pub!.type, pub!.headers], ['PUBLIC KEY', { role: 'targets/releases' }]);
  assert.equal(keysOf(await run(['list'])).length, 0, '-o does not store the key');
  failsWith(await run(['generate', '--role', 'targets/releases', '-o', 'mykey']), 'ERR_KEY_EXISTS');
  // …and it imports (the key's own role header wins over --role).
  const imported = keysOf(await run(['import', 'mykey-key.pem', '--role', 'ignored']));
  assert.deepEqual(
    imported.map((k) => [k.id, k.role]),
    [[id, 'targets/releases']],
  );
});

test('key export → import elsewhere, remove --yes, passwd with a new-passphrase file', async (t) => {
  const { dir, run } = await setup(t);
  const id = (
    ok(await run(['generate', '--role', 'targets', '--gun', 'example.com/app'])).result.json
      .key as KeyRecordJson
  ).id;
  const out = ok(await run(['export', '--gun', 'example.com/app', '-o', 'export.pem']));
  assert.deepEqual(out.result.json.exported, [id]);
  const pem = await readFile(join(dir, 'export.pem'), 'utf8');
  assert.match(pem, new RegExp(`gun: example.com/app\npath: ${id}\nrole: targets\n`));
  assert.equal((await stat(join(dir, 'export.pem'))).mode & 0o777, 0o600);
  failsWith(await run(['export', '--gun', 'nobody.example.com']), 'ERR_KEY_NOT_FOUND');
  const stdoutExport = ok(await run(['export', '--key', id.slice(0, 12)]));
  assert.match(stdoutExport.text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);

  // Another trust dir imports it (the export passphrase is the role's passphrase here).
  const other = await keyCli(['-d', join(dir, 'other'), 'import', join(dir, 'export.pem')], {
    env: { TRUSTDESK_TARGETS_PASSPHRASE: 'targets pass 1' },
    cwd: dir,
    nowMs: NOW,
  });
  assert.deepEqual(
    keysOf(other).map((k) => [k.id, k.role, k.gun]),
    [[id, 'targets', 'example.com/app']],
  );

  await writeFile(join(dir, 'new-pass'), 'targets pass 2\n');
  ok(await run(['passwd', id, '--new-passphrase-file', 'new-pass']));
  // The old passphrase no longer unlocks it; the new one does.
  failsWith(await run(['export', '--key', id]), 'ERR_BAD_PASSPHRASE');
  ok(await run(['export', '--key', id], { TRUSTDESK_TARGETS_PASSPHRASE: 'targets pass 2' }));

  const removed = ok(await run(['remove', id.slice(0, 10), '--yes']));
  assert.equal((removed.result.json.removed as KeyRecordJson).id, id);
  assert.equal(keysOf(await run(['list'])).length, 0);
  failsWith(await run(['remove', id, '--yes']), 'ERR_KEY_NOT_FOUND');
});

test('key backup --yes-show-mnemonic and key restore --from-file give back the same key', async (t) => {
  const { dir, run } = await setup(t);
  const id = (
    ok(await run(['generate', 'ed25519', '--role', 'targets/releases'])).result.json
      .key as KeyRecordJson
  ).id;
  const b = ok(await run(['backup', id, '--yes-show-mnemonic']));
  const words = b.result.json.words as string[];
  assert.equal(words.length, 24);
  assert.match(b.text, new RegExp(`^ 1\\. ${words[0]}`, 'm'));
  assert.match(b.text, new RegExp(`24\\. ${words[23]}`));
  ok(await run(['remove', id, '--yes']));
  await writeFile(join(dir, 'words.txt'), words.join(' ') + '\n');
  failsWith(await run(['restore', '--from-file', 'words.txt']), 'ERR_USAGE', /--key/);
  failsWith(
    await run([
      'restore',
      '--from-file',
      'words.txt',
      '--key',
      'ffffffffffff',
      '--role',
      'targets/releases',
    ]),
    'ERR_KEY_MISMATCH',
  );
  assert.equal(keysOf(await run(['list'])).length, 0);
  await writeFile(join(dir, 'typo.txt'), ['abandn', ...words.slice(1)].join(' '));
  failsWith(
    await run(['restore', '--from-file', 'typo.txt', '--key', id]),
    'ERR_BAD_MNEMONIC',
    /word 1 .*abandon/,
  );
  const r = ok(
    await run([
      'restore',
      '--from-file',
      'words.txt',
      '--key',
      id.slice(0, 16),
      '--role',
      'targets/releases',
    ]),
  );
  assert.equal((r.result.json.key as KeyRecordJson).id, id);
  assert.deepEqual(
    keysOf(await run(['list'])).map((k) => [k.id, k.algorithm, k.role]),
    [[id, 'ed25519', 'targets/releases']],
  );
});

test('key generate / import --token put keys on a PKCS#11 token (SoftHSM2); they never export', async (t) => {
  if (!requireService(t, hasSoftHsm(), 'SoftHSM2 (apt package softhsm2)')) return;
  const hsm = SoftHsm.create();
  t.after(() => hsm.cleanup());
  hsm.initToken('cli-token');
  const { run } = await setup(t);
  const env = { TRUSTDESK_PKCS11_PIN: USER_PIN, TRUSTDESK_PKCS11_MODULE: SOFTHSM_MODULE };
  const token = `pkcs11:token=cli-token?module-path=${SOFTHSM_MODULE}`;
  const onToken = ok(await run(['generate', '--token', token], env)).result.json
    .key as KeyRecordJson;
  assert.deepEqual([onToken.backend, onToken.role, onToken.algorithm], ['pkcs11', 'root', 'ecdsa']);
  ok(await run(['generate', '--role', 'targets/x', '-o', 'soft']));
  const imported = keysOf(await run(['import', 'soft-key.pem', '--token', token], env));
  assert.deepEqual(
    imported.map((k) => [k.backend, k.role]),
    [['pkcs11', 'targets/x']],
  );
  const listed = keysOf(await run(['list'], env));
  assert.deepEqual(listed.map((k) => [k.role, k.backend]).sort(), [
    ['root', 'pkcs11'],
    ['targets/x', 'pkcs11'],
  ]);
  failsWith(await run(['export', '--key', onToken.id], env), 'ERR_NOT_EXTRACTABLE');
  failsWith(await run(['backup', onToken.id, '--yes-show-mnemonic'], env), 'ERR_NOT_EXTRACTABLE');
  failsWith(
    await run(['generate', '--token', token], { ...env, TRUSTDESK_PKCS11_PIN: '9999' }),
    'ERR_BAD_PIN',
  );
});
