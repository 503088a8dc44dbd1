// Docker registry token auth for trustdesk-server (notary-protocol §4.9; distribution
// registry/auth/token accesscontroller.go + token.go), configured exactly like Go:
//   auth: { type: "token", options: { realm, service, issuer, rootcertbundle, autoredirect? } }
//
// authorize() decides, in order:
//   1. the Authorization header is exactly two space-separated parts, the first "bearer"
//      (any case) — else 401 with no `error` parameter (Go ErrTokenRequired);
//   2. the token is a JWS compact serialisation whose header names an allowed algorithm
//      (ES256, ES384, RS256, PS256, EdDSA; never `none` or HS*);
//   3. the signing key comes from, in Go's order of preference: `x5c` (leaf signs; the chain
//      must verify up to the root bundle: src/tuf/x509.ts verifyChain with any extended key
//      usage, as distribution's Verify with ExtKeyUsageAny), `jwk` (with its own x5c chain
//      whose leaf is that key, or equal to a root-bundle certificate's key), `kid` (the
//      libtrust key ID of a root-bundle certificate's key);
//   4. the signature verifies (jose, only the header's algorithm, which must fit the key);
//   5. claims: `iss` == issuer; `aud` == service (a string, or an array containing it);
//      `exp` present and now ≤ exp + 60 s; now ≥ nbf − 60 s; `access` a list of
//      {type, name, actions[]} — any failure in 2–5 is 401 error="invalid_token";
//   6. every required (resource, action) is granted (`*` grants all actions) — else 401
//      error="insufficient_scope".
// Verified tokens are cached by their exact text with the window in which token and chain are
// valid, so a client reusing its token costs one map lookup; the window is re-checked against
// the clock on every use.

import { createPublicKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compactVerify, decodeProtectedHeader, type JWK } from 'jose';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { fromBase64 } from '../../src/tuf/encoding.js';
import { decodePemBlocks } from '../../src/tuf/pem.js';
import { verifyChain } from '../../src/tuf/x509.js';
import { isGranted, type Access } from './access.js';
import {
  UNAUTHORIZED_CONTENT_TYPE,
  challengeHeader,
  unauthorizedBody,
  type ChallengeError,
} from './challenge.js';
import { libtrustKeyId } from './libtrust-key-id.js';

export const ALLOWED_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const;
export const LEEWAY_MS = 60_000;
const MAX_X5C = 10;
const CACHE_SIZE = 1024;

export interface TokenAuthOptions {
  realm: string;
  service: string;
  issuer: string;
  /** PEM text of the root bundle; blocks other than CERTIFICATE are ignored (as Go does). */
  rootCertBundle: string;
  /** Realm becomes `<scheme>://<Host>/auth/token` for each request. */
  autoRedirect?: boolean;
  /** Injected clock (ms since the epoch). */
  nowMs?: () => number;
}

export type AuthResult =
  | { ok: true; subject: string; granted: readonly Access[] }
  | {
      ok: false;
      status: 401;
      wwwAuthenticate: string;
      body: Buffer;
      contentType: string;
      /** Why, for the server log (never contains the token). */
      reason: string;
    };

interface VerifiedToken {
  subject: string;
  granted: readonly Access[];
  validFromMs: number;
  validUntilMs: number;
}

interface RootKey {
  key: KeyObject;
  spki: Buffer;
}

class InvalidToken extends Error {}

function invalid(reason: string): never {
  throw new InvalidToken(reason);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

function parseCertificatePem(pem: string): X509Certificate[] {
  let blocks;
  try {
    blocks = decodePemBlocks(pem);
  } catch (e) {
    throw new TrustdeskError('ERR_CONFIG', `auth.options.rootcertbundle: ${String(e)}`, {
      cause: e,
    });
  }
  const certs: X509Certificate[] = [];
  for (const b of blocks) {
    if (b.type !== 'CERTIFICATE') continue;
    try {
      certs.push(new X509Certificate(Buffer.from(b.bytes)));
    } catch (e) {
      throw new TrustdeskError(
        'ERR_CONFIG',
        'auth.options.rootcertbundle: unable to parse token auth root certificate',
        { cause: e },
      );
    }
  }
  if (certs.length === 0)
    throw new TrustdeskError(
      'ERR_CONFIG',
      'auth.options.rootcertbundle: token auth requires at least one token signing root certificate',
    );
  return certs;
}

function parseAccessClaim(v: unknown): Access[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) invalid('access claim is not a list');
  const out: Access[] = [];
  for (const item of v as unknown[]) {
    if (!isObject(item)) invalid('access claim entry is not an object');
    const { type, name, actions } = item;
    if (typeof type !== 'string' || typeof name !== 'string') invalid('malformed access claim');
    if (
      actions !== undefined &&
      actions !== null &&
      !(Array.isArray(actions) && actions.every((a) => typeof a === 'string'))
    )
      invalid('malformed access claim actions');
    if (type !== 'repository' && type !== 'registry') continue; // can never match a route
    out.push({ type, name, actions: (actions as string[] | null) ?? [] });
  }
  return out;
}

