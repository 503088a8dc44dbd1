// The remote store: what the client asks of a notary-server (notary-protocol §4, §4.11, §7.14).
//
//   const server = RemoteServer.create({ url, tls, credentials, onEvent });
//   const repo = server.repository('example.com/app', 'pull');   // access = token scope
//   const bytes = await repo.getMetadata('timestamp', 1 << 20, signal);
//
// Rules enforced here:
//   - URLs are plain concatenation: <url>/v2/<gun>/_trust/tuf/<name>.json (the server URL may
//     carry a path prefix); GUNs and names are validated first, so nothing can change the path;
//   - the first request pings `GET <url>/v2/` (5 s): 2xx or 401 = online, and the challenges of
//     that answer drive the token flow (auth.ts); anything else puts the server in offline mode,
//     where every request fails with ERR_OFFLINE (a TLS failure keeps its own ERR_TLS);
//   - only 200 is success; statuses and transport failures map as in errors.ts;
//   - GETs may be retried (http.ts); POST and DELETE never are;
//   - bodies are capped: metadata by the caller's size limit, keys at 256 KiB, errors at 1 KiB;
//   - every call takes an AbortSignal.

import { parseJson } from '../../tuf/json.js';
import { PublicKey } from '../../tuf/keys.js';
import { isValidRole } from '../../tuf/roles.js';
import { TrustdeskError, type ErrorCode } from '../../tuf/errors.js';
import { readTlsFiles, type ClientConfig } from '../config/client-config.js';
import { checkGun } from '../trust-dir/gun.js';
import {
  TokenAuth,
  parseChallenges,
  scopeFor,
  type Access,
  type CredentialsProvider,
} from './auth.js';
import { RemoteError, statusError } from './errors.js';
import {
  HttpTransport,
  proxyFromEnv,
  type HttpEvent,
  type HttpResponse,
  type ProxyOptions,
  type RetryOptions,
  type TimeoutOptions,
  type TlsOptions,
} from './http.js';
import { multipartMetadata } from './multipart.js';

/** Go's MaxKeySize for `<role>.key` answers. */
export const MAX_KEY_BYTES = 256 * 1024;
/** The CLI's connectivity check waits this long (cmd/notary/tuf.go). */
export const PING_TIMEOUT_MS = 5_000;

export type RemoteEvent =
  | HttpEvent
  | { type: 'warning'; code: ErrorCode; message: string; role?: string }
  | { type: 'token'; realm: string; scope: string; anonymous: boolean }
  | { type: 'offline'; reason: string };

export interface RemoteServerOptions {
  /** Absolute http(s) URL, no trailing slash (config/client-config.ts normalises it). */
  url: string;
  tls?: TlsOptions;
  timeouts?: Partial<TimeoutOptions>;
  retry?: Partial<RetryOptions>;
  proxy?: ProxyOptions;
  credentials?: CredentialsProvider;
  /** The connectivity check's deadline (default 5 s, as the Go CLI). */
  pingTimeoutMs?: number;
  /** Clock for token expiry (default Date.now). */
  nowMs?: () => number;
  onEvent?: (e: RemoteEvent) => void;
}

export interface PingResult {
  online: boolean;
  /** HTTP status of the ping, when one arrived. */
  status?: number;
  /** Why the server is offline. */
  error?: TrustdeskError;
  /** The server answered with an authentication challenge. */
  authRequired: boolean;
}

// <name> = [<version>.]<role>[.<sha256 hex>]
const NAME = /^(?:([1-9][0-9]*)\.)?(.+?)(?:\.([0-9a-f]{64}))?$/;

/** Validates a metadata file name (without `.json`): `timestamp`, `3.root`, `targets.<hex>`. */
export function checkMetadataName(name: string): string {
  const m = NAME.exec(name);
  if (!m || !isValidRole(m[2] as string) || (m[1] !== undefined && m[3] !== undefined))
    throw new TrustdeskError('ERR_BAD_ROLE', `${JSON.stringify(name)} is not a metadata file name`);
  return name;
}

/** `<role>.<sha256 hex>`: how the Go client fetches files whose checksum it knows. */
export function consistentName(role: string, sha256Hex: string | undefined): string {
  return sha256Hex ? `${role}.${sha256Hex}` : role;
}

