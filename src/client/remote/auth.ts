// Client side of the token flow (notary-protocol §4.9; Go cmd/notary/tuf.go tokenAuth with
// docker/distribution's auth client):
//   - challenges come ONLY from the ping (`GET <url>/v2/`); without one no credentials are
//     ever sent (Go's behaviour: a server that did not ask never sees them);
//   - Bearer: GET <realm>?service=<service>&scope=repository:<gun>:<actions>[&account=<user>],
//     with HTTP Basic credentials when there are any; the answer is JSON with `token` or
//     `access_token`, optional `expires_in` (at least 60 s is assumed) and `issued_at`;
//     tokens are cached per (realm, service, scope, anonymous) until they expire;
//   - Basic: the credentials go on the request itself;
//   - read-only access (`pull`) first tries an anonymous token; a 401 then retries once with
//     credentials. Write and admin access use credentials from the start. A 401 on a request
//     that carried a token drops that token and retries exactly once with a fresh one;
//   - credentials come from NOTARY_AUTH or an injected provider (the prompter), asked once.

import { TrustdeskError } from '../../tuf/errors.js';
import type { BasicCredentials } from '../config/credentials.js';
import { RemoteError } from './errors.js';
import type { HttpTransport } from './http.js';

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`. */
  scheme: string;
  params: Record<string, string>;
}

/** Repository access a command needs: read-only, read-write (publish, init), admin. */
export type Access = 'pull' | 'push' | 'admin';

export const ACCESS_ACTIONS: Readonly<Record<Access, readonly string[]>> = {
  pull: ['pull'],
  push: ['push', 'pull'],
  admin: ['*'],
};

export function scopeFor(gun: string, access: Access): string {
  return `repository:${gun}:${ACCESS_ACTIONS[access].join(',')}`;
}

export interface CredentialsRequest {
  realm: string;
  service?: string;
  signal?: AbortSignal;
}

/** Asked at most once per server; undefined = no credentials (anonymous). */
export type CredentialsProvider = (
  req: CredentialsRequest,
) => Promise<BasicCredentials | undefined>;

const TOKEN_BODY_LIMIT = 1024 * 1024;
/** distribution's minimumTokenLifetimeSeconds. */
const MIN_TOKEN_LIFETIME_S = 60;

// RFC 7235: challenge = scheme [ 1*SP ( token68 / #auth-param ) ]; several per header value.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Parses WWW-Authenticate header values into challenges (unparseable parts are skipped). */
export function parseChallenges(values: string | readonly string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const header of typeof values === 'string' ? [values] : (values ?? [])) {
    let s = header;
    let current: Challenge | undefined;
    while (s.length > 0) {
      s = s.replace(/^[\s,]+/, '');
      const tok = TOKEN.exec(s);
      if (!tok) break;
      const name = tok[0];
      const rest = s.slice(name.length).replace(/^\s*/, '');
      if (rest.startsWith('=') && current) {
        let value: string;
        let after = rest.slice(1).replace(/^\s*/, '');
        if (after.startsWith('"')) {
          let i = 1;
          value = '';
          for (; i < after.length && after[i] !== '"'; i++) {
            if (after[i] === '\\' && i + 1 < after.length) i++;
            value += after[i];
          }
          after = after.slice(i + 1);
        } else {
          const v = TOKEN.exec(after);
          value = v ? v[0] : '';
          after = after.slice(value.length);
        }
        current.params[name.toLowerCase()] = value;
        s = after;
      } else {
        current = { scheme: name.toLowerCase(), params: {} };
        out.push(current);
        s = rest;
      }
    }
  }
  return out;
}

interface CachedToken {
  token: string;
  expiresMs: number;
}

export interface TokenAuthOptions {
  transport: HttpTransport;
  credentials?: CredentialsProvider;
  /** Clock for token expiry; tests inject one. */
  nowMs?: () => number;
  onToken?: (e: { realm: string; scope: string; anonymous: boolean }) => void;
}

export class TokenAuth {
  readonly #transport: HttpTransport;
  readonly #provider: CredentialsProvider | undefined;
  readonly #now: () => number;
  readonly #onToken: TokenAuthOptions['onToken'];
  #challenges: Challenge[] = [];
  #credentials: Promise<BasicCredentials | undefined> | undefined;
  readonly #tokens = new Map<string, CachedToken>();

  constructor(opts: TokenAuthOptions) {
    this.#transport = opts.transport;
    this.#provider = opts.credentials;
    this.#now = opts.nowMs ?? Date.now;
    this.#onToken = opts.onToken;
  }

  /** Records the challenges of the ping response. */
  setChallenges(challenges: Challenge[]): void {
    this.#challenges = challenges.filter((c) => c.scheme === 'bearer' || c.scheme === 'basic');
  }

  /** The server asked for authentication in its ping. */
  get active(): boolean {
    return this.#challenges.length > 0;
  }

  /**
   * The Authorization header for a request needing `scope` (undefined: none), and the cache key
   * of the token it carries (to drop it after a 401).
   */
  async header(
    scope: string,
    anonymous: boolean,
    signal: AbortSignal | undefined,
  ): Promise<{ value: string; tokenKey?: string } | undefined> {
    const bearer = this.#challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      const { token, key } = await this.#token(bearer, scope, anonymous, signal);
      return { value: `Bearer ${token}`, tokenKey: key };
    }
    const basic = this.#challenges.find((c) => c.scheme === 'basic');
    if (basic && !anonymous) {
      const creds = await this.#creds(basic.params.realm ?? '', undefined, signal);
      if (creds) return { value: `Basic ${basicValue(creds)}` };
    }
    return undefined;
  }

  /** Forgets a cached token (after a 401 to a request that carried it). */
  invalidate(tokenKey: string | undefined): void {
    if (tokenKey !== undefined) this.#tokens.delete(tokenKey);
  }

  #creds(
    realm: string,
    service: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<BasicCredentials | undefined> {
    if (!this.#provider) return Promise.resolve(undefined);
    this.#credentials ??= this.#provider({ realm, service, signal });
    return this.#credentials;
  }

  async #token(
    ch: Challenge,
    scope: string,
    anonymous: boolean,
    signal: AbortSignal | undefined,
  ): Promise<{ token: string; key: string }> {
    const realm = ch.params.realm as string;
    const service = ch.params.service;
    const creds = anonymous ? undefined : await this.#creds(realm, service, signal);
    const key = `${realm}\n${service ?? ''}\n${creds ? 'user' : 'anon'}\n${scope}`;
    const cached = this.#tokens.get(key);
    if (cached && this.#now() < cached.expiresMs) return { token: cached.token, key };

    const url = URL.canParse(realm) ? new URL(realm) : undefined;
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new RemoteError(
        'ERR_UNAUTHORIZED',
        `the trust server named an unusable token realm ${JSON.stringify(realm)}`,
        { resource: 'token' },
      );
    }
    if (service !== undefined) url.searchParams.append('service', service);
    url.searchParams.append('scope', scope);
    if (creds) url.searchParams.append('account', creds.username);
    const headers: Record<string, string> = {};
    if (creds) headers.authorization = `Basic ${basicValue(creds)}`;
    this.#onToken?.({ realm, scope, anonymous: !creds });
    const res = await this.#transport.request({
      method: 'GET',
      url: url.toString(),
      resource: `token for ${scope}`,
      headers,
      maxBytes: TOKEN_BODY_LIMIT,
      retry: true,
      signal,
    });
    if (res.status === 401 || res.status === 403) {
      throw new RemoteError(
        'ERR_UNAUTHORIZED',
        `the token server refused ${creds ? `the credentials of ${JSON.stringify(creds.username)}` : 'anonymous access'} for ${scope} (HTTP ${res.status})`,
        { resource: 'token', status: res.status },
      );
    }
    if (res.status < 200 || res.status >= 300) {
      throw new RemoteError(
        'ERR_SERVER_UNAVAILABLE',
        `the token server answered HTTP ${res.status} for ${scope}`,
        { resource: 'token', status: res.status },
      );
    }
    const parsed = parseTokenResponse(res.body, this.#now());
    this.#tokens.set(key, parsed);
    return { token: parsed.token, key };
  }
}

function basicValue(c: BasicCredentials): string {
  return Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
}

/** `{token|access_token, expires_in?, issued_at?}` → token and expiry (>= 60 s). */
export function parseTokenResponse(body: Uint8Array, nowMs: number): CachedToken {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (e) {
    throw new TrustdeskError('ERR_UNAUTHORIZED', 'the token server sent a body that is not JSON', {
      cause: e,
    });
  }
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const token =
    typeof o.token === 'string' && o.token !== ''
      ? o.token
      : typeof o.access_token === 'string'
        ? o.access_token
        : '';
  if (token === '' || /[\r\n]/.test(token))
    throw new TrustdeskError('ERR_UNAUTHORIZED', 'the token server sent no usable token');
  const lifetime =
    typeof o.expires_in === 'number' && Number.isFinite(o.expires_in)
      ? Math.max(o.expires_in, MIN_TOKEN_LIFETIME_S)
      : MIN_TOKEN_LIFETIME_S;
  const issued = typeof o.issued_at === 'string' ? Date.parse(o.issued_at) : NaN;
  const start = Number.isFinite(issued) ? issued : nowMs;
  return { token, expiresMs: start + lifetime * 1000 };
}
