// Route table of Go notary-server (notary-protocol §4.1; server/server.go), matched in Go's
// order on the percent-decoded path exactly as gorilla/mux does:
//   1 GET /v2/                                    2 POST /v2/{gun}/_trust/tuf/
//   3 GET …/{role}.{checksum}.json (64|96|128 hex) 4 GET …/{version}.{role}.json
//   5 GET …/{role}.json                           6 GET …/{snapshot|timestamp}.key
//   7 POST …/{snapshot|timestamp}.key             8 DELETE /v2/{gun}/_trust/tuf/
//   9 GET /v2/{gun}/_trust/changefeed            10 GET /v2/_trust/changefeed
//  11 GET /_notary_server/health                 12 GET /metrics
//  13 GET|POST|PUT|HEAD|DELETE anything else → 404 METADATA_NOT_FOUND
// {gun} = [^*]+ (greedy, may contain '/'), role = root|targets(/[^/\s]+)*|snapshot|timestamp.
// Other methods get Go's plain-text "404 page not found".
//
// Path hygiene (where Go answers 301 before any handler): a path whose percent-escapes do not
// decode is routed as catch-all (404). A GUN must be a clean relative path — no empty, `.` or
// `..` segment, no control character (NUL included), at most MAX_GUN_LENGTH characters — or
// the route is refused like a GUN outside the configured prefixes (upload: 400 INVALID_GUN,
// other GUN routes: 404 METADATA_NOT_FOUND) before auth or storage are touched.

import { type RouteId } from '../auth/access.js';

export interface RouteMatch {
  /** Which route (also what server/auth/access.ts derives the required access from). */
  route: RouteId;
  /** '' for routes without a GUN. */
  gun: string;
  role?: string;
  checksum?: string;
  version?: string;
  /** Whether the route sends cache headers: 'current', 'consistent' or none. */
  cache?: 'current' | 'consistent';
}

/** tuf_files.gun is varchar(255). */
export const MAX_GUN_LENGTH = 255;

const ROLE = 'root|targets(?:/[^/\\s]+)*|snapshot|timestamp';
const GUN = '([^*]+)';

interface RouteDef {
  method: string;
  /** The literal end every path of the route has: checked before the greedy `[^*]+` regex. */
  suffix: string;
  re: RegExp;
  build(m: RegExpExecArray): RouteMatch;
}

const g = (m: RegExpExecArray, i: number): string => m[i] as string;

const ROUTES: RouteDef[] = [
  {
    method: 'GET',
    suffix: '/v2/',
    re: /^\/v2\/$/,
    build: () => ({ route: 'Main', gun: '' }),
  },
  {
    method: 'POST',
    suffix: '/_trust/tuf/',
    re: new RegExp(`^/v2/${GUN}/_trust/tuf/$`),
    build: (m) => ({ route: 'UpdateTUF', gun: g(m, 1) }),
  },
  {
    method: 'GET',
    suffix: '.json',
    re: new RegExp(
      `^/v2/${GUN}/_trust/tuf/(${ROLE})\\.([a-fA-F0-9]{64}|[a-fA-F0-9]{96}|[a-fA-F0-9]{128})\\.json$`,
    ),
    build: (m) => ({
      route: 'GetRoleByHash',
      gun: g(m, 1),
      role: g(m, 2),
      checksum: g(m, 3),
      cache: 'consistent',
    }),
  },
  {
    method: 'GET',
    suffix: '.json',
    re: new RegExp(`^/v2/${GUN}/_trust/tuf/([1-9]*[0-9]+)\\.(${ROLE})\\.json$`),
    build: (m) => ({
      route: 'GetRoleByVersion',
      gun: g(m, 1),
      version: g(m, 2),
      role: g(m, 3),
      cache: 'consistent',
    }),
  },
  {
    method: 'GET',
    suffix: '.json',
    re: new RegExp(`^/v2/${GUN}/_trust/tuf/(${ROLE})\\.json$`),
    build: (m) => ({
      route: 'GetRole',
      gun: g(m, 1),
      role: g(m, 2),
      cache: 'current',
    }),
  },
  {
    method: 'GET',
    suffix: '.key',
    re: new RegExp(`^/v2/${GUN}/_trust/tuf/(snapshot|timestamp)\\.key$`),
    build: (m) => ({ route: 'GetKey', gun: g(m, 1), role: g(m, 2) }),
  },
  {
    method: 'POST',
    suffix: '.key',
    re: new RegExp(`^/v2/${GUN}/_trust/tuf/(snapshot|timestamp)\\.key$`),
    build: (m) => ({ route: 'RotateKey', gun: g(m, 1), role: g(m, 2) }),
  },
  {
    method: 'DELETE',
    suffix: '/_trust/tuf/',
    re: new RegExp(`^/v2/${GUN}/_trust/tuf/$`),
    build: (m) => ({ route: 'DeleteTUF', gun: g(m, 1) }),
  },
  {
    method: 'GET',
    suffix: '/_trust/changefeed',
    re: new RegExp(`^/v2/${GUN}/_trust/changefeed$`),
    build: (m) => ({ route: 'Changefeed', gun: g(m, 1) }),
  },
  {
    method: 'GET',
    suffix: '/v2/_trust/changefeed',
    re: /^\/v2\/_trust\/changefeed$/,
    build: () => ({ route: 'GlobalChangefeed', gun: '' }),
  },
  {
    method: 'GET',
    suffix: '/_notary_server/health',
    re: /^\/_notary_server\/health$/,
    build: () => ({ route: 'Health', gun: '' }),
  },
  {
    method: 'GET',
    suffix: '/metrics',
    re: /^\/metrics$/,
    build: () => ({ route: 'Metrics', gun: '' }),
  },
];

const CATCH_ALL_METHODS = new Set(['GET', 'POST', 'PUT', 'HEAD', 'DELETE']);
const NOT_FOUND: RouteMatch = { route: 'NotFound', gun: '' };

/** Go's url.PathUnescape; undefined when an escape is malformed. */
export function decodePath(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * The route for a request, or null when the method has no route at all (plain 404).
 * `rawPath` is the request target without the query string.
 */
export function matchRoute(method: string, rawPath: string): RouteMatch | null {
  const path = decodePath(rawPath);
  if (path !== undefined) {
    for (const r of ROUTES) {
      if (r.method !== method || !path.endsWith(r.suffix)) continue;
      const m = r.re.exec(path);
      if (m) return r.build(m);
    }
  }
  return CATCH_ALL_METHODS.has(method) ? NOT_FOUND : null;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A segment that is empty, `.` or `..`. */
const UNCLEAN_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

/** Why a GUN is refused (see the rules at the top), or undefined when it is acceptable. */
export function gunProblem(gun: string): string | undefined {
  // Code points ≤ UTF-16 units: only a long string needs counting.
  if (gun.length > MAX_GUN_LENGTH && [...gun].length > MAX_GUN_LENGTH)
    return `GUN is longer than ${MAX_GUN_LENGTH} characters`;
  if (CONTROL.test(gun)) return 'GUN contains a control character';
  if (UNCLEAN_SEGMENT.test(gun)) return 'GUN must be a clean path (no empty, "." or ".." segments)';
  return undefined;
}

/** Why a route's GUN is refused here: gunProblem, or outside the configured prefixes (§4.10). */
export function gunRefusal(gun: string, prefixes: readonly string[]): string | undefined {
  const problem = gunProblem(gun);
  if (problem) return problem;
  if (prefixes.length > 0 && !prefixes.some((p) => gun.startsWith(p)))
    return `Require GUNs with prefix: [${prefixes.join(' ')}]`;
  return undefined;
}
