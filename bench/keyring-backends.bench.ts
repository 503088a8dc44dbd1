// Signing throughput of the keychain: and pkcs11: backends next to an in-memory P-256 key (the
// machine's limit for the same signature). Needs SoftHSM2 and gnome-keyring + dbus (the CI apt
// packages); a backend whose service is missing is reported as skipped.
// Run: `node --import tsx bench/keyring-backends.bench.ts` (BENCH_MIN_MS sets the duration).
//
// keychain: the private key is read from the OS keychain once per signer (a helper process
// talks to the Secret Service, see keychain-store.ts), then signs in memory; so "unlock/s" is
// the keychain's cost and signs/s equals the software key. pkcs11: every signature is a
// C_SignInit + C_Sign on the token (SoftHSM here; a YubiKey manages ~4-10/s).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyObjectSigner } from '../src/tuf/key-object-signer.js';
import { type Signer } from '../src/tuf/keys.js';
import { KeychainBackend } from '../src/keyring/keychain.js';
import { KeychainStore } from '../src/keyring/keychain-store.js';
import { Pkcs11Backend } from '../src/keyring/pkcs11.js';
import { parseKeyUri, type Prompter } from '../src/keyring/types.js';
import { KeyringSession, hasKeyringTools } from '../test/support/keyring-session.js';
import { SOFTHSM_MODULE, SoftHsm, USER_PIN, hasSoftHsm } from '../test/support/softhsm.js';

const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 1500);
const NOW = Date.UTC(2026, 0, 1);
const MESSAGE = new TextEncoder().encode(
  JSON.stringify({ signed: { _type: 'Targets', version: 1 } }),
);

const prompter: Prompter = {
  pin: () => Promise.resolve(USER_PIN),
  passphrase: () => Promise.reject(new Error('no passphrase in this bench')),
  confirm: () => Promise.resolve(false),
  notice: () => undefined,
};

async function rate(op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await op();
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    await op();
    n++;
    elapsed = performance.now() - t0;
  } while (elapsed < MIN_MS);
  return (n * 1000) / elapsed;
}

const rows: [string, string][] = [];
const limitSigner: Signer = KeyObjectSigner.generate('ecdsa');
const limit = await rate(() => limitSigner.sign(MESSAGE));
rows.push(['in-memory P-256 sign (machine limit)', `${limit.toFixed(0)} signs/s`]);

if (hasSoftHsm()) {
  const hsm = SoftHsm.create();
  const trustDir = mkdtempSync(join(tmpdir(), 'trustdesk-bench-'));
  const backend = new Pkcs11Backend({ trustDir, modules: [SOFTHSM_MODULE] });
  try {
    hsm.initToken('bench');
    const rec = await backend.generate(
      {
        algorithm: 'ecdsa',
        role: 'root',
        gun: '',
        nowMs: NOW,
        target: parseKeyUri(`pkcs11:token=bench?module-path=${SOFTHSM_MODULE}`),
      },
      prompter,
    );
    const signer = await backend.signer(rec, prompter);
    const r = await rate(() => signer.sign(MESSAGE));
    rows.push([
      'pkcs11 (SoftHSM2) sign',
      `${r.toFixed(0)} signs/s  (${(r / limit).toFixed(2)}× the limit)`,
    ]);
  } finally {
    await backend.close();
    hsm.cleanup();
    rmSync(trustDir, { recursive: true, force: true });
  }
} else {
  rows.push(['pkcs11 (SoftHSM2)', 'skipped: softhsm2 not installed']);
}

if (hasKeyringTools()) {
  const session = await KeyringSession.start('unlocked');
  const trustDir = mkdtempSync(join(tmpdir(), 'trustdesk-bench-'));
  try {
    const backend = new KeychainBackend({
      trustDir,
      store: new KeychainStore({ env: session.env }),
    });
    const rec = await backend.generate(
      { algorithm: 'ecdsa', role: 'targets', gun: 'bench/x', nowMs: NOW },
      prompter,
    );
    const unlock = await rate(() => backend.signer(rec, prompter));
    const signer = await backend.signer(rec, prompter);
    const r = await rate(() => signer.sign(MESSAGE));
    rows.push(['keychain (gnome-keyring) unlock', `${unlock.toFixed(1)} unlocks/s`]);
    rows.push([
      'keychain (gnome-keyring) sign',
      `${r.toFixed(0)} signs/s  (${(r / limit).toFixed(2)}× the limit)`,
    ]);
  } finally {
    await session.stop();
    rmSync(trustDir, { recursive: true, force: true });
  }
} else {
  rows.push(['keychain (gnome-keyring)', 'skipped: dbus/gnome-keyring not installed']);
}

console.log('\nkeyring backends: signing throughput');
const width = Math.max(...rows.map(([n]) => n.length));
for (const [name, value] of rows) console.log(`  ${name.padEnd(width)}  ${value}`);
