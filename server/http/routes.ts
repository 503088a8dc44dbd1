// Every route of Go notary-server on a fastify instance (notary-protocol §4; the route table and
// path rules are in router.ts). Per request, in Go's order:
//   1. route by method + percent-decoded path (no route for the method → Go's plain 404);
//   2. GUN routes: the GUN must be acceptable (router.ts gunProblem) and start with one of the
//      configured prefixes (§4.10) → else upload 400 INVALID_GUN, other routes 404
//      METADATA_NOT_FOUND — before auth, storage or signer are touched;
//   3. token auth when configured (server/auth; health and metrics are open) → 401 + challenge;
//   4. the handler. Metadata bodies are the stored bytes verbatim with Go's sniffed
//      Content-Type, cache headers only on 200 metadata GETs; POST/DELETE answer 200 with an
//      empty body; errors use the envelope (errors.ts).
// Reads of current metadata go through the in-process cache (current.ts); writes invalidate it.
// Metadata GETs the cache can answer at once are usually answered before Fastify is reached, by
// fast-path.ts, with the same checks and answer; what it declines arrives here.
// GET of the current timestamp/snapshot re-signs them when expired (§5.3); if that fails
// (signer down, key missing, root expired) the stored files are served — the client then
// reports "expired" itself, where a 5xx would make the Go client silently use its cache — and
// the re-sign is retried at most once per second per GUN.
// One log line per request (method, path without query, status, ms); metrics per Go operation.

import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { parseSnapshot, parseTimestamp } from '../../src/tuf/metadata.js';
import { refreshTimestamp, type ServerKeys } from '../../src/tuf/upload.js';
import { requiredAccess } from '../auth/access.js';
import { type AuthResult } from '../auth/token.js';
import { logRequest, type Logger } from '../log.js';
import { type ServerMetrics } from '../metrics.js';
import {
  StorageInputError,
  StorageUnavailableError,
  VersionConflictError,
  type MetaStore,
  type NewTufFile,
} from '../storage/types.js';
import { type TrustService } from '../trust/types.js';
import { changefeedBody, changefeedQuery } from './changefeed.js';
import { readCurrentRole, type CurrentCache, type Entry, type Served } from './current.js';
import { ERROR_CONTENT_TYPE, HttpError, envelope } from './errors.js';
import { TEXT_TYPE as TEXT, cacheHeaders, requestScheme, type CacheControl } from './headers.js';
import { healthBody, type Health } from './health.js';
import { getOrCreateKey, keyJson, rotateKey } from './keys.js';
import { roleRequest } from './role-request.js';
import { gunRefusal, matchRoute, type RouteMatch } from './router.js';
import {
  UpdatingError,
  applyUpload,
  readStoredState,
  readUploadParts,
  type UploadLimits,
} from './upload.js';

/** What authorizes requests when token auth is on (server/auth/token.ts TokenAuth). */
export interface Authorizer {
  authorize(
    authorization: string | undefined,
    required: ReturnType<typeof requiredAccess>,
    host?: string,
    scheme?: string,
  ): Promise<AuthResult>;
}

export interface HttpContext {
  store: MetaStore;
  trust: TrustService;
  keys: ServerKeys;
  cache: CurrentCache;
  health: Health;
  metrics: ServerMetrics;
  logger: Logger;
  auth?: Authorizer;
  /** Wall clock for expiry decisions (ms since the epoch). */
  nowMs: () => number;
  monotonic: () => number;
  gunPrefixes: readonly string[];
  cacheControl: { current: CacheControl; consistent: CacheControl };
  limits: UploadLimits & { maxUploadBytes: number };
  tls: boolean;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** Between two failed GET-time re-signs of one GUN. */
const REFRESH_RETRY_MS = 1_000;

declare module 'fastify' {
  interface FastifyRequest {
    notaryRoute: RouteMatch | null;
  }
}

function sendError(reply: FastifyReply, e: HttpError): FastifyReply {
  return reply
    .code(e.status)
    .headers(e.headers)
    .header('content-type', ERROR_CONTENT_TYPE)
    .send(envelope(e.code, e.detail));
}

const notFound = (): HttpError => new HttpError('METADATA_NOT_FOUND', {});

export function registerRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const headers = {
    current: cacheHeaders(ctx.cacheControl.current),
    consistent: cacheHeaders(ctx.cacheControl.consistent),
  };
  const refreshing = new Map<string, Promise<Entry>>();

  const serve = (reply: FastifyReply, f: Served, kind: 'current' | 'consistent') =>
    reply
      .headers(headers[kind])
      .header('last-modified', f.lastModified)
      .header('content-type', TEXT)
      .send(f.body);

