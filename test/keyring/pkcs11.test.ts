// The pkcs11: backend against a real SoftHSM2 token store made for this file.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TrustdeskError, type ErrorCode } from '../../src/tuf/errors.js';
import { createRootCertificate } from '../../src/tuf/x509.js';
import {
  CK,
  Pkcs11Module,
  pkcs11Error,
  publicKeyFromEcPoint,
} from '../../src/keyring/pkcs11-module.js';
import { MAX_PIN_ATTEMPTS } from '../../src/keyring/pkcs11-session.js';
import { ScriptPrompter } from '../../src/keyring/prompter.js';
import { Pkcs11Backend, createPkcs11Backend } from '../../src/keyring/pkcs11.js';
import { generateMaterial, publicKeyOfMaterial } from '../../src/keyring/private-key.js';
import {
  formatKeyUri,
  parseKeyUri,
  type KeyRecord,
  type KeyUri,
  type PinRequest,
  type Prompter,
  type PrompterNotice,
} from '../../src/keyring/types.js';
import { serviceSkip } from '../support/services.js';
import { SOFTHSM_MODULE, SoftHsm, USER_PIN, hasSoftHsm } from '../support/softhsm.js';

const NOW = Date.UTC(2025, 0, 2, 3, 4, 5);
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/** Answers PIN requests from a list (the last answer repeats) and records every request. */
class TestPrompter implements Prompter {
  readonly pins: PinRequest[] = [];
  readonly notices: PrompterNotice[] = [];
  constructor(readonly answers: string[] = [USER_PIN]) {}
  pin(req: PinRequest): Promise<string> {
    this.pins.push(req);
    return Promise.resolve(this.answers[Math.min(this.pins.length - 1, this.answers.length - 1)]!);
  }
  passphrase(): Promise<string> {
    return Promise.reject(new Error('no passphrase expected'));
  }
  confirm(): Promise<boolean> {
    return Promise.resolve(false);
  }
  notice(n: PrompterNotice): void {
    this.notices.push(n);
  }
}

/** A prompter that must not be asked (PIN from pin-source, or the check happens first). */
const neverAsk: Prompter = {
  pin: () => Promise.reject(new Error('the prompter must not be asked')),
  passphrase: () => Promise.reject(new Error('the prompter must not be asked')),
  confirm: () => Promise.reject(new Error('the prompter must not be asked')),
  notice: () => undefined,
};

