// Token auth (notary-protocol §4.9): route scopes, the exact 401 challenge and body, JWT
// verification against a root bundle (x5c / jwk / kid), the token issuer and its users file,
// and the real Go notary CLI completing the token flow against a stand-in server.

import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK } from 'jose';
import {
  CATALOG_ACCESS,
  parseScope,
  requiredAccess,
  type Access,
  type RouteId,
} from '../../server/auth/access.js';
import { goQuote } from '../../server/auth/challenge.js';
import { TokenIssuer } from '../../server/auth/issuer.js';
import { libtrustKeyId } from '../../server/auth/libtrust-key-id.js';
import {
  dummyPasswordHash,
  hashPassword,
  parsePasswordHash,
  verifyPassword,
  type ParsedHash,
} from '../../server/auth/password.js';
import { loadTokenAuth, TokenAuth, type AuthResult } from '../../server/auth/token.js';
import {
  authenticate,
  grantAccess,
  parseUsersFile,
  type UsersDb,
} from '../../server/auth/users.js';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { NOTARY_SERVER_BIN, startNotaryServer } from '../support/go-notary.js';
import { findExecutable, requireService } from '../support/services.js';
import { KU, issueCert, newKey, type CertSpec, type TestCert } from '../support/certs.js';

const DAY = 86_400_000;
/** A fixed clock: nothing depends on the real time. */
const NOW = Date.UTC(2031, 5, 15, 12, 0, 0);
const SEC = Math.floor(NOW / 1000);
const REALM = 'https://auth.example.com/token';
const SERVICE = 'notary.example.com';
const ISSUER = 'trustdesk-test-issuer';
const GUN = 'example.com/app';
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

interface Pki {
  caKey: KeyObject;
  ca: TestCert;
  leafKey: KeyObject;
  leaf: TestCert;
  intKey: KeyObject;
  int: TestCert;
  leafUnderIntKey: KeyObject;
  leafUnderInt: TestCert;
  otherLeafKey: KeyObject;
  otherLeaf: TestCert;
  expiredLeafKey: KeyObject;
  expiredLeaf: TestCert;
  nonCaChildKey: KeyObject;
  nonCaChild: TestCert;
}

let pki: Pki;

/** Token-signing certificates carry BasicConstraints and KeyUsage, as real CAs issue them. */
const tokenCert = (spec: CertSpec & { ca: boolean }): TestCert =>
  issueCert({ keyUsage: spec.ca ? KU.certSign | KU.crlSign : KU.digitalSignature, ...spec });

before(() => {
  const valid = { notBeforeMs: NOW - DAY, notAfterMs: NOW + 365 * DAY };
  const ca = newKey();
  const caCert = tokenCert({ cn: 'Test Token CA', key: ca, ca: true, ...valid });
  const caIssuer = { cn: 'Test Token CA', key: ca };
  const child = (cn: string, issuer: { cn: string; key: KeyObject }, isCa = false, v = valid) => {
    const k = newKey();
    return {
      key: k,
      cert: tokenCert({ cn, key: k, issuer, ca: isCa, ...v }),
    };
  };
  const leaf = child('token-issuer', caIssuer);
  const int = child('Test Intermediate', caIssuer, true);
  const underInt = child('token-issuer-2', { cn: 'Test Intermediate', key: int.key });
  const other = newKey();
  const otherIssuer = { cn: 'Other CA', key: other };
  const otherLeaf = child('token-issuer', otherIssuer);
  const expired = child('token-issuer', caIssuer, false, {
    notBeforeMs: NOW - 30 * DAY,
    notAfterMs: NOW - DAY,
  });
  // "Issued" by the (non-CA) leaf: the signature verifies but the leaf may not sign.
  const nonCa = child('sneaky', { cn: 'token-issuer', key: leaf.key });
  pki = {
    caKey: ca,
    ca: caCert,
    leafKey: leaf.key,
    leaf: leaf.cert,
    intKey: int.key,
    int: int.cert,
    leafUnderIntKey: underInt.key,
    leafUnderInt: underInt.cert,
    otherLeafKey: otherLeaf.key,
    otherLeaf: otherLeaf.cert,
    expiredLeafKey: expired.key,
    expiredLeaf: expired.cert,
    nonCaChildKey: nonCa.key,
    nonCaChild: nonCa.cert,
  };
});

const b64 = (c: TestCert) => Buffer.from(c.der).toString('base64');
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: 'alice',
    aud: SERVICE,
    exp: SEC + 300,
    nbf: SEC,
    iat: SEC,
    jti: 'j1',
    access: [{ type: 'repository', name: GUN, actions: ['pull'] }],
    ...over,
  };
}

async function jwt(
  c: Record<string, unknown>,
  header: Record<string, unknown>,
  key: KeyObject | Uint8Array,
): Promise<string> {
  return new SignJWT(c).setProtectedHeader({ typ: 'JWT', alg: 'ES256', ...header }).sign(key);
}

/** A token signed by the CA-issued leaf with x5c = [leaf]. */
const good = (over: Record<string, unknown> = {}) =>
  jwt(claims(over), { x5c: [b64(pki.leaf)] }, pki.leafKey);

function newAuth(clock: () => number = () => NOW, autoRedirect = false): TokenAuth {
  return new TokenAuth({
    realm: REALM,
    service: SERVICE,
    issuer: ISSUER,
    rootCertBundle: pki.ca.pem,
    autoRedirect,
    nowMs: clock,
  });
}

const pull = requiredAccess('GetRole', GUN);
const pushPull = requiredAccess('UpdateTUF', GUN);

const challenge = (scope: string, error?: string) =>
  `Bearer realm="${REALM}",service="${SERVICE}",scope="${scope}"` +
  (error ? `,error="${error}"` : '');

function denied(r: AuthResult): Extract<AuthResult, { ok: false }> {
  assert.equal(r.ok, false, 'expected a 401');
  return r;
}

