// Prometheus metrics of the signer, in their own registry (two signers in one test process do
// not collide), served by debug-http.ts:
//   trustdesk_signer_rpc_requests_total{method,code}     counter (code = gRPC status name)
//   trustdesk_signer_rpc_duration_seconds{method}        histogram
//   trustdesk_signer_tls_refused_total{reason}           counter (no_certificate, ca_certificate,
//                                                        untrusted, handshake)
//   trustdesk_signer_keys_created_total{algorithm,reused} counter
// plus Node's process/runtime defaults. Label children are cached so an RPC costs two map hits.

import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type RefusalReason = 'no_certificate' | 'ca_certificate' | 'untrusted' | 'handshake';

export class SignerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'code'>;
  readonly #duration: Histogram<'method'>;
  readonly #refused: Counter<'reason'>;
  readonly #created: Counter<'algorithm' | 'reused'>;
  readonly #children = new Map<string, { inc(): void }>();
  readonly #timers = new Map<string, { observe(v: number): void }>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'trustdesk_signer_rpc_requests_total',
      help: 'gRPC requests by method and status code',
      labelNames: ['method', 'code'] as const,
      registers,
    });
    this.#duration = new Histogram({
      name: 'trustdesk_signer_rpc_duration_seconds',
      help: 'gRPC request handling time',
      labelNames: ['method'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.#refused = new Counter({
      name: 'trustdesk_signer_tls_refused_total',
      help: 'Client connections refused during mutual TLS',
      labelNames: ['reason'] as const,
      registers,
    });
    this.#created = new Counter({
      name: 'trustdesk_signer_keys_created_total',
      help: 'CreateKey answers: new keys and reused never-used keys',
      labelNames: ['algorithm', 'reused'] as const,
      registers,
    });
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  rpc(method: string, code: string, seconds: number): void {
    const key = `${method}\u0000${code}`;
    let c = this.#children.get(key);
    if (!c) this.#children.set(key, (c = this.#requests.labels(method, code)));
    c.inc();
    let t = this.#timers.get(method);
    if (!t) this.#timers.set(method, (t = this.#duration.labels(method)));
    t.observe(seconds);
  }

  refused(reason: RefusalReason): void {
    this.#refused.labels(reason).inc();
  }

  created(algorithm: string, reused: boolean): void {
    this.#created.labels(algorithm, String(reused)).inc();
  }
}
