// Shared by the server HTTP tests: an in-process trustdesk-server on a memory store with the
// real local trust service (low KDF cost), a multipart encoder, and a publisher that behaves like
// the Go client (asks the server for its timestamp key, builds and signs with RepoBuilder,
// uploads root/targets/[snapshot] as multipart parts named by role).

import { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { createServer, type ServerDeps, type TrustdeskServer } from '../../server/app.js';
import { parseServerConfig, type ServerConfig } from '../../server/config/config.js';
import { MemoryMetaStore } from '../../server/storage/memory.js';
import { type MetaStore } from '../../server/storage/types.js';
import { openLocalTrustService } from '../../server/trust/local.js';
import { type TrustService } from '../../server/trust/types.js';
import { RepoBuilder } from '../../src/tuf/builder.js';
import { utf8Encode } from '../../src/tuf/encoding.js';
import { fileMetaFor } from '../../src/tuf/filemeta.js';
import { parseJson } from '../../src/tuf/json.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { PublicKey, type Signer } from '../../src/tuf/keys.js';
import { createRootCertificate } from '../../src/tuf/x509.js';

export const NOW = Date.parse('2030-01-01T00:00:00Z');
export const DAY_MS = 86_400_000;

/** A test clock: wall time and monotonic time move only when the test moves them. */
export class TestClock {
  wall = NOW;
  mono = 0;
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
  readonly nowMs = (): number => this.wall;
  readonly monotonic = (): number => this.mono;
}

export function testConfig(over: Record<string, unknown> = {}): ServerConfig {
  return parseServerConfig(
    {
      server: { http_addr: '127.0.0.1:0' },
      storage: { backend: 'memory' },
      trust_service: { type: 'local' },
      logging: { level: 'silent' },
      ...over,
    },
    { baseDir: process.cwd(), env: {} },
  );
}

export async function localTrust(store: MetaStore): Promise<TrustService> {
  return openLocalTrustService(store, {
    passphrase: 'test passphrase',
    kdf: { memoryKiB: 1024, iterations: 1, parallelism: 1 },
  });
}

export interface Harness {
  server: TrustdeskServer;
  app: FastifyInstance;
  store: MetaStore;
  trust: TrustService;
  clock: TestClock;
  close(): Promise<void>;
}

/** A server on `store` (a fresh memory store by default), driven by fastify inject. */
export async function harness(
  opts: {
    store?: MetaStore;
    trust?: TrustService;
    clock?: TestClock;
    config?: Record<string, unknown>;
    deps?: ServerDeps;
  } = {},
): Promise<Harness> {
  const store = opts.store ?? new MemoryMetaStore();
  const trust = opts.trust ?? (await localTrust(store));
  const clock = opts.clock ?? new TestClock();
  const server = await createServer(testConfig(opts.config), {
    store,
    trust,
    nowMs: clock.nowMs,
    monotonic: clock.monotonic,
    defaultMetrics: false,
    ...opts.deps,
  });
  await server.app.ready();
  return {
    server,
    app: server.app,
    store,
    trust,
    clock,
    close: () => server.stop(),
  };
}

export interface PartSpec {
  filename?: string;
  /** Raw Content-Disposition value (overrides name/filename). */
  disposition?: string;
  name?: string;
  body: Uint8Array | string;
  contentType?: string;
}

export const BOUNDARY = 'trustdesk-test-boundary';

/** A multipart/form-data body as Go's client writes it. */
export function multipart(parts: readonly PartSpec[], boundary = BOUNDARY): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp =
      p.disposition ??
      `form-data; name="${p.name ?? 'files'}"` +
        (p.filename === undefined ? '' : `; filename="${p.filename}"`);
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disp}\r\n` +
          `Content-Type: ${p.contentType ?? 'application/octet-stream'}\r\n\r\n`,
      ),
      Buffer.from(typeof p.body === 'string' ? utf8Encode(p.body) : p.body),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

export function upload(
  app: FastifyInstance,
  gun: string,
  files: ReadonlyMap<string, Uint8Array> | readonly PartSpec[],
): Promise<LightMyRequestResponse> {
  const parts: PartSpec[] = Array.isArray(files)
    ? (files as PartSpec[])
    : [...(files as ReadonlyMap<string, Uint8Array>)].map(([role, body]) => ({
        filename: role,
        body,
      }));
  return app.inject({
    method: 'POST',
    url: `/v2/${gun}/_trust/tuf/`,
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    payload: multipart(parts),
  });
}

export function get(app: FastifyInstance, path: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: path });
}

/** The decoded error envelope of a response. */
export function errorOf(res: LightMyRequestResponse): {
  code: string;
  message: string;
  detail?: unknown;
} {
  const body = JSON.parse(res.body) as {
    errors: { code: string; message: string; detail?: unknown }[];
  };
  return body.errors[0] as { code: string; message: string; detail?: unknown };
}

/** A repository owner publishing through the server, like the Go client does. */
export class Publisher {
  private constructor(
    readonly app: FastifyInstance,
    readonly gun: string,
    readonly builder: RepoBuilder,
    private readonly signers: Map<string, Signer[]>,
    private readonly clock: TestClock,
  ) {}

  static async serverKey(
    app: FastifyInstance,
    gun: string,
    role: 'timestamp' | 'snapshot',
  ): Promise<PublicKey> {
    const res = await get(app, `/v2/${gun}/_trust/tuf/${role}.key`);
    if (res.statusCode !== 200) throw new Error(`${role}.key: ${res.statusCode} ${res.body}`);
    return PublicKey.fromJSON(parseJson(res.body), `${role}.key`);
  }

  /** A new repository; the snapshot key is the server's unless `clientSnapshot`. */
  static async init(
    h: { app: FastifyInstance; clock: TestClock },
    gun: string,
    opts: { clientSnapshot?: boolean } = {},
  ): Promise<Publisher> {
    const nowMs = h.clock.nowMs();
    const rootKey = KeyObjectSigner.generate('ecdsa');
    const cert = await createRootCertificate(rootKey, gun, { nowMs: nowMs - DAY_MS });
    const rootSigner = new KeyObjectSigner(rootKey.privateKey, cert);
    const targets = KeyObjectSigner.generate('ecdsa');
    const snapshot = opts.clientSnapshot ? KeyObjectSigner.generate('ecdsa') : undefined;
    const tsKey = await Publisher.serverKey(h.app, gun, 'timestamp');
    const snapKey = snapshot?.publicKey ?? (await Publisher.serverKey(h.app, gun, 'snapshot'));
    const builder = RepoBuilder.create({
      gun,
      rootKeys: [cert],
      targetsKeys: [targets.publicKey],
      snapshotKeys: [snapKey],
      timestampKeys: [tsKey],
    });
    const signers = new Map<string, Signer[]>([
      ['root', [rootSigner]],
      ['targets', [targets]],
      ['snapshot', snapshot ? [snapshot] : []],
    ]);
    return new Publisher(h.app, gun, builder, signers, h.clock);
  }

  signersFor(role: string): Signer[] {
    return this.signers.get(role) ?? [];
  }

  addSigner(role: string, s: Signer): void {
    this.signers.set(role, [...(this.signers.get(role) ?? []), s]);
  }

  addTarget(name: string, content: string, role = 'targets'): void {
    this.builder.addTarget(role, name, fileMetaFor(utf8Encode(content)));
  }

  /** Signs what changed; returns role → bytes (not uploaded). */
  sign(): Promise<Map<string, Uint8Array>> {
    return this.builder.sign({
      nowMs: this.clock.nowMs(),
      signers: (role) => this.signers.get(role) ?? [],
    });
  }

  async publish(): Promise<LightMyRequestResponse> {
    return upload(this.app, this.gun, await this.sign());
  }
}