  /** §5.3: re-sign an expired timestamp (and snapshot); another replica may win the race. */
  const refresh = (e: Entry): Promise<Entry> => {
    if (e.refreshFailedAt !== undefined && ctx.monotonic() - e.refreshFailedAt < REFRESH_RETRY_MS)
      return Promise.resolve(e);
    let p = refreshing.get(e.gun);
    if (!p) {
      p = (async () => {
        try {
          const stored = await readStoredState(ctx.store, e.gun, []);
          const res = await refreshTimestamp({
            gun: e.gun,
            nowMs: ctx.nowMs(),
            stored,
            keys: ctx.keys,
          });
          if (res) {
            const files: NewTufFile[] = [];
            if (res.snapshot) {
              const v = parseSnapshot(res.snapshot).signed.version;
              files.push({ role: 'snapshot', version: v, data: res.snapshot });
            }
            const v = parseTimestamp(res.timestamp).signed.version;
            files.push({ role: 'timestamp', version: v, data: res.timestamp });
            try {
              await ctx.store.updateMany(e.gun, files);
              ctx.logger.info({ gun: e.gun, version: v }, 're-signed the expired timestamp');
            } catch (err) {
              if (!(err instanceof VersionConflictError)) throw err;
              // Another replica (or an upload) stored a newer timestamp first: serve that.
            }
          }
          ctx.cache.invalidate(e.gun);
          return await ctx.cache.get(e.gun);
        } catch (err) {
          e.refreshFailedAt = ctx.monotonic();
          ctx.logger.error(
            { gun: e.gun, err: err instanceof Error ? err.message : String(err) },
            'cannot re-sign the expired timestamp; serving the stored one',
          );
          return e;
        }
      })().finally(() => refreshing.delete(e.gun));
      refreshing.set(e.gun, p);
    }
    return p;
  };

  const getRole = async (m: RouteMatch, reply: FastifyReply): Promise<FastifyReply> => {
    const r = roleRequest(m);
    const { cache, store } = ctx;
    const { gun, role } = r;
    if (r.kind === 'consistent') {
      const { checksum, version } = r;
      const e = await cache.get(gun);
      const f = await cache.file(e, r.key, () =>
        checksum !== undefined
          ? store.getByChecksum(gun, role, checksum)
          : store.getByVersion(gun, role, version as number),
      );
      if (!f) throw notFound();
      return serve(reply, f, 'consistent');
    }
    let e = await cache.get(gun);
    if (!e.chain.timestamp || !e.chain.snapshot) throw notFound();
    if (role === 'timestamp' || role === 'snapshot') {
      if (ctx.nowMs() > e.chain.expiresMs) e = await refresh(e);
      const f = role === 'timestamp' ? e.chain.timestamp : e.chain.snapshot;
      if (!f) throw notFound();
      return serve(reply, f, 'current');
    }
    const chain = e.chain;
    const f = await cache.file(e, r.key, () => readCurrentRole(store, gun, chain, role));
    if (!f) throw notFound();
    return serve(reply, f, 'current');
  };

  const handle = async (
    m: RouteMatch,
    req: FastifyRequest,
    reply: FastifyReply,
    query: string,
  ): Promise<FastifyReply> => {
    const gun = m.gun;
    switch (m.route) {
      case 'Main':
        return reply.header('content-type', TEXT).send('{}');
      case 'UpdateTUF': {
        const parts = readUploadParts(
          req.headers['content-type'],
          req.body as Buffer | undefined,
          ctx.limits,
        );
        try {
          await applyUpload(
            { store: ctx.store, keys: ctx.keys, nowMs: ctx.nowMs, limits: ctx.limits },
            gun,
            parts,
          );
        } finally {
          ctx.cache.invalidate(gun);
        }
        ctx.logger.info({ gun, roles: parts.map((p) => p.role) }, 'updated');
        return reply.code(200).send();
      }
      case 'GetRoleByHash':
      case 'GetRoleByVersion':
      case 'GetRole':
        return getRole(m, reply);
      case 'GetKey':
      case 'RotateKey': {
        const role = m.role as 'timestamp' | 'snapshot';
        let key;
        try {
          if (m.route === 'RotateKey') {
            key = await rotateKey(ctx.trust, gun, role);
          } else {
            const e = await ctx.cache.get(gun);
            const chain = e.chain;
            const root = chain.timestamp
              ? await ctx.cache.file(e, 'c:root', () =>
                  readCurrentRole(ctx.store, gun, chain, 'root'),
                )
              : undefined;
            key = await getOrCreateKey(ctx.trust, gun, role, root?.file.data);
          }
        } catch (err) {
          ctx.logger.error(
            { gun, role, err: err instanceof Error ? err.message : String(err) },
            `cannot ${m.route === 'RotateKey' ? 'rotate' : 'get'} the ${role} key`,
          );
          throw new HttpError('UNKNOWN', {});
        }
        return reply.header('content-type', TEXT).send(keyJson(key));
      }
      case 'DeleteTUF':
        try {
          await ctx.store.deleteGun(gun);
        } catch (err) {
          ctx.logger.error({ gun, err: (err as Error).message }, 'cannot delete');
          throw new HttpError('UNKNOWN', {});
        } finally {
          ctx.cache.invalidate(gun);
        }
        ctx.logger.info({ gun }, 'trust data deleted');
        return reply.code(200).send();
      case 'Changefeed':
      case 'GlobalChangefeed': {
        const q = changefeedQuery(gun, new URLSearchParams(query));
        const changes = await ctx.store.changefeed(q);
        return reply.header('content-type', TEXT).send(changefeedBody(changes));
      }
      case 'Health': {
        const failures = await ctx.health.failures();
        return reply
          .code(failures.size === 0 ? 200 : 503)
          .header('content-type', JSON_TYPE)
          .send(healthBody(failures));
      }
      case 'Metrics':
        return reply.header('content-type', ctx.metrics.contentType).send(await ctx.metrics.text());
      case 'NotFound':
        throw new HttpError('METADATA_NOT_FOUND');
    }
  };

