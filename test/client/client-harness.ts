// Shared by the client operation, command and scenario tests:
//   - servers: trustdesk-server in-process on loopback (memory store, local trust service), Go
//     notary-server with its local trust service, and Go notary-server with Go notary-signer as
//     its remote trust service (mutual TLS, test PKI made at run time);
//   - a Keyring over a file backend with a cheap KDF (the real profiles cost seconds per key; the
//     key file format and every code path are the same), passphrases from env as scripts give them;
//   - a Repository on a trust dir bound to one server;
//   - runTd: the CLI in-process (runCli) with captured stdout/stderr and a stdin.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createServer } from '../../server/app.js';
import { MemoryMetaStore } from '../../server/storage/memory.js';
import { RemoteServer } from '../../src/client/remote/remote-store.js';
import { Repository, type ClientEvent } from '../../src/client/repository.js';
import { FileBackend } from '../../src/keyring/file-store.js';
import type { KdfCost } from '../../src/keyring/kdf.js';
import { Keyring } from '../../src/keyring/keyring.js';
import { ScriptPrompter } from '../../src/keyring/prompter.js';
import type { Prompter } from '../../src/keyring/types.js';
import { runCli } from '../../src/app/main.js';
import type { Io } from '../../src/app/context.js';
import { localTrust, testConfig } from '../server/http-support.js';
import { GoSigner, hasGoSigner } from '../support/go-signer.js';
import { hasGoNotary, startNotaryServer } from '../support/go-notary.js';
import { createTestPki, type TestPki } from '../support/pki.js';

/** Passphrases as a notary script sets them (both naming schemes are accepted). */
export const PASSPHRASES = {
  TRUSTDESK_ROOT_PASSPHRASE: 'root-passphrase-1',
  TRUSTDESK_TARGETS_PASSPHRASE: 'targets-passphrase-1',
  TRUSTDESK_SNAPSHOT_PASSPHRASE: 'snapshot-passphrase-1',
  TRUSTDESK_DELEGATION_PASSPHRASE: 'delegation-passphrase-1',
} as const;

export const CHEAP_KDF: KdfCost = {
  profile: 'custom',
  memoryKiB: 8 * 1024,
  iterations: 1,
  parallelism: 1,
};

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `trustdesk-c2-${prefix}-`));
}

export interface TestServer {
  url: string;
  kind: string;
  stop(): Promise<void>;
}

/** trustdesk-server in-process on a free loopback port. */
export async function startTrustdeskServer(): Promise<TestServer> {
  const store = new MemoryMetaStore();
  const trust = await localTrust(store);
  const server = await createServer(testConfig(), { store, trust, defaultMetrics: false });
  const { url } = await server.start();
  return {
    url,
    kind: 'trustdesk-server',
    stop: async () => {
      await server.stop();
      await trust.close?.();
      await store.close();
    },
  };
}

/** Go notary-server (memory storage) with its local trust service. */
export async function startGoServer(): Promise<TestServer> {
  const s = await startNotaryServer();
  return { url: s.url, kind: 'Go notary-server', stop: () => s.stop() };
}

export function hasGoServerAndSigner(): boolean {
  return hasGoNotary() && hasGoSigner();
}

/** Go notary-server whose trust service is Go notary-signer (remote, mutual TLS). */
export async function startGoServerWithSigner(): Promise<TestServer & { log(): string }> {
  const pki: TestPki = createTestPki();
  const signer = await GoSigner.start({ pki });
  const stopSigner = async () => {
    await signer.stop();
    pki.dispose();
  };
  const server = await startNotaryServer({
    trustService: {
      type: 'remote',
      hostname: 'localhost',
      port: signer.port,
      caFile: pki.ca.certFile,
      clientCertFile: pki.client.certFile,
      clientKeyFile: pki.client.keyFile,
      keyAlgorithm: 'ecdsa',
    },
  }).catch(async (e: unknown) => {
    await stopSigner();
    throw new Error(`${String(e)}\n${signer.log}`, { cause: e });
  });
  return {
    url: server.url,
    kind: 'Go notary-server + notary-signer',
    log: () => server.log(),
    stop: async () => {
      await server.stop();
      await stopSigner();
    },
  };
}

// ---------------------------------------------------------------------------------------------

export function scriptPrompter(
  env: Record<string, string> = PASSPHRASES,
  assumeYes = true,
): ScriptPrompter {
  return new ScriptPrompter({ env, assumeYes });
}

/** A keyring over the trust dir's file backend with a cheap KDF. */
export function cheapKeyring(trustDir: string, prompter: Prompter = scriptPrompter()): Keyring {
  return new Keyring({
    prompter,
    backends: [new FileBackend({ trustDir, costFor: () => CHEAP_KDF })],
  });
}

export interface RepoHandle {
  repo: Repository;
  keyring: Keyring;
  events: ClientEvent[];
  server: RemoteServer;
  trustDir: string;
  close(): Promise<void>;
}

export function openRepo(
  url: string,
  trustDir: string,
  gun: string,
  opts: { keyring?: Keyring; nowMs?: () => number; offline?: boolean } = {},
): RepoHandle {
  const keyring = opts.keyring ?? cheapKeyring(trustDir);
  const server = new RemoteServer({ url, retry: { attempts: 1 } });
  const events: ClientEvent[] = [];
  const repo = new Repository({
    gun,
    trustDir,
    keyring: () => Promise.resolve(keyring),
    remote: (access) => server.repository(gun, access),
    offline: opts.offline === true,
    nowMs: opts.nowMs ?? Date.now,
    onEvent: (e) => events.push(e),
  });
  return {
    repo,
    keyring,
    events,
    server,
    trustDir,
    close: () => server.close(),
  };
}

/** Puts a root key with a cheap KDF into the trust dir (init then uses it, as Go does). */
export async function seedRootKey(trustDir: string): Promise<string> {
  const k = cheapKeyring(trustDir);
  const r = await k.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: Date.now() });
  return r.id;
}

// ---------------------------------------------------------------------------------------------

export interface TdRun {
  code: number;
  stdout: string;
  stderr: string;
  json(): Record<string, unknown>;
}

/** The trustdesk CLI in-process, as a script runs it (no terminal). */
export async function runTd(
  argv: readonly string[],
  opts: {
    env?: Record<string, string>;
    input?: string | Uint8Array;
    cwd?: string;
    nowMs?: number;
  } = {},
): Promise<TdRun> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: {
      write: (s: string | Uint8Array) =>
        (stdout += typeof s === 'string' ? s : Buffer.from(s).toString()),
      isTTY: false,
    },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    stdinIsTTY: false,
    stdin: Readable.from(opts.input === undefined ? [] : [Buffer.from(opts.input)]),
    env: { ...PASSPHRASES, ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    nowMs: () => opts.nowMs ?? Date.now(),
  };
  const code = await runCli(argv, io);
  return {
    code,
    stdout,
    stderr,
    json: () => JSON.parse(stdout) as Record<string, unknown>,
  };
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export { hasGoNotary };
