// trustdesk-server for integration tests and the bench: started in-process (createServer) or as a
// child process — the BUILT bin (dist/server/bin/trustdesk-server.js, what `npm run build` makes
// and CI builds before testing) or the sources through tsx — always on a free loopback port
// (http_addr 127.0.0.1:0; the child prints the URL it bound), with a given Go-style config
// object. start resolves once /_notary_server/health answers 200.
// Also here: verifyRepository (walks a GUN as a careful client would, with our core), TufClient, a small HTTP client for the server's API that trusts a test CA and
// follows the Docker token flow (401 challenge → token from the realm with Basic credentials →
// Bearer), and startTokenIssuer, S3's TokenIssuer on loopback with a scrypt users file.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { createServer, type TrustdeskServer } from '../../server/app.js';
import { loadTokenIssuer } from '../../server/auth/issuer.js';
import { hashPassword } from '../../server/auth/password.js';
import { parseServerConfig } from '../../server/config/config.js';
import { createLogger } from '../../server/log.js';
import { PASSPHRASE_ENV } from '../../server/trust/passphrase.js';
import { RepoBuilder } from '../../src/tuf/builder.js';
import { toHex } from '../../src/tuf/encoding.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { parseJson } from '../../src/tuf/json.js';
import { PublicKey, type Signer } from '../../src/tuf/keys.js';
import { parseRoot } from '../../src/tuf/metadata.js';
import { TrustedMetadataSet } from '../../src/tuf/trusted-set.js';
import { createRootCertificate } from '../../src/tuf/x509.js';
import { IN_CI } from './services.js';
import type { TestPki } from './pki.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const BUILT_SERVER_BIN = join(REPO_ROOT, 'dist', 'server', 'bin', 'trustdesk-server.js');
export const SOURCE_SERVER_BIN = join(REPO_ROOT, 'server', 'bin', 'trustdesk-server.ts');
/** The local trust service's passphrase given to every server the helper starts. */
export const TEST_KEY_PASSPHRASE = 'trustdesk test server passphrase';
/** Bound on start-up (the KDF of the local trust service and migrations included). */
const STARTUP_LIMIT_MS = 60_000;
const STOP_LIMIT_MS = 15_000;

/** Built bin under CI (built before the tests) or with TRUSTDESK_TEST_BUILT=1; else sources. */
export function useBuiltBin(): boolean {
  return IN_CI || process.env.TRUSTDESK_TEST_BUILT === '1';
}

export interface StartOptions {
  /** A Go notary-server config object; server.http_addr defaults to 127.0.0.1:0. */
  config: Record<string, unknown>;
  mode: 'in-process' | 'process';
  /** Process mode: the built bin (default useBuiltBin()) or the sources through tsx. */
  built?: boolean;
  /** Extra environment (TRUSTDESK_SERVER_* overrides…). */
  env?: Record<string, string>;
  /** The CA to trust when the config enables TLS. */
  caFile?: string;
  /** Extra command-line flags for the process (e.g. -logf logfmt). */
  args?: readonly string[];
  /** Node flags for the process (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
}

export interface RunningServer {
  readonly url: string;
  readonly mode: 'in-process' | 'process';
  /** Process mode: the child's pid. */
  readonly pid: number | undefined;
  /** A client of this server (trusting opts.caFile). */
  readonly client: TufClient;
  /** Everything the server logged so far. */
  log(): string;
  /** SIGTERM (process) or stop() (in-process); resolves with the exit code (0 in-process). */
  stop(): Promise<number | null>;
}

function withDefaults(config: Record<string, unknown>): Record<string, unknown> {
  const server = (config.server ?? {}) as Record<string, unknown>;
  return {
    logging: { level: 'warn' },
    ...config,
    server: { http_addr: '127.0.0.1:0', ...server },
  };
}