  const rejectGun = (m: RouteMatch, problem: string): HttpError =>
    m.route === 'UpdateTUF'
      ? new HttpError('INVALID_GUN', problem)
      : new HttpError('METADATA_NOT_FOUND');

  const dispatch = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const url = req.raw.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const m = matchRoute(req.method, rawPath);
    req.notaryRoute = m;
    if (!m) return reply.code(404).header('content-type', TEXT).send('404 page not found\n');
    try {
      if (m.gun !== '') {
        const refusal = gunRefusal(m.gun, ctx.gunPrefixes);
        if (refusal) throw rejectGun(m, refusal);
      }
      if (ctx.auth && m.route !== 'Health' && m.route !== 'Metrics') {
        const res = await ctx.auth.authorize(
          req.headers.authorization,
          requiredAccess(m.route, m.gun),
          req.headers.host,
          requestScheme(req.headers, ctx.tls),
        );
        if (!res.ok) {
          ctx.logger.info({ path: rawPath, reason: res.reason }, 'unauthorized');
          return reply
            .code(res.status)
            .header('www-authenticate', res.wwwAuthenticate)
            .header('content-type', res.contentType)
            .send(res.body);
        }
      }
      return await handle(m, req, reply, q < 0 ? '' : url.slice(q + 1));
    } catch (err) {
      return sendError(reply, toHttpError(err, m, ctx.logger));
    }
  };

  app.decorateRequest('notaryRoute', null);
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '*',
    exposeHeadRoute: false,
    handler: dispatch,
  });
  app.setNotFoundHandler((req, reply) => {
    req.notaryRoute = null;
    return reply.code(404).header('content-type', TEXT).send('404 page not found\n');
  });
  app.setErrorHandler(
    (err: { statusCode?: number; code?: string; message?: string }, req, reply) => {
      // Errors raised by fastify itself while reading the body (size, content length, aborted).
      if (err.statusCode === 413) {
        return sendError(
          reply,
          new HttpError(
            'TOO_LARGE',
            `the request body is larger than ${ctx.limits.maxUploadBytes} bytes`,
          ),
        );
      }
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
        return sendError(reply, new HttpError('MALFORMED_UPLOAD'));
      ctx.logger.error({ path: req.url.split('?')[0], err: err.message }, 'request failed');
      return sendError(reply, new HttpError('UNKNOWN', {}));
    },
  );
  app.addHook('onResponse', (req, reply, done) => {
    const m = req.notaryRoute;
    const ms = reply.elapsedTime;
    logRequest(ctx.logger, req.method, req.raw.url ?? '/', reply.statusCode, ms);
    if (m) {
      const op = m.route === 'GlobalChangefeed' ? 'Changefeed' : m.route;
      const resLen = Number(reply.getHeader('content-length') ?? 0);
      const reqLen = Number(req.headers['content-length'] ?? 0);
      ctx.metrics.observe(op, req.method, reply.statusCode, ms, reqLen, resLen);
    }
    done();
  });
}

/** The envelope for anything a handler threw (logged when it is the server's fault). */
function toHttpError(err: unknown, m: RouteMatch, logger: Logger): HttpError {
  if (err instanceof HttpError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof StorageInputError) return new HttpError('METADATA_NOT_FOUND', {});
  if (err instanceof StorageUnavailableError) {
    logger.error({ gun: m.gun, route: m.route, err: msg }, 'storage unavailable');
    return new HttpError('UNAVAILABLE');
  }
  logger.error(
    { gun: m.gun, route: m.route, err: msg, cause: causeMessage(err) },
    'request failed',
  );
  return err instanceof UpdatingError || m.route === 'UpdateTUF'
    ? new HttpError('UPDATING')
    : new HttpError('UNKNOWN', {});
}

function causeMessage(err: unknown): string | undefined {
  const c = err instanceof Error ? err.cause : undefined;
  return c instanceof Error ? c.message : undefined;
}