function numericDate(v: unknown, claim: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) invalid(`${claim} is not a number`);
  return v * 1000;
}

export class TokenAuth {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  readonly autoRedirect: boolean;
  private readonly roots: X509Certificate[];
  private readonly rootKeys: RootKey[];
  private readonly keysById: Map<string, RootKey>;
  private readonly nowMs: () => number;
  private readonly cache = new Map<string, VerifiedToken>();

  constructor(opts: TokenAuthOptions) {
    this.realm = opts.realm;
    this.service = opts.service;
    this.issuer = opts.issuer;
    this.autoRedirect = opts.autoRedirect ?? false;
    this.nowMs = opts.nowMs ?? Date.now;
    this.roots = parseCertificatePem(opts.rootCertBundle);
    this.rootKeys = this.roots.map((c) => ({ key: c.publicKey, spki: spkiOf(c.publicKey) }));
    this.keysById = new Map(this.rootKeys.map((k) => [libtrustKeyId(k.key), k]));
  }

  /**
   * Checks `Authorization` against what the route needs. `host` (the request's Host header)
   * and `scheme` (http/https, after X-Forwarded-Proto) only matter with autoredirect.
   */
  async authorize(
    authorization: string | undefined,
    required: readonly Access[],
    host?: string,
    scheme = 'http',
  ): Promise<AuthResult> {
    if (required.length === 0) return { ok: true, subject: '', granted: [] };
    const deny = (error: ChallengeError, reason: string): AuthResult => {
      const realm = this.autoRedirect && host ? `${scheme}://${host}/auth/token` : this.realm;
      return {
        ok: false,
        status: 401,
        wwwAuthenticate: challengeHeader(realm, this.service, required, error),
        body: unauthorizedBody(required),
        contentType: UNAUTHORIZED_CONTENT_TYPE,
        reason,
      };
    };
    const parts = (authorization ?? '').split(' ');
    if (parts.length !== 2 || parts[0]?.toLowerCase() !== 'bearer')
      return deny(undefined, 'authorization token required');
    const raw = parts[1] as string;
    const now = this.nowMs();
    let token = this.cache.get(raw);
    if (token === undefined) {
      try {
        token = await this.verify(raw, now);
      } catch (e) {
        if (e instanceof InvalidToken) return deny('invalid_token', `invalid token: ${e.message}`);
        return deny('invalid_token', 'invalid token: signature does not verify');
      }
      if (this.cache.size >= CACHE_SIZE) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(raw, token);
    }
    if (now < token.validFromMs || now > token.validUntilMs)
      return deny('invalid_token', 'invalid token: not valid at this time');
    if (!isGranted(token.granted, required))
      return deny('insufficient_scope', `insufficient scope for ${JSON.stringify(token.subject)}`);
    return { ok: true, subject: token.subject, granted: token.granted };
  }

