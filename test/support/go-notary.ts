// Driving the real Go Notary 0.7 binaries (Debian package `notary`) from tests: a notary-server
// on loopback (plain HTTP; local or remote trust service; memory, PostgreSQL or MySQL storage;
// optional token auth), the notary CLI against it, and the server's HTTP API (fetch metadata,
// get a role key, multipart upload as notary-protocol §4.2).

import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext } from 'node:test';
import { parseJson } from '../../src/tuf/json.js';
import { PublicKey } from '../../src/tuf/keys.js';
import { freePort } from './free-port.js';
import { findExecutable, requireService } from './services.js';

export const NOTARY_SERVER_BIN = findExecutable('notary-server');
export const NOTARY_BIN = findExecutable('notary');

export function hasGoNotary(): boolean {
  return NOTARY_SERVER_BIN !== undefined && NOTARY_BIN !== undefined;
}

/** Passphrases the Go CLI reads instead of prompting (notary-protocol §7.1). */
export const GO_PASSPHRASES = {
  NOTARY_ROOT_PASSPHRASE: 'root-passphrase-1',
  NOTARY_TARGETS_PASSPHRASE: 'targets-passphrase-1',
  NOTARY_SNAPSHOT_PASSPHRASE: 'snapshot-passphrase-1',
  NOTARY_DELEGATION_PASSPHRASE: 'delegation-passphrase-1',
} as const;

/** Longest wait for the server's health endpoint; it is normally up in well under a second. */
const STARTUP_LIMIT_MS = 20_000;

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `trustdesk-${prefix}-`));
}

/** Go's `trust_service`: its own keys (local), or a notary-signer over mutual TLS (remote). */
export type GoTrustService =
  | { type: 'local' }
  | {
      type: 'remote';
      hostname: string;
      port: number;
      caFile: string;
      clientCertFile: string;
      clientKeyFile: string;
      keyAlgorithm: 'ecdsa' | 'ed25519';
    };

/** Go's `storage`; a SQL database must already hold the schema. */
export type GoStorage = { backend: 'memory' } | { backend: 'postgres' | 'mysql'; dbUrl: string };

export interface NotaryServerOptions {
  /** Defaults to local. */
  trustService?: GoTrustService;
  /** Defaults to memory. */
  storage?: GoStorage;
  /** Go's `auth` section as is (e.g. token auth); none by default. */
  auth?: Record<string, unknown>;
  /** Go's `logging.level`; defaults to error. */
  logLevel?: string;
}