/** process.env without settings that would override the test's config. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('TRUSTDESK_SERVER_') && !k.startsWith('NOTARY_SERVER_')) env[k] = v;
  }
  return { ...env, [PASSPHRASE_ENV]: TEST_KEY_PASSPHRASE, ...extra };
}

async function waitHealthy(
  client: TufClient,
  alive: () => string | undefined,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  let last = '';
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(`trustdesk-server ${dead} during start-up:\n${log()}`);
    try {
      const res = await client.request('GET', '/_notary_server/health');
      if (res.status === 200) return;
      last = `${res.status} ${res.body.toString()}`;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline)
      throw new Error(`trustdesk-server did not become healthy (${last}):\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startTrustdeskServer(opts: StartOptions): Promise<RunningServer> {
  const raw = withDefaults(opts.config);
  const dir = mkdtempSync(join(tmpdir(), 'trustdesk-server-'));
  try {
    return opts.mode === 'in-process'
      ? await startInProcess(raw, dir, opts)
      : await startProcess(raw, dir, opts);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function startInProcess(
  raw: Record<string, unknown>,
  dir: string,
  opts: StartOptions,
): Promise<RunningServer> {
  const env = cleanEnv(opts.env);
  const config = parseServerConfig(raw, { baseDir: dir, env });
  let log = '';
  const logger = createLogger({
    level: config.logging.level,
    destination: { write: (s: string) => void (log += s) },
  });
  const server: TrustdeskServer = await createServer(config, {
    env,
    logger,
    defaultMetrics: false,
  });
  let url: string;
  try {
    url = (await server.start()).url;
  } catch (e) {
    await server.stop();
    throw e;
  }
  const client = new TufClient(url, opts.caFile ? { caFile: opts.caFile } : {});
  const stop = async () => {
    await client.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    return 0;
  };
  try {
    await waitHealthy(
      client,
      () => undefined,
      () => log,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, mode: 'in-process', pid: undefined, client, log: () => log, stop };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

async function startProcess(
  raw: Record<string, unknown>,
  dir: string,
  opts: StartOptions,
): Promise<RunningServer> {
  const built = opts.built ?? useBuiltBin();
  if (built && !existsSync(BUILT_SERVER_BIN))
    throw new Error(`${BUILT_SERVER_BIN} is missing: run \`npm run build\` first`);
  const configFile = join(dir, 'server.json');
  writeFileSync(configFile, JSON.stringify(raw, null, 2));
  const entry = built
    ? [BUILT_SERVER_BIN]
    : ['--import', import.meta.resolve('tsx'), SOURCE_SERVER_BIN];
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), ...entry, '-config', configFile, ...(opts.args ?? [])],
    { cwd: dir, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  let onUrl: (url: string) => void = () => undefined;
  const announced = new Promise<string>((r) => (onUrl = r));
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    log += d.toString();
    const m = /trustdesk-server: listening on (\S+)/.exec(log);
    if (m) onUrl(m[1] as string);
  });
  const exited = exitOf(child);
  let status: string | undefined;
  void exited.then((code) => (status = `exited with ${code ?? child.signalCode}`));
  let client: TufClient | undefined;
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_LIMIT_MS);
    const code = await exited;
    clearTimeout(timer);
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
    return code;
  };
  try {
    const url = await Promise.race([
      announced,
      exited.then((code) => {
        throw new Error(`trustdesk-server exited with ${code} during start-up:\n${log}`);
      }),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`trustdesk-server did not announce its URL:\n${log}`)),
          STARTUP_LIMIT_MS,
        ).unref(),
      ),
    ]);
    client = new TufClient(url, opts.caFile ? { caFile: opts.caFile } : {});
    await waitHealthy(
      client,
      () => status,
      () => log,
    );
    return { url, mode: 'process', pid: child.pid, client, log: () => log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP client

export interface Credentials {
  user: string;
  password: string;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The `errors[0].code` of a Go error envelope, or undefined. */
export function errorCode(body: Buffer | string): string | undefined {
  try {
    const doc = JSON.parse(body.toString()) as { errors?: { code?: string }[] };
    return doc.errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** key="value" pairs of a Bearer challenge. */
function challengeParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.replace(/^Bearer\s+/i, '').matchAll(/(\w+)="([^"]*)"/g))
    out[m[1] as string] = m[2] as string;
  return out;
}

const MULTIPART_BOUNDARY = 'trustdesk-test-client-boundary';

