// A small Docker-registry token issuer, so token auth runs locally and in tests (notary-protocol
// §4.9 client side; distribution registry/client/auth/session.go fetchTokenWithBasicAuth).
//
//   GET <realm>?service=<service>&scope=repository:<gun>:<a1,a2>[&scope=…][&account=<user>]
//   Authorization: Basic base64(user:password)            (absent → anonymous)
//   → 200 {"token":…,"access_token":…,"expires_in":<s>,"issued_at":"<RFC 3339>"}
//
// Order of checks: method GET (405) → `service` present and, when configured, equal (400) →
// every scope parses (400; a parameter may hold several space-separated scopes) → credentials:
// Basic with a non-empty user name, the password verified in constant time (401 with a Basic
// challenge; an unknown user costs the same as a wrong password); no credentials → the users
// file's anonymous grants, or 401 when anonymous tokens are disabled → `account`, when given
// with credentials, must name the same user (400) → grant (users.ts grantAccess) → sign.
// Tokens: ES256 JWS, header {alg, typ:"JWT", x5c: issuer chain}, claims iss, sub (user, "" when
// anonymous), aud = service, exp = now + ttl, nbf = iat = now (whole seconds), jti, access.
// Anonymous requests get a token even when it grants nothing: the Go CLI fetches one
// anonymously first for read-only commands and only retries with credentials after the
// server's 401 — refusing here would abort the command instead.

import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { decodePemBlocks } from '../../src/tuf/pem.js';
import { parseScope, type Access } from './access.js';
import { authenticate, grantAccess, loadUsersFile, type UsersDb } from './users.js';

export const DEFAULT_TOKEN_TTL_SECONDS = 300;
const ISSUER_REALM = 'trustdesk token issuer';

export interface TokenIssuerOptions {
  /** The `iss` claim; the server's auth.options.issuer must equal it. */
  issuer: string;
  /** When set, only tokens for this service (the server's auth.options.service) are issued. */
  service?: string;
  /** PEM of the EC P-256 signing key (PKCS#8 or SEC1, unencrypted). */
  signingKeyPem: string;
  /** PEM certificates: the signing key's certificate first, then intermediates (→ `x5c`). */
  certChainPem: string;
  users: UsersDb;
  /** Token lifetime; at least 60 s (the Go client never caches for less). */
  ttlSeconds?: number;
  /** Issue tokens to requests without credentials (default true; see the top of the file). */
  allowAnonymous?: boolean;
  nowMs?: () => number;
}

export interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

class IssuerError extends Error {
  constructor(
    readonly status: 400 | 401 | 405 | 500,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message }] }) + '\n';
}

/** The user and password of a `Basic` Authorization header; throws 401 when malformed. */
function basicCredentials(header: string): { user: string; password: string } {
  const m = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!m) throw new IssuerError(401, 'UNAUTHORIZED', 'Basic credentials required');
  const plain = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  if (colon <= 0) throw new IssuerError(401, 'UNAUTHORIZED', 'malformed Basic credentials');
  return { user: plain.slice(0, colon), password: plain.slice(colon + 1) };
}

export class TokenIssuer {
  readonly issuer: string;
  readonly service: string | undefined;
  readonly ttlSeconds: number;
  private readonly key: KeyObject;
  private readonly x5c: string[];
  private readonly users: UsersDb;
  private readonly allowAnonymous: boolean;
  private readonly nowMs: () => number;

