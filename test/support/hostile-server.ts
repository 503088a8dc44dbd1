// A notary-server stand-in on 127.0.0.1 that serves a RepoSim and misbehaves on request, for
// client tests through the real HTTP stack (undici, TLS, sockets).
//
//   const srv = await HostileServer.start({ sim });
//   srv.when('timestamp.json', { kind: 'status', status: 503 }, { times: 2 });
//   srv.when(/^snapshot\./, { kind: 'endless' });
//   … run the client against srv.url …
//   srv.files()            // GET file names the client asked for, in order
//   await srv.close();
//
// Routes (as notary-server, notary-protocol §4.1): GET /v2/ (ping), GET|POST|DELETE
// /v2/<gun>/_trust/tuf/<file>, GET|POST <role>.key, and with `auth` a token realm at /token.
// Anything may be replaced by a Misbehaviour; rules are tried in the order they were added and
// a rule with `times` stops after that many uses. Every request is logged (after the prefix).
//
// Misbehaviours: a status (with optional body/headers), other bytes, a truncated body (the full
// Content-Length announced, part of it sent, then the socket destroyed), a Content-Length lie,
// a drip-fed body (`slow`), a never-ending chunked body (`endless`, bounded only by the client
// going away or `ENDLESS_LIMIT`), headers that never come (`hang`), a reset connection.
//
// Token auth (`auth`): pings and repository routes need `Authorization: Bearer <token>` with
// the route's actions (GET metadata: pull; upload and GET .key: push+pull; POST .key and
// DELETE: *); otherwise 401 with notary-server's challenge. GET /token?service&scope issues
// opaque tokens: Basic credentials from `users` get what they ask, anonymous requests get only
// `anonymous` actions; bad credentials get 401. Tokens can be revoked to test re-fetching.

import { randomBytes } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type Socket } from 'node:net';
import { type PublicKey } from '../../src/tuf/keys.js';
import { type RepoSim } from './repo-sim.js';

export type Misbehaviour =
  | { kind: 'status'; status: number; body?: string | Uint8Array; headers?: Record<string, string> }
  | { kind: 'bytes'; body: Uint8Array }
  /** Announces the real length, sends `keep` bytes (default half), then destroys the socket. */
  | { kind: 'truncated'; keep?: number }
  /** Announces `length` bytes in Content-Length, sends the real body, then destroys the socket. */
  | { kind: 'content-length'; length: number }
  /** Sends the real body `chunkBytes` at a time, one chunk every `intervalMs`. */
  | { kind: 'slow'; chunkBytes?: number; intervalMs?: number }
  /** 200 with a chunked body that never ends. */
  | { kind: 'endless' }
  /** Never answers. */
  | { kind: 'hang' }
  /** Destroys the connection without answering. */
  | { kind: 'reset' };

export interface RequestInfo {
  method: string;
  /** Path after the prefix, e.g. `/v2/example.com/app/_trust/tuf/timestamp.json`. */
  path: string;
  /** For repository routes: the GUN and the file after `_trust/tuf/` ('' for the collection). */
  gun?: string;
  file?: string;
  authorization?: string;
  contentType?: string;
  body?: Uint8Array;
}

export interface UploadedPart {
  name: string;
  filename: string;
  contentType: string;
  bytes: Uint8Array;
}

export interface AuthOptions {
  service?: string;
  /** user → password for Basic auth at the token realm. */
  users: Record<string, string>;
  /** Actions granted to anonymous token requests (default none). */
  anonymous?: string[];
  /** `expires_in` of issued tokens (omitted when undefined). */
  expiresIn?: number;
}

export interface HostileServerOptions {
  sim: RepoSim;
  /** Path prefix of the server URL (e.g. '/notary'). */
  prefix?: string;
  auth?: AuthOptions;
  /** Serve HTTPS with this certificate; `ca` + `requestCert` demand client certificates. */
  tls?: { cert: string; key: string; ca?: string; requestCert?: boolean };
  /** Public keys answered for `<role>.key` (default: the sim's current keys). */
  keys?: Partial<Record<'timestamp' | 'snapshot', PublicKey>>;
}

