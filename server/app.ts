// trustdesk-server as a library: createServer(config) builds storage, trust service, auth, the
// in-process cache and the HTTP routes; start() listens, stop() shuts down gracefully (in-flight
// requests finish, idle connections close, then the trust service and database are closed).
// Tests, the bench and `trustdesk dev` use it in-process; pass `store`/`trust` to share them
// between instances (those are then left open by stop()).
//
// Start-up refuses, rather than degrades: TLS files that do not load are fatal (never a
// fallback to plain HTTP — NCC 2015), as are a database or trust service that cannot be opened.

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { TrustdeskError } from '../src/tuf/errors.js';
import { loadTokenAuth } from './auth/token.js';
import { type ServerConfig } from './config/config.js';
import { CurrentCache } from './http/current.js';
import { envelope, ERROR_CONTENT_TYPE } from './http/errors.js';
import { Health, type HealthCheck } from './http/health.js';
import { createFastPath } from './http/fast-path.js';
import { registerRoutes, type Authorizer, type HttpContext } from './http/routes.js';
import { serverKeys } from './http/upload.js';
import { createLogger, type LogFormat, type Logger } from './log.js';
import { ServerMetrics } from './metrics.js';
import { openMetaStore } from './storage/open.js';
import { type MetaStore } from './storage/types.js';
import { openTrustService, type TrustServiceConfig } from './trust/open.js';
import { type TrustService } from './trust/types.js';

export interface ServerDeps {
  /** A store shared with other instances; not closed by stop(). */
  store?: MetaStore;
  /** A trust service to use instead of the configured one; not closed by stop(). */
  trust?: TrustService;
  /** Replaces the configured token auth (tests). */
  authorizer?: Authorizer;
  logger?: Logger;
  logFormat?: LogFormat;
  /** Wall clock (ms since the epoch) for expiry decisions; Date.now by default. */
  nowMs?: () => number;
  /** Monotonic ms for cache ages; performance.now by default. */
  monotonic?: () => number;
  env?: NodeJS.ProcessEnv;
  /** Start-up notices (generated passphrase file, …); logged at info by default. */
  notice?: (message: string) => void;
  /** Prometheus process/runtime metrics (default true; tests with many servers turn them off). */
  defaultMetrics?: boolean;
}

export interface Listening {
  url: string;
  host: string;
  port: number;
}

export interface TrustdeskServer {
  readonly app: FastifyInstance;
  readonly config: ServerConfig;
  readonly store: MetaStore;
  readonly trust: TrustService;
  readonly logger: Logger;
  start(): Promise<Listening>;
  stop(): Promise<void>;
}

function readTlsFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new TrustdeskError(
      'ERR_CONFIG',
      `cannot read the ${what} ${path}: ${(e as Error).message}; refusing to start without TLS`,
      { cause: e },
    );
  }
}

/** The https options for the configured TLS files, or throws (never falls back to HTTP). */
export function loadTls(tls: NonNullable<ServerConfig['tls']>): {
  cert: string;
  key: string;
  ca?: string;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
  minVersion: 'TLSv1.2';
} {
  const cert = readTlsFile(tls.certFile, 'TLS certificate (server.tls_cert_file)');
  const key = readTlsFile(tls.keyFile, 'TLS key (server.tls_key_file)');
  const ca = tls.clientCaFile
    ? readTlsFile(tls.clientCaFile, 'client CA file (server.client_ca_file)')
    : undefined;
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (e) {
    throw new TrustdeskError(
      'ERR_CONFIG',
      `the TLS certificate ${tls.certFile} and key ${tls.keyFile} do not load: ${(e as Error).message}; refusing to start without TLS`,
      { cause: e },
    );
  }
  return {
    cert,
    key,
    minVersion: 'TLSv1.2',
    ...(ca ? { ca, requestCert: true, rejectUnauthorized: true } : {}),
  };
}