describe('requiredAccess (§4.1 auth actions column)', () => {
  const repo = (actions: string[]): Access[] => [{ type: 'repository', name: GUN, actions }];
  const cases: [RouteId, string | undefined, Access[]][] = [
    ['UpdateTUF', GUN, repo(['push', 'pull'])],
    ['GetRoleByHash', GUN, repo(['pull'])],
    ['GetRoleByVersion', GUN, repo(['pull'])],
    ['GetRole', GUN, repo(['pull'])],
    ['GetKey', GUN, repo(['push', 'pull'])],
    ['RotateKey', GUN, repo(['*'])],
    ['DeleteTUF', GUN, repo(['*'])],
    ['Changefeed', GUN, repo(['pull'])],
    ['Main', undefined, [CATALOG_ACCESS]],
    ['GlobalChangefeed', undefined, [CATALOG_ACCESS]],
    ['NotFound', undefined, [CATALOG_ACCESS]],
    ['NotFound', '', [CATALOG_ACCESS]],
    ['Health', undefined, []],
    ['Metrics', undefined, []],
  ];
  for (const [route, gun, want] of cases) {
    test(`${route} ${gun ?? '(no gun)'}`, () => {
      assert.deepEqual(requiredAccess(route, gun), want);
    });
  }
  test('CATALOG_ACCESS is registry:catalog:*', () => {
    assert.deepEqual(CATALOG_ACCESS, { type: 'registry', name: 'catalog', actions: ['*'] });
  });

  test('parseScope keeps colons of a registry host in the name', () => {
    assert.deepEqual(parseScope('repository:localhost:5000/foo:push,pull'), {
      type: 'repository',
      name: 'localhost:5000/foo',
      actions: ['push', 'pull'],
    });
    assert.deepEqual(parseScope('registry:catalog:*'), CATALOG_ACCESS);
    for (const bad of ['', 'repository', 'repository:x', 'user:x:pull', 'repository::pull'])
      assert.equal(parseScope(bad), undefined, bad);
  });
});