type Match = string | RegExp | ((r: RequestInfo) => boolean);

interface Rule {
  match: Match;
  method: string | undefined;
  behaviour: Misbehaviour;
  left: number;
}

/** A safety bound so a misbehaving client test cannot fill the machine. */
export const ENDLESS_LIMIT = 512 * 1024 * 1024;

const TUF = /^\/v2\/(.+)\/_trust\/tuf\/(.*)$/;

function keyJson(k: PublicKey): string {
  return JSON.stringify({ keytype: k.keytype, keyval: { private: null, public: k.publicB64 } });
}

function readBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/** Splits a multipart body into parts (strict enough for the client's own output). */
export function parseMultipart(contentType: string, body: Uint8Array): UploadedPart[] {
  const m = /boundary=([^;]+)/.exec(contentType);
  if (!m) throw new Error('no boundary');
  const text = Buffer.from(body).toString('latin1');
  const delim = `--${m[1]}`;
  if (!text.startsWith(`${delim}\r\n`)) throw new Error('body does not start with the boundary');
  if (!text.endsWith(`\r\n${delim}--\r\n`)) throw new Error('body does not end with the close');
  const inner = text.slice(delim.length + 2, text.length - delim.length - 6);
  return inner.split(`\r\n${delim}\r\n`).map((chunk) => {
    const sep = chunk.indexOf('\r\n\r\n');
    const headers = chunk.slice(0, sep).split('\r\n');
    const disp = headers.find((h) => h.startsWith('Content-Disposition: ')) ?? '';
    const ct = headers.find((h) => h.startsWith('Content-Type: ')) ?? '';
    const name = /; name="([^"]*)"/.exec(disp)?.[1] ?? '';
    const filename = /; filename="((?:[^"\\]|\\.)*)"/.exec(disp)?.[1] ?? '';
    return {
      name,
      filename: filename.replace(/\\(.)/g, '$1'),
      contentType: ct.slice('Content-Type: '.length),
      bytes: new Uint8Array(Buffer.from(chunk.slice(sep + 4), 'latin1')),
    };
  });
}

export class HostileServer {
  sim: RepoSim;
  readonly url: string;
  readonly requests: RequestInfo[] = [];
  readonly tokenRequests: Array<{ scope: string; user: string | undefined; account?: string }> = [];
  readonly uploads: Array<{ contentType: string; body: Uint8Array; parts: UploadedPart[] }> = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #rules: Rule[] = [];
  readonly #opts: HostileServerOptions;
  readonly #tokens = new Map<string, Map<string, string[]>>();
  #closed = false;

