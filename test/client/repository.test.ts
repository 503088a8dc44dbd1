// Repository operations against trustdesk-server in-process: init, staging, publish (initial and
// later, rebase on a concurrent publisher, failures that keep every staged change), reads,
// delegations (published by the delegate from another trust dir), witness, key rotations (the
// rules, and the root cross-signature), delete, and bad input.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RemoteServer } from '../../src/client/remote/remote-store.js';
import { Repository } from '../../src/client/repository.js';
import { fileMetaFor } from '../../src/tuf/filemeta.js';
import { utf8Encode } from '../../src/tuf/encoding.js';
import { parseRoot, parseTargets } from '../../src/tuf/metadata.js';
import { encodePem } from '../../src/tuf/pem.js';
import { isTrustdeskError } from '../../src/tuf/errors.js';
import { fetchMetadata } from '../support/go-notary.js';
import {
  cheapKeyring,
  openRepo,
  removeDir,
  scriptPrompter,
  startTrustdeskServer,
  tempDir,
  type RepoHandle,
  type TestServer,
} from './client-harness.js';

const meta = (s: string) => fileMetaFor(utf8Encode(s));

function code(c: string) {
  return (e: unknown) => isTrustdeskError(e) && e.code === c;
}

let server: TestServer;
const cleanup: Array<() => Promise<void>> = [];

before(async () => {
  server = await startTrustdeskServer();
});
after(async () => {
  for (const f of cleanup.reverse()) await f();
  await server.stop();
});

let n = 0;
async function fresh(label: string): Promise<RepoHandle & { gun: string }> {
  const trustDir = await tempDir(label);
  const gun = `example.com/c2/${label}-${++n}`;
  const h = openRepo(server.url, trustDir, gun);
  cleanup.push(async () => {
    await h.close();
    await removeDir(trustDir);
  });
  return { ...h, gun };
}

