// Response header values of Go notary-server's metadata answers (notary-protocol §4.3), shared by
// the Fastify handlers (routes.ts) and the fast path (fast-path.ts) so both send the same ones.

import { type IncomingHttpHeaders } from 'node:http';

/** Go sniffs stored metadata (and `{}`, keys, changefeeds) as plain text. */
export const TEXT_TYPE = 'text/plain; charset=utf-8';

export interface CacheControl {
  maxAge: number;
  mustRevalidate: boolean;
}

/** Go's utils.CacheControl headers: public with max-age, or no caching at all (with Pragma). */
export function cacheHeaders(c: CacheControl): Record<string, string> {
  if (c.maxAge > 0) {
    return {
      'cache-control':
        `public, max-age=${c.maxAge}, s-maxage=${c.maxAge}` +
        (c.mustRevalidate ? ', must-revalidate' : ''),
    };
  }
  return { 'cache-control': 'max-age=0, no-cache, no-store', pragma: 'no-cache' };
}

/** The scheme a client used (auth challenge realm with autoredirect): X-Forwarded-Proto first. */
export function requestScheme(headers: IncomingHttpHeaders, tls: boolean): string {
  const v = headers['x-forwarded-proto'];
  return (Array.isArray(v) ? v[0] : v) ?? (tls ? 'https' : 'http');
}