describe('TokenAuth: 401 challenge and body (§4.9)', () => {
  test('missing token: exact challenge without error, Go errcode body', async () => {
    const r = denied(await newAuth().authorize(undefined, pushPull));
    assert.equal(r.status, 401);
    assert.equal(r.wwwAuthenticate, challenge(`repository:${GUN}:push,pull`));
    assert.equal(r.contentType, 'application/json; charset=utf-8');
    assert.equal(
      r.body.toString(),
      '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[' +
        `{"Type":"repository","Class":"","Name":"${GUN}","Action":"push"},` +
        `{"Type":"repository","Class":"","Name":"${GUN}","Action":"pull"}]}]}\n`,
    );
  });

  test('the /v2/ ping asks for registry:catalog:*', async () => {
    const r = denied(await newAuth().authorize(undefined, requiredAccess('Main')));
    assert.equal(r.wwwAuthenticate, challenge('registry:catalog:*'));
    assert.equal(
      r.body.toString(),
      '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"registry","Class":"","Name":"catalog","Action":"*"}]}]}\n',
    );
  });

  for (const header of ['Basic YWxpY2U6cHc=', 'Bearer', 'Bearer  two-spaces', 'Bearer a b', '']) {
    test(`not a bearer token (${JSON.stringify(header)}) → no error parameter`, async () => {
      const r = denied(await newAuth().authorize(header, pull));
      assert.equal(r.wwwAuthenticate, challenge(`repository:${GUN}:pull`));
    });
  }

  test('scheme is case-insensitive, as Go lowercases it', async () => {
    const r = await newAuth().authorize(`bEaReR ${await good()}`, pull);
    assert.equal(r.ok, true);
  });

  test('autoredirect: realm is <scheme>://<Host>/auth/token', async () => {
    const a = newAuth(undefined, true);
    const r = denied(await a.authorize(undefined, pull, 'notary.internal:4443', 'https'));
    assert.match(
      r.wwwAuthenticate,
      /^Bearer realm="https:\/\/notary\.internal:4443\/auth\/token",/,
    );
  });

  test('values are quoted like Go %q', () => {
    assert.equal(goQuote('a"b\\c\nd\x01é'), '"a\\"b\\\\c\\nd\\x01é"');
  });

  test('GUN characters are JSON-escaped the Go way in the body', async () => {
    const r = denied(await newAuth().authorize(undefined, requiredAccess('GetRole', 'a<b>&"c')));
    assert.match(r.body.toString(), /"Name":"a\\u003cb\\u003e\\u0026\\"c"/);
  });
});

describe('TokenAuth: token verification', () => {
  type Case = {
    name: string;
    token: () => Promise<string>;
    required?: Access[];
    /** undefined = accepted */
    error?: 'invalid_token' | 'insufficient_scope';
  };
  const cases: Case[] = [
    { name: 'valid x5c token', token: () => good() },
    {
      name: 'x5c chain through an intermediate',
      token: () =>
        jwt(claims(), { x5c: [b64(pki.leafUnderInt), b64(pki.int)] }, pki.leafUnderIntKey),
    },
    { name: 'audience array containing the service', token: () => good({ aud: ['x', SERVICE] }) },
    { name: 'wrong issuer', token: () => good({ iss: 'evil' }), error: 'invalid_token' },
    { name: 'wrong audience', token: () => good({ aud: 'other' }), error: 'invalid_token' },
    {
      name: 'audience array without the service',
      token: () => good({ aud: ['a', 'b'] }),
      error: 'invalid_token',
    },
    {
      name: 'expired beyond the 60 s leeway',
      token: () => good({ exp: SEC - 61 }),
      error: 'invalid_token',
    },
    { name: 'expired within the leeway', token: () => good({ exp: SEC - 59 }) },
    {
      name: 'not yet valid beyond the leeway',
      token: () => good({ nbf: SEC + 61 }),
      error: 'invalid_token',
    },
    { name: 'not yet valid within the leeway', token: () => good({ nbf: SEC + 59 }) },
    { name: 'no exp', token: () => good({ exp: undefined }), error: 'invalid_token' },
    {
      name: 'exp is a string',
      token: () => good({ exp: String(SEC + 300) }),
      error: 'invalid_token',
    },
    {
      name: 'tampered signature',
      token: async () => {
        const [h, p, s] = (await good()).split('.') as [string, string, string];
        const sig = Buffer.from(s, 'base64url');
        sig[10] = (sig[10] as number) ^ 1;
        return `${h}.${p}.${sig.toString('base64url')}`;
      },
      error: 'invalid_token',
    },
    {
      name: 'tampered claims (access widened to push)',
      token: async () => {
        const [h, , s] = (await good()).split('.') as [string, string, string];
        const access = [{ type: 'repository', name: GUN, actions: ['push', 'pull'] }];
        return `${h}.${b64url(claims({ access }))}.${s}`;
      },
      required: pushPull,
      error: 'invalid_token',
    },
    {
      name: 'alg none',
      token: () =>
        Promise.resolve(
          `${b64url({ typ: 'JWT', alg: 'none', x5c: [b64(pki.leaf)] })}.${b64url(claims())}.`,
        ),
      error: 'invalid_token',
    },
    {
      name: 'alg none with a junk signature',
      token: () =>
        Promise.resolve(
          `${b64url({ alg: 'none', x5c: [b64(pki.leaf)] })}.${b64url(claims())}.AAAA`,
        ),
      error: 'invalid_token',
    },
    {
      name: 'HS256 keyed with the leaf public key PEM (algorithm confusion)',
      token: () =>
        jwt(
          claims(),
          { alg: 'HS256', x5c: [b64(pki.leaf)] },
          Buffer.from(pki.leaf.x509.publicKey.export({ type: 'spki', format: 'pem' })),
        ),
      error: 'invalid_token',
    },
    {
      name: 'HS256 keyed with the root certificate PEM, kid of the root',
      token: () =>
        jwt(
          claims(),
          { alg: 'HS256', kid: libtrustKeyId(pki.ca.x509.publicKey) },
          Buffer.from(pki.ca.pem),
        ),
      error: 'invalid_token',
    },
    {
      name: 'x5c chain to a different CA',
      token: () => jwt(claims(), { x5c: [b64(pki.otherLeaf)] }, pki.otherLeafKey),
      error: 'invalid_token',
    },
    {
      name: 'x5c leaf certificate expired',
      token: () => jwt(claims(), { x5c: [b64(pki.expiredLeaf)] }, pki.expiredLeafKey),
      error: 'invalid_token',
    },
    {
      name: 'x5c leaf issued by a non-CA certificate',
      token: () => jwt(claims(), { x5c: [b64(pki.nonCaChild), b64(pki.leaf)] }, pki.nonCaChildKey),
      error: 'invalid_token',
    },
    {
      name: 'x5c leaf valid but the token signed by another key',
      token: () => jwt(claims(), { x5c: [b64(pki.leaf)] }, pki.otherLeafKey),
      error: 'invalid_token',
    },
    {
      name: 'x5c intermediate missing',
      token: () => jwt(claims(), { x5c: [b64(pki.leafUnderInt)] }, pki.leafUnderIntKey),
      error: 'invalid_token',
    },
    {
      name: 'ES384 header on a P-256 key',
      token: async () => {
        const [, p, s] = (await good()).split('.') as [string, string, string];
        return `${b64url({ typ: 'JWT', alg: 'ES384', x5c: [b64(pki.leaf)] })}.${p}.${s}`;
      },
      error: 'invalid_token',
    },
    {
      name: 'no key hint at all',
      token: () => jwt(claims(), {}, pki.leafKey),
      error: 'invalid_token',
    },
    {
      name: 'kid = libtrust ID of the root key',
      token: () => jwt(claims(), { kid: libtrustKeyId(pki.ca.x509.publicKey) }, pki.caKey),
    },
    {
      name: 'kid of an untrusted key',
      token: () => jwt(claims(), { kid: libtrustKeyId(pki.leaf.x509.publicKey) }, pki.leafKey),
      error: 'invalid_token',
    },
    {
      name: 'jwk equal to the root key',
      token: async () => jwt(claims(), { jwk: await exportJWK(pki.ca.x509.publicKey) }, pki.caKey),
    },
    {
      name: 'jwk of an untrusted key',
      token: async () =>
        jwt(claims(), { jwk: await exportJWK(pki.leaf.x509.publicKey) }, pki.leafKey),
      error: 'invalid_token',
    },
    {
      name: 'jwk with its own x5c chain',
      token: async () =>
        jwt(
          claims(),
          { jwk: { ...(await exportJWK(pki.leaf.x509.publicKey)), x5c: [b64(pki.leaf)] } },
          pki.leafKey,
        ),
    },
    {
      name: 'jwk whose x5c leaf is another key',
      token: async () =>
        jwt(
          claims(),
          { jwk: { ...(await exportJWK(pki.otherLeaf.x509.publicKey)), x5c: [b64(pki.leaf)] } },
          pki.otherLeafKey,
        ),
      error: 'invalid_token',
    },
    {
      name: 'malformed: two parts',
      token: () => Promise.resolve('abc.def'),
      error: 'invalid_token',
    },
    {
      name: 'malformed: header not JSON',
      token: () => Promise.resolve('bm90IGpzb24.e30.AAAA'),
      error: 'invalid_token',
    },
    {
      name: 'access claim not a list',
      token: () => good({ access: { type: 'repository' } }),
      error: 'invalid_token',
    },
    {
      name: 'insufficient scope: push required, only pull granted',
      token: () => good(),
      required: pushPull,
      error: 'insufficient_scope',
    },
    {
      name: 'token for another GUN',
      token: () =>
        good({ access: [{ type: 'repository', name: 'example.com/other', actions: ['*'] }] }),
      error: 'insufficient_scope',
    },
    {
      name: '"*" grants every action (rotate key needs *)',
      token: () => good({ access: [{ type: 'repository', name: GUN, actions: ['*'] }] }),
      required: requiredAccess('RotateKey', GUN),
    },
    {
      name: '"*" grants push+pull',
      token: () => good({ access: [{ type: 'repository', name: GUN, actions: ['*'] }] }),
      required: pushPull,
    },
    {
      name: 'push,pull does not grant *',
      token: () => good({ access: [{ type: 'repository', name: GUN, actions: ['push', 'pull'] }] }),
      required: requiredAccess('DeleteTUF', GUN),
      error: 'insufficient_scope',
    },
    {
      name: 'grants for one resource in two entries add up',
      token: () =>
        good({
          access: [
            { type: 'repository', name: GUN, actions: ['push'] },
            { type: 'repository', name: GUN, actions: ['pull'] },
          ],
        }),
      required: pushPull,
    },
    {
      name: 'catalog scope for /v2/',
      token: () => good({ access: [{ type: 'registry', name: 'catalog', actions: ['*'] }] }),
      required: requiredAccess('Main'),
    },
    {
      name: 'repository * does not grant the catalog',
      token: () => good({ access: [{ type: 'repository', name: 'catalog', actions: ['*'] }] }),
      required: requiredAccess('Main'),
      error: 'insufficient_scope',
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const required = c.required ?? pull;
      const r = await newAuth().authorize(`Bearer ${await c.token()}`, required);
      if (c.error === undefined) {
        assert.equal(r.ok, true, r.ok ? '' : r.reason);
        if (r.ok) assert.equal(r.subject, 'alice');
        return;
      }
      const d = denied(r);
      const scope = required.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
      assert.equal(d.wwwAuthenticate, challenge(scope, c.error));
    });
  }

  test('root bundle entries must be allowed to sign (Go CheckSignatureFrom)', async () => {
    const withBundle = (bundle: string) =>
      new TokenAuth({
        realm: REALM,
        service: SERVICE,
        issuer: ISSUER,
        rootCertBundle: bundle,
        nowMs: () => NOW,
      });
    // The leaf itself in the bundle is a chain of one…
    const own = await withBundle(pki.leaf.pem).authorize(`Bearer ${await good()}`, pull);
    assert.equal(own.ok, true);
    // …but a certificate "issued" by that non-CA leaf does not chain to it.
    const child = await jwt(claims(), { x5c: [b64(pki.nonCaChild)] }, pki.nonCaChildKey);
    assert.equal((await withBundle(pki.leaf.pem).authorize(`Bearer ${child}`, pull)).ok, false);
    // A CA whose KeyUsage lacks keyCertSign may not sign either.
    const issuer = { cn: 'No-Sign CA', key: newKey() };
    const window = { notBeforeMs: NOW - DAY, notAfterMs: NOW + DAY };
    const noSign = tokenCert({ ...issuer, ca: true, keyUsage: KU.digitalSignature, ...window });
    const k = newKey();
    const leaf = tokenCert({ cn: 'l', key: k, issuer, ca: false, ...window });
    const token = await jwt(claims(), { x5c: [b64(leaf)] }, k);
    assert.equal((await withBundle(noSign.pem).authorize(`Bearer ${token}`, pull)).ok, false);
    const signer = tokenCert({ ...issuer, ca: true, ...window });
    assert.equal((await withBundle(signer.pem).authorize(`Bearer ${token}`, pull)).ok, true);
  });

  const algorithms: [string, () => { privateKey: KeyObject; publicKey: KeyObject }, boolean][] = [
    ['ES384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }), true],
    ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), true],
    ['PS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), true],
    ['EdDSA', () => generateKeyPairSync('ed25519'), true],
    ['ES512', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }), false],
    ['RS512', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), false],
  ];
  for (const [alg, keygen, allowed] of algorithms) {
    test(`${alg} x5c token is ${allowed ? 'accepted' : 'refused'}`, async () => {
      const k = keygen();
      const cert = tokenCert({
        cn: `issuer-${alg}`,
        key: k.publicKey,
        issuer: { cn: 'Test Token CA', key: pki.caKey },
        ca: false,
        notBeforeMs: NOW - DAY,
        notAfterMs: NOW + DAY,
      });
      const token = await jwt(claims(), { alg, x5c: [b64(cert)] }, k.privateKey);
      const r = await newAuth().authorize(`Bearer ${token}`, pull);
      assert.equal(r.ok, allowed, r.ok ? '' : r.reason);
    });
  }

  test('a cached token is re-checked against the clock', async () => {
    let now = NOW;
    const a = newAuth(() => now);
    const header = `Bearer ${await good()}`;
    assert.equal((await a.authorize(header, pull)).ok, true);
    now = NOW + 300_000 + 59_000;
    assert.equal((await a.authorize(header, pull)).ok, true);
    now = NOW + 300_000 + 61_000;
    assert.equal(
      denied(await a.authorize(header, pull)).wwwAuthenticate.endsWith(',error="invalid_token"'),
      true,
    );
  });

  test('a token outlives its certificate only until the certificate expires', async () => {
    let now = NOW;
    const a = newAuth(() => now);
    const header = `Bearer ${await good({ exp: SEC + 400 * 86_400 })}`;
    assert.equal((await a.authorize(header, pull)).ok, true);
    now = NOW + 366 * DAY; // the leaf and CA expire at NOW + 365 days
    assert.equal((await a.authorize(header, pull)).ok, false);
  });

  test('libtrust key IDs: 12 groups of 4 base32 characters, stable per key', () => {
    const id = libtrustKeyId(pki.ca.x509.publicKey);
    assert.match(id, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    assert.equal(id, libtrustKeyId(createPublicKey(pki.ca.pem)));
    assert.notEqual(id, libtrustKeyId(pki.leaf.x509.publicKey));
  });
});