  /** Steps 2–5 (see the top of the file); throws InvalidToken or jose's errors. */
  private async verify(raw: string, now: number): Promise<VerifiedToken> {
    if (raw.split('.').length !== 3) invalid('malformed token');
    let header;
    try {
      header = decodeProtectedHeader(raw);
    } catch {
      invalid('malformed token header');
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !(ALLOWED_ALGORITHMS as readonly string[]).includes(alg))
      invalid(`algorithm ${JSON.stringify(alg)} is not allowed`);

    const signer = this.signingKey(header.x5c, header.jwk, header.kid, now);
    const { payload } = await compactVerify(raw, signer.key, { algorithms: [alg] });

    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload).toString('utf8'));
    } catch {
      invalid('claims are not JSON');
    }
    if (!isObject(claims)) invalid('claims are not an object');
    if (claims.iss !== this.issuer) invalid('token from untrusted issuer');
    const aud = claims.aud;
    const audiences = Array.isArray(aud) ? (aud as unknown[]) : [aud];
    if (!audiences.includes(this.service)) invalid('token intended for another audience');
    const exp = numericDate(claims.exp, 'exp');
    if (exp === undefined) invalid('token has no expiry');
    const nbf = numericDate(claims.nbf, 'nbf') ?? -Infinity;
    const sub = claims.sub ?? '';
    if (typeof sub !== 'string') invalid('sub is not a string');
    const granted = parseAccessClaim(claims.access);

    const token: VerifiedToken = {
      subject: sub,
      granted,
      validFromMs: Math.max(nbf - LEEWAY_MS, signer.validFromMs),
      validUntilMs: Math.min(exp + LEEWAY_MS, signer.validUntilMs),
    };
    if (now < token.validFromMs || now > token.validUntilMs)
      invalid('token not valid at this time');
    return token;
  }

  private signingKey(
    x5c: unknown,
    jwk: JWK | undefined,
    kid: string | undefined,
    now: number,
  ): { key: KeyObject; validFromMs: number; validUntilMs: number } {
    if (x5c !== undefined) return this.chainKey(x5c, now);
    if (jwk !== undefined) {
      if (!isObject(jwk) || 'd' in jwk) invalid('malformed jwk header');
      let key: KeyObject;
      try {
        const { x5c: _chain, ...bare } = jwk;
        key = createPublicKey({ key: bare as JsonWebKey, format: 'jwk' });
      } catch {
        invalid('unable to decode the jwk header');
      }
      if (jwk.x5c !== undefined) {
        const chained = this.chainKey(jwk.x5c, now);
        if (!spkiOf(chained.key).equals(spkiOf(key)))
          invalid('leaf certificate public key does not match the jwk');
        return chained;
      }
      const spki = spkiOf(key);
      const root = this.rootKeys.find((k) => k.spki.equals(spki));
      if (!root) invalid('untrusted jwk with no certificate chain');
      return { key: root.key, validFromMs: -Infinity, validUntilMs: Infinity };
    }
    if (kid !== undefined) {
      const root = this.keysById.get(kid);
      if (!root) invalid('token signed by an untrusted key id');
      return { key: root.key, validFromMs: -Infinity, validUntilMs: Infinity };
    }
    invalid('unable to get the token signing key');
  }

  private chainKey(
    x5c: unknown,
    now: number,
  ): { key: KeyObject; validFromMs: number; validUntilMs: number } {
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_X5C)
      invalid('malformed x5c chain');
    const certs = (x5c as unknown[]).map((c, i) => {
      if (typeof c !== 'string') invalid('malformed x5c chain');
      try {
        return new X509Certificate(Buffer.from(fromBase64(c, `x5c[${i}]`)));
      } catch {
        invalid(`x5c[${i}] is not a certificate`);
      }
    });
    const chain = verifyChain(certs, {
      anchors: this.roots,
      nowMs: now,
      usage: 'any',
      anchorName: 'the root bundle',
    });
    if (!chain.ok) invalid(`x5c chain does not verify: ${chain.problem}`);
    return {
      key: (certs[0] as X509Certificate).publicKey,
      validFromMs: chain.notBeforeMs,
      validUntilMs: chain.notAfterMs,
    };
  }
}

/**
 * Builds TokenAuth from Go's `auth.options` map (checkOptions: realm, issuer, service and
 * rootcertbundle must be strings; autoredirect, when present, a boolean) and reads the bundle.
 */
export function loadTokenAuth(
  options: unknown,
  deps: { readFile?: (path: string) => string; nowMs?: () => number } = {},
): TokenAuth {
  if (!isObject(options))
    throw new TrustdeskError('ERR_CONFIG', 'auth.options must be an object for token auth');
  const str = (k: string): string => {
    const v = options[k];
    if (typeof v !== 'string')
      throw new TrustdeskError('ERR_CONFIG', `token auth requires a valid option string: "${k}"`);
    return v;
  };
  const [realm, issuer, service, bundlePath] = [
    str('realm'),
    str('issuer'),
    str('service'),
    str('rootcertbundle'),
  ];
  const autoRedirect = options.autoredirect ?? false;
  if (typeof autoRedirect !== 'boolean')
    throw new TrustdeskError('ERR_CONFIG', 'token auth requires a valid option bool: autoredirect');
  let bundle: string;
  try {
    bundle = (deps.readFile ?? ((p) => readFileSync(p, 'utf8')))(bundlePath);
  } catch (e) {
    throw new TrustdeskError(
      'ERR_CONFIG',
      `unable to read token auth root certificate bundle file ${JSON.stringify(bundlePath)}`,
      { cause: e },
    );
  }
  return new TokenAuth({
    realm,
    issuer,
    service,
    rootCertBundle: bundle,
    autoRedirect,
    ...(deps.nowMs ? { nowMs: deps.nowMs } : {}),
  });
}
