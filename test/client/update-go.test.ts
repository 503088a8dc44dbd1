// Live interop: the Go CLI publishes to Go notary-server (targets, a delegation, then a root
// rotation) and our updater downloads the repository. A recording reverse proxy in front of
// the server logs every request path, so we can assert that our updater asks for exactly the
// files, in exactly the order, that the Go CLI's own `notary list` asks for — on first
// contact, from a warm cache, and across the root rotation — and that it lists the same targets.
// Skips locally without the Go binaries; fails under CI=true (test/support/services.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RemoteServer } from '../../src/client/remote/remote-store.js';
import { MetadataCache } from '../../src/client/trust-dir/metadata-cache.js';
import { updateRepository } from '../../src/client/update/updater.js';
import { GoNotaryCli, tempDir, withGoNotaryServer, writeKeyPair } from '../support/go-notary.js';

interface Recorder {
  url: string;
  /** `GET <path>` of every request since the last take(). */
  take(): string[];
  close(): Promise<void>;
}

/** A reverse proxy on loopback that records request lines and forwards to `target`. */
async function recordingProxy(target: string): Promise<Recorder> {
  const to = new URL(target);
  let seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const fwd = httpRequest(
      {
        host: to.hostname,
        port: to.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: to.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    take: () => {
      const out = seen;
      seen = [];
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The metadata GETs (`GET /v2/<gun>/_trust/tuf/<file>`) as file names. */
function metadataFiles(lines: string[], gun: string): string[] {
  const prefix = `GET /v2/${gun}/_trust/tuf/`;
  return lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

test(
  'our updater fetches exactly what the Go client fetches and lists the same targets',
  { timeout: 240_000 },
  (t) =>
    withGoNotaryServer(t, async (srv) => {
      const gun = 'example.com/interop/updater';
      const work = await tempDir('update-go');
      const proxy = await recordingProxy(srv.url);
      const server = new RemoteServer({ url: proxy.url });
      try {
        // The Go CLI publishes: two targets, a delegation with one target.
        const publisher = new GoNotaryCli(srv.url, join(work, 'publisher'));
        await writeFile(join(work, 'a.txt'), 'alpha\n');
        await writeFile(join(work, 'b.txt'), 'bravo\n');
        await publisher.ok(['init', gun]);
        await publisher.ok(['add', gun, 'alpha', join(work, 'a.txt')]);
        await publisher.ok(['add', gun, 'bravo', join(work, 'b.txt')]);
        await publisher.ok(['publish', gun]);
        const rel = await writeKeyPair(work, 'rel');
        await publisher.ok(['key', 'import', rel.priv, '--role', 'targets/releases']);
        await publisher.ok(['delegation', 'add', gun, 'targets/releases', rel.pub, '--all-paths']);
        await publisher.ok([
          'add',
          gun,
          'release-1',
          join(work, 'a.txt'),
          '-r',
          'targets/releases',
        ]);
        await publisher.ok(['publish', gun]);

        // A fresh Go client and a fresh trustdesk cache read it through the recording proxy.
        const goReader = new GoNotaryCli(proxy.url, join(work, 'go-reader'));
        const cache = new MetadataCache(join(work, 'ours'), gun);
        const ours = () =>
          updateRepository({
            gun,
            cache,
            remote: server.repository(gun, 'pull'),
            nowMs: Date.now(),
          });

        proxy.take();
        const goList = await goReader.list(gun);
        const goFirst = metadataFiles(proxy.take(), gun);
        const view = await ours();
        const ourFirst = metadataFiles(proxy.take(), gun);
        t.diagnostic(`Go first contact: ${goFirst.join(' ')}`);
        t.diagnostic(`trustdesk first contact: ${ourFirst.join(' ')}`);
        assert.deepEqual(ourFirst, goFirst);
        assert.deepEqual(ourFirst.slice(0, 2), ['root.json', 'timestamp.json']);
        assert.match(ourFirst[2] ?? '', /^snapshot\.[0-9a-f]{64}\.json$/);
        assert.match(ourFirst[3] ?? '', /^targets\.[0-9a-f]{64}\.json$/);
        assert.match(ourFirst[4] ?? '', /^targets\/releases\.[0-9a-f]{64}\.json$/);
        assert.deepEqual(
          view
            .targets()
            .map((x) => [x.name, x.role])
            .sort(),
          goList.map((x) => [x.name, x.role]).sort(),
        );
        assert.deepEqual(
          view
            .targets()
            .map((x) => x.name)
            .sort(),
          ['alpha', 'bravo', 'release-1'],
        );

        // Warm caches: only the timestamp is fetched, by both.
        await goReader.list(gun);
        const goWarm = metadataFiles(proxy.take(), gun);
        await ours();
        const ourWarm = metadataFiles(proxy.take(), gun);
        assert.deepEqual(ourWarm, goWarm);
        assert.deepEqual(ourWarm, ['timestamp.json']);

        // A root rotation by the Go CLI (old + new key signatures) and a new target.
        await publisher.ok(['key', 'rotate', gun, 'root'], 'yes\n');
        await publisher.ok(['add', gun, 'charlie', join(work, 'b.txt')]);
        await publisher.ok(['publish', gun]);
        const goRotated = await goReader.list(gun);
        const goRot = metadataFiles(proxy.take(), gun);
        const rotated = await ours();
        const ourRot = metadataFiles(proxy.take(), gun);
        t.diagnostic(`Go after rotation: ${goRot.join(' ')}`);
        t.diagnostic(`trustdesk after rotation: ${ourRot.join(' ')}`);
        assert.deepEqual(ourRot, goRot);
        assert.equal(rotated.trusted.root.signed.version, 2);
        assert.deepEqual(
          rotated
            .targets()
            .map((x) => x.name)
            .sort(),
          goRotated.map((x) => x.name).sort(),
        );
        assert.ok(rotated.lookup('charlie'));
      } finally {
        await server.close();
        await proxy.close();
        await rm(work, { recursive: true, force: true });
      }
    }),
);