describe('loadTokenAuth (Go checkOptions)', () => {
  const opts = { realm: REALM, service: SERVICE, issuer: ISSUER, rootcertbundle: '/bundle.pem' };
  const readFile = (p: string) => {
    if (p !== '/bundle.pem') throw new Error('ENOENT');
    return pki.ca.pem;
  };
  test('reads the bundle named by rootcertbundle', async () => {
    const a = loadTokenAuth(opts, { readFile, nowMs: () => NOW });
    assert.equal((await a.authorize(`Bearer ${await good()}`, pull)).ok, true);
  });
  const bad: [string, unknown, (p: string) => string][] = [
    ['options not an object', 'x', readFile],
    ['realm missing', { ...opts, realm: undefined }, readFile],
    ['issuer not a string', { ...opts, issuer: 3 }, readFile],
    ['autoredirect not a bool', { ...opts, autoredirect: 'yes' }, readFile],
    ['bundle unreadable', { ...opts, rootcertbundle: '/nope' }, readFile],
    ['bundle without certificates', opts, () => 'no pem here'],
    [
      'bundle with a broken certificate',
      opts,
      () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    ],
  ];
  for (const [name, o, rf] of bad) {
    test(`refuses: ${name}`, () => {
      assert.throws(
        () => loadTokenAuth(o, { readFile: rf }),
        (e: unknown) => e instanceof TrustdeskError && e.code === 'ERR_CONFIG',
      );
    });
  }
  test('non-CERTIFICATE blocks in the bundle are ignored, as Go does', async () => {
    const key = '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n';
    const a = loadTokenAuth(opts, { readFile: () => key + pki.ca.pem, nowMs: () => NOW });
    assert.equal((await a.authorize(`Bearer ${await good()}`, pull)).ok, true);
  });
});

