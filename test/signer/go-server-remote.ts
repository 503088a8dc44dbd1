// Go notary-server configured with `trust_service.type: remote` (notary-protocol §6.2), pointed
// at a signer over mutual TLS; memory storage, plain HTTP on loopback. test/support/go-notary.ts
// only starts the local trust service, hence this small starter.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOTARY_SERVER_BIN } from '../support/go-notary.js';
import { freePort } from '../support/free-port.js';

export interface RemoteTrust {
  hostname: string;
  port: number;
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  keyAlgorithm: 'ecdsa' | 'ed25519';
}

export interface GoRemoteServer {
  url: string;
  log(): string;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Starts it and waits until /_notary_server/health is 200 (bounded: 20 s). */
export async function startGoServerWithSigner(trust: RemoteTrust): Promise<GoRemoteServer> {
  if (!NOTARY_SERVER_BIN) throw new Error('notary-server is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'trustdesk-go-remote-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = join(dir, 'server.json');
  await writeFile(
    config,
    JSON.stringify({
      server: { http_addr: `127.0.0.1:${port}` },
      trust_service: {
        type: 'remote',
        hostname: trust.hostname,
        port: String(trust.port),
        tls_ca_file: trust.caFile,
        key_algorithm: trust.keyAlgorithm,
        tls_client_cert: trust.clientCertFile,
        tls_client_key: trust.clientKeyFile,
      },
      storage: { backend: 'memory' },
      logging: { level: 'info' },
    }),
  );
  const child = spawn(NOTARY_SERVER_BIN, ['-config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  let last = '';
  while (child.exitCode === null && Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/_notary_server/health`);
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return { url, log: () => log, stop };
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`notary-server (remote trust) did not become healthy (${last}):\n${log}`);
}