/** The multipart body Go's client sends: one part per role, filename = role (slashes kept). */
export function multipartBody(files: ReadonlyMap<string, Uint8Array>): Buffer {
  const chunks: Buffer[] = [];
  for (const [role, bytes] of files) {
    chunks.push(
      Buffer.from(
        `--${MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="${role}"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
      Buffer.from(bytes),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${MULTIPART_BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

export class TufClient {
  readonly #dispatcher: Agent;
  readonly #credentials: Credentials | undefined;
  readonly #tokens = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    opts: { caFile?: string; credentials?: Credentials } = {},
  ) {
    this.#dispatcher = new Agent({
      connect: opts.caFile ? { ca: readFileSync(opts.caFile, 'utf8') } : {},
    });
    this.#credentials = opts.credentials;
  }

  /** The same server with other credentials (shares nothing but the URL and CA). */
  as(credentials: Credentials | undefined, caFile?: string): TufClient {
    return new TufClient(this.baseUrl, {
      ...(caFile ? { caFile } : {}),
      ...(credentials ? { credentials } : {}),
    });
  }

  async #send(
    method: Dispatcher.HttpMethod,
    url: string,
    headers: Record<string, string>,
    body?: Buffer,
  ): Promise<HttpResult> {
    const res = await request(url, {
      method,
      headers,
      ...(body ? { body } : {}),
      dispatcher: this.#dispatcher,
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: Buffer.from(await res.body.arrayBuffer()),
    };
  }

  async #token(challenge: string): Promise<string | undefined> {
    const creds = this.#credentials;
    const p = challengeParams(challenge);
    if (!creds || !p.realm) return undefined;
    const key = `${p.service} ${p.scope}`;
    const cached = this.#tokens.get(key);
    if (cached) return cached;
    const q = new URLSearchParams({ service: p.service ?? '' });
    if (p.scope) q.set('scope', p.scope);
    const basic = Buffer.from(`${creds.user}:${creds.password}`).toString('base64');
    const res = await this.#send('GET', `${p.realm}?${q.toString()}`, {
      authorization: `Basic ${basic}`,
    });
    if (res.status !== 200)
      throw new Error(`token request failed: ${res.status} ${res.body.toString()}`);
    const token = (JSON.parse(res.body.toString()) as { token: string }).token;
    this.#tokens.set(key, token);
    return token;
  }

  /** One request; a Bearer challenge is answered once with a token for our credentials. */
  async request(
    method: Dispatcher.HttpMethod,
    path: string,
    opts: { headers?: Record<string, string>; body?: Buffer } = {},
  ): Promise<HttpResult> {
    const url = this.baseUrl + path;
    const headers = opts.headers ?? {};
    let res = await this.#send(method, url, headers, opts.body);
    const challenge = res.headers['www-authenticate'];
    if (res.status === 401 && typeof challenge === 'string' && /^bearer /i.test(challenge)) {
      const token = await this.#token(challenge);
      if (token)
        res = await this.#send(
          method,
          url,
          { ...headers, authorization: `Bearer ${token}` },
          opts.body,
        );
    }
    return res;
  }

  /** GET /v2/<gun>/_trust/tuf/<name>.json (name: role, `<v>.<role>`, `<role>.<sha256>`). */
  fetchMetadata(gun: string, name: string): Promise<HttpResult> {
    return this.request('GET', `/v2/${gun}/_trust/tuf/${name}.json`);
  }

  /** Like fetchMetadata, but anything other than 200 throws. */
  async metadata(gun: string, name: string): Promise<Uint8Array> {
    const res = await this.fetchMetadata(gun, name);
    if (res.status !== 200)
      throw new Error(`GET ${gun} ${name}.json: ${res.status} ${res.body.toString()}`);
    return new Uint8Array(res.body);
  }

  /** The server-held public key of `role` (GET <role>.key). */
  async serverKey(gun: string, role: 'timestamp' | 'snapshot'): Promise<PublicKey> {
    const res = await this.request('GET', `/v2/${gun}/_trust/tuf/${role}.key`);
    if (res.status !== 200)
      throw new Error(`GET ${gun} ${role}.key: ${res.status} ${res.body.toString()}`);
    return PublicKey.fromJSON(parseJson(new Uint8Array(res.body)), `${role}.key`);
  }

  /** POST the files as one multipart upload, as Go's client does. */
  upload(gun: string, files: ReadonlyMap<string, Uint8Array>): Promise<HttpResult> {
    return this.request('POST', `/v2/${gun}/_trust/tuf/`, {
      headers: { 'content-type': `multipart/form-data; boundary=${MULTIPART_BOUNDARY}` },
      body: multipartBody(files),
    });
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Verifying what a server serves

export interface RepositoryView {
  /** Every root version, timestamp, snapshot, targets and delegations loaded and verified. */
  set: TrustedMetadataSet;
  /** Role → the exact bytes served as current (root, timestamp, snapshot, targets, delegations). */
  files: Map<string, Uint8Array>;
}

/**
 * Walks a GUN with our trusted set as a client meeting it for the first time would, but from
 * 1.root.json: every root version in turn (each signed by its predecessor), then timestamp.json,
 * the snapshot and targets files by the checksums that name them, and every delegation the
 * snapshot lists (breadth-first). Also requires the current snapshot.json and <role>.json to be
 * the very files the checksums named. Throws on anything that does not verify.
 */
export async function verifyRepository(
  client: TufClient,
  gun: string,
  nowMs: number,
): Promise<RepositoryView> {
  const files = new Map<string, Uint8Array>();
  const root = await client.metadata(gun, 'root');
  const latest = parseRoot(root).signed.version;
  const set = TrustedMetadataSet.firstContact(await client.metadata(gun, '1.root'), { gun, nowMs });
  for (let v = 2; v <= latest; v++) set.updateRoot(await client.metadata(gun, `${v}.root`));
  if (Buffer.compare(Buffer.from(set.root.raw), Buffer.from(root)) !== 0)
    throw new Error(`${gun}: root.json is not ${latest}.root.json`);
  files.set('root', root);
  const ts = set.updateTimestamp(await client.metadata(gun, 'timestamp'));
  files.set('timestamp', ts.raw);
  const byChecksum = async (role: string, sha: Uint8Array | undefined): Promise<Uint8Array> => {
    if (!sha) throw new Error(`${gun}: no sha256 is listed for ${role}`);
    const bytes = await client.metadata(gun, `${role}.${toHex(sha)}`);
    const current = await client.metadata(gun, role);
    if (Buffer.compare(Buffer.from(bytes), Buffer.from(current)) !== 0)
      throw new Error(`${gun}: ${role}.json is not the ${role} the checksum names`);
    files.set(role, bytes);
    return bytes;
  };
  const snap = set.updateSnapshot(
    await byChecksum('snapshot', ts.signed.meta.get('snapshot')?.hashes.sha256),
  );
  set.updateTargets(await byChecksum('targets', snap.signed.meta.get('targets')?.hashes.sha256));
  const queue = ['targets'];
  for (let role = queue.shift(); role !== undefined; role = queue.shift()) {
    for (const child of set.childRoles(role)) {
      const meta = snap.signed.meta.get(child.name);
      if (!meta) continue; // clients skip what the snapshot does not list
      set.updateDelegatedTargets(await byChecksum(child.name, meta.hashes.sha256), child.name);
      queue.push(child.name);
    }
  }
  return { set, files };
}

// ---------------------------------------------------------------------------------------------
// Token issuer

export interface UserSpec extends Credentials {
  /** Repository access entries: name (GUN or `prefix*`) → actions. */
  access: Record<string, string[]>;
}

export interface RunningIssuer {
  /** auth.options for the server config (rootcertbundle = the test CA). */
  authOptions: { realm: string; service: string; issuer: string; rootcertbundle: string };
  close(): Promise<void>;
}

/**
 * S3's TokenIssuer on 127.0.0.1 (plain HTTP), loaded from files as `trustdesk-server
 * token-issuer` loads them: a signing key + certificate from `pki`, a users file with scrypt
 * hashes (cheap parameters: tests). No anonymous grants.
 */
export async function startTokenIssuer(
  pki: TestPki,
  users: readonly UserSpec[],
): Promise<RunningIssuer> {
  const service = 'trustdesk-test';
  const issuerName = 'trustdesk-test-issuer';
  const signer = pki.issue('token-signer', 'token-signer', { usage: 'server' });
  const doc: Record<string, unknown> = {};
  for (const u of users) {
    doc[u.user] = {
      password: await hashPassword(u.password, { N: 1024, r: 8, p: 1 }),
      access: Object.entries(u.access).map(([name, actions]) => ({
        type: 'repository',
        name,
        actions,
      })),
    };
  }
  const usersFile = join(pki.dir, 'token-users.json');
  writeFileSync(usersFile, JSON.stringify({ users: doc }), { mode: 0o600 });
  const issuer = loadTokenIssuer({
    issuer: issuerName,
    service,
    keyFile: signer.keyFile,
    certFile: signer.certFile,
    usersFile,
    allowAnonymous: true,
  });
  const server: Server = createHttpServer(issuer.handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    authOptions: {
      realm: `http://127.0.0.1:${port}/auth/token`,
      service,
      issuer: issuerName,
      rootcertbundle: pki.ca.certFile,
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A repository owner as the Go CLI is after `key rotate … -r` for snapshot and timestamp: a fresh
 * root certificate and targets key held here, the snapshot and timestamp keys on the server(s).
 */
export async function serverManagedOwner(
  gun: string,
  serverKeys: { snapshot: PublicKey; timestamp: PublicKey },
  nowMs: number,
): Promise<{ repo: RepoBuilder; signers: (role: string) => Signer[] }> {
  const rootKey = KeyObjectSigner.generate('ecdsa');
  const cert = await createRootCertificate(rootKey, gun, { nowMs });
  const targetsKey = KeyObjectSigner.generate('ecdsa');
  const rootSigner = new KeyObjectSigner(rootKey.privateKey, cert);
  const signers = (role: string): Signer[] =>
    role === 'root' ? [rootSigner] : role === 'targets' ? [targetsKey] : [];
  const repo = RepoBuilder.create({
    gun,
    rootKeys: [cert],
    targetsKeys: [targetsKey.publicKey],
    snapshotKeys: [serverKeys.snapshot],
    timestampKeys: [serverKeys.timestamp],
  });
  return { repo, signers };
}
