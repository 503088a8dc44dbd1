// Prometheus metrics as Go notary-server exposes them (notary-protocol §4.7): client_golang's
// InstrumentHandlerWithOpts per route, namespace notary_server, subsystem http, label
// `operation` ∈ {UpdateTUF, GetRoleByHash, GetRoleByVersion, GetRole, GetKey, RotateKey,
// DeleteTUF, Changefeed} (the only routes Go instruments):
//   notary_server_http_requests_total{operation,code,method}      counter
//   notary_server_http_request_duration_microseconds{operation}   summary
//   notary_server_http_request_size_bytes{operation}              summary
//   notary_server_http_response_size_bytes{operation}             summary
// plus Node's process/runtime defaults (Go exposes go_* and process_*). Own registry, so two
// servers in one process (tests) do not collide. An observation is a few array writes and one
// map lookup (RecentSummary and RequestCounter below): prom-client's own Counter hashes and
// validates a label object on every inc(), a visible share of a cached GET.

import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';

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

/** prom-client's Metric.get() shape, read by Registry.metrics(). */
interface MetricValues {
  name: string;
  help: string;
  type: string;
  values: SummaryValue[];
  aggregator: string;
}

/** The samples of one operation: the last WINDOW values, their count and sum. */
class Samples {
  readonly ring = new Float64Array(WINDOW);
  n = 0;
  sum = 0;

  add(v: number): void {
    this.ring[this.n % WINDOW] = v;
    this.n++;
    this.sum += v;
  }
}

class RecentSummary {
  readonly type = 'summary';
  readonly aggregator = 'sum';
  readonly #ops = new Map<string, Samples>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {
    for (const op of INSTRUMENTED) this.#ops.set(op, new Samples());
  }

  /** The samples of an instrumented operation (undefined for the others). */
  of(op: string): Samples | undefined {
    return this.#ops.get(op);
  }

  observe(op: string, v: number): void {
    this.#ops.get(op)?.add(v);
  }

  get(): Promise<MetricValues> {
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

/** notary_server_http_requests_total: one number per (operation, code, method), first seen first. */
interface Count {
  labels: Record<string, string>;
  value: number;
}

class RequestCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #counts = new Map<string, Count>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** The count of a label set, listed from its first increment on (none is shown at 0). */
  #count(operation: string, status: number, method: string): Count {
    const lower = method.toLowerCase();
    const key = `${operation} ${status} ${lower}`;
    let c = this.#counts.get(key);
    if (!c) {
      c = { labels: { operation, code: String(status), method: lower }, value: 0 };
      this.#counts.set(key, c);
    }
    return c;
  }

  inc(operation: string, status: number, method: string): void {
    this.#count(operation, status, method).value++;
  }

  /** inc() for one label set, with the lookup done on the first call only. */
  incrementer(operation: string, status: number, method: string): () => void {
    let c: Count | undefined;
    return () => {
      (c ??= this.#count(operation, status, method)).value++;
    };
  }

  get(): Promise<MetricValues> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values: [...this.#counts.values()].map((c) => ({ labels: c.labels, value: c.value })),
      aggregator: this.aggregator,
    });
  }
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests = new RequestCounter(
    'notary_server_http_requests_total',
    'Total number of HTTP requests made.',
  );
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

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    for (const m of [this.#duration, this.#reqSize, this.#resSize, this.#requests])
      this.registry.registerMetric(m as unknown as Metric);
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
    this.#requests.inc(operation, status, method);
  }

  /**
   * observe() for one (operation, method, status) fixed in advance — the fast path's 200s —
   * so that a call is a few array writes and no lookup.
   */
  recorder(
    operation: string,
    method: string,
    status: number,
  ): (durationMs: number, requestBytes: number, responseBytes: number) => void {
    const duration = this.#duration.of(operation);
    const reqSize = this.#reqSize.of(operation);
    const resSize = this.#resSize.of(operation);
    if (!duration || !reqSize || !resSize) return () => undefined;
    const inc = this.#requests.incrementer(operation, status, method);
    return (durationMs, requestBytes, responseBytes) => {
      duration.add(durationMs * 1000);
      reqSize.add(requestBytes);
      resSize.add(responseBytes);
      inc();
    };
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