  private constructor(server: Server, url: string, opts: HostileServerOptions) {
    this.#server = server;
    this.url = url;
    this.sim = opts.sim;
    this.#opts = opts;
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(opts: HostileServerOptions): Promise<HostileServer> {
    const ref: { self?: HostileServer } = {};
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void ref.self?.handle(req, res).catch(() => res.destroy());
    };
    const server = opts.tls
      ? createHttpsServer(
          {
            cert: opts.tls.cert,
            key: opts.tls.key,
            ca: opts.tls.ca,
            requestCert: opts.tls.requestCert ?? false,
            rejectUnauthorized: opts.tls.requestCert ?? false,
          },
          handler,
        )
      : createHttpServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}${opts.prefix ?? ''}`;
    ref.self = new HostileServer(server, url, opts);
    return ref.self;
  }

  /** Adds a rule: requests matching `match` (file name, RegExp on it, or predicate) misbehave. */
  when(
    match: Match,
    behaviour: Misbehaviour,
    opts: { times?: number; method?: string } = {},
  ): this {
    this.#rules.push({ match, method: opts.method, behaviour, left: opts.times ?? Infinity });
    return this;
  }

  /** Removes every rule. */
  reset(): void {
    this.#rules.length = 0;
  }

  /** File names of the metadata GETs, in order (`timestamp.json`, `snapshot.<hex>.json`, …). */
  files(): string[] {
    return this.requests
      .filter((r) => r.method === 'GET' && r.file !== undefined)
      .map((r) => r.file as string);
  }

  /** Invalidates every token issued so far (the client must fetch a new one). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  get realm(): string {
    return `${this.url}/token`;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------------

  #ruleFor(info: RequestInfo): Misbehaviour | undefined {
    for (const r of this.#rules) {
      if (r.left <= 0 || (r.method && r.method !== info.method)) continue;
      const f = info.file ?? info.path;
      const hit =
        typeof r.match === 'string'
          ? f === r.match
          : r.match instanceof RegExp
            ? r.match.test(f)
            : r.match(info);
      if (hit) {
        r.left--;
        return r.behaviour;
      }
    }
    return undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const full = (req.url ?? '/').split('?')[0] as string;
    const prefix = this.#opts.prefix ?? '';
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    if (!full.startsWith(prefix)) return this.#send(res, 404, '{}');
    const path = full.slice(prefix.length);
    const info: RequestInfo = {
      method: req.method ?? 'GET',
      path,
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
    };
    const tuf = TUF.exec(path);
    if (tuf) {
      info.gun = tuf[1];
      info.file = tuf[2];
    }
    if (info.method !== 'GET') info.body = await readBody(req);
    this.requests.push(info);

    if (path === '/token') return this.#token(req, query, res);

    const rule = this.#ruleFor(info);
    if (rule) return this.#misbehave(rule, info, res);

    if (this.#opts.auth) {
      const need = info.gun === undefined ? undefined : requiredActions(info);
      if (!this.#authorized(info, need)) return this.#challenge(res, info, need);
    }
    if (path === '/v2/') return this.#send(res, 200, '{}');
    if (info.gun === undefined || info.file === undefined) return this.#notFound(res);
    if (info.gun !== this.sim.gun) return this.#notFound(res);
    if (info.file === '') {
      if (info.method === 'POST') {
        const ct = info.contentType ?? '';
        const body = info.body ?? new Uint8Array();
        this.uploads.push({ contentType: ct, body, parts: parseMultipart(ct, body) });
        return this.#send(res, 200, '');
      }
      if (info.method === 'DELETE') return this.#send(res, 200, '');
      return this.#notFound(res);
    }
    const key = /^(timestamp|snapshot)\.key$/.exec(info.file);
    if (key) {
      const role = key[1] as 'timestamp' | 'snapshot';
      const pub = this.#opts.keys?.[role] ?? this.sim.signersFor(role)[0]?.publicKey;
      return pub ? this.#send(res, 200, keyJson(pub)) : this.#notFound(res);
    }
    const bytes = info.method === 'GET' ? this.#data(info.file) : undefined;
    if (!bytes) return this.#notFound(res);
    return this.#send(res, 200, bytes);
  }

  #data(file: string): Uint8Array | undefined {
    return this.sim.serve(file);
  }

  #notFound(res: ServerResponse): void {
    this.#send(
      res,
      404,
      '{"errors":[{"code":"METADATA_NOT_FOUND","message":"You have requested metadata that does not exist.","detail":{}}]}\n',
      { 'content-type': 'application/json; charset=utf-8' },
    );
  }

  #send(
    res: ServerResponse,
    status: number,
    body: string | Uint8Array,
    headers: Record<string, string> = {},
  ): void {
    const buf = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
    res.writeHead(status, { 'content-length': String(buf.length), ...headers });
    res.end(buf);
  }

  async #misbehave(b: Misbehaviour, info: RequestInfo, res: ServerResponse): Promise<void> {
    const real = () => (info.file ? this.#data(info.file) : undefined) ?? new Uint8Array();
    switch (b.kind) {
      case 'status':
        return this.#send(res, b.status, b.body ?? '', b.headers);
      case 'bytes':
        return this.#send(res, 200, b.body);
      case 'truncated': {
        const bytes = real();
        res.writeHead(200, { 'content-length': String(bytes.length) });
        res.write(Buffer.from(bytes.subarray(0, b.keep ?? Math.floor(bytes.length / 2))));
        await new Promise((r) => setTimeout(r, 10));
        res.socket?.destroy();
        return;
      }
      case 'content-length': {
        const bytes = real();
        res.writeHead(200, { 'content-length': String(b.length) });
        res.write(Buffer.from(bytes));
        await new Promise((r) => setTimeout(r, 10));
        res.socket?.destroy();
        return;
      }
      case 'slow': {
        const bytes = real();
        const step = b.chunkBytes ?? 1;
        res.writeHead(200, { 'content-length': String(bytes.length) });
        for (let i = 0; i < bytes.length && !res.destroyed && !this.#closed; i += step) {
          res.write(Buffer.from(bytes.subarray(i, i + step)));
          await pause(res, b.intervalMs ?? 50);
        }
        res.end();
        return;
      }
      case 'endless': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        while (!res.destroyed && !this.#closed && sent < ENDLESS_LIMIT) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            await new Promise<void>((resolve) => {
              const done = () => {
                res.off('drain', done);
                res.off('close', done);
                resolve();
              };
              res.on('drain', done);
              res.on('close', done);
            });
          }
        }
        res.destroy();
        return;
      }
      case 'hang':
        return; // the socket stays open until the client or close() ends it
      case 'reset':
        res.socket?.destroy();
        return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Token auth

  #authorized(info: RequestInfo, need: string[] | undefined): boolean {
    const m = /^Bearer (.+)$/.exec(info.authorization ?? '');
    const grants = m ? this.#tokens.get(m[1] as string) : undefined;
    if (!grants) return false;
    if (need === undefined) return false; // the catalog scope is never granted (as Go)
    const have = grants.get(info.gun as string) ?? [];
    return have.includes('*') || need.every((a) => have.includes(a));
  }

  #challenge(res: ServerResponse, info: RequestInfo, need: string[] | undefined): void {
    const auth = this.#opts.auth as AuthOptions;
    const scope =
      need === undefined ? 'registry:catalog:*' : `repository:${info.gun}:${need.join(',')}`;
    let h = `Bearer realm="${this.realm}",service="${auth.service ?? 'notary-server'}",scope="${scope}"`;
    if (info.authorization) h += ',error="invalid_token"';
    this.#send(
      res,
      401,
      '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}\n',
      { 'www-authenticate': h, 'content-type': 'application/json; charset=utf-8' },
    );
  }

  #token(req: IncomingMessage, query: URLSearchParams, res: ServerResponse): void {
    const auth = this.#opts.auth;
    if (!auth) return this.#notFound(res);
    const scope = query.get('scope') ?? '';
    let user: string | undefined;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (basic) {
      const plain = Buffer.from(basic[1] as string, 'base64').toString('utf8');
      const i = plain.indexOf(':');
      const [u, p] = [plain.slice(0, i), plain.slice(i + 1)];
      if (i < 0 || auth.users[u] !== p) {
        this.tokenRequests.push({ scope, user: u, account: query.get('account') ?? undefined });
        return this.#send(res, 401, '{"details":"incorrect username or password"}');
      }
      user = u;
    }
    this.tokenRequests.push({ scope, user, account: query.get('account') ?? undefined });
    const grants = new Map<string, string[]>();
    const m = /^repository:(.+):([^:]+)$/.exec(scope);
    if (m) {
      const asked = (m[2] as string).split(',');
      const allowed = user ? asked : asked.filter((a) => (auth.anonymous ?? []).includes(a));
      grants.set(m[1] as string, allowed);
    }
    const token = randomBytes(16).toString('hex');
    this.#tokens.set(token, grants);
    const body: Record<string, unknown> = { token };
    if (auth.expiresIn !== undefined) body.expires_in = auth.expiresIn;
    this.#send(res, 200, JSON.stringify(body), { 'content-type': 'application/json' });
  }
}

/** Waits `ms`, or less if the response closes first (so no timer outlives a test). */
function pause(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      res.off('close', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    res.on('close', done);
  });
}

function requiredActions(info: RequestInfo): string[] {
  const file = info.file ?? '';
  if (info.method === 'DELETE') return ['*'];
  if (file.endsWith('.key')) return info.method === 'POST' ? ['*'] : ['push', 'pull'];
  if (info.method === 'POST') return ['push', 'pull'];
  return ['pull'];
}
