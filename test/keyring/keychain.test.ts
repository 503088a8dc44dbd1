// The keychain: backend against a real gnome-keyring Secret Service in a private D-Bus
// session, plus the failure modes: no collection, a locked collection, no D-Bus, a bus that
// never answers.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TrustdeskError, type ErrorCode } from '../../src/tuf/errors.js';
import {
  KeychainBackend,
  WRAPPING_KEY_BYTES,
  createWrappingKey,
  loadWrappingKey,
} from '../../src/keyring/keychain.js';
import { KeychainStore } from '../../src/keyring/keychain-store.js';
import { generateMaterial, publicKeyOfMaterial } from '../../src/keyring/private-key.js';
import { type KeyRecord, type Prompter, type PrompterNotice } from '../../src/keyring/types.js';
import { KeyringSession, hasKeyringTools } from '../support/keyring-session.js';
import { findExecutable, requireService, serviceSkip } from '../support/services.js';

const NOW = Date.UTC(2025, 5, 1);
const enc = (s: string) => new TextEncoder().encode(s);

class NoticePrompter implements Prompter {
  readonly notices: PrompterNotice[] = [];
  passphrase(): Promise<string> {
    return Promise.reject(new Error('keychain keys need no passphrase'));
  }
  pin(): Promise<string> {
    return Promise.reject(new Error('keychain keys need no PIN'));
  }
  confirm(): Promise<boolean> {
    return Promise.resolve(false);
  }
  notice(n: PrompterNotice): void {
    this.notices.push(n);
  }
}

