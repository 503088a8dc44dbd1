// Starts and stops the real Go `notary-signer` (Debian package `notary`) for integration tests.
// The Debian build has no sqlite driver, so the default storage is `memory` (keys are lost on
// restart; every CreateKey makes a new key). A SQL backend can be passed in `storage`; the
// passphrase env Go then needs (NOTARY_SIGNER_DEFAULT_ALIAS=<alias> + NOTARY_SIGNER_<ALIAS>=
// <passphrase>) is always set, from `alias`/`passphrase` (a test alias and a random passphrase
// by default) — pass the alias of a shared key DB and its passphrase to open its keys.
//
// `start()` resolves once the gRPC port accepts TCP connections (or rejects with the signer's
// log if the process exits first); `stop()` sends SIGTERM to the process it started and waits for
// it to exit. `restart()` reuses the same port, so a client can reconnect to the same address.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { findExecutable } from './services.js';
import type { TestPki } from './pki.js';

export const GO_SIGNER = 'notary-signer';

export function hasGoSigner(): boolean {
  return findExecutable(GO_SIGNER) !== undefined;
}

export interface GoSignerOptions {
  pki: TestPki;
  /** Defaults to a free port. */
  port?: number;
  /** Server certificate/key; defaults to pki.server. */
  serverCert?: { certFile: string; keyFile: string };
  /** `client_ca_file`; defaults to the PKI's CA (mutual TLS on). `null` = no client certs asked. */
  clientCaFile?: string | null;
  /** The `storage` section; defaults to `{ backend: 'memory' }`. */
  storage?: Record<string, unknown>;
  /** The default passphrase alias (NOTARY_SIGNER_DEFAULT_ALIAS); defaults to `trustdesktest`. */
  alias?: string;
  /** That alias's passphrase (NOTARY_SIGNER_<ALIAS>); defaults to a random one. */
  passphrase?: string;
  /** How long to wait for the port, ms (default 20 s): a start-up bound, not a test timing. */
  startTimeoutMs?: number;
}

export class GoSigner {
  readonly port: number;
  readonly configFile: string;
  readonly alias: string;
  readonly passphrase: string;
  /** Everything the current process wrote to stdout/stderr (for failure messages). */
  log = '';
  #proc: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  readonly #env: NodeJS.ProcessEnv;
  readonly #startTimeoutMs: number;

  private constructor(port: number, configFile: string, opts: GoSignerOptions) {
    this.port = port;
    this.configFile = configFile;
    this.#startTimeoutMs = opts.startTimeoutMs ?? 20_000;
    this.alias = opts.alias ?? 'trustdesktest';
    this.passphrase = opts.passphrase ?? randomBytes(18).toString('base64url');
    this.#env = {
      ...process.env,
      NOTARY_SIGNER_DEFAULT_ALIAS: this.alias,
      [`NOTARY_SIGNER_${this.alias.toUpperCase()}`]: this.passphrase,
    };
  }

  /** Writes the config into the PKI dir and starts the signer. */
  static async start(opts: GoSignerOptions): Promise<GoSigner> {
    const port = opts.port ?? (await freePort());
    const cert = opts.serverCert ?? opts.pki.server;
    const clientCa = opts.clientCaFile === undefined ? opts.pki.ca.certFile : opts.clientCaFile;
    const config = {
      server: {
        grpc_addr: `127.0.0.1:${port}`,
        tls_cert_file: cert.certFile,
        tls_key_file: cert.keyFile,
        ...(clientCa ? { client_ca_file: clientCa } : {}),
      },
      logging: { level: 'info' },
      storage: opts.storage ?? { backend: 'memory' },
    };
    const configFile = join(opts.pki.dir, `notary-signer-${port}.json`);
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const signer = new GoSigner(port, configFile, opts);
    await signer.#spawn();
    return signer;
  }

  get running(): boolean {
    return this.#proc !== undefined;
  }

  async #spawn(): Promise<void> {
    this.log = '';
    const proc = spawn(GO_SIGNER, ['-config', this.configFile], {
      env: this.#env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#proc = proc;
    proc.stdout.on('data', (c: Buffer) => (this.log += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (this.log += c.toString()));
    let exitedEarly = false;
    this.#exited = new Promise((resolve) => {
      proc.once('exit', () => {
        exitedEarly = true;
        if (this.#proc === proc) this.#proc = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + this.#startTimeoutMs;
    while (!(await portOpen(this.port))) {
      if (exitedEarly) throw new Error(`notary-signer exited during start-up:\n${this.log}`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`notary-signer did not listen on ${this.port}:\n${this.log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, then wait for the exit (SIGKILL if it lingers). */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    const exited = this.#exited;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** Starts the same config again (same port). */
  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn();
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
