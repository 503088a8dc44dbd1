// Shared pieces of the signer tests: a config for a signer on a free loopback port with a
// test PKI, a signer whose log lines are captured, and a promise-based grpc-js client of the
// notary-signer API (the same client for trustdesk-signer and Go notary-signer).

import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { parseSignerConfig, type SignerConfig } from '../../signer/config.js';
import { createLogger } from '../../signer/log.js';
import { SignerMetrics } from '../../signer/metrics.js';
import {
  signerServices,
  type GetKeyInfoResponseMsg,
  type PublicKeyMsg,
  type SignatureMsg,
} from '../../src/rpc/signer-api.js';
import { startSigner, type RunningSigner } from '../../signer/signer.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** A signer config on 127.0.0.1:<free port>; `extra` is merged into the Go-style object. */
export function testConfig(
  tls: { server: TlsFiles; clientCaFile: string } | undefined,
  storage: Record<string, unknown> = { backend: 'memory' },
  env: NodeJS.ProcessEnv = {},
  extra: Record<string, unknown> = {},
): SignerConfig {
  return parseSignerConfig(
    {
      server: {
        grpc_addr: '127.0.0.1:0',
        ...(tls
          ? {
              tls_cert_file: tls.server.certFile,
              tls_key_file: tls.server.keyFile,
              client_ca_file: tls.clientCaFile,
            }
          : {}),
      },
      storage,
      logging: { level: 'debug' },
      ...extra,
    },
    { baseDir: process.cwd(), env, insecureDev: tls === undefined },
  );
}

export interface TestSigner extends RunningSigner {
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  /** The raw log text (to check that no secret ever reaches it). */
  logText(): string;
}

export async function startTestSigner(
  config: SignerConfig,
  env: NodeJS.ProcessEnv = {},
): Promise<TestSigner> {
  let text = '';
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      for (const line of chunk.toString().split('\n'))
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const signer = await startSigner(config, {
    env,
    logger: createLogger(config.logging.level, sink),
    metrics: new SignerMetrics({ defaultMetrics: false }),
    notice: () => undefined,
  });
  return { ...signer, logs, logText: () => text };
}

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;
type Unary<Req, Res> = (
  req: Req,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: Callback<Res>,
) => void;

/** The notary-signer API over one channel; every call has a 10 s deadline. */
export class SignerClient {
  readonly #km: grpc.Client;
  readonly #signer: grpc.Client;
  readonly #health: grpc.Client;

  constructor(
    readonly address: string,
    creds: grpc.ChannelCredentials,
    options: grpc.ChannelOptions = {},
  ) {
    const s = signerServices();
    const make = (def: grpc.ServiceDefinition) =>
      new (grpc.makeGenericClientConstructor(def, 'x'))(address, creds, {
        'grpc.use_local_subchannel_pool': 1,
        // grpc-js would send the IP as TLS SNI (Node warns, DEP0123); the test certificates
        // name localhost too.
        ...(address.startsWith('127.0.0.1:')
          ? { 'grpc.ssl_target_name_override': 'localhost' }
          : {}),
        ...options,
      });
    this.#km = make(s.KeyManagement);
    this.#signer = make(s.Signer);
    this.#health = make(s.Health);
  }

  /** mTLS credentials for a client of a signer whose certificate `ca` issued. */
  static mtls(
    caPem: string,
    client?: { certPem: string; keyPem: string },
  ): grpc.ChannelCredentials {
    return grpc.credentials.createSsl(
      Buffer.from(caPem),
      client ? Buffer.from(client.keyPem) : null,
      client ? Buffer.from(client.certPem) : null,
    );
  }

  #call<Req, Res>(client: grpc.Client, method: string, req: Req): Promise<Res> {
    const fn = (client as unknown as Record<string, Unary<Req, Res>>)[method] as Unary<Req, Res>;
    return new Promise((resolve, reject) => {
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) =>
        err ? reject(err) : resolve(res as Res),
      );
    });
  }

  createKey(algorithm: string, gun: string, role: string): Promise<PublicKeyMsg> {
    return this.#call(this.#km, 'CreateKey', { algorithm, gun, role });
  }

  getKeyInfo(id: string): Promise<GetKeyInfoResponseMsg> {
    return this.#call(this.#km, 'GetKeyInfo', { ID: id });
  }

  deleteKey(id: string): Promise<unknown> {
    return this.#call(this.#km, 'DeleteKey', { ID: id });
  }

  sign(id: string, content: Uint8Array): Promise<SignatureMsg> {
    return this.#call(this.#signer, 'Sign', { keyID: { ID: id }, content });
  }

  health(service: string): Promise<{ status: string }> {
    return this.#call(this.#health, 'Check', { service });
  }

  /** Sends raw bytes as the body of `path` (to test malformed protobuf). */
  raw(path: string, body: Buffer): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#km.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (err, res) => (err ? reject(err) : resolve(res)),
      );
    });
  }

  close(): void {
    this.#km.close();
    this.#signer.close();
    this.#health.close();
  }
}

/** The gRPC status code of a rejected call (or -1 when it did not fail). */
export async function statusOf(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
    return { code: -1, details: '' };
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: err.code, details: err.details };
  }
}