function trustConfig(config: ServerConfig): TrustServiceConfig {
  const t = config.trust;
  if (t.type === 'local') {
    return {
      type: 'local',
      ...(t.keyAlgorithm ? { keyAlgorithm: t.keyAlgorithm } : {}),
      ...(config.dataDir ? { devDataDir: config.dataDir } : {}),
    };
  }
  const read = (p: string, what: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new TrustdeskError(
        'ERR_CONFIG',
        `cannot read the ${what} ${p}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  };
  return {
    type: 'remote',
    hostname: t.hostname as string,
    port: t.port as number,
    caPem: read(t.caFile as string, 'trust service CA file (trust_service.tls_ca_file)'),
    ...(t.clientCertFile && t.clientKeyFile
      ? {
          clientCertPem: read(t.clientCertFile, 'trust service client certificate'),
          clientKeyPem: read(t.clientKeyFile, 'trust service client key'),
        }
      : {}),
    keyAlgorithm: t.keyAlgorithm ?? 'ecdsa',
  };
}

export async function createServer(
  config: ServerConfig,
  deps: ServerDeps = {},
): Promise<TrustdeskServer> {
  const logger =
    deps.logger ?? createLogger({ level: config.logging.level, format: deps.logFormat ?? 'json' });
  const https = config.tls ? loadTls(config.tls) : undefined;
  const authorizer: Authorizer | undefined =
    deps.authorizer ??
    (config.auth
      ? loadTokenAuth(config.auth.options, deps.nowMs ? { nowMs: deps.nowMs } : {})
      : undefined);

  const ownStore = deps.store === undefined;
  const store =
    deps.store ??
    (await openMetaStore({
      backend: config.storage.backend,
      ...(config.storage.dbUrl ? { dbUrl: config.storage.dbUrl } : {}),
      onBackgroundError: (err) => logger.warn({ err: err.message }, 'database connection error'),
    }));
  let trust: TrustService;
  try {
    trust =
      deps.trust ??
      (await openTrustService(trustConfig(config), store, {
        env: deps.env ?? process.env,
        notice: deps.notice ?? ((msg) => logger.info(msg)),
      }));
  } catch (e) {
    if (ownStore) await store.close();
    throw e;
  }
  const ownTrust = deps.trust === undefined;
  const monotonic = deps.monotonic ?? (() => performance.now());
  const nowMs = deps.nowMs ?? Date.now;

  const checks: HealthCheck[] = [
    { name: 'DB operational', run: () => store.check() },
    { name: 'Trust operational', run: () => trust.check() },
  ];
  const limits = config.limits;
  const app = Fastify({
    logger: false,
    ...(https ? { https } : {}),
    bodyLimit: limits.maxUploadBytes,
    routerOptions: { maxParamLength: 65_535 },
    forceCloseConnections: 'idle',
    frameworkErrors: (err, _req, res) => {
      // A URL fastify cannot even route (bad percent-escape…): the catch-all's answer.
      const notFound = err.code === 'FST_ERR_BAD_URL';
      void (res as unknown as FastifyReply)
        .code(notFound ? 404 : 400)
        .header('content-type', ERROR_CONTENT_TYPE)
        .send(envelope(notFound ? 'METADATA_NOT_FOUND' : 'MALFORMED_UPLOAD'));
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const ctx: HttpContext = {
    store,
    trust,
    keys: serverKeys(trust),
    cache: new CurrentCache(store, {
      revalidateMs: config.caching.revalidateMs,
      maxEntries: config.caching.maxEntries,
      maxBytes: config.caching.maxBytes,
      monotonic,
    }),
    health: new Health(checks),
    metrics: new ServerMetrics({ defaultMetrics: deps.defaultMetrics !== false }),
    logger,
    ...(authorizer ? { auth: authorizer } : {}),
    nowMs,
    monotonic,
    gunPrefixes: config.gunPrefixes,
    cacheControl: {
      current: { maxAge: config.caching.currentMaxAge, mustRevalidate: true },
      consistent: { maxAge: config.caching.consistentMaxAge, mustRevalidate: false },
    },
    limits,
    tls: https !== undefined,
  };
  registerRoutes(app, ctx);

  // While stopping, answers still being produced close their connection, so a keep-alive
  // client cannot hold the shutdown open until its idle timeout (the fast path, which runs no
  // Fastify hook, does the same itself).
  let closing = false;
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });

  // Cached metadata GETs are answered before Fastify (http/fast-path.ts); everything else, and
  // app.inject(), reaches Fastify's own handler as before.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- the very listener fastify gave node:http (it uses no `this`)
  const routing = app.routing;
  if (app.server.listeners('request').includes(routing)) {
    app.server.removeListener('request', routing);
    app.server.on('request', createFastPath({ ...ctx, stopping: () => closing }, routing));
  }

  let stopped: Promise<void> | undefined;
  return {
    app,
    config,
    store,
    trust,
    logger,
    async start() {
      const host = config.listen.host ?? '::';
      let address: string;
      try {
        address = await app.listen({ host, port: config.listen.port });
      } catch (e) {
        if (
          config.listen.host !== undefined ||
          (e as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT'
        )
          throw e;
        address = await app.listen({ host: '0.0.0.0', port: config.listen.port });
      }
      const a = app.server.address();
      const port = typeof a === 'object' && a ? a.port : config.listen.port;
      const shownHost = config.listen.host ?? 'localhost';
      const url = `${https ? 'https' : 'http'}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
      logger.info(
        { address, tls: https !== undefined, storage: store.backend, trust: trust.type },
        'listening',
      );
      return { url, host: shownHost, port };
    },
    stop() {
      return (stopped ??= (async () => {
        closing = true;
        try {
          await app.close();
        } finally {
          if (ownTrust) await trust.close().catch(() => undefined);
          if (ownStore) await store.close().catch(() => undefined);
          logger.flush?.();
        }
      })());
    },
  };
}
