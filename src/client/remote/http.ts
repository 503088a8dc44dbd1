// One HTTP transport per trust server, over undici (request + Agent, connections kept alive).
//
// Rules enforced here:
//   - TLS is verified unless the config says skipTLSVerify (the owner of the transport warns);
//     a configured CA replaces the system roots (Go's ExclusiveRootPools); TLS >= 1.2; an
//     optional client certificate;
//   - timeouts: connect, headers, body idle (time between chunks) and one overall deadline per
//     attempt, so a drip-fed body cannot hold the client forever;
//   - a success (2xx) body is capped at `maxBytes` WHILE streaming: a Content-Length above the
//     cap is refused before reading, a body that grows past it is cut off — ERR_TOO_LARGE;
//     error bodies are read up to 1 KiB and truncated (Go reads no more);
//   - retries with exponential backoff ONLY when the caller marks the request as idempotent
//     (GET): for failures before any response (connect, reset, headers timeout) and for 5xx;
//     never for 4xx, body failures, aborts or TLS errors, never for POST/DELETE;
//   - proxies: only when configured (HTTP_PROXY/HTTPS_PROXY/NO_PROXY passed in by the caller),
//     never for loopback hosts (as Go's ProxyFromEnvironment); plain http targets are forwarded
//     through an http proxy without a tunnel, https targets use CONNECT.

import type { Dispatcher } from 'undici';
// undici's package entry loads all of undici (fetch, WebSocket, mocks, caches, interceptors) —
// 60–130 ms of every CLI process that goes online. The transport needs only these files of the
// pinned undici version (typed in undici-lib.d.ts); the CLI build bundles them into its one file
// (scripts/bundle-cli.mjs). test/client/remote*.test.ts run them for real.
import Agent from 'undici/lib/dispatcher/agent.js';
import EnvHttpProxyAgent from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import undiciRequest from 'undici/lib/api/api-request.js';
import type { TrustdeskError } from '../../tuf/errors.js';
import {
  ERROR_BODY_LIMIT,
  RemoteError,
  isRetryableTransportError,
  transportError,
} from './errors.js';

export interface TlsOptions {
  /** PEM of the CA bundle that replaces the system roots. */
  ca?: string;
  /** PEM client certificate and key for mutual TLS. */
  cert?: string;
  key?: string;
  /** Do not verify the server certificate (remote_server.skipTLSVerify). */
  skipVerify?: boolean;
}

export interface TimeoutOptions {
  connectMs: number;
  /** Until the status line and headers arrive. */
  headersMs: number;
  /** Longest pause between two body chunks. */
  bodyIdleMs: number;
  /** Whole attempt, body included. */
  requestMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<TimeoutOptions> = {
  connectMs: 30_000,
  headersMs: 30_000,
  bodyIdleMs: 30_000,
  requestMs: 300_000,
};

export interface RetryOptions {
  /** Total attempts for idempotent requests (1 = no retry). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryOptions> = {
  attempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
};

export interface ProxyOptions {
  http?: string;
  https?: string;
  noProxy?: string;
}

/** Proxy settings from an environment, as Go's ProxyFromEnvironment reads them. */
export function proxyFromEnv(env: Readonly<Record<string, string | undefined>>): ProxyOptions {
  return {
    http: env.HTTP_PROXY || env.http_proxy || undefined,
    https: env.HTTPS_PROXY || env.https_proxy || undefined,
    noProxy: env.NO_PROXY || env.no_proxy || undefined,
  };
}

export type HttpEvent =
  | { type: 'http'; method: string; url: string; status?: number; error?: string; attempt: number }
  | {
      type: 'retry';
      method: string;
      url: string;
      attempt: number;
      delayMs: number;
      reason: string;
    };

export interface HttpTransportOptions {
  tls?: TlsOptions;
  timeouts?: Partial<TimeoutOptions>;
  retry?: Partial<RetryOptions>;
  proxy?: ProxyOptions;
  onEvent?: (e: HttpEvent) => void;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  /** Names the request in errors (`timestamp.json`, `upload`). */
  resource: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Cap for a 2xx body. */
  maxBytes: number;
  /** Idempotent: may be retried (GET only). */
  retry: boolean;
  signal?: AbortSignal;
  /** Overrides the overall per-attempt deadline (the ping uses 5 s). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

const LOOPBACK_NO_PROXY = 'localhost,127.0.0.1,[::1]';

function abortError(resource: string): RemoteError {
  return new RemoteError('ERR_ABORTED', `${resource}: cancelled`, { resource });
}

function sleep(ms: number, signal: AbortSignal | undefined, resource: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(resource));
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(resource));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function contentLength(headers: HttpResponse['headers']): number | undefined {
  const v = headers['content-length'];
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  return Number(s);
}

type Body = Dispatcher.ResponseData['body'];

/** Stops reading and closes the connection (the stream's abort error is expected, not thrown). */
function discard(body: Body): void {
  body.on('error', () => {}).destroy();
}

/** Reads at most `max` bytes; beyond that either truncates or throws ERR_TOO_LARGE. */
async function readCapped(
  body: Body,
  max: number,
  truncate: boolean,
  resource: string,
): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const c = chunk as Buffer;
    if (n + c.length > max) {
      if (truncate) {
        chunks.push(c.subarray(0, max - n));
        n = max;
        break; // ends the iteration, which destroys the stream
      }
      discard(body);
      throw new RemoteError(
        'ERR_TOO_LARGE',
        `${resource}: the response is larger than its limit of ${max} bytes (endless-data attack?)`,
        { resource, duringBody: true },
      );
    }
    chunks.push(c);
    n += c.length;
  }
  return new Uint8Array(Buffer.concat(chunks, n));
}

export class HttpTransport {
  readonly #dispatcher: Dispatcher;
  readonly #timeouts: TimeoutOptions;
  readonly #retry: RetryOptions;
  readonly #onEvent: (e: HttpEvent) => void;

