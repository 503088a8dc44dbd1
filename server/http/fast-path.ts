// Metadata GETs answered from the in-process cache on node:http's request event, before Fastify
// is reached: at full load Fastify's routing, request/reply objects, hooks and promises cost
// about as much as everything else together, and these GETs are nearly all of a server's
// traffic. A request is taken only when its answer is certain to be the one the Fastify handler
// (routes.ts) would give, i.e. a 200 of a file the cache already holds:
//   1. GET, not while stopping (Fastify then answers 503 / Connection: close);
//   2. a metadata route (router.ts; GetRole, GetRoleByHash, GetRoleByVersion) whose GUN is
//      accepted (gunRefusal: clean path, configured prefixes) and whose request is valid
//      (role-request.ts roleRequest);
//   3. with token auth: authorize() granted the route's access (a token seen before costs a
//      map lookup); the cache is read after it, as in routes.ts;
//   4. the GUN's cache entry is fresh (CurrentCache.peek) and holds the file, the timestamp and
//      snapshot unexpired (role-request.ts servedFromEntry).
// Anything else — a miss, an error, a denial, a re-sign, another route, HEAD — goes to Fastify,
// which produces the same answer as without this file.
// The answer is Fastify's byte for byte: status 200, the cache headers, Last-Modified,
// Content-Type and Content-Length in that order (node adds Date and Connection as for every
// response), the stored bytes; then the Go metrics of the operation and the request log line.
// Per request it costs a few map lookups: what a URL path asks for (step 2) is a pure function
// of the path and the configuration, so it is kept per path (at most PATHS_KEPT), the header
// list of a file is built once and kept on the cached file, and the metrics are recorded
// through recorders resolved in advance.
// app.inject() (tests) always goes through Fastify; test/server/http-fast-path.test.ts checks
// both paths answer alike over real sockets.

import { type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { requiredAccess } from '../auth/access.js';
import { logRequest, type Logger } from '../log.js';
import { type ServerMetrics } from '../metrics.js';
import { type CurrentCache, type Served } from './current.js';
import { TEXT_TYPE, cacheHeaders, requestScheme, type CacheControl } from './headers.js';
import { roleRequest, servedFromEntry, type RoleRequest } from './role-request.js';
import { gunRefusal, matchRoute, type RouteMatch } from './router.js';
import { type Authorizer } from './routes.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface FastPathContext {
  cache: CurrentCache;
  gunPrefixes: readonly string[];
  auth?: Authorizer;
  metrics: ServerMetrics;
  logger: Logger;
  nowMs: () => number;
  cacheControl: { current: CacheControl; consistent: CacheControl };
  tls: boolean;
  /** True from the moment the server starts stopping. */
  stopping: () => boolean;
}

type Kind = RoleRequest['kind'];

/** An accepted metadata GET path: its route, what it asks for, and its metrics. */
interface Resolved {
  m: RouteMatch;
  r: RoleRequest;
  record: ReturnType<ServerMetrics['recorder']>;
}

const PATHS_KEPT = 4096;
const FAST_ROUTES = ['GetRole', 'GetRoleByHash', 'GetRoleByVersion'] as const;

/** The request listener: answers what it can (rules at the top), hands the rest to `fallback`. */
export function createFastPath(ctx: FastPathContext, fallback: RequestListener): RequestListener {
  const cacheLists: Record<Kind, string[]> = {
    current: Object.entries(cacheHeaders(ctx.cacheControl.current)).flat(),
    consistent: Object.entries(cacheHeaders(ctx.cacheControl.consistent)).flat(),
  };
  const headerList = (f: Served, kind: Kind): string[] =>
    ((f.rawHeaders ??= {})[kind] ??= [
      ...cacheLists[kind],
      'last-modified',
      f.lastModified,
      'content-type',
      TEXT_TYPE,
      'content-length',
      String(f.body.length),
    ]);

  const recorders = new Map(
    FAST_ROUTES.map((route) => [route as string, ctx.metrics.recorder(route, 'GET', 200)]),
  );
  const known = new Map<string, Resolved>();

  /** Step 2: what an accepted metadata GET of `path` asks for, or undefined. */
  const resolve = (path: string): Resolved | undefined => {
    const held = known.get(path);
    if (held) return held;
    const m = matchRoute('GET', path);
    const record = m && recorders.get(m.route);
    if (!m || !record || gunRefusal(m.gun, ctx.gunPrefixes) !== undefined) return undefined;
    let r: RoleRequest;
    try {
      r = roleRequest(m);
    } catch {
      return undefined; // Fastify answers the error
    }
    if (known.size >= PATHS_KEPT) known.clear();
    const resolved = { m, r, record };
    known.set(path, resolved);
    return resolved;
  };

  /** Step 4: sends the cached file; false when there is none to send now. */
  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    { r, record }: Resolved,
    started: number,
  ): boolean => {
    const e = ctx.cache.peek(r.gun);
    const f = e && servedFromEntry(e, r, ctx.nowMs());
    if (!f) return false;
    const headers = headerList(f, r.kind);
    // Authorized while the server began to stop: close as Fastify's replies then do (app.ts).
    res.writeHead(200, ctx.stopping() ? [...headers, 'connection', 'close'] : headers);
    res.end(f.body);
    const ms = performance.now() - started;
    record(ms, Number(req.headers['content-length'] ?? 0), f.body.length);
    logRequest(ctx.logger, 'GET', req.url ?? '/', 200, ms);
    return true;
  };

  return (req, res) => {
    const started = performance.now();
    if (req.method !== 'GET' || ctx.stopping()) return fallback(req, res);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const resolved = resolve(q < 0 ? url : url.slice(0, q));
    if (!resolved) return fallback(req, res);
    if (!ctx.auth) {
      if (!answer(req, res, resolved, started)) fallback(req, res);
      return;
    }
    const { m } = resolved;
    void ctx.auth
      .authorize(
        req.headers.authorization,
        requiredAccess(m.route, m.gun),
        req.headers.host,
        requestScheme(req.headers, ctx.tls),
      )
      .then(
        (granted) => granted.ok && answer(req, res, resolved, started),
        () => false,
      )
      .then((answered) => {
        // Denied or nothing cached: Fastify authorizes again and answers (401, 404, re-sign…).
        if (!answered) fallback(req, res);
      });
  };
}