function tokenUri(attrs: string): KeyUri {
  return parseKeyUri(`pkcs11:${attrs}?module-path=${SOFTHSM_MODULE}`);
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TrustdeskError, `expected a TrustdeskError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

function isHighS(sig: Uint8Array): boolean {
  return BigInt('0x' + Buffer.from(sig.subarray(32)).toString('hex')) > P256_N / 2n;
}

/** The record with its URI reduced to `attrs` (+ the same id and module). */
function withUri(rec: KeyRecord, attrs: Record<string, string>): KeyRecord {
  assert.equal(rec.uri.scheme, 'pkcs11');
  const uri: KeyUri = {
    scheme: 'pkcs11',
    attrs: { ...attrs, id: rec.uri.attrs.id!, 'module-path': SOFTHSM_MODULE },
    vendor: {},
  };
  return { ...rec, uri, location: formatKeyUri(uri) };
}

const skip = serviceSkip(hasSoftHsm(), 'SoftHSM2 (apt package softhsm2)');

describe('pkcs11 backend on SoftHSM2', { skip }, () => {
  let hsm: SoftHsm;
  let trustDir: string;
  let backend: Pkcs11Backend;
  let alpha: { label: string; serial: string };

  before(() => {
    hsm = SoftHsm.create();
    alpha = hsm.initToken('alpha');
    hsm.initToken('beta');
    trustDir = mkdtempSync(join(tmpdir(), 'trustdesk-p11-'));
    backend = new Pkcs11Backend({ trustDir, modules: [SOFTHSM_MODULE] });
  });
  after(async () => {
    await backend.close();
    hsm.cleanup();
    rmSync(trustDir, { recursive: true, force: true });
  });

  let rootRec: KeyRecord;

  test('generates a P-256 key on the token: sensitive, non-extractable, named by its key ID', async () => {
    const prompter = new TestPrompter();
    rootRec = await backend.generate(
      { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW, target: tokenUri('token=alpha') },
      prompter,
    );
    assert.equal(rootRec.backend, 'pkcs11');
    assert.equal(rootRec.algorithm, 'ecdsa');
    assert.equal(rootRec.publicKey.keytype, 'ecdsa');
    assert.equal(rootRec.id, rootRec.publicKey.canonicalId);
    assert.equal(rootRec.createdAt, '2025-01-02T03:04:05Z');
    assert.equal(rootRec.uri.scheme, 'pkcs11');
    assert.equal(Buffer.from(rootRec.uri.attrs.id!).toString('hex'), rootRec.id);
    assert.equal(rootRec.uri.attrs.serial, alpha.serial);
    assert.deepEqual(parseKeyUri(rootRec.location), rootRec.uri);
    assert.equal(prompter.pins.length, 1);
    assert.equal(prompter.pins[0]!.tokenLabel, 'alpha');
    assert.equal(prompter.pins[0]!.tokenSerial, alpha.serial);

    // Inspect the objects directly through the same (still loaded) module.
    const m = Pkcs11Module.open(SOFTHSM_MODULE);
    try {
      const token = m.selectToken({ token: 'alpha' });
      const s = m.lib.C_OpenSession(token.slot, CK.CKF_SERIAL_SESSION | CK.CKF_RW_SESSION);
      m.lib.C_Login(s, CK.CKU_USER, USER_PIN);
      const id = Buffer.from(rootRec.id, 'hex');
      m.lib.C_FindObjectsInit(s, [
        { type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY },
        { type: CK.CKA_ID, value: id },
      ]);
      const [priv] = m.lib.C_FindObjects(s, 2);
      m.lib.C_FindObjectsFinal(s);
      assert.ok(priv);
      const get = (type: number) => m.lib.C_GetAttributeValue(s, priv, [{ type }])[0]!.value;
      assert.equal(get(CK.CKA_EXTRACTABLE)[0], 0);
      assert.equal(get(CK.CKA_SENSITIVE)[0], 1);
      assert.equal(get(CK.CKA_SIGN)[0], 1);
      assert.equal(get(CK.CKA_TOKEN)[0], 1);
      assert.equal(get(CK.CKA_LABEL).toString(), rootRec.id);
      assert.throws(() => get(CK.CKA_VALUE), /CKR_ATTRIBUTE_SENSITIVE/);
      m.lib.C_CloseSession(s);
    } finally {
      m.release();
    }
    await rejectsWith(backend.exportPrivate(rootRec), 'ERR_NOT_EXTRACTABLE');
  });

  test('signs on the token: raw r‖s over SHA-256 that PublicKey.verify accepts, high S included', async () => {
    const signer = await backend.signer(rootRec, new TestPrompter());
    try {
      assert.equal(signer.keyId, rootRec.publicKey.id);
      let high = 0;
      // Concurrent calls share one session: the queue must keep SignInit/Sign pairs together.
      const msgs = Array.from({ length: 48 }, (_, i) => new TextEncoder().encode(`message ${i}`));
      const sigs = await Promise.all(msgs.map((m) => signer.sign(m)));
      sigs.forEach((sig, i) => {
        assert.equal(sig.length, 64);
        assert.ok(rootRec.publicKey.verify('ecdsa', msgs[i]!, sig), `signature ${i} verifies`);
        assert.ok(!rootRec.publicKey.verify('ecdsa', msgs[(i + 1) % msgs.length]!, sig));
        if (isHighS(sig)) high++;
      });
      // ECDSA gives a high S about half of the time; 48 low ones in a row is a 2^-48 event.
      assert.ok(high > 0, 'some token signatures have a high S and still verify');
    } finally {
      await signer.close();
    }
  });

  test('a root certificate created through the token signer verifies and names the same key', async () => {
    const signer = await backend.signer(rootRec, new TestPrompter());
    try {
      const cert = await createRootCertificate(signer, 'docker.io/library/alpine', { nowMs: NOW });
      assert.equal(cert.keytype, 'ecdsa-x509');
      assert.equal(cert.canonicalId, rootRec.id);
      const x = cert.certificates()[0]!;
      assert.ok(x.verify(rootRec.publicKey.cryptoKey()!));
      // Signing as the certificate key: same token key, the certificate's TUF key ID.
      const certSigner = await backend.signer(rootRec, new TestPrompter(), cert);
      try {
        assert.equal(certSigner.keyId, cert.id);
        const msg = new TextEncoder().encode('{"signed":"root"}');
        assert.ok(cert.verify('ecdsa', msg, await certSigner.sign(msg)));
      } finally {
        await certSigner.close();
      }
      const other = publicKeyOfMaterial(generateMaterial('ecdsa'));
      await rejectsWith(backend.signer(rootRec, new TestPrompter(), other), 'ERR_KEY_MISMATCH');
    } finally {
      await signer.close();
    }
  });

  test('finds the token by label alone and by serial alone', async () => {
    for (const attrs of [{ token: 'alpha' }, { serial: alpha.serial }] as Record<
      string,
      string
    >[]) {
      const signer = await backend.signer(withUri(rootRec, attrs), new TestPrompter());
      const msg = new TextEncoder().encode(JSON.stringify(attrs));
      assert.ok(rootRec.publicKey.verify('ecdsa', msg, await signer.sign(msg)));
      await signer.close();
    }
    await rejectsWith(
      backend.signer(withUri(rootRec, { 'slot-id': '0' }), new TestPrompter()),
      'ERR_BAD_KEY_URI',
      /token=<label> or serial=<serial>/,
    );
  });

  test('lists keys without a PIN: role/gun from the sidecar, token-only keys with an empty role', async () => {
    const listed = await backend.list();
    const mine = listed.find((k) => k.id === rootRec.id);
    assert.ok(mine);
    assert.equal(mine.role, 'root');
    assert.equal(mine.location, rootRec.location);
    // A trust dir without the sidecar still sees the key on the token (but not its role).
    const freshDir = mkdtempSync(join(tmpdir(), 'trustdesk-p11-'));
    try {
      const fresh = createPkcs11Backend({
        trustDir: freshDir,
        env: { TRUSTDESK_PKCS11_MODULE: SOFTHSM_MODULE },
      });
      const seen = (await fresh.list()).find((k) => k.id === rootRec.id);
      assert.ok(seen);
      assert.equal(seen.role, '');
      assert.equal(seen.createdAt, null);
      assert.equal(seen.publicKey.id, rootRec.publicKey.id);
      // adopt() records role and gun for it.
      const adopted = await (fresh as Pkcs11Backend).adopt(
        seen.uri,
        { role: 'targets', gun: 'x/y' },
        NOW,
      );
      assert.equal(adopted.role, 'targets');
      const again = (await fresh.list()).find((k) => k.id === rootRec.id);
      assert.equal(again?.gun, 'x/y');
    } finally {
      rmSync(freshDir, { recursive: true, force: true });
    }
  });

  test('a missing token is ERR_TOKEN_NOT_FOUND naming what was looked for', async () => {
    await rejectsWith(
      backend.generate(
        { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW, target: tokenUri('token=gamma') },
        neverAsk,
      ),
      'ERR_TOKEN_NOT_FOUND',
      /label "gamma".*tokens present: .*"alpha" \(serial /,
    );
    await rejectsWith(
      backend.signer(withUri(rootRec, { serial: '0000000000000000' }), neverAsk),
      'ERR_TOKEN_NOT_FOUND',
      /serial "0000000000000000"/,
    );
  });

  test('a module that does not load is a scan problem, and ERR_PKCS11 naming the path when used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustdesk-p11-'));
    try {
      const b = new Pkcs11Backend({ trustDir: dir, modules: ['/nonexistent/libnothing.so'] });
      const { keys, problems } = await b.scan();
      assert.deepEqual(keys, []);
      assert.equal(problems[0]?.error.code, 'ERR_PKCS11');
      assert.equal(problems[0]?.location, '/nonexistent/libnothing.so');
      await assert.rejects(
        b.generate(
          {
            algorithm: 'ecdsa',
            role: 'root',
            gun: '',
            nowMs: NOW,
            target: parseKeyUri('pkcs11:token=alpha'),
          },
          neverAsk,
        ),
        (err: unknown) =>
          err instanceof TrustdeskError &&
          err.code === 'ERR_PKCS11' &&
          err.message.includes('/nonexistent/libnothing.so') &&
          /module-path/.test(err.hint),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a wrong PIN is ERR_BAD_PIN after at most 3 prompts, each told the token retry state', async () => {
    const prompter = new TestPrompter(['0000']);
    await rejectsWith(
      backend.signer(rootRec, prompter),
      'ERR_BAD_PIN',
      /wrong PIN for token "alpha".*few tries left/,
    );
    assert.equal(prompter.pins.length, MAX_PIN_ATTEMPTS);
    assert.deepEqual(
      prompter.pins.map((p) => [p.attempt, p.keyId]),
      [0, 1, 2].map((a) => [a, rootRec.id]),
    );
    // SoftHSM raises CKF_USER_PIN_COUNT_LOW after a failure; the prompts after it say so.
    assert.equal(prompter.pins[1]!.retries, 'low');
    // A wrong then right PIN logs in.
    const retry = new TestPrompter(['0000', USER_PIN]);
    const signer = await backend.signer(rootRec, retry);
    assert.equal(retry.pins.length, 2);
    await signer.close();
  });

  test('script mode: a wrong TRUSTDESK_PKCS11_PIN is tried once, the error tells the retry state', async () => {
    const script = new ScriptPrompter({ env: { TRUSTDESK_PKCS11_PIN: '4321' } });
    await rejectsWith(
      backend.signer(rootRec, script),
      'ERR_BAD_PIN',
      /wrong PIN for token "alpha".*few tries left.*TRUSTDESK_PKCS11_PIN/,
    );
    const ok = await backend.signer(
      rootRec,
      new ScriptPrompter({ env: { TRUSTDESK_PKCS11_PIN: USER_PIN } }),
    );
    await ok.close();
    await rejectsWith(backend.signer(rootRec, new ScriptPrompter({ env: {} })), 'ERR_NO_TTY');
  });

  test('a pin-source file is tried once; the prompter is not asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustdesk-pin-'));
    try {
      const good = join(dir, 'good');
      const bad = join(dir, 'bad');
      writeFileSync(good, `${USER_PIN}\n`);
      writeFileSync(bad, '9999\n');
      const withPin = (file: string): KeyRecord => {
        assert.equal(rootRec.uri.scheme, 'pkcs11');
        const uri: KeyUri = { ...rootRec.uri, attrs: { ...rootRec.uri.attrs, 'pin-source': file } };
        return { ...rootRec, uri, location: formatKeyUri(uri) };
      };
      await rejectsWith(
        backend.signer(withPin(bad), neverAsk),
        'ERR_BAD_PIN',
        new RegExp(`from pin-source ${bad}`),
      );
      const signer = await backend.signer(withPin(`file://${good}`), neverAsk);
      const msg = new TextEncoder().encode('pin-source');
      assert.ok(rootRec.publicKey.verify('ecdsa', msg, await signer.sign(msg)));
      await signer.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('imports a software key to the token (Go Notary YubiKey root behaviour) and signs with it there', async () => {
    const material = generateMaterial('ecdsa');
    const pub = publicKeyOfMaterial(material);
    const rec = await backend.importPrivate(
      material,
      { role: 'root', gun: '', nowMs: NOW, target: tokenUri('token=beta') },
      new TestPrompter(),
    );
    assert.equal(rec.id, pub.canonicalId);
    assert.equal(rec.publicKey.id, pub.id);
    const signer = await backend.signer(rec, new TestPrompter());
    const msg = new TextEncoder().encode('imported');
    assert.ok(pub.verify('ecdsa', msg, await signer.sign(msg)));
    await signer.close();
    await rejectsWith(
      backend.importPrivate(
        material,
        { role: 'root', gun: '', nowMs: NOW, target: tokenUri('token=beta') },
        new TestPrompter(),
      ),
      'ERR_KEY_EXISTS',
    );
    await rejectsWith(
      backend.importPrivate(
        generateMaterial('ed25519'),
        { role: 'root', gun: '', nowMs: NOW, target: tokenUri('token=beta') },
        neverAsk,
      ),
      'ERR_UNSUPPORTED_KEY',
    );
  });

  test('an explicit id= is kept (YubiKey PIV: id=%02 is slot 9c) and never overwritten', async () => {
    const target = tokenUri('token=beta;id=%02');
    const rec = await backend.generate(
      { algorithm: 'ecdsa', role: 'targets', gun: 'a/b', nowMs: NOW, target },
      new TestPrompter(),
    );
    assert.deepEqual(rec.uri.scheme === 'pkcs11' && [...rec.uri.attrs.id!], [2]);
    assert.match(rec.location, /;id=%02\?module-path=/);
    await rejectsWith(
      backend.generate(
        { algorithm: 'ecdsa', role: 'targets', gun: 'a/b', nowMs: NOW, target },
        new TestPrompter(),
      ),
      'ERR_KEY_EXISTS',
      /id 02/,
    );
    await rejectsWith(
      backend.generate(
        { algorithm: 'ed25519', role: 'targets', gun: 'a/b', nowMs: NOW, target },
        neverAsk,
      ),
      'ERR_UNSUPPORTED_KEY',
    );
  });

  test('remove() destroys the token objects and the sidecar', async () => {
    const rec = await backend.generate(
      {
        algorithm: 'ecdsa',
        role: 'snapshot',
        gun: 'g',
        nowMs: NOW,
        target: tokenUri('token=beta'),
      },
      new TestPrompter(),
    );
    assert.ok((await backend.list()).some((k) => k.id === rec.id));
    await backend.remove(rec, new TestPrompter());
    assert.ok(!(await backend.list()).some((k) => k.id === rec.id));
    await rejectsWith(backend.signer(rec, new TestPrompter()), 'ERR_MISSING_KEY');
  });

  test('the token is found by label after SoftHSM re-creates it in another slot', async () => {
    await backend.close(); // every module reference gone → C_Finalize, so new tokens are seen
    const before = hsm.tokens().find((t) => t.label === 'beta')!;
    hsm.deleteToken('beta');
    const after = hsm.initToken('beta');
    assert.notEqual(after.slotId, before.slotId);
    assert.notEqual(after.serial, before.serial);
    const rec = await backend.generate(
      {
        algorithm: 'ecdsa',
        role: 'timestamp',
        gun: 'g',
        nowMs: NOW,
        target: tokenUri('token=beta'),
      },
      new TestPrompter(),
    );
    assert.equal(rec.uri.scheme === 'pkcs11' && rec.uri.attrs.serial, after.serial);
    const signer = await backend.signer(withUri(rec, { token: 'beta' }), new TestPrompter());
    const msg = new TextEncoder().encode('moved');
    assert.ok(rec.publicKey.verify('ecdsa', msg, await signer.sign(msg)));
    await signer.close();
  });

  test('a token whose user PIN is locked is ERR_PIN_LOCKED before any PIN is asked', async () => {
    await backend.close();
    hsm.initToken('locked');
    hsm.markUserPinLocked('locked');
    await rejectsWith(
      backend.generate(
        { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW, target: tokenUri('token=locked') },
        neverAsk,
      ),
      'ERR_PIN_LOCKED',
      /token "locked" .* is locked/,
    );
  });
});