export class RemoteServer {
  readonly url: string;
  readonly #transport: HttpTransport;
  readonly #auth: TokenAuth;
  readonly #onEvent: (e: RemoteEvent) => void;
  readonly #pingTimeoutMs: number;
  readonly #anonymousRefused = new Set<string>();
  #ping: Promise<PingResult> | undefined;

  constructor(opts: RemoteServerOptions) {
    this.url = opts.url;
    this.#pingTimeoutMs = opts.pingTimeoutMs ?? PING_TIMEOUT_MS;
    this.#onEvent = opts.onEvent ?? (() => {});
    this.#transport = new HttpTransport({
      tls: opts.tls,
      timeouts: opts.timeouts,
      retry: opts.retry,
      proxy: opts.proxy,
      onEvent: this.#onEvent,
    });
    this.#auth = new TokenAuth({
      transport: this.#transport,
      credentials: opts.credentials,
      nowMs: opts.nowMs,
      onToken: (e) => this.#onEvent({ type: 'token', ...e }),
    });
    if (opts.tls?.skipVerify) {
      this.#onEvent({
        type: 'warning',
        code: 'ERR_TLS',
        message: `TLS certificate verification is disabled for ${opts.url} (skipTLSVerify): anyone on the network path can impersonate the server`,
      });
    }
  }

  /**
   * From the client config: TLS files read, NOTARY_AUTH as credentials unless a provider is
   * given, proxies from `env` (HTTP_PROXY, HTTPS_PROXY, NO_PROXY).
   */
  static async fromConfig(
    config: ClientConfig,
    opts: Omit<RemoteServerOptions, 'url' | 'tls' | 'proxy'> & {
      env?: Readonly<Record<string, string | undefined>>;
    } = {},
  ): Promise<RemoteServer> {
    const files = await readTlsFiles(config);
    const fromEnv = config.credentials;
    const { env, ...rest } = opts;
    return new RemoteServer({
      ...rest,
      url: config.remote.url,
      tls: { ...files, skipVerify: config.remote.skipTLSVerify },
      proxy: env ? proxyFromEnv(env) : undefined,
      credentials: opts.credentials ?? (fromEnv ? () => Promise.resolve(fromEnv) : undefined),
    });
  }

  /** `GET <url>/v2/` once per server (later calls return the first answer). */
  ping(signal?: AbortSignal): Promise<PingResult> {
    this.#ping ??= this.#doPing(signal);
    return this.#ping;
  }

  async #doPing(signal: AbortSignal | undefined): Promise<PingResult> {
    let res: HttpResponse;
    try {
      res = await this.#transport.request({
        method: 'GET',
        url: `${this.url}/v2/`,
        resource: 'ping',
        maxBytes: 1024 * 1024,
        retry: false,
        signal,
        timeoutMs: this.#pingTimeoutMs,
      });
    } catch (e) {
      const err = e as RemoteError;
      if (err.code === 'ERR_ABORTED') {
        this.#ping = undefined; // a cancelled ping says nothing about the server
        throw err;
      }
      this.#onEvent({ type: 'offline', reason: err.message });
      return { online: false, error: err, authRequired: false };
    }
    const online = (res.status >= 200 && res.status < 300) || res.status === 401;
    if (!online) {
      const error = new RemoteError(
        'ERR_OFFLINE',
        `${this.url} is not a notary server or is unavailable (GET /v2/ answered HTTP ${res.status})`,
        { resource: 'ping', status: res.status },
      );
      this.#onEvent({ type: 'offline', reason: error.message });
      return { online: false, status: res.status, error, authRequired: false };
    }
    this.#auth.setChallenges(parseChallenges(res.headers['www-authenticate']));
    return { online: true, status: res.status, authRequired: this.#auth.active };
  }

  repository(gun: string, access: Access): RemoteRepository {
    return new RemoteRepository(this, checkGun(gun), access);
  }

  /** @internal: one request through ping, auth and the transport. */
  async send(
    req: {
      method: 'GET' | 'POST' | 'DELETE';
      path: string;
      resource: string;
      scope: string;
      anonymousFirst: boolean;
      maxBytes: number;
      body?: Uint8Array;
      contentType?: string;
    },
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    const ping = await this.ping(signal);
    if (!ping.online) {
      const why = ping.error as TrustdeskError;
      if (why.code === 'ERR_TLS') throw why;
      throw new RemoteError(
        'ERR_OFFLINE',
        `${req.resource}: the trust server at ${this.url} is offline (${why.message})`,
        { resource: req.resource, cause: why },
      );
    }
    // Read-only access tries anonymously until the server has refused that once.
    let anonymous = req.anonymousFirst && !this.#anonymousRefused.has(req.scope);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      if (req.contentType) headers['content-type'] = req.contentType;
      const authz = await this.#auth.header(req.scope, anonymous, signal);
      if (authz) headers.authorization = authz.value;
      const res = await this.#transport.request({
        method: req.method,
        url: `${this.url}${req.path}`,
        resource: req.resource,
        headers,
        body: req.body,
        maxBytes: req.maxBytes,
        retry: req.method === 'GET',
        signal,
      });
      if (res.status !== 401 || attempt > 0 || !this.#auth.active) return res;
      this.#auth.invalidate(authz?.tokenKey);
      if (anonymous) this.#anonymousRefused.add(req.scope);
      anonymous = false;
    }
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }
}