describe('passwords', () => {
  test('hash format and verification', async () => {
    const h = await hashPassword('correct horse', FAST_SCRYPT);
    assert.match(h, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    const parsed = parsePasswordHash(h, 'test');
    assert.equal(await verifyPassword(parsed, 'correct horse'), true);
    assert.equal(await verifyPassword(parsed, 'correct horsf'), false);
    assert.equal(await verifyPassword(parsed, ''), false);
    assert.notEqual(await hashPassword('correct horse', FAST_SCRYPT), h, 'salted');
  });

  test('the default parameters are scrypt N=32768 r=8 p=1', async () => {
    assert.match(await hashPassword('pw'), /^scrypt\$32768\$8\$1\$/);
  });

  const salt = Buffer.alloc(16, 1).toString('base64');
  const hash = Buffer.alloc(32, 2).toString('base64');
  const bad = [
    `bcrypt$1024$8$1$${salt}$${hash}`,
    `scrypt$1000$8$1$${salt}$${hash}`, // N not a power of two
    `scrypt$2097152$8$1$${salt}$${hash}`, // N too large
    `scrypt$1048576$32$1$${salt}$${hash}`, // memory bound
    `scrypt$1024$0$1$${salt}$${hash}`,
    `scrypt$1024$8$17$${salt}$${hash}`,
    `scrypt$01024$8$1$${salt}$${hash}`,
    `scrypt$1024$8$1$${salt}$${Buffer.alloc(16).toString('base64')}`,
    `scrypt$1024$8$1$${salt}$${hash.replace(/=+$/, '')}`,
    `scrypt$1024$8$1$${salt}`,
  ];
  for (const h of bad) {
    test(`refuses hash ${h.slice(0, 30)}…`, () => {
      assert.throws(
        () => parsePasswordHash(h, 'test'),
        (e: unknown) => e instanceof TrustdeskError && e.code === 'ERR_CONFIG',
      );
    });
  }
});

describe('users file and grants', () => {
  const repo = (name: string, ...actions: string[]): Access => ({
    type: 'repository',
    name,
    actions,
  });
  const cases: [string, Access[], Access[], Access[]][] = [
    ['intersection', [repo(GUN, 'pull')], [repo(GUN, 'push', 'pull')], [repo(GUN, 'pull')]],
    [
      'entry * grants all requested',
      [repo(GUN, '*')],
      [repo(GUN, 'push', 'pull')],
      [repo(GUN, 'push', 'pull')],
    ],
    ['entry * grants requested *', [repo(GUN, '*')], [repo(GUN, '*')], [repo(GUN, '*')]],
    ['requested * needs entry *', [repo(GUN, 'push', 'pull')], [repo(GUN, '*')], []],
    ['prefix grant', [repo('example.com/*', 'pull')], [repo(GUN, 'pull')], [repo(GUN, 'pull')]],
    [
      'prefix does not match a sibling',
      [repo('example.com/a*', 'pull')],
      [repo('example.com/b', 'pull')],
      [],
    ],
    ['bare * matches every GUN', [repo('*', 'pull')], [repo('x/y', 'pull')], [repo('x/y', 'pull')]],
    ['exact name only', [repo('example.com/ap', 'pull')], [repo(GUN, 'pull')], []],
    [
      'requested name with * matches no prefix',
      [repo('example.com/*', 'pull')],
      [repo('example.com/*', 'pull')],
      [],
    ],
    [
      'two entries add up',
      [repo(GUN, 'pull'), repo('example.com/*', 'push')],
      [repo(GUN, 'push', 'pull')],
      [repo(GUN, 'push', 'pull')],
    ],
    ['catalog', [CATALOG_ACCESS], [CATALOG_ACCESS], [CATALOG_ACCESS]],
    [
      'types must match',
      [{ type: 'registry', name: GUN, actions: ['*'] }],
      [repo(GUN, 'pull')],
      [],
    ],
    [
      'several scopes',
      [repo('*', 'pull')],
      [repo('a', 'pull', 'push'), repo('b', 'pull')],
      [repo('a', 'pull'), repo('b', 'pull')],
    ],
  ];
  for (const [name, allowed, requested, want] of cases) {
    test(`grantAccess: ${name}`, () => {
      assert.deepEqual(grantAccess(allowed, requested), want);
    });
  }

  const hashStr = `scrypt$1024$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`;
  const badFiles: [string, string][] = [
    ['not JSON', '{'],
    ['no users', '{}'],
    ['duplicate user', `{"users":{"a":{"password":"${hashStr}"},"a":{"password":"${hashStr}"}}}`],
    ['no password', '{"users":{"a":{}}}'],
    ['bad hash', '{"users":{"a":{"password":"plain"}}}'],
    [
      'bad type',
      `{"users":{"a":{"password":"${hashStr}","access":[{"type":"user","name":"x","actions":["pull"]}]}}}`,
    ],
    [
      'empty actions',
      `{"users":{"a":{"password":"${hashStr}","access":[{"type":"repository","name":"x","actions":[]}]}}}`,
    ],
    ['user name with a colon', `{"users":{"a:b":{"password":"${hashStr}"}}}`],
    ['anonymous not an object', `{"users":{},"anonymous":[]}`],
  ];
  for (const [name, text] of badFiles) {
    test(`parseUsersFile refuses: ${name}`, () => {
      assert.throws(
        () => parseUsersFile(text),
        (e: unknown) => e instanceof TrustdeskError && e.code === 'ERR_CONFIG',
      );
    });
  }

  test('authenticate: unknown user and wrong password take the same path', async () => {
    const db = parseUsersFile(`{"users":{"alice":{"password":"${hashStr}"}}}`);
    const seen: ParsedHash[] = [];
    const spy = (h: ParsedHash, _pw: string) => {
      seen.push(h);
      return Promise.resolve(false);
    };
    assert.equal(await authenticate(db, 'mallory', 'pw', spy), undefined);
    assert.equal(await authenticate(db, 'alice', 'pw', spy), undefined);
    assert.equal(seen.length, 2, 'the password check ran for the unknown user too');
    assert.equal(seen[0], dummyPasswordHash());
    assert.deepEqual(seen[0]?.params, { N: 32768, r: 8, p: 1 });
    assert.equal(seen[1], db.users.get('alice')?.hash);
    const yes = () => Promise.resolve(true);
    assert.equal(await authenticate(db, 'mallory', 'pw', yes), undefined, 'no user, no entry');
    assert.equal((await authenticate(db, 'alice', 'pw', yes))?.name, 'alice');
  });
});

// ---------------------------------------------------------------------------------------------
// The issuer over HTTP

interface Running {
  url: string;
  close: () => Promise<void>;
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Running> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function usersDb(): Promise<UsersDb> {
  const [alice, bob] = await Promise.all([
    hashPassword('alice-pw', FAST_SCRYPT),
    hashPassword('bob-pw', FAST_SCRYPT),
  ]);
  return parseUsersFile(
    JSON.stringify({
      users: {
        alice: {
          password: alice,
          access: [
            { type: 'repository', name: 'example.com/*', actions: ['push', 'pull'] },
            { type: 'repository', name: `${GUN}-admin`, actions: ['*'] },
          ],
        },
        bob: { password: bob, access: [{ type: 'repository', name: GUN, actions: ['pull'] }] },
      },
      anonymous: { access: [{ type: 'repository', name: 'public/*', actions: ['pull'] }] },
    }),
  );
}

function newIssuer(users: UsersDb, allowAnonymous = true): TokenIssuer {
  return new TokenIssuer({
    issuer: ISSUER,
    service: SERVICE,
    signingKeyPem: pki.leafKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certChainPem: pki.leaf.pem,
    users,
    allowAnonymous,
    nowMs: () => NOW,
  });
}

const basic = (user: string, pw: string) =>
  `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

describe('TokenIssuer over HTTP', () => {
  let users: UsersDb;
  let srv: Running;
  let closedSrv: Running;
  before(async () => {
    users = await usersDb();
    srv = await listen(newIssuer(users).handler);
    closedSrv = await listen(newIssuer(users, false).handler);
  });
  after(async () => {
    await srv.close();
    await closedSrv.close();
  });

  const get = (query: string, auth?: string, base = srv.url, method = 'GET') =>
    fetch(`${base}/auth/token?${query}`, {
      method,
      headers: auth ? { authorization: auth } : {},
    });
  const q = (scope: string, extra = '') =>
    `service=${encodeURIComponent(SERVICE)}&scope=${encodeURIComponent(scope)}${extra}`;

  async function tokenFrom(res: Response): Promise<string> {
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), [
      'access_token',
      'expires_in',
      'issued_at',
      'token',
    ]);
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 300);
    assert.equal(body.issued_at, new Date(NOW).toISOString().replace('.000Z', 'Z'));
    return body.token as string;
  }

  function payload(token: string): Record<string, unknown> {
    return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<
      string,
      unknown
    >;
  }

  test('good password → a token authorize accepts for push+pull', async () => {
    const res = await get(
      q(`repository:${GUN}:push,pull`, '&account=alice'),
      basic('alice', 'alice-pw'),
    );
    const token = await tokenFrom(res);
    const r = await newAuth().authorize(`Bearer ${token}`, pushPull);
    assert.equal(r.ok, true, r.ok ? '' : r.reason);
    if (r.ok) assert.equal(r.subject, 'alice');
    const c = payload(token);
    assert.deepEqual(
      { iss: c.iss, sub: c.sub, aud: c.aud, exp: c.exp, nbf: c.nbf, iat: c.iat },
      { iss: ISSUER, sub: 'alice', aud: SERVICE, exp: SEC + 300, nbf: SEC, iat: SEC },
    );
    assert.equal(typeof c.jti, 'string');
    const header = JSON.parse(
      Buffer.from(token.split('.')[0] as string, 'base64url').toString(),
    ) as Record<string, unknown>;
    assert.deepEqual(header, { alg: 'ES256', typ: 'JWT', x5c: [b64(pki.leaf)] });
  });

  test('action intersection: bob asks push+pull, gets pull only', async () => {
    const token = await tokenFrom(
      await get(q(`repository:${GUN}:push,pull`), basic('bob', 'bob-pw')),
    );
    assert.deepEqual(payload(token).access, [{ type: 'repository', name: GUN, actions: ['pull'] }]);
    const d = denied(await newAuth().authorize(`Bearer ${token}`, pushPull));
    assert.match(d.wwwAuthenticate, /error="insufficient_scope"$/);
    assert.equal((await newAuth().authorize(`Bearer ${token}`, pull)).ok, true);
  });

  test('a * request is granted only where the user has *', async () => {
    const scopes = `scope=${encodeURIComponent(`repository:${GUN}:*`)}&scope=${encodeURIComponent(`repository:${GUN}-admin:*`)}`;
    const token = await tokenFrom(
      await get(`service=${SERVICE}&${scopes}`, basic('alice', 'alice-pw')),
    );
    assert.deepEqual(payload(token).access, [
      { type: 'repository', name: `${GUN}-admin`, actions: ['*'] },
    ]);
  });

  test('several scopes in one space-separated parameter', async () => {
    const token = await tokenFrom(
      await get(
        q(`repository:${GUN}:pull repository:example.com/b:push`),
        basic('alice', 'alice-pw'),
      ),
    );
    assert.deepEqual(payload(token).access, [
      { type: 'repository', name: GUN, actions: ['pull'] },
      { type: 'repository', name: 'example.com/b', actions: ['push'] },
    ]);
  });

  test('anonymous → a token with the anonymous grants only', async () => {
    const token = await tokenFrom(await get(q(`repository:${GUN}:pull`)));
    const c = payload(token);
    assert.equal(c.sub, '');
    assert.deepEqual(c.access, []);
    assert.match(
      denied(await newAuth().authorize(`Bearer ${token}`, pull)).wwwAuthenticate,
      /error="insufficient_scope"$/,
    );
    const pub = await tokenFrom(await get(q('repository:public/x:pull,push')));
    assert.deepEqual(payload(pub).access, [
      { type: 'repository', name: 'public/x', actions: ['pull'] },
    ]);
  });

  const refusals: [string, () => Promise<Response>, number][] = [
    ['bad password', () => get(q(`repository:${GUN}:pull`), basic('alice', 'wrong')), 401],
    ['unknown user', () => get(q(`repository:${GUN}:pull`), basic('mallory', 'alice-pw')), 401],
    ['empty user name', () => get(q(`repository:${GUN}:pull`), basic('', 'alice-pw')), 401],
    ['not Basic', () => get(q(`repository:${GUN}:pull`), 'Bearer abc'), 401],
    [
      'anonymous when disabled',
      () => get(q(`repository:${GUN}:pull`), undefined, closedSrv.url),
      401,
    ],
    ['no service', () => get(`scope=repository:${GUN}:pull`, basic('alice', 'alice-pw')), 400],
    [
      'another service',
      () => get(`service=x&scope=repository:${GUN}:pull`, basic('alice', 'alice-pw')),
      400,
    ],
    ['bad scope', () => get(q('user:alice:pull'), basic('alice', 'alice-pw')), 400],
    [
      'account of someone else',
      () => get(q(`repository:${GUN}:pull`, '&account=bob'), basic('alice', 'alice-pw')),
      400,
    ],
    [
      'POST',
      () => get(q(`repository:${GUN}:pull`), basic('alice', 'alice-pw'), srv.url, 'POST'),
      405,
    ],
  ];
  for (const [name, send, status] of refusals) {
    test(`refuses: ${name} → ${status}`, async () => {
      const res = await send();
      assert.equal(res.status, status);
      const body = (await res.json()) as { errors: { code: string }[] };
      assert.equal(body.errors.length, 1);
      if (status === 401) {
        assert.equal(res.headers.get('www-authenticate'), 'Basic realm="trustdesk token issuer"');
        assert.equal(body.errors[0]?.code, 'UNAUTHORIZED');
      }
    });
  }

  test('refuses a key that does not match the certificate', () => {
    assert.throws(
      () =>
        new TokenIssuer({
          issuer: ISSUER,
          signingKeyPem: pki.caKey.export({ type: 'pkcs8', format: 'pem' }) as string,
          certChainPem: pki.leaf.pem,
          users,
        }),
      (e: unknown) => e instanceof TrustdeskError && e.code === 'ERR_CONFIG',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The Go notary CLI against a stand-in server guarded by TokenAuth

describe('Go notary CLI token flow', () => {
  test('notary list fetches a token from the issuer and presents it', async (t) => {
    const notary = findExecutable('notary');
    if (!requireService(t, notary !== undefined, 'Go notary CLI')) return;
    const users = await usersDb();
    const issuer = newIssuer(users);
    const auth = newAuth();
    const seen: { path: string; authorization: string | undefined; result: AuthResult }[] = [];
    const gun = 'example.com/app';
    const rootPath = `/v2/${gun}/_trust/tuf/root.json`;
    let realm = '';
    const server = await listen((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/auth/token') return issuer.handler(req, res);
      const required =
        path === '/v2/'
          ? requiredAccess('Main')
          : path === rootPath
            ? requiredAccess('GetRole', gun)
            : requiredAccess('NotFound');
      void auth.authorize(req.headers.authorization, required).then((result) => {
        seen.push({ path, authorization: req.headers.authorization, result });
        if (!result.ok) {
          res.writeHead(401, {
            'Content-Type': result.contentType,
            'WWW-Authenticate': result.wwwAuthenticate.replace(REALM, realm),
          });
          res.end(result.body);
          return;
        }
        res.writeHead(404, { 'Content-Type': 'application/json; charset=utf-8' });
        res.end(
          '{"errors":[{"code":"METADATA_NOT_FOUND","message":"You have requested metadata that does not exist."}]}\n',
        );
      });
    });
    realm = `${server.url}/auth/token`;
    const trustDir = mkdtempSync(join(tmpdir(), 'td-auth-'));
    try {
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          execFile(
            notary as string,
            ['-s', server.url, '-d', trustDir, 'list', gun],
            {
              env: {
                PATH: process.env.PATH ?? '/usr/bin:/bin',
                HOME: trustDir,
                NOTARY_AUTH: Buffer.from('bob:bob-pw').toString('base64'),
              },
              timeout: 60_000,
            },
            (err, stdout, stderr) =>
              resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
          );
        },
      );
      const granted = seen.filter((s) => s.path === rootPath && s.result.ok);
      assert.ok(
        granted.length > 0,
        `no authorized root.json request; saw ${JSON.stringify(seen.map((s) => [s.path, s.result.ok]))}\n${out.stderr}`,
      );
      const first = granted[0];
      assert.ok(first?.result.ok && first.result.subject === 'bob');
      assert.match(first.authorization ?? '', /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      // Go pings /v2/ (catalog challenge), then tries a read anonymously — so the issuer must
      // hand out an empty anonymous token — and retries with NOTARY_AUTH after the 401.
      assert.deepEqual(
        seen.map((s) => [s.path, s.result.ok]),
        [
          ['/v2/', false],
          [rootPath, false],
          [rootPath, true],
        ],
      );
      const anon = seen[1]?.result;
      assert.ok(anon && !anon.ok && anon.wwwAuthenticate.endsWith(',error="insufficient_scope"'));
      assert.notEqual(out.code, 0, 'the repository does not exist, so list fails');
      assert.match(out.stderr + out.stdout, /does not have trust data for example\.com\/app/);
    } finally {
      await server.close();
      rmSync(trustDir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Go notary-server as the reference: its 401s must equal ours, and it must accept our tokens.

/** Sorts the actions inside scope="…" (Go prints them in map order). */
const normaliseScope = (h: string | null) =>
  (h ?? '').replace(/scope="([^"]*)"/, (_m, scope: string) => {
    const parts = scope.split(' ').map((s) => {
      const i = s.lastIndexOf(':');
      return `${s.slice(0, i)}:${s
        .slice(i + 1)
        .split(',')
        .sort()
        .join(',')}`;
    });
    return `scope="${parts.join(' ')}"`;
  });

describe('Go notary-server agrees', () => {
  test('same 401 challenges and bodies per route; accepts issuer tokens', async (t) => {
    if (!requireService(t, NOTARY_SERVER_BIN !== undefined, 'Go notary-server')) return;
    // Go checks certificates and tokens against the real clock.
    const now = Date.now();
    const window = { notBeforeMs: now - DAY, notAfterMs: now + DAY };
    const ca = newKey();
    const caCert = tokenCert({ cn: 'Go Test CA', key: ca, ca: true, ...window });
    const leafKey = newKey();
    const leaf = tokenCert({
      cn: 'issuer',
      key: leafKey,
      issuer: { cn: 'Go Test CA', key: ca },
      ca: false,
      ...window,
    });
    const users = await usersDb();
    const issuer = new TokenIssuer({
      issuer: ISSUER,
      service: SERVICE,
      signingKeyPem: leafKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      certChainPem: leaf.pem,
      users,
    });
    const issuerSrv = await listen(issuer.handler);
    const realm = `${issuerSrv.url}/auth/token`;
    const dir = mkdtempSync(join(tmpdir(), 'td-goauth-'));
    writeFileSync(join(dir, 'ca.pem'), caCert.pem);
    const goServer = await startNotaryServer({
      auth: {
        type: 'token',
        options: { realm, service: SERVICE, issuer: ISSUER, rootcertbundle: join(dir, 'ca.pem') },
      },
    }).catch((e: unknown) => assert.fail(`Go notary-server did not come up: ${String(e)}`));
    const base = goServer.url;
    try {
      const ours = new TokenAuth({
        realm,
        service: SERVICE,
        issuer: ISSUER,
        rootCertBundle: caCert.pem,
      });
      const tokenFor = async (user: string, pw: string, scope: string) => {
        const res = await fetch(`${realm}?service=${SERVICE}&scope=${encodeURIComponent(scope)}`, {
          headers: { authorization: basic(user, pw) },
        });
        return ((await res.json()) as { token: string }).token;
      };
      const bobPull = await tokenFor('bob', 'bob-pw', `repository:${GUN}:pull`);
      const tuf = `/v2/${GUN}/_trust/tuf`;
      const cases: [string, string, RouteId, string | undefined, string | undefined][] = [
        ['GET', '/v2/', 'Main', undefined, undefined],
        ['POST', `${tuf}/`, 'UpdateTUF', GUN, undefined],
        ['POST', `${tuf}/`, 'UpdateTUF', GUN, bobPull],
        ['GET', `${tuf}/root.json`, 'GetRole', GUN, undefined],
        ['GET', `${tuf}/root.json`, 'GetRole', GUN, 'not.a.token'],
        ['GET', `${tuf}/2.root.json`, 'GetRoleByVersion', GUN, undefined],
        ['GET', `${tuf}/targets.${'a'.repeat(64)}.json`, 'GetRoleByHash', GUN, undefined],
        ['GET', `${tuf}/timestamp.key`, 'GetKey', GUN, bobPull],
        ['POST', `${tuf}/snapshot.key`, 'RotateKey', GUN, bobPull],
        ['DELETE', `${tuf}/`, 'DeleteTUF', GUN, undefined],
        ['GET', `/v2/${GUN}/_trust/changefeed?records=10`, 'Changefeed', GUN, undefined],
        ['GET', '/v2/_trust/changefeed?records=10', 'GlobalChangefeed', undefined, bobPull],
        ['GET', '/nothing/here', 'NotFound', undefined, undefined],
      ];
      for (const [method, path, route, gun, token] of cases) {
        const header = token === undefined ? undefined : `Bearer ${token}`;
        const go = await fetch(`${base}${path}`, {
          method,
          headers: header ? { authorization: header } : {},
        });
        const mine = denied(await ours.authorize(header, requiredAccess(route, gun)));
        const what = `${method} ${path} ${token ? 'with a token' : ''}`;
        assert.equal(go.status, 401, what);
        assert.equal(
          normaliseScope(go.headers.get('www-authenticate')),
          normaliseScope(mine.wwwAuthenticate),
          what,
        );
        assert.equal(go.headers.get('content-type'), mine.contentType, what);
        assert.equal(await go.text(), mine.body.toString(), what);
      }

      // Go accepts what our issuer signs (x5c chain, ES256, claims): 404, not 401.
      const ok = await fetch(`${base}${tuf}/root.json`, {
        headers: { authorization: `Bearer ${bobPull}` },
      });
      assert.equal(ok.status, 404);
      const verdict = await ours.authorize(`Bearer ${bobPull}`, requiredAccess('GetRole', GUN));
      assert.equal(verdict.ok, true);
    } finally {
      await goServer.stop();
      await issuerSrv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