  constructor(opts: HttpTransportOptions = {}) {
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#onEvent = opts.onEvent ?? (() => {});
    const tls = opts.tls ?? {};
    const connect = {
      timeout: this.#timeouts.connectMs,
      minVersion: 'TLSv1.2' as const,
      rejectUnauthorized: !tls.skipVerify,
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
      ...(tls.key !== undefined ? { key: tls.key } : {}),
    };
    const proxy = opts.proxy ?? {};
    if (proxy.http || proxy.https) {
      this.#dispatcher = new EnvHttpProxyAgent({
        connect,
        requestTls: connect,
        httpProxy: proxy.http ?? '',
        httpsProxy: proxy.https ?? proxy.http ?? '',
        noProxy: [proxy.noProxy, LOOPBACK_NO_PROXY].filter(Boolean).join(','),
        proxyTunnel: false,
      });
    } else {
      this.#dispatcher = new Agent({ connect });
    }
  }

  /** Sends the request, retrying idempotent ones on transient failures. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const attempts = req.retry ? Math.max(1, this.#retry.attempts) : 1;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse | undefined;
      let failure: unknown;
      try {
        res = await this.#once(req, attempt);
      } catch (e) {
        failure = e;
      }
      const retryable = res ? res.status >= 500 : isRetryableTransportError(failure);
      if (attempt >= attempts || !retryable) {
        if (res) return res;
        throw failure;
      }
      const delayMs = Math.min(
        this.#retry.maxDelayMs,
        this.#retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2),
      );
      const reason = res ? `HTTP ${res.status}` : (failure as TrustdeskError).code;
      this.#onEvent({ type: 'retry', method: req.method, url: req.url, attempt, delayMs, reason });
      await sleep(delayMs, req.signal, req.resource);
    }
  }

  async #once(req: HttpRequest, attempt: number): Promise<HttpResponse> {
    if (req.signal?.aborted) throw abortError(req.resource);
    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, req.timeoutMs ?? this.#timeouts.requestMs);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline.signal]) : deadline.signal;
    let duringBody = false;
    let status: number | undefined;
    try {
      const url = new URL(req.url);
      // undici's `request(url, opts)` without its URL helper: the dispatcher's request API.
      const res = await undiciRequest.call(this.#dispatcher, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal,
        headersTimeout: this.#timeouts.headersMs,
        bodyTimeout: this.#timeouts.bodyIdleMs,
      });
      status = res.statusCode;
      duringBody = true;
      const headers = res.headers as HttpResponse['headers'];
      const ok = status >= 200 && status < 300;
      const cap = ok ? req.maxBytes : ERROR_BODY_LIMIT;
      const declared = contentLength(headers);
      if (ok && declared !== undefined && declared > cap) {
        discard(res.body);
        throw new RemoteError(
          'ERR_TOO_LARGE',
          `${req.resource}: the server announced ${declared} bytes, more than the limit of ${cap} (endless-data attack?)`,
          { resource: req.resource, status, duringBody: true },
        );
      }
      const body = await readCapped(res.body, cap, !ok, req.resource);
      this.#onEvent({ type: 'http', method: req.method, url: req.url, status, attempt });
      return { status, headers, body };
    } catch (e) {
      const err = transportError(e, req.resource, {
        aborted: req.signal?.aborted ?? false,
        timedOut,
        duringBody,
      });
      this.#onEvent({
        type: 'http',
        method: req.method,
        url: req.url,
        status,
        error: err.code,
        attempt,
      });
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}