async function rejectsWith(
  p: Promise<unknown>,
  code: ErrorCode,
  re?: RegExp,
): Promise<TrustdeskError> {
  let err: TrustdeskError | undefined;
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TrustdeskError, `expected a TrustdeskError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(`${e.message} | ${e.hint}`, re);
    err = e;
    return true;
  });
  return err!;
}

const skip = serviceSkip(hasKeyringTools(), 'gnome-keyring + dbus (apt: dbus gnome-keyring)');

describe('keychain backend on gnome-keyring', { skip }, () => {
  let session: KeyringSession;
  let trustDir: string;
  let store: KeychainStore;
  let backend: KeychainBackend;

  before(async () => {
    session = await KeyringSession.start('unlocked');
    trustDir = mkdtempSync(join(tmpdir(), 'trustdesk-kc-'));
    store = new KeychainStore({ env: session.env, timeoutMs: 20_000 });
    backend = new KeychainBackend({ trustDir, store });
  });
  after(async () => {
    await session?.stop();
    rmSync(trustDir, { recursive: true, force: true });
  });

  test('generate → list → sign → export → remove round trip', async () => {
    const prompter = new NoticePrompter();
    const rec = await backend.generate(
      { algorithm: 'ecdsa', role: 'targets', gun: 'docker.io/library/x', nowMs: NOW },
      prompter,
    );
    assert.equal(rec.backend, 'keychain');
    assert.equal(rec.location, `keychain:${rec.id}`);
    assert.equal(rec.id, rec.publicKey.canonicalId);
    assert.equal(rec.createdAt, '2025-06-01T00:00:00Z');

    // Listing reads only the sidecar: a backend whose keychain is unreachable lists it too.
    const offline = new KeychainBackend({
      trustDir,
      store: new KeychainStore({ env: { DBUS_SESSION_BUS_ADDRESS: undefined } }),
    });
    for (const b of [backend, offline]) {
      const [listed] = await b.list();
      assert.equal(listed?.id, rec.id);
      assert.equal(listed?.role, 'targets');
      assert.equal(listed?.gun, 'docker.io/library/x');
      assert.equal(listed?.publicKey.id, rec.publicKey.id);
    }

    // The item is what the format says: base64 PKCS#8 under service trustdesk, account = key ID.
    const exported = await backend.exportPrivate(rec, prompter);
    if (findExecutable('secret-tool')) {
      const r = spawnSync('secret-tool', ['lookup', 'service', 'trustdesk', 'username', rec.id], {
        env: { ...process.env, ...session.env },
        encoding: 'utf8',
      });
      assert.equal(r.stdout.trim(), Buffer.from(exported.pkcs8).toString('base64'));
    }
    assert.equal(publicKeyOfMaterial(exported).id, rec.publicKey.id);

    const signer = await backend.signer(rec, prompter);
    const msg = enc('{"signed":{}}');
    assert.ok(rec.publicKey.verify('ecdsa', msg, await signer.sign(msg)));

    await backend.remove(rec);
    assert.deepEqual(await backend.list(), []);
    assert.equal(await store.get(rec.id), null);
    await rejectsWith(backend.signer(rec, prompter), 'ERR_MISSING_KEY', /no item trustdesk\//);
  });

  test('ed25519 keys and imported keys; an existing item is never overwritten', async () => {
    const prompter = new NoticePrompter();
    const ed = await backend.generate(
      { algorithm: 'ed25519', role: 'snapshot', gun: 'g', nowMs: NOW },
      prompter,
    );
    const edSigner = await backend.signer(ed, prompter);
    assert.ok(ed.publicKey.verify('eddsa', enc('m'), await edSigner.sign(enc('m'))));

    const material = generateMaterial('ecdsa');
    const imported = await backend.importPrivate(
      material,
      { role: 'root', gun: '', nowMs: NOW },
      prompter,
    );
    assert.equal(imported.id, publicKeyOfMaterial(material).canonicalId);
    await rejectsWith(
      backend.importPrivate(material, { role: 'root', gun: '', nowMs: NOW }, prompter),
      'ERR_KEY_EXISTS',
    );
    const back = await backend.exportPrivate(imported, prompter);
    assert.deepEqual(Buffer.from(back.pkcs8), Buffer.from(material.pkcs8));
    assert.deepEqual((await backend.list()).map((k) => k.id).sort(), [ed.id, imported.id].sort());
    await backend.remove(ed);
    await backend.remove(imported);
  });

  test('unicode account names round-trip', async () => {
    for (const account of ['ключ-🔑', 'naïve café', '鍵/キー', 'e\u0301']) {
      const secret = enc(`secret for ${account}`);
      await store.create(account, secret);
      assert.deepEqual(await store.get(account), secret);
      assert.equal(await store.delete(account), true);
      assert.equal(await store.get(account), null);
      assert.equal(await store.delete(account), false);
    }
  });

  test('wrap mode: a 32-byte wrapping key per file key, never mistaken for a private key', async () => {
    const id = 'ab'.repeat(32);
    const key = await createWrappingKey(store, id);
    assert.equal(key.length, WRAPPING_KEY_BYTES);
    assert.deepEqual(await loadWrappingKey(store, id), key);
    await rejectsWith(createWrappingKey(store, id), 'ERR_KEY_EXISTS');
    // A keychain record pointing at a wrapping key refuses to sign.
    const pub = publicKeyOfMaterial(generateMaterial('ecdsa'));
    const fake: KeyRecord = {
      id,
      tufId: pub.id,
      role: 'targets',
      gun: 'g',
      algorithm: 'ecdsa',
      backend: 'keychain',
      uri: { scheme: 'keychain', keyId: id },
      location: `keychain:${id}`,
      createdAt: null,
      publicKey: pub,
    };
    await rejectsWith(backend.signer(fake, new NoticePrompter()), 'ERR_KEY_MISMATCH');
    await store.delete(id);
    await rejectsWith(loadWrappingKey(store, id), 'ERR_MISSING_KEY');
  });
});

describe('keychain unavailable', () => {
  test('a locked login collection is ERR_KEYCHAIN_UNAVAILABLE at once (no prompt can show)', async (t) => {
    if (!requireService(t, hasKeyringTools(), 'gnome-keyring + dbus')) return;
    const s = await KeyringSession.start('unlocked');
    try {
      const st = new KeychainStore({ env: s.env, timeoutMs: 20_000 });
      await st.create('k', enc('v'));
      s.lockLogin();
      await rejectsWith(st.get('k'), 'ERR_KEYCHAIN_UNAVAILABLE', /locked/);
      await rejectsWith(st.create('k2', enc('v')), 'ERR_KEYCHAIN_UNAVAILABLE', /locked/);
    } finally {
      await s.stop();
    }
  });

  test('a Secret Service without a default collection is ERR_KEYCHAIN_UNAVAILABLE', async (t) => {
    if (!requireService(t, hasKeyringTools(), 'gnome-keyring + dbus')) return;
    const s = await KeyringSession.start('no-collection');
    try {
      const trustDir = mkdtempSync(join(tmpdir(), 'trustdesk-kc-'));
      try {
        const b = new KeychainBackend({
          trustDir,
          store: new KeychainStore({ env: s.env, timeoutMs: 20_000 }),
        });
        await rejectsWith(
          b.generate(
            { algorithm: 'ecdsa', role: 'targets', gun: 'g', nowMs: NOW },
            new NoticePrompter(),
          ),
          'ERR_KEYCHAIN_UNAVAILABLE',
          /no default keyring/,
        );
        // Nothing half-written: no sidecar for a key the keychain never stored.
        assert.deepEqual(await b.list(), []);
      } finally {
        rmSync(trustDir, { recursive: true, force: true });
      }
    } finally {
      await s.stop();
    }
  });

  test('no D-Bus session at all is ERR_KEYCHAIN_UNAVAILABLE with the dbus-run-session hint', async (t) => {
    if (process.platform !== 'linux') return t.skip('Linux Secret Service behaviour');
    const st = new KeychainStore({
      env: { DBUS_SESSION_BUS_ADDRESS: undefined, DISPLAY: undefined },
    });
    const e = await rejectsWith(st.get('anything'), 'ERR_KEYCHAIN_UNAVAILABLE');
    assert.match(e.hint, /DBUS_SESSION_BUS_ADDRESS is unset.*dbus-run-session/);
    assert.ok(!e.hint.includes('\n'), 'the hint is one line');
  });

  describe('a bus that accepts connections and never answers', () => {
    let server: Server;
    let dir: string;
    const sockets = new Set<Socket>();
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'trustdesk-deadbus-'));
      server = createServer((s) => {
        sockets.add(s);
        s.on('error', () => undefined);
      });
      await new Promise<void>((r) => server.listen(join(dir, 'bus'), r));
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    });

    test('times out with ERR_KEYCHAIN_UNAVAILABLE instead of hanging', async () => {
      const env = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'bus')}` };
      const st = new KeychainStore({ env, timeoutMs: 1_500 });
      const prompter = new NoticePrompter();
      const b = new KeychainBackend({ trustDir: dir, store: st });
      await rejectsWith(
        b.generate({ algorithm: 'ecdsa', role: 'targets', gun: 'g', nowMs: NOW }, prompter),
        'ERR_KEYCHAIN_UNAVAILABLE',
        /did not answer within 1\.5 s.*restart/,
      );
      // It waited past the "slow" mark, so the user was told what is going on.
      assert.equal(prompter.notices[0]?.kind, 'info');
    });

    test('an abort signal ends the wait with ERR_ABORTED', async () => {
      const env = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'bus')}` };
      const st = new KeychainStore({ env, timeoutMs: 60_000 });
      const ac = new AbortController();
      const p = st.get('x', { signal: ac.signal });
      ac.abort();
      await rejectsWith(p, 'ERR_ABORTED');
    });
  });
});