describe('init and publish', () => {
  test('init caches verified root/targets/snapshot v1 and uploads nothing', async () => {
    const h = await fresh('init');
    const r = await h.repo.init();
    assert.deepEqual(r.versions, { root: 1, targets: 1, snapshot: 1 });
    const files = (await readdir(join(h.trustDir, 'tuf', ...h.gun.split('/'), 'metadata'))).sort();
    assert.deepEqual(files, ['root.json', 'snapshot.json', 'targets.json']);
    await assert.rejects(fetchMetadata(server.url, h.gun, 'root'), /404/);
    const keys = await h.keyring.list();
    assert.deepEqual(keys.map((k) => k.role).sort(), ['root', 'snapshot', 'targets']);
    assert.equal(keys.find((k) => k.role === 'targets')?.gun, h.gun);
    assert.equal(keys.find((k) => k.role === 'root')?.gun, '');
    // A second init would replace the trust anchor: refused.
    await assert.rejects(h.repo.init(), /already initialised/);
  });

  test('init --rootkey (Go key file) and --rootcert: the root role lists that certificate', async () => {
    const h = await fresh('rootkey');
    const { encodeGoPem } = await import('../../src/keyring/go-pem.js');
    const { generateMaterial, keyObjectFromMaterial } =
      await import('../../src/keyring/private-key.js');
    const { KeyObjectSigner } = await import('../../src/tuf/key-object-signer.js');
    const { createRootCertificate } = await import('../../src/tuf/x509.js');
    const { writeFile } = await import('node:fs/promises');
    const material = generateMaterial('ecdsa');
    const signer = new KeyObjectSigner(keyObjectFromMaterial(material));
    const cert = await createRootCertificate(signer, h.gun, { nowMs: Date.now() });
    const keyFile = join(h.trustDir, 'root-key.pem');
    const certFile = join(h.trustDir, 'root.crt');
    await writeFile(
      keyFile,
      encodeGoPem(material, { role: 'root', passphrase: 'root-passphrase-1' }),
    );
    await writeFile(certFile, new TextDecoder().decode(cert.publicBytes));
    // A certificate of another key is refused before anything is written.
    const other = await createRootCertificate(KeyObjectSigner.generate('ecdsa'), h.gun, {
      nowMs: Date.now(),
    });
    const otherFile = join(h.trustDir, 'other.crt');
    await writeFile(otherFile, new TextDecoder().decode(other.publicBytes));
    await assert.rejects(
      h.repo.init({ rootKeyFile: keyFile, rootCertFile: otherFile }),
      code('ERR_KEY_MISMATCH'),
    );
    // An unencrypted root key file is refused (Go requires it encrypted).
    const plainFile = join(h.trustDir, 'plain.pem');
    await writeFile(plainFile, encodeGoPem(material, { role: 'root' }));
    const h2 = await fresh('rootkey-plain');
    await assert.rejects(h2.repo.init({ rootKeyFile: plainFile }), code('ERR_BAD_KEY'));

    const r = await h.repo.init({ rootKeyFile: keyFile, rootCertFile: certFile });
    assert.equal(r.rootKeyId, signer.publicKey.id);
    assert.equal(r.keys.root, cert.id);
    await h.repo.publish();
    const root = parseRoot(await fetchMetadata(server.url, h.gun, 'root'));
    assert.deepEqual(root.signed.roles.root.keyids, [cert.id]);
  });

  test('initial publish sends root v1, targets v2, snapshot v2; the changelist is then empty', async () => {
    const h = await fresh('pub');
    await h.repo.init();
    await h.repo.addTarget('hello', meta('hello'));
    assert.equal((await h.repo.status()).length, 1);
    const p = await h.repo.publish();
    assert.equal(p.initial, true);
    assert.deepEqual(p.uploaded, [
      { role: 'root', version: 1 },
      { role: 'targets', version: 2 },
      { role: 'snapshot', version: 2 },
    ]);
    assert.deepEqual(await h.repo.status(), []);
    const { targets } = await h.repo.list();
    assert.deepEqual(
      targets.map((t) => [t.name, t.role, t.length]),
      [['hello', 'targets', 5]],
    );
    // Later publishes sign only what changed (+ the snapshot).
    await h.repo.addTarget('two', meta('2'));
    await h.repo.removeTarget('hello');
    const p2 = await h.repo.publish();
    assert.equal(p2.initial, false);
    assert.deepEqual(
      p2.uploaded.map((u) => u.role),
      ['targets', 'snapshot'],
    );
    assert.deepEqual(
      (await h.repo.list()).targets.map((t) => t.name),
      ['two'],
    );
  });

  test('publish without init initialises first (Go: no TUF data locally or remotely)', async () => {
    const h = await fresh('noinit');
    await h.repo.addTarget('x', meta('x'));
    const p = await h.repo.publish();
    assert.equal(p.initial, true);
    assert.deepEqual(
      (await h.repo.list()).targets.map((t) => t.name),
      ['x'],
    );
  });

  test('publish rebases on what another writer published meanwhile', async () => {
    const a = await fresh('rebase');
    await a.repo.init();
    await a.repo.addTarget('from-a', meta('a'));
    await a.repo.publish();
    // B: same keys (same trust dir keyring), separate cache and changelist.
    const bDir = await tempDir('rebase-b');
    cleanup.push(() => removeDir(bDir));
    const { cp } = await import('node:fs/promises');
    await cp(join(a.trustDir, 'private'), join(bDir, 'private'), { recursive: true });
    const b = openRepo(server.url, bDir, a.gun);
    cleanup.push(() => b.close());
    await b.repo.addTarget('from-b', meta('b'));
    await b.repo.publish();
    await a.repo.addTarget('from-a-2', meta('a2'));
    await a.repo.publish();
    assert.deepEqual(
      (await b.repo.list()).targets.map((t) => t.name),
      ['from-a', 'from-a-2', 'from-b'],
    );
  });

  test('a failed publish keeps every staged change: server down, server refusing', async () => {
    const h = await fresh('fail');
    await h.repo.init();
    await h.repo.addTarget('a', meta('a'));
    await h.repo.addTarget('b', meta('b'));
    const before = await h.repo.status();
    // Server down.
    const dead = new RemoteServer({ url: 'http://127.0.0.1:1', retry: { attempts: 1 } });
    const down = new Repository({
      gun: h.gun,
      trustDir: h.trustDir,
      keyring: () => Promise.resolve(h.keyring),
      remote: (a) => dead.repository(h.gun, a),
      nowMs: Date.now,
    });
    await assert.rejects(down.publish(), code('ERR_OFFLINE'));
    await dead.close();
    assert.deepEqual(await h.repo.status(), before);
    // A change the builder refuses (target outside a delegation that does not exist).
    await h.repo.addTarget('c', meta('c'), ['targets/nope']);
    await assert.rejects(h.repo.publish(), code('ERR_BAD_DELEGATION'));
    assert.equal((await h.repo.status()).length, 3);
    // Wrong passphrase: nothing signed, nothing lost.
    const wrong = openRepo(server.url, h.trustDir, h.gun, {
      keyring: cheapKeyring(
        h.trustDir,
        scriptPrompter({
          TRUSTDESK_TARGETS_PASSPHRASE: 'nope',
          TRUSTDESK_SNAPSHOT_PASSPHRASE: 'nope',
          TRUSTDESK_ROOT_PASSPHRASE: 'nope',
        }),
      ),
    });
    cleanup.push(() => wrong.close());
    await wrong.repo.reset({ indices: [2] });
    await assert.rejects(wrong.repo.publish(), code('ERR_BAD_PASSPHRASE'));
    assert.deepEqual(await h.repo.status(), before);
    // An unreadable change file stops publish before anything is sent.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(h.repo.changelistDir, '00000000000000000000_bad.change'), '{');
    await assert.rejects(
      h.repo.publish(),
      (e: Error & { hint?: string }) =>
        /staged change #0 cannot be read/.test(e.message) && /reset .* -n 0/.test(e.hint ?? ''),
    );
    await h.repo.reset({ indices: [0] });
    await h.repo.publish();
    assert.deepEqual(
      (await h.repo.list()).targets.map((t) => t.name),
      ['a', 'b'],
    );
  });

  test('an aborted publish changes nothing', async () => {
    const h = await fresh('abort');
    await h.repo.init();
    await h.repo.addTarget('a', meta('a'));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(h.repo.publish({ signal: ac.signal }), code('ERR_ABORTED'));
    assert.equal((await h.repo.status()).length, 1);
  });
});

