// A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). A database started on it
// right away is very unlikely to lose the race; helpers retry start-up once on EADDRINUSE-like
// failures anyway.

import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