  constructor(opts: TokenIssuerOptions) {
    this.issuer = opts.issuer;
    this.service = opts.service;
    this.users = opts.users;
    this.allowAnonymous = opts.allowAnonymous ?? true;
    this.nowMs = opts.nowMs ?? Date.now;
    this.ttlSeconds = opts.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    if (!Number.isSafeInteger(this.ttlSeconds) || this.ttlSeconds < 60)
      throw new TrustdeskError('ERR_CONFIG', 'token issuer: ttl must be a whole number ≥ 60 s');
    try {
      this.key = createPrivateKey(opts.signingKeyPem);
    } catch (e) {
      throw new TrustdeskError('ERR_CONFIG', 'token issuer: the signing key does not parse', {
        cause: e,
      });
    }
    if (this.key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      throw new TrustdeskError('ERR_CONFIG', 'token issuer: the signing key must be ECDSA P-256');
    let certs: Buffer[];
    let leafKey: KeyObject;
    try {
      certs = decodePemBlocks(opts.certChainPem)
        .filter((b) => b.type === 'CERTIFICATE')
        .map((b) => Buffer.from(b.bytes));
      leafKey = new X509Certificate(certs[0] ?? Buffer.alloc(0)).publicKey;
    } catch (e) {
      throw new TrustdeskError('ERR_CONFIG', 'token issuer: no readable certificate given', {
        cause: e,
      });
    }
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    if (!spki(leafKey).equals(spki(createPublicKey(this.key))))
      throw new TrustdeskError(
        'ERR_CONFIG',
        'token issuer: the first certificate is not for the signing key',
      );
    this.x5c = certs.map((der) => der.toString('base64'));
  }

  /** Signs a token for `subject` granting exactly `access`. */
  async issue(subject: string, service: string, access: Access[]): Promise<TokenResponse> {
    const iat = Math.floor(this.nowMs() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: this.x5c })
      .setIssuer(this.issuer)
      .setSubject(subject)
      .setAudience(service)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.ttlSeconds)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(this.key);
    return {
      token,
      access_token: token,
      expires_in: this.ttlSeconds,
      issued_at: new Date(iat * 1000).toISOString().replace('.000Z', 'Z'),
    };
  }

  /** Answers one token request (see the top of the file). */
  private async respond(req: IncomingMessage): Promise<TokenResponse> {
    if (req.method !== 'GET') throw new IssuerError(405, 'UNSUPPORTED', 'use GET');
    const q = new URL(req.url ?? '/', 'http://issuer.invalid').searchParams;
    const service = q.get('service');
    if (!service) throw new IssuerError(400, 'INVALID_PARAMETERS', 'service is required');
    if (this.service !== undefined && service !== this.service)
      throw new IssuerError(400, 'INVALID_PARAMETERS', 'unknown service');
    const requested: Access[] = [];
    for (const s of q
      .getAll('scope')
      .flatMap((v) => v.split(' '))
      .filter((v) => v !== '')) {
      const a = parseScope(s);
      if (!a)
        throw new IssuerError(400, 'INVALID_PARAMETERS', `invalid scope ${JSON.stringify(s)}`);
      requested.push(a);
    }
    const header = req.headers.authorization;
    if (header === undefined) {
      if (!this.allowAnonymous)
        throw new IssuerError(401, 'UNAUTHORIZED', 'authentication required');
      return this.issue('', service, grantAccess(this.users.anonymous, requested));
    }
    const { user, password } = basicCredentials(header);
    const entry = await authenticate(this.users, user, password);
    if (!entry) throw new IssuerError(401, 'UNAUTHORIZED', 'authentication required');
    const account = q.get('account');
    if (account !== null && account !== user)
      throw new IssuerError(400, 'INVALID_PARAMETERS', 'account does not match the credentials');
    return this.issue(user, service, grantAccess(entry.access, requested));
  }

  /** node:http handler: mount it at the realm path (fastify: a raw route) or serve it alone. */
  readonly handler = (req: IncomingMessage, res: ServerResponse): void => {
    this.respond(req).then(
      (body) => {
        res.writeHead(200, {
          'Content-Type': 'application/json',
          'Cache-Control': 'no-store',
        });
        res.end(JSON.stringify(body));
      },
      (e: unknown) => {
        const err = e instanceof IssuerError ? e : new IssuerError(500, 'UNKNOWN', 'unknown error');
        const headers: Record<string, string> = {
          'Content-Type': 'application/json; charset=utf-8',
          'Cache-Control': 'no-store',
        };
        if (err.status === 401) headers['WWW-Authenticate'] = `Basic realm="${ISSUER_REALM}"`;
        if (err.status === 405) headers.Allow = 'GET';
        res.writeHead(err.status, headers);
        res.end(errorBody(err.code, err.message));
      },
    );
  };
}

export interface TokenIssuerFiles {
  issuer: string;
  service?: string;
  keyFile: string;
  certFile: string;
  usersFile: string;
  ttlSeconds?: number;
  allowAnonymous?: boolean;
  nowMs?: () => number;
}

function readConfigFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new TrustdeskError('ERR_CONFIG', `cannot read the ${what} ${JSON.stringify(path)}`, {
      cause: e,
    });
  }
}

/** The issuer from its key, certificate-chain and users files. */
export function loadTokenIssuer(f: TokenIssuerFiles): TokenIssuer {
  return new TokenIssuer({
    issuer: f.issuer,
    ...(f.service !== undefined ? { service: f.service } : {}),
    signingKeyPem: readConfigFile(f.keyFile, 'token issuer key file'),
    certChainPem: readConfigFile(f.certFile, 'token issuer certificate file'),
    users: loadUsersFile(f.usersFile),
    ...(f.ttlSeconds !== undefined ? { ttlSeconds: f.ttlSeconds } : {}),
    ...(f.allowAnonymous !== undefined ? { allowAnonymous: f.allowAnonymous } : {}),
    ...(f.nowMs ? { nowMs: f.nowMs } : {}),
  });
}