// SoftHSM never returns CKR_PIN_LOCKED from C_Login (it has no retry counter), so the mapping a
// YubiKey or HSM triggers is checked here on the error pkcs11js throws.
test('CKR_ codes map to trustdesk error codes', () => {
  const table: [string, ErrorCode][] = [
    ['CKR_PIN_INCORRECT:160', 'ERR_BAD_PIN'],
    ['CKR_PIN_LOCKED:164', 'ERR_PIN_LOCKED'],
    ['CKR_PIN_EXPIRED:163', 'ERR_BAD_PIN'],
    ['CKR_TOKEN_NOT_PRESENT:224', 'ERR_TOKEN_NOT_FOUND'],
    ['CKR_DEVICE_REMOVED:50', 'ERR_TOKEN_NOT_FOUND'],
    ['CKR_FUNCTION_CANCELED:80', 'ERR_ABORTED'],
    ['CKR_ATTRIBUTE_SENSITIVE:17', 'ERR_NOT_EXTRACTABLE'],
    ['CKR_DEVICE_ERROR:48', 'ERR_PKCS11'],
    ['dlopen failed', 'ERR_PKCS11'],
  ];
  for (const [msg, code] of table) {
    const e = pkcs11Error(new Error(msg), 'C_Test');
    assert.equal(e.code, code, msg);
    assert.match(e.message, /^C_Test: /);
  }
  const locked = pkcs11Error(new Error('CKR_PIN_LOCKED:164'), 'C_Login');
  assert.match(locked.hint, /unblock/);
});