describe('reads', () => {
  test('lookup and verify pass only matching content; offline reads use the cache', async () => {
    const h = await fresh('read');
    await h.repo.init();
    await h.repo.addTarget('app', meta('the app'));
    await h.repo.publish();
    assert.equal((await h.repo.lookup('app')).target.length, 7);
    await h.repo.verify('app', utf8Encode('the app'));
    await assert.rejects(h.repo.verify('app', utf8Encode('the apq')), code('ERR_HASH_MISMATCH'));
    await assert.rejects(h.repo.verify('app', utf8Encode('the app!')), code('ERR_HASH_MISMATCH'));
    await assert.rejects(h.repo.lookup('nope'), code('ERR_NOT_FOUND'));
    const off = openRepo('http://127.0.0.1:1', h.trustDir, h.gun, {
      offline: true,
      keyring: h.keyring,
    });
    cleanup.push(() => off.close());
    assert.deepEqual(
      (await off.repo.list()).targets.map((t) => t.name),
      ['app'],
    );
  });
});

describe('delegations and witness', () => {
  test('delegation add, publish as the delegate from another trust dir, list by roles, remove', async () => {
    const owner = await fresh('deleg');
    await owner.repo.init();
    // The delegate holds no snapshot key: the server must sign snapshots.
    await owner.repo.rotateKey('snapshot', { serverManaged: true });
    // The delegate makes a key in their own trust dir and hands over the public key (PEM).
    const delegateDir = await tempDir('delegate');
    cleanup.push(() => removeDir(delegateDir));
    const delegateKeys = cheapKeyring(delegateDir);
    const dk = await delegateKeys.generate({
      algorithm: 'ecdsa',
      role: 'targets/releases',
      gun: '',
      nowMs: Date.now(),
    });
    const pem = encodePem({
      type: 'PUBLIC KEY',
      headers: {},
      bytes: dk.publicKey.cryptoKey()!.export({ format: 'der', type: 'spki' }),
    });
    const { writeFile } = await import('node:fs/promises');
    const pemFile = join(delegateDir, 'releases.pem');
    await writeFile(pemFile, pem);
    const { readPublicKeyFile } = await import('../../src/client/ops/pem-keys.js');
    const key = await readPublicKeyFile(pemFile);
    assert.equal(key.id, dk.publicKey.id);
    await owner.repo.addDelegation('targets/releases', [key], ['v1/']);
    await owner.repo.addTarget('top', meta('top'));
    await owner.repo.publish();

    const delegate = openRepo(server.url, delegateDir, owner.gun, { keyring: delegateKeys });
    cleanup.push(() => delegate.close());
    await delegate.repo.addTarget('v1/app', meta('v1'), ['targets/releases']);
    await delegate.repo.addTarget('v2/app', meta('v2'), ['targets/releases']);
    // Outside the delegated paths: refused at publish, nothing sent.
    await assert.rejects(delegate.repo.publish(), code('ERR_BAD_DELEGATION'));
    await delegate.repo.reset({ indices: [1] });
    const p = await delegate.repo.publish();
    assert.deepEqual(
      p.uploaded.map((u) => u.role),
      ['targets/releases'],
    );
    assert.equal(p.serverSignsSnapshot, true);

    const all = await owner.repo.list();
    assert.deepEqual(
      all.targets.map((t) => [t.name, t.role]),
      [
        ['top', 'targets'],
        ['v1/app', 'targets/releases'],
      ],
    );
    const only = await owner.repo.list({ roles: ['targets/releases'] });
    assert.deepEqual(
      only.targets.map((t) => t.name),
      ['v1/app'],
    );
    const { delegations } = await owner.repo.delegations();
    assert.deepEqual(delegations, [
      {
        role: 'targets/releases',
        parent: 'targets',
        paths: ['v1/'],
        keyIds: [dk.id],
        threshold: 1,
      },
    ]);

    // Purge the key, then remove the role; the delegate's targets disappear.
    await owner.repo.purgeDelegationKeys([dk.id]);
    await owner.repo.publish();
    assert.deepEqual((await owner.repo.delegations()).delegations[0]?.keyIds, []);
    await owner.repo.removeDelegation('targets/releases', {});
    await owner.repo.publish();
    assert.deepEqual((await owner.repo.delegations()).delegations, []);
    assert.deepEqual(
      (await owner.repo.list()).targets.map((t) => t.name),
      ['top'],
    );
  });

  test('witness re-signs a role without changes', async () => {
    const h = await fresh('witness');
    await h.repo.init();
    await h.repo.publish();
    const v = (await h.repo.update()).version('targets');
    await h.repo.witness(['targets']);
    const p = await h.repo.publish();
    assert.deepEqual(
      p.uploaded.map((u) => u.role),
      ['targets', 'snapshot'],
    );
    assert.equal((await h.repo.update()).version('targets'), (v ?? 0) + 1);
    await assert.rejects(h.repo.witness(['root']), code('ERR_BAD_ROLE'));
  });
});

