// The real Go `notary` CLI against trustdesk-server (issue 3, "Proof"): the full scenario of
// test/support/go-cli-scenario.ts, once per deployment the issue names:
//   (a) SQLite over TLS (test-PKI server certificate for 127.0.0.1), local trust service — the
//       server as a child process (the built bin under CI);
//   (b) PostgreSQL over plain HTTP, local trust service, token auth on (S3's TokenIssuer, a users
//       file with scrypt hashes; the Go CLI authenticates through NOTARY_AUTH) — in-process;
//   (c) Go notary-signer as the remote trust service over mutual TLS, memory storage — a child
//       process.
// The same driver first runs against Go notary-server itself: the scenario asserts what Go
// really does, so a step that fails only against trustdesk-server is trustdesk's difference.
// Skips locally when the Go CLI, openssl, PostgreSQL or notary-signer is missing; fails under CI.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hasGoCliScenarioTools, runGoCliScenario } from '../support/go-cli-scenario.js';
import { hasGoNotary, startNotaryServer } from '../support/go-notary.js';
import { GoSigner, hasGoSigner } from '../support/go-signer.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../support/postgres.js';
import { requireService } from '../support/services.js';
import {
  startTokenIssuer,
  startTrustdeskServer,
  type RunningServer,
  type StartOptions,
} from '../support/trustdesk-server.js';

const TIMEOUT = 300_000;

let pki: TestPki;
before(() => {
  pki = createTestPki();
});
after(() => pki.dispose());

async function withServer(
  opts: StartOptions,
  fn: (srv: RunningServer) => Promise<void>,
): Promise<void> {
  const srv = await startTrustdeskServer(opts);
  let failed = false;
  try {
    await fn(srv);
  } catch (e) {
    failed = true;
    if (e instanceof Error)
      e.message += `\n--- trustdesk-server log ---\n${srv.log().slice(-4000)}`;
    throw e;
  } finally {
    const code = await srv.stop();
    if (!failed && opts.mode === 'process') assert.equal(code, 0, 'graceful shutdown on SIGTERM');
  }
}

describe('Go notary CLI against trustdesk-server', () => {
  test('(reference) the scenario against Go notary-server', { timeout: TIMEOUT }, async (t) => {
    if (
      !requireService(
        t,
        hasGoCliScenarioTools() && hasGoNotary(),
        'Go notary, notary-server and openssl',
      )
    )
      return;
    const go = await startNotaryServer();
    try {
      await runGoCliScenario({ url: go.url, gun: 'example.com/scenario/go-reference' });
    } catch (e) {
      if (e instanceof Error) e.message += `\n--- notary-server log ---\n${go.log().slice(-3000)}`;
      throw e;
    } finally {
      await go.stop();
    }
  });

  test('(a) SQLite over TLS, local trust service', { timeout: TIMEOUT }, async (t) => {
    if (!requireService(t, hasGoCliScenarioTools(), 'Go notary CLI and openssl')) return;
    const dir = pki.dir;
    await withServer(
      {
        mode: 'process',
        caFile: pki.ca.certFile,
        config: {
          server: { tls_cert_file: pki.server.certFile, tls_key_file: pki.server.keyFile },
          storage: { backend: 'sqlite3', db_url: `${dir}/scenario-a.db` },
          trust_service: { type: 'local' },
        },
      },
      async (srv) => {
        assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
        await runGoCliScenario({
          url: srv.url,
          caFile: pki.ca.certFile,
          gun: 'example.com/scenario/sqlite-tls',
          log: (l) => t.diagnostic(l),
        });
      },
    );
  });

  test(
    '(b) PostgreSQL over plain HTTP, local trust service, token auth',
    { timeout: TIMEOUT },
    async (t) => {
      if (!requireService(t, hasGoCliScenarioTools(), 'Go notary CLI and openssl')) return;
      if (!requireService(t, postgresAvailable(), 'PostgreSQL')) return;
      const gun = 'example.com/scenario/postgres-token';
      let pg: PostgresCluster | undefined;
      const issuer = await startTokenIssuer(pki, [
        { user: 'owner', password: 'owner-password', access: { 'example.com/*': ['*'] } },
        { user: 'delegate', password: 'delegate-password', access: { [gun]: ['push', 'pull'] } },
      ]);
      try {
        pg = await startPostgres();
        const dbUrl = await pg.createDatabase();
        await withServer(
          {
            mode: 'in-process',
            config: {
              storage: { backend: 'postgres', db_url: dbUrl },
              trust_service: { type: 'local' },
              auth: { type: 'token', options: issuer.authOptions },
            },
          },
          async (srv) => {
            // Without a token the API answers with Go's challenge.
            const denied = await srv.client.fetchMetadata(gun, 'root');
            assert.equal(denied.status, 401);
            assert.match(String(denied.headers['www-authenticate']), /^Bearer realm="/);
            await runGoCliScenario({
              url: srv.url,
              gun,
              auth: {
                owner: { user: 'owner', password: 'owner-password' },
                delegate: { user: 'delegate', password: 'delegate-password' },
              },
              log: (l) => t.diagnostic(l),
            });
          },
        );
      } finally {
        await issuer.close();
        await pg?.teardown();
      }
    },
  );

  test(
    '(c) Go notary-signer as the remote trust service (mTLS)',
    { timeout: TIMEOUT },
    async (t) => {
      if (!requireService(t, hasGoCliScenarioTools(), 'Go notary CLI and openssl')) return;
      if (!requireService(t, hasGoSigner(), 'Go notary-signer')) return;
      const signer = await GoSigner.start({ pki });
      try {
        await withServer(
          {
            mode: 'process',
            config: {
              storage: { backend: 'memory' },
              trust_service: {
                type: 'remote',
                hostname: 'localhost',
                port: signer.port,
                key_algorithm: 'ecdsa',
                tls_ca_file: pki.ca.certFile,
                tls_client_cert: pki.client.certFile,
                tls_client_key: pki.client.keyFile,
              },
            },
          },
          async (srv) => {
            await runGoCliScenario({
              url: srv.url,
              gun: 'example.com/scenario/go-signer',
              log: (l) => t.diagnostic(l),
            });
          },
        );
      } catch (e) {
        if (e instanceof Error)
          e.message += `\n--- notary-signer log ---\n${signer.log.slice(-3000)}`;
        throw e;
      } finally {
        await signer.stop();
      }
    },
  );
});
