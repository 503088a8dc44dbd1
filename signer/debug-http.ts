// The optional plain-HTTP debug port (`server.debug_addr`, or Go's `-debug` → localhost:8080):
// GET /metrics (Prometheus text) and GET /health (200 {} when the key database answers, else
// 503 {"database": "<error>"}). Nothing secret is served; bind it to loopback or a private
// network all the same.

import { createServer, type Server } from 'node:http';
import { type KeyService } from './key-service.js';
import { type SignerMetrics } from './metrics.js';

export interface DebugServer {
  port: number;
  close(): Promise<void>;
}

export async function startDebugServer(
  addr: { host: string | undefined; port: number },
  metrics: SignerMetrics,
  keys: KeyService,
): Promise<DebugServer> {
  const server: Server = createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type }).end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'method not allowed\n');
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => send(200, metrics.registry.contentType, text),
        (e: unknown) => send(500, 'text/plain', `${String(e)}\n`),
      );
    } else if (path === '/health') {
      keys.health().then(
        () => send(200, 'application/json', '{}'),
        (e: unknown) =>
          send(
            503,
            'application/json',
            JSON.stringify({ database: e instanceof Error ? e.message : String(e) }),
          ),
      );
    } else {
      send(404, 'text/plain', 'not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: addr.host, port: addr.port }, () => resolve());
  });
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