export class RemoteRepository {
  readonly #server: RemoteServer;
  readonly gun: string;
  readonly access: Access;
  readonly #scope: string;

  constructor(server: RemoteServer, gun: string, access: Access) {
    this.#server = server;
    this.gun = gun;
    this.access = access;
    this.#scope = scopeFor(gun, access);
  }

  get serverUrl(): string {
    return this.#server.url;
  }

  /**
   * Starts the connectivity check now (it runs once per server), so that the first request does
   * not wait for it after local work; its outcome is what that request will see.
   */
  connect(signal?: AbortSignal): void {
    this.#server.ping(signal).catch(() => {});
  }

  #path(file: string): string {
    return `/v2/${this.gun}/_trust/tuf/${file}`;
  }

  async #call(
    method: 'GET' | 'POST' | 'DELETE',
    file: string,
    resource: string,
    maxBytes: number,
    signal: AbortSignal | undefined,
    body?: { bytes: Uint8Array; contentType: string },
  ): Promise<Uint8Array> {
    const res = await this.#server.send(
      {
        method,
        path: this.#path(file),
        resource,
        scope: this.#scope,
        anonymousFirst: this.access === 'pull',
        maxBytes,
        body: body?.bytes,
        contentType: body?.contentType,
      },
      signal,
    );
    if (res.status !== 200) throw statusError(res.status, resource, res.body, this.gun);
    return res.body;
  }

  /** The exact bytes of `<name>.json`, at most `maxBytes` of them (ERR_TOO_LARGE beyond). */
  async getMetadata(name: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
    const file = `${checkMetadataName(name)}.json`;
    return await this.#call('GET', file, file, maxBytes, signal);
  }

  /** `GET <role>.key`: the server-held public key (created on first use by the server). */
  async getKey(role: 'timestamp' | 'snapshot', signal?: AbortSignal): Promise<PublicKey> {
    const file = `${role}.key`;
    return parseKey(await this.#call('GET', file, file, MAX_KEY_BYTES, signal), file);
  }

  /** `POST <role>.key`: asks the server for a new key (it does not change any metadata). */
  async rotateKey(role: 'timestamp' | 'snapshot', signal?: AbortSignal): Promise<PublicKey> {
    const file = `${role}.key`;
    return parseKey(
      await this.#call('POST', file, `rotate ${file}`, MAX_KEY_BYTES, signal, {
        bytes: new Uint8Array(0),
        contentType: 'application/octet-stream',
      }),
      file,
    );
  }

  /** One multipart POST with every role (§4.2); resolves only on HTTP 200. */
  async upload(files: ReadonlyMap<string, Uint8Array>, signal?: AbortSignal): Promise<void> {
    const mp = multipartMetadata(files);
    await this.#call('POST', '', 'upload', 1024 * 1024, signal, {
      bytes: mp.body,
      contentType: mp.contentType,
    });
  }

  /** `DELETE <gun>/_trust/tuf/`: removes every version of every role on the server. */
  async deleteAll(signal?: AbortSignal): Promise<void> {
    await this.#call('DELETE', '', 'delete', 1024 * 1024, signal);
  }
}

function parseKey(bytes: Uint8Array, what: string): PublicKey {
  return PublicKey.fromJSON(parseJson(bytes, what), what);
}