export interface GoNotaryServer {
  url: string;
  pid: number;
  /** Everything the server wrote, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/_notary_server/health`);
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

function trustSection(t: GoTrustService): Record<string, unknown> {
  if (t.type === 'local') return { type: 'local' };
  return {
    type: 'remote',
    hostname: t.hostname,
    port: String(t.port),
    tls_ca_file: t.caFile,
    tls_client_cert: t.clientCertFile,
    tls_client_key: t.clientKeyFile,
    key_algorithm: t.keyAlgorithm,
  };
}

/**
 * Starts Go notary-server on a free loopback port and waits until it reports healthy (with a
 * remote trust service that includes the signer's health, so the signer must be up).
 */
export async function startNotaryServer(opts: NotaryServerOptions = {}): Promise<GoNotaryServer> {
  if (!NOTARY_SERVER_BIN) throw new Error('notary-server is not installed');
  const storage = opts.storage ?? { backend: 'memory' };
  const dir = await tempDir('notary-server');
  let lastLog = '';
  // A port can be taken between probing and binding; try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const config = join(dir, 'server.json');
    await writeFile(
      config,
      JSON.stringify({
        server: { http_addr: `127.0.0.1:${port}` },
        trust_service: trustSection(opts.trustService ?? { type: 'local' }),
        storage:
          storage.backend === 'memory'
            ? storage
            : { backend: storage.backend, db_url: storage.dbUrl },
        logging: { level: opts.logLevel ?? 'error' },
        ...(opts.auth ? { auth: opts.auth } : {}),
      }),
    );
    const child = spawn(NOTARY_SERVER_BIN, ['-config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited(child);
      await rm(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + STARTUP_LIMIT_MS;
    while (child.exitCode === null && Date.now() < deadline) {
      if (await healthy(url)) return { url, pid: child.pid as number, log: () => log, stop };
      await new Promise((r) => setTimeout(r, 50));
    }
    lastLog = log;
    const timedOut = child.exitCode === null;
    if (timedOut) child.kill('SIGKILL');
    await exited(child);
    // Only an early exit (the port was taken) is worth another port; a hang is not.
    if (timedOut) break;
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`notary-server did not become healthy:\n${lastLog}`);
}

/**
 * Runs `fn` against a fresh memory-backed notary-server (skips locally without the Go binaries,
 * fails under CI=true); a failure carries the server's log, and the server is always stopped.
 */
export async function withGoNotaryServer(
  t: TestContext,
  fn: (srv: GoNotaryServer) => Promise<void>,
): Promise<void> {
  if (!requireService(t, hasGoNotary(), 'Go notary and notary-server binaries')) return;
  const srv = await startNotaryServer();
  try {
    await fn(srv);
  } catch (e) {
    (e as Error).message += `\n--- notary-server log ---\n${srv.log()}`;
    throw e;
  } finally {
    await srv.stop();
  }
}

/** A fresh P-256 key pair as `<dir>/<name>-key.pem` (PKCS#8, unencrypted) and `<dir>/<name>.pem`. */
export async function writeKeyPair(
  dir: string,
  name: string,
): Promise<{ priv: string; pub: string }> {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const priv = join(dir, `${name}-key.pem`);
  const pub = join(dir, `${name}.pem`);
  await writeFile(priv, kp.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(pub, kp.publicKey.export({ format: 'pem', type: 'spki' }));
  return { priv, pub };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The Go `notary` CLI bound to one server and one trust directory. */
export class GoNotaryCli {
  constructor(
    readonly serverUrl: string,
    readonly trustDir: string,
  ) {}

  run(args: readonly string[], input = ''): Promise<RunResult> {
    if (!NOTARY_BIN) throw new Error('notary is not installed');
    const child = spawn(NOTARY_BIN, ['-s', this.serverUrl, '-d', this.trustDir, ...args], {
      // HOME keeps ~/.notary/config.json of the machine out of the test.
      env: { PATH: process.env.PATH ?? '', HOME: this.trustDir, ...GO_PASSPHRASES },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // The CLI may exit before reading its input (EPIPE): that is its answer, not a test failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  /** Runs and requires exit status 0. */
  async ok(args: readonly string[], input = ''): Promise<string> {
    const r = await this.run(args, input);
    if (r.code !== 0) {
      throw new Error(`notary ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    }
    return r.stdout;
  }

  /** Target names and roles from `notary list <gun>` (its NAME / DIGEST / SIZE / ROLE table). */
  async list(gun: string): Promise<{ name: string; role: string }[]> {
    const out = await this.ok(['list', gun]);
    const lines = out.split('\n');
    const sep = lines.findIndex((l) => /^-+\s/.test(l.trim()));
    if (sep < 0) throw new Error(`unexpected notary list output:\n${out}`);
    return lines
      .slice(sep + 1)
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols.length >= 4)
      .map((cols) => ({ name: cols[0]!, role: cols[cols.length - 1]! }));
  }
}

const tufUrl = (url: string, gun: string, name: string) => `${url}/v2/${gun}/_trust/tuf/${name}`;

async function getTuf(url: string, gun: string, file: string): Promise<Uint8Array> {
  const res = await fetch(tufUrl(url, gun, file));
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200)
    throw new Error(`GET ${file}: ${res.status} ${Buffer.from(body).toString()}`);
  return body;
}

/** GET `<name>.json` (a role, or e.g. `1.root`): the exact bytes the server stores. */
export function fetchMetadata(url: string, gun: string, name: string): Promise<Uint8Array> {
  return getTuf(url, gun, `${name}.json`);
}

/** GET `<role>.key`: the server-held public key for snapshot or timestamp. */
export async function fetchRoleKey(
  url: string,
  gun: string,
  role: 'timestamp' | 'snapshot',
): Promise<PublicKey> {
  return PublicKey.fromJSON(parseJson(await getTuf(url, gun, `${role}.key`)), `${role}.key`);
}

/**
 * POST the files as Go's client does: multipart/form-data, one part per role in field `files`,
 * filename = role name without `.json` (slashes kept), application/octet-stream.
 */
export async function uploadMetadata(
  url: string,
  gun: string,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<{ status: number; body: string }> {
  const form = new FormData();
  for (const [role, bytes] of files) {
    form.append('files', new Blob([bytes], { type: 'application/octet-stream' }), role);
  }
  const res = await fetch(tufUrl(url, gun, ''), { method: 'POST', body: form });
  return { status: res.status, body: await res.text() };
}
