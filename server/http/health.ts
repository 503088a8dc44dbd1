// GET /_notary_server/health (notary-protocol §4.7; docker/distribution health.StatusHandler):
// 200 `{}` when every check passes, else 503 with {"<check name>":"<error>"} of the failing ones,
// Content-Type application/json; charset=utf-8. Checks: "DB operational" (the store) and
// "Trust operational" (the trust service). Each runs with a timeout; concurrent probes share
// one run, so a flood of health requests costs one round of checks.

import { goJsonString } from '../../src/tuf/canonical.js';

export interface HealthCheck {
  name: string;
  run(): Promise<void>;
}

export const HEALTH_TIMEOUT_MS = 5_000;

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`check timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class Health {
  #running: Promise<Map<string, string>> | undefined;

  constructor(
    private readonly checks: readonly HealthCheck[],
    private readonly timeoutMs = HEALTH_TIMEOUT_MS,
  ) {}

  /** Failing checks by name → error text (empty when healthy). */
  failures(): Promise<Map<string, string>> {
    return (this.#running ??= this.#run().finally(() => (this.#running = undefined)));
  }

  async #run(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    await Promise.all(
      this.checks.map(async (c) => {
        try {
          await withTimeout(
            Promise.resolve().then(() => c.run()),
            this.timeoutMs,
          );
        } catch (e) {
          out.set(c.name, e instanceof Error ? e.message : String(e));
        }
      }),
    );
    return out;
  }
}

export function healthBody(failures: ReadonlyMap<string, string>): string {
  const entries = [...failures].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return '{' + entries.map(([k, v]) => `${goJsonString(k)}:${goJsonString(v)}`).join(',') + '}';
}
