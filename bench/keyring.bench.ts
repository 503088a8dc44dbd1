// File-backend keyring costs: unlock time per KDF profile (argon2id interactive 64 MiB t=3 p=4,
// ceremony 2 GiB t=1 p=4 — both RFC 9106 recommendations — and the cheap test profile), the Go
// notary PEM import (PBKDF2-SHA1 2048) for comparison, and signs/s of an unlocked file key next
// to an in-memory key (the machine's limit: an unlocked file key IS an in-memory key).
// keychain:/pkcs11: numbers are in bench/keyring-backends.bench.ts.
// Run: `node --import tsx bench/keyring.bench.ts` (BENCH_MIN_MS sets the signing duration;
// BENCH_CEREMONY=0 skips the 2 GiB profile).

import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, freemem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyObjectSigner } from '../src/tuf/key-object-signer.js';
import type { Signer } from '../src/tuf/keys.js';
import { FileBackend } from '../src/keyring/file-store.js';
import { decodeGoKeyBlock, encodeGoPem, readGoKeyBlocks } from '../src/keyring/go-pem.js';
import { INTERACTIVE, ceremonyCost, type KdfCost } from '../src/keyring/kdf.js';
import { openKeyFile, parseKeyFile } from '../src/keyring/keyfile-format.js';
import { generateMaterial } from '../src/keyring/private-key.js';
import type { Prompter } from '../src/keyring/types.js';

const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 1500);
const PASS = 'bench passphrase';
const NOW = Date.UTC(2026, 0, 1);
const MESSAGE = new TextEncoder().encode(
  JSON.stringify({ signed: { _type: 'Targets', version: 1 } }),
);
const TEST_COST: KdfCost = { profile: 'custom', memoryKiB: 8192, iterations: 1, parallelism: 1 };

const prompter: Prompter = {
  passphrase: () => Promise.resolve(PASS),
  pin: () => Promise.reject(new Error('no PIN here')),
  confirm: () => Promise.resolve(true),
  notice: () => undefined,
};

async function timeOnce(op: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await op();
  return performance.now() - t0;
}

async function signsPerSec(s: Signer): Promise<number> {
  for (let i = 0; i < 10; i++) await s.sign(MESSAGE);
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    await s.sign(MESSAGE);
    n++;
    elapsed = performance.now() - t0;
  } while (elapsed < MIN_MS);
  return (n * 1000) / elapsed;
}

const dir = mkdtempSync(join(tmpdir(), 'trustdesk-keyring-bench-'));
try {
  console.log(
    `keyring (file backend) — ${cpus().length} cores, ${Math.round(freemem() / 2 ** 30)} GiB free`,
  );
  const profiles: [string, KdfCost][] = [
    ['test (8 MiB, t=1, p=1)', TEST_COST],
    ['interactive (64 MiB, t=3, p=4)', INTERACTIVE],
  ];
  if (process.env.BENCH_CEREMONY !== '0') {
    const c = ceremonyCost();
    profiles.push([
      `${c.profile} (${c.memoryKiB / 1024} MiB, t=${c.iterations}, p=${c.parallelism})`,
      c,
    ]);
  }
  console.log('\nunlock (argon2id + AES-256-GCM open), one run each');
  const width = Math.max(
    ...profiles.map(([n]) => n.length),
    'Go PEM import (PBKDF2-SHA1 2048)'.length,
  );
  let signer: Signer | undefined;
  for (const [name, cost] of profiles) {
    const b = new FileBackend({ trustDir: join(dir, name.split(' ')[0]!), costFor: () => cost });
    const rec = await b.generate(
      { algorithm: 'ecdsa', role: 'targets', gun: 'example.com/bench', nowMs: NOW },
      prompter,
    );
    const parsed = parseKeyFile(await readFile(rec.location), rec.location);
    const ms = await timeOnce(() => openKeyFile(parsed, PASS, rec.location));
    console.log(`  ${name.padEnd(width)}  ${ms.toFixed(0).padStart(6)} ms`);
    signer ??= await b.signer(rec, prompter);
  }
  const pem = encodeGoPem(generateMaterial('ecdsa'), {
    role: 'targets',
    gun: 'g',
    passphrase: PASS,
  });
  const [block] = readGoKeyBlocks(pem, 'bench.pem');
  const goMs = await timeOnce(() => Promise.resolve(decodeGoKeyBlock(block!, PASS, 'bench.pem')));
  console.log(
    `  ${'Go PEM import (PBKDF2-SHA1 2048)'.padEnd(width)}  ${goMs.toFixed(1).padStart(6)} ms  (why Go's format is only for transport)`,
  );

  console.log('\nsigning (ECDSA P-256, raw r‖s)');
  // Alternate the two and keep each one's best run: the machine is shared, so single runs vary.
  const mem = KeyObjectSigner.generate('ecdsa');
  let fileRate = 0;
  let memRate = 0;
  for (let round = 0; round < 3; round++) {
    memRate = Math.max(memRate, await signsPerSec(mem));
    fileRate = Math.max(fileRate, await signsPerSec(signer!));
  }
  console.log(
    `  unlocked file key   ${fileRate.toFixed(0).padStart(7)} signs/s  (${(fileRate / memRate).toFixed(2)}× the limit)`,
  );
  console.log(`  in-memory key       ${memRate.toFixed(0).padStart(7)} signs/s  (machine limit)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
