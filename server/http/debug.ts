// The -debug diagnostics listener (Go notary-server's pprof/expvar server on localhost:8080):
// plain HTTP, loopback only, never the public port.
//   GET /debug/vars          process, event-loop delay, heap and resource figures (JSON)
//   GET|POST /debug/heapsnapshot   writes a V8 heap snapshot to the temp dir; answers its path
// Anything else → 404 with the list of endpoints.

import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';

export const DEBUG_ADDRESS = { host: 'localhost', port: 8080 };

export interface DebugServer {
  readonly port: number;
  close(): Promise<void>;
}

function vars(delay: ReturnType<typeof monitorEventLoopDelay>): Record<string, unknown> {
  const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
  return {
    pid: process.pid,
    node: process.version,
    uptimeSeconds: Math.round(process.uptime()),
    memory: process.memoryUsage(),
    heap: getHeapStatistics(),
    resources: process.resourceUsage(),
    eventLoopDelayMs: {
      min: ms(delay.min),
      mean: ms(delay.mean),
      p50: ms(delay.percentile(50)),
      p99: ms(delay.percentile(99)),
      max: ms(delay.max),
    },
  };
}

export function startDebugServer(
  opts: { host?: string; port?: number; dir?: string } = {},
): Promise<DebugServer> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body, null, 2) + '\n');
    };
    if (req.method === 'GET' && path === '/debug/vars') return json(200, vars(delay));
    if ((req.method === 'GET' || req.method === 'POST') && path === '/debug/heapsnapshot') {
      const file = writeHeapSnapshot(
        join(opts.dir ?? tmpdir(), `trustdesk-server-${process.pid}-${Date.now()}.heapsnapshot`),
      );
      return json(200, { file });
    }
    return json(404, { endpoints: ['/debug/vars', '/debug/heapsnapshot'] });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEBUG_ADDRESS.port, opts.host ?? DEBUG_ADDRESS.host, () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : 0,
        close: () =>
          new Promise<void>((done) => {
            delay.disable();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