describe('key rotation', () => {
  test('rules: timestamp only remote, root/targets only local, delegations never', async () => {
    const h = await fresh('rules');
    const cases: Array<[string, boolean, string]> = [
      ['timestamp', false, 'ERR_USAGE'],
      ['root', true, 'ERR_USAGE'],
      ['targets', true, 'ERR_USAGE'],
      ['targets/x', false, 'ERR_BAD_ROLE'],
      ['nope', false, 'ERR_BAD_ROLE'],
    ];
    for (const [role, serverManaged, c] of cases)
      await assert.rejects(h.repo.rotateKey(role, { serverManaged }), code(c), role);
  });

  test('snapshot to the server, timestamp, targets, and a cross-signed root', async () => {
    const h = await fresh('rotate');
    await h.repo.init();
    await h.repo.addTarget('a', meta('a'));
    await h.repo.publish();
    const oldSnapshot = (await h.keyring.list()).find((k) => k.role === 'snapshot')!;

    const s = await h.repo.rotateKey('snapshot', { serverManaged: true });
    assert.deepEqual(
      s.uploaded.map((u) => u.role),
      ['root'],
    );
    assert.deepEqual(s.removedKeyIds, [oldSnapshot.id]);
    assert.equal(
      (await h.keyring.list()).some((k) => k.id === oldSnapshot.id),
      false,
    );

    await h.repo.rotateKey('timestamp', { serverManaged: true });
    const t = await h.repo.rotateKey('targets');
    assert.deepEqual(
      t.uploaded.map((u) => u.role),
      ['root', 'targets'],
    );

    const oldRoot = parseRoot(await fetchMetadata(server.url, h.gun, 'root'));
    const r = await h.repo.rotateKey('root');
    assert.deepEqual(
      r.uploaded.map((u) => u.role),
      ['root'],
    );
    const newRoot = parseRoot(await fetchMetadata(server.url, h.gun, 'root'));
    assert.equal(newRoot.signed.version, oldRoot.signed.version + 1);
    const signers = new Set(newRoot.signatures.map((x) => x.keyid));
    for (const id of [...oldRoot.signed.roles.root.keyids, ...newRoot.signed.roles.root.keyids])
      assert.ok(signers.has(id), `root v${newRoot.signed.version} must be signed by ${id}`);
    // Still a working repository for a client that trusted the old root.
    await h.repo.addTarget('b', meta('b'));
    await h.repo.publish();
    assert.deepEqual(
      (await h.repo.list()).targets.map((x) => x.name),
      ['a', 'b'],
    );
    const targets = parseTargets(await fetchMetadata(server.url, h.gun, 'targets'));
    assert.ok(targets.signed.targets.has('b'));
  });

  test('root rotation needs a confirmation; refused means nothing changes', async () => {
    const h = await fresh('confirm');
    await h.repo.init();
    await h.repo.publish();
    const no = openRepo(server.url, h.trustDir, h.gun, {
      keyring: cheapKeyring(h.trustDir, scriptPrompter(undefined, false)),
    });
    cleanup.push(() => no.close());
    const before = (await h.keyring.list()).length;
    await assert.rejects(no.repo.rotateKey('root'), code('ERR_NO_TTY'));
    assert.equal((await h.keyring.list()).length, before);
  });
});

