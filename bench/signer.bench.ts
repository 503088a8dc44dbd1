// Sign RPCs per second over mutual TLS: trustdesk-signer vs Go notary-signer, started in this
// run on 127.0.0.1 with the same test PKI, the same key type and the same grpc-js client.
// Each signer runs in its own process (ours: the built bin if present, else the sources via
// tsx), so the client never shares an event loop with the server it measures.
//
// Two storage setups, both signers on each: `memory` (the RPC path and the signature alone) and
// `postgres` (the production setup: Go marks last_used with an UPDATE on every Sign, we once
// per key per minute), the latter only when PostgreSQL can be started here. For each: a
// warm-up, then CONCURRENCY calls in flight until COUNT signatures or LIMIT_MS, whichever comes
// first; every signature is verified afterwards (not timed). Prints RPC/s and the ratio
// ours / Go (target ≥ 1.5). Not part of the tests: `node --import tsx bench/signer.bench.ts`.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PublicKey } from '../src/tuf/keys.js';
import { GoSigner, hasGoSigner } from '../test/support/go-signer.js';
import { createTestPki, type TestPki } from '../test/support/pki.js';
import {
  postgresAvailable,
  startPostgres,
  type PostgresCluster,
} from '../test/support/postgres.js';
import { SignerClient } from '../test/signer/support.js';

const COUNT = Number(process.env.BENCH_SIGN_COUNT ?? 20_000);
const LIMIT_MS = Number(process.env.BENCH_SIGN_MS ?? 8_000);
const CONCURRENCY = Number(process.env.BENCH_SIGN_CONCURRENCY ?? 32);
const ALGORITHM = (process.env.BENCH_SIGN_ALGORITHM ?? 'ecdsa') as 'ecdsa' | 'ed25519';
const ROOT = join(import.meta.dirname, '..');
const ALIAS = 'bench';
const PASSPHRASE = 'bench passphrase';

interface Target {
  name: string;
  port: number;
  stop(): Promise<void>;
}

async function startOurs(pki: TestPki, storage: Record<string, unknown>): Promise<Target> {
  const config = join(pki.dir, `ours-${String(storage.backend)}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      server: {
        grpc_addr: '127.0.0.1:0',
        tls_cert_file: pki.server.certFile,
        tls_key_file: pki.server.keyFile,
        client_ca_file: pki.ca.certFile,
      },
      storage: { ...storage, default_alias: ALIAS },
      logging: { level: 'warn' },
    }),
  );
  const built = join(ROOT, 'dist', 'signer', 'bin', 'trustdesk-signer.js');
  const entry = existsSync(built)
    ? [built]
    : ['--import', 'tsx', join(ROOT, 'signer', 'bin', 'trustdesk-signer.ts')];
  const child: ChildProcess = spawn(process.execPath, [...entry, '-config', config], {
    cwd: ROOT,
    env: { ...process.env, TRUSTDESK_SIGNER_BENCH: PASSPHRASE },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /listening on [^\s]*:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`trustdesk-signer exited ${code}:\n${log}`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    name: `trustdesk-signer${existsSync(built) ? '' : ' (tsx)'}`,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function startGo(pki: TestPki, storage: Record<string, unknown>): Promise<Target> {
  const go = await GoSigner.start({
    pki,
    storage: storage.backend === 'memory' ? storage : { ...storage, default_alias: ALIAS },
    alias: ALIAS,
    passphrase: PASSPHRASE,
  });
  return { name: 'Go notary-signer', port: go.port, stop: () => go.stop() };
}

async function measure(pki: TestPki, target: Target): Promise<number> {
  const client = new SignerClient(
    `127.0.0.1:${target.port}`,
    SignerClient.mtls(pki.ca.cert, { certPem: pki.client.cert, keyPem: pki.client.key }),
  );
  try {
    const made = await client.createKey(ALGORITHM, 'example.com/bench', 'timestamp');
    const key = new PublicKey(made.keyInfo.algorithm.algorithm, new Uint8Array(made.publicKey));
    const message = Buffer.from(
      JSON.stringify({
        signed: { _type: 'Timestamp', expires: '2030-01-01T00:00:00Z', version: 7 },
      }),
    );
    for (let i = 0; i < 200; i++) await client.sign(key.id, message); // warm-up
    const sigs: Buffer[] = [];
    let started = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (started < COUNT && performance.now() - t0 < LIMIT_MS) {
        started++;
        sigs.push(Buffer.from((await client.sign(key.id, message)).content));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const method = made.keyInfo.algorithm.algorithm === 'ed25519' ? 'eddsa' : 'ecdsa';
    const bad = sigs.filter((s) => !key.verify(method, message, s)).length;
    if (bad > 0) throw new Error(`${target.name}: ${bad} signatures do not verify`);
    return sigs.length / seconds;
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  if (!hasGoSigner()) {
    console.error(
      'Go notary-signer is not installed (Debian package `notary`); nothing to compare with',
    );
    process.exitCode = 1;
    return;
  }
  const pki = createTestPki();
  let cluster: PostgresCluster | undefined;
  try {
    const setups: { name: string; storage: () => Promise<Record<string, unknown>> }[] = [
      { name: 'memory', storage: () => Promise.resolve({ backend: 'memory' }) },
    ];
    if (postgresAvailable()) {
      cluster = await startPostgres();
      const pg = cluster;
      setups.push({
        name: 'postgres',
        storage: async () => {
          const url = await pg.createDatabase();
          // Go needs the table to exist (no migrations ship with it); ours makes it.
          const { PostgresKeyStore } = await import('../signer/store/postgres.js');
          await (await PostgresKeyStore.open({ connectionString: url })).close();
          return { backend: 'postgres', db_url: url };
        },
      });
    }
    console.log(
      `Sign RPCs over mutual TLS, ${ALGORITHM} keys, ${CONCURRENCY} in flight, up to ${COUNT} calls or ${LIMIT_MS} ms`,
    );
    for (const setup of setups) {
      const rates: number[] = [];
      for (const start of [startGo, startOurs]) {
        const target = await start(pki, await setup.storage());
        try {
          const rate = await measure(pki, target);
          rates.push(rate);
          console.log(
            `  ${setup.name.padEnd(8)} ${target.name.padEnd(24)} ${rate.toFixed(0).padStart(7)} RPC/s`,
          );
        } finally {
          await target.stop();
        }
      }
      const [go, ours] = rates as [number, number];
      console.log(
        `  ${setup.name.padEnd(8)} ratio trustdesk / Go: ${(ours / go).toFixed(2)}× (target ≥ 1.5×)`,
      );
    }
  } finally {
    await cluster?.teardown();
    pki.dispose();
  }
}

await main();