test('CKA_EC_POINT (DER-wrapped or bare) becomes the same SPKI node exports', () => {
  const pub = publicKeyOfMaterial(generateMaterial('ecdsa'));
  const jwk = pub.cryptoKey()!.export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.of(4),
    Buffer.from(jwk.x!, 'base64url'),
    Buffer.from(jwk.y!, 'base64url'),
  ]);
  const params = Buffer.from('06082a8648ce3d030107', 'hex');
  for (const ecPoint of [Buffer.concat([Buffer.of(0x04, 0x41), point]), point]) {
    const k = publicKeyFromEcPoint(ecPoint, params);
    assert.equal(k.id, pub.id);
    assert.deepEqual(Buffer.from(k.publicBytes), Buffer.from(pub.publicBytes));
  }
  assert.throws(
    () => publicKeyFromEcPoint(point, Buffer.from('06052b81040022', 'hex')),
    (e: unknown) => e instanceof TrustdeskError && e.code === 'ERR_UNSUPPORTED_KEY',
  );
  const offCurve = Buffer.from(point);
  offCurve[64] = offCurve[64]! ^ 1;
  assert.throws(
    () => publicKeyFromEcPoint(offCurve, params),
    (e: unknown) => e instanceof TrustdeskError && e.code === 'ERR_BAD_KEY',
  );
});