describe('delete and bad input', () => {
  test('delete --remote removes the server copy and the local data, keeps the keys', async () => {
    const h = await fresh('delete');
    await h.repo.init();
    await h.repo.publish();
    await h.repo.addTarget('staged', meta('s'));
    const keys = (await h.keyring.list()).length;
    await h.repo.delete({ remote: true });
    await assert.rejects(fetchMetadata(server.url, h.gun, 'root'), /404/);
    assert.deepEqual(await h.repo.status(), []);
    await assert.rejects(h.repo.list(), code('ERR_REPO_NOT_FOUND'));
    assert.equal((await h.keyring.list()).length, keys);
  });

  test('bad GUNs, roles and names are refused before anything is written', async () => {
    const dir = await tempDir('bad');
    cleanup.push(() => removeDir(dir));
    for (const gun of ['', '/abs', 'a//b', 'a/../b', 'a b', 'a*b'])
      assert.throws(() => openRepo(server.url, dir, gun), code('ERR_BAD_GUN'), gun);
    const h = openRepo(server.url, dir, 'example.com/c2/bad');
    cleanup.push(() => h.close());
    await assert.rejects(h.repo.addTarget('x', meta('x'), ['Targets/X']), code('ERR_BAD_ROLE'));
    await assert.rejects(h.repo.addTarget('x', meta('x'), ['targets/*']), code('ERR_BAD_ROLE'));
    await assert.rejects(h.repo.addTarget('a\nb', meta('x')), code('ERR_UNENCODABLE'));
    await assert.rejects(h.repo.addTarget('x', { length: 1, hashes: {} }), code('ERR_USAGE'));
    await assert.rejects(h.repo.addDelegation('releases', [], ['']), code('ERR_BAD_ROLE'));
    await assert.rejects(h.repo.addDelegation('targets/r', [], []), code('ERR_USAGE'));
    await assert.rejects(h.repo.purgeDelegationKeys(['zz']), code('ERR_USAGE'));
    await assert.rejects(h.repo.reset({ indices: [0] }), code('ERR_USAGE'));
    assert.deepEqual(await h.repo.status(), []);
    // Reading a repository the server does not have.
    await assert.rejects(h.repo.list(), code('ERR_REPO_NOT_FOUND'));
  });
});
