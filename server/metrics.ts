// Prometheus metrics as Go notary-server exposes them (notary-protocol §4.7): client_golang's
// InstrumentHandlerWithOpts per route, namespace notary_server, subsystem http, label
// `operation` ∈ {UpdateTUF, GetRoleByHash, GetRoleByVersion, GetRole, GetKey, RotateKey,
// DeleteTUF, Changefeed} (the only routes Go instruments):
//   notary_server_http_requests_total{operation,code,method}      counter
//   notary_server_http_request_duration_microseconds{operation}   summary
//   notary_server_http_request_size_bytes{operation}              summary
//   notary_server_http_response_size_bytes{operation}             summary
// plus Node's process/runtime defaults (Go exposes go_* and process_*). Own registry, so two
// servers in one process (tests) do not collide. Label children are cached: an observation is
// a few map lookups, not a label-object hash per call; summaries are RecentSummary below.

import { Counter, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

export const INSTRUMENTED = [
  'UpdateTUF',
  'GetRoleByHash',
  'GetRoleByVersion',
  'GetRole',
  'GetKey',
  'RotateKey',
  'DeleteTUF',
  'Changefeed',
] as const;
export type InstrumentedOperation = (typeof INSTRUMENTED)[number];

const QUANTILES = [0.5, 0.9, 0.99];
/** Samples kept per operation for the quantiles (the most recent ones). */
export const WINDOW = 1024;

/**
 * A summary whose observe() is two array writes: quantiles are computed at scrape time over
 * the last WINDOW samples (Go's summaries use a sliding time window; prom-client's t-digest
 * summaries cost several microseconds per observation, which the hot GET path cannot afford).
 */
interface SummaryValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

class RecentSummary {
  readonly type = 'summary';
  readonly aggregator = 'sum';
  readonly #ops = new Map<string, { ring: Float64Array; n: number; sum: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {
    for (const op of INSTRUMENTED)
      this.#ops.set(op, { ring: new Float64Array(WINDOW), n: 0, sum: 0 });
  }

  observe(op: string, v: number): void {
    const s = this.#ops.get(op);
    if (!s) return;
    s.ring[s.n % WINDOW] = v;
    s.n++;
    s.sum += v;
  }

  /** prom-client's Metric.get() shape, read by Registry.metrics(). */
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    values: SummaryValue[];
    aggregator: string;
  }> {
    const values: SummaryValue[] = [];
    for (const [operation, s] of this.#ops) {
      if (s.n === 0) continue;
      const sorted = s.ring.slice(0, Math.min(s.n, WINDOW)).sort();
      for (const q of QUANTILES) {
        const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
        values.push({ labels: { quantile: q, operation }, value: sorted[i] as number });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { operation }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { operation }, value: s.n });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    });
  }
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'operation' | 'code' | 'method'>;
  readonly #duration = new RecentSummary(
    'notary_server_http_request_duration_microseconds',
    'The HTTP request latencies in microseconds.',
  );
  readonly #reqSize = new RecentSummary(
    'notary_server_http_request_size_bytes',
    'The HTTP request sizes in bytes.',
  );
  readonly #resSize = new RecentSummary(
    'notary_server_http_response_size_bytes',
    'The HTTP response sizes in bytes.',
  );
  readonly #counters = new Map<string, { inc(): void }>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    for (const m of [this.#duration, this.#reqSize, this.#resSize])
      this.registry.registerMetric(m as unknown as Metric);
    this.#requests = new Counter({
      registers: [this.registry],
      labelNames: ['operation', 'code', 'method'] as const,
      name: 'notary_server_http_requests_total',
      help: 'Total number of HTTP requests made.',
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Records one request of an instrumented operation (others are ignored, as in Go). */
  observe(
    operation: string,
    method: string,
    status: number,
    durationMs: number,
    requestBytes: number,
    responseBytes: number,
  ): void {
    if (!(INSTRUMENTED as readonly string[]).includes(operation)) return;
    this.#duration.observe(operation, durationMs * 1000);
    this.#reqSize.observe(operation, requestBytes);
    this.#resSize.observe(operation, responseBytes);
    const key = `${operation}\0${status}\0${method}`;
    let counter = this.#counters.get(key);
    if (!counter) {
      counter = this.#requests.labels(operation, String(status), method.toLowerCase());
      this.#counters.set(key, counter);
    }
    counter.inc();
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
