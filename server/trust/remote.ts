// The `remote` trust service: a gRPC client of notary-signer (Go's or trustdesk-signer) over TLS
// with a client certificate (mutual TLS), configured like Go notary-server's `trust_service`
// (notary-protocol §6.2). The config loader reads the files; this module takes PEM text.
//
// Rules:
// - TLS ≥ 1.2; only `caPem` is trusted (no system roots); the signer's certificate must be valid
//   for `hostname` (checked by Node against the dialled name).
// - Every RPC has a deadline (`timeoutMs`, default 10 s; health checks `healthTimeoutMs`, 5 s).
// - createKey: CreateKey{algorithm, gun, role}; the key ID we compute from the returned public key
//   must equal the signer's, else the answer is refused.
// - getKey: GetKeyInfo; ANY error means "not held" (undefined), as Go's GetKey does for `.key`.
// - signers: GetKeyInfo per key; every error propagates (Go's GetPrivateKey, §5.1 step 4 quirk):
//   NotFound → ERR_MISSING_KEY with Go's text "rpc error: code = NotFound desc = …", signer
//   unreachable/deadline → ERR_SIGNER_UNAVAILABLE, anything else → ERR_SIGNER_FAILED.
// - Signer.sign sends the full message; the signature method comes from the key type (the
//   response's algorithm is ignored); the returned signature is verified before it is used.
// - check(): grpc.health.v1 Check of KeyManagement then Signer, both must be SERVING.
// - Reconnect: the channel uses its own subchannel pool; after an UNAVAILABLE answer it is thrown
//   away and the next call dials afresh, so a restarted signer is used at once (no backoff wait).
// - Public key lookups that succeeded are cached (key IDs are content hashes, so they cannot go
//   stale; a deleted key still fails at Sign time).

import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { TrustdeskError, type ErrorCode } from '../../src/tuf/errors.js';
import { PublicKey, signatureMethodFor, type Signer } from '../../src/tuf/keys.js';
import {
  HEALTH_SERVICES,
  signerMethods,
  type KeyInfoMsg,
  type Method,
  type Received,
} from '../../src/rpc/signer-api.js';
import type { KeyAlgorithm, TrustService } from './types.js';

export interface RemoteTrustConfig {
  hostname: string;
  port: number;
  /** PEM CA bundle that signs the signer's certificate (`tls_ca_file`), trusted exclusively. */
  caPem: string;
  /** PEM client certificate chain and key (`tls_client_cert`/`tls_client_key`) for mutual TLS. */
  clientCertPem?: string;
  clientKeyPem?: string;
  keyAlgorithm: KeyAlgorithm;
  timeoutMs?: number;
  healthTimeoutMs?: number;
}

/** A failed signer RPC, with the gRPC status code and Go's error text. */
export class SignerError extends TrustdeskError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly grpcCode: grpc.status,
    opts: { cause?: unknown } = {},
  ) {
    super(code, message, opts);
  }
}

/** Go's name of a gRPC status code: NOT_FOUND → NotFound. */
function goCodeName(code: grpc.status): string {
  const name = grpc.status[code] as string | undefined;
  if (!name) return `Code(${code})`;
  if (name === 'OK') return 'OK';
  return name.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

const UNREACHABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

function keyFromInfo(
  info: Received<KeyInfoMsg> | null,
  publicKey: Buffer,
  what: string,
): PublicKey {
  const keytype = info?.algorithm?.algorithm;
  if (!keytype || publicKey.length === 0) {
    throw new SignerError(
      'ERR_SIGNER_FAILED',
      `${what}: the signer's answer has no key`,
      grpc.status.OK,
    );
  }
  return new PublicKey(keytype, new Uint8Array(publicKey));
}

export class RemoteTrustService implements TrustService {
  readonly type = 'remote';
  readonly keyAlgorithm: KeyAlgorithm;
  readonly #target: string;
  readonly #address: string;
  readonly #creds: grpc.ChannelCredentials;
  readonly #timeoutMs: number;
  readonly #healthTimeoutMs: number;
  readonly #keys = new Map<string, { publicKey: PublicKey; role: string }>();
  #client: grpc.Client | undefined;
  #closed = false;

  constructor(config: RemoteTrustConfig) {
    if (!config.hostname)
      throw new TrustdeskError('ERR_USAGE', 'trust_service.hostname is required');
    if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535) {
      throw new TrustdeskError('ERR_USAGE', `trust_service.port ${config.port} is not a TCP port`);
    }
    // Without a CA Node would fall back to the public web roots: never for the signer.
    if (!config.caPem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new TrustdeskError(
        'ERR_USAGE',
        'trust_service.tls_ca_file must hold a PEM certificate',
      );
    }
    if ((config.clientCertPem === undefined) !== (config.clientKeyPem === undefined)) {
      throw new TrustdeskError(
        'ERR_USAGE',
        'trust_service.tls_client_cert and tls_client_key go together',
      );
    }
    const host = config.hostname.includes(':') ? `[${config.hostname}]` : config.hostname;
    this.#address = `${host}:${config.port}`;
    this.#target = `dns:${this.#address}`;
    this.keyAlgorithm = config.keyAlgorithm;
    this.#timeoutMs = config.timeoutMs ?? 10_000;
    this.#healthTimeoutMs = config.healthTimeoutMs ?? 5_000;
    try {
      const context = createSecureContext({
        ca: config.caPem,
        ...(config.clientCertPem ? { cert: config.clientCertPem, key: config.clientKeyPem } : {}),
        minVersion: 'TLSv1.2',
      });
      this.#creds = grpc.credentials.createFromSecureContext(context);
    } catch (e) {
      throw new TrustdeskError(
        'ERR_USAGE',
        `trust_service TLS files do not load: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }

  async createKey(
    gun: string,
    role: 'timestamp' | 'snapshot',
    algorithm: string,
  ): Promise<PublicKey> {
    const res = await this.#call(signerMethods().CreateKey, { algorithm, gun, role }, 'CreateKey');
    const publicKey = keyFromInfo(res.keyInfo, res.publicKey, 'CreateKey');
    const signerId = res.keyInfo?.keyID?.ID ?? '';
    if (signerId !== publicKey.id) {
      throw new SignerError(
        'ERR_SIGNER_FAILED',
        `CreateKey: the signer's key ID ${signerId} is not the ID of the key it returned (${publicKey.id})`,
        grpc.status.OK,
      );
    }
    this.#remember(publicKey.id, { publicKey, role });
    return publicKey;
  }

  async getKey(keyId: string): Promise<{ publicKey: PublicKey; role: string } | undefined> {
    try {
      return await this.#keyInfo(keyId);
    } catch {
      return undefined;
    }
  }

  async signers(keyIds: readonly string[]): Promise<Signer[]> {
    const out: Signer[] = [];
    for (const keyId of new Set(keyIds)) {
      const { publicKey } = await this.#keyInfo(keyId);
      out.push(this.#signer(keyId, publicKey));
    }
    return out;
  }

  async check(): Promise<void> {
    const { HealthCheck } = signerMethods();
    for (const [name, service] of Object.entries(HEALTH_SERVICES)) {
      const res = await this.#call(
        HealthCheck,
        { service },
        `health ${name}`,
        this.#healthTimeoutMs,
      );
      if (res.status !== 'SERVING') {
        throw new SignerError(
          'ERR_SIGNER_UNAVAILABLE',
          `Got the serving status of ${name}: ${res.status}, want SERVING`,
          grpc.status.UNAVAILABLE,
        );
      }
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#client?.close();
    this.#client = undefined;
    return Promise.resolve();
  }

  async #keyInfo(keyId: string): Promise<{ publicKey: PublicKey; role: string }> {
    const cached = this.#keys.get(keyId);
    if (cached) return cached;
    const res = await this.#call(signerMethods().GetKeyInfo, { ID: keyId }, 'GetKeyInfo');
    const publicKey = keyFromInfo(res.keyInfo, res.publicKey, `GetKeyInfo ${keyId}`);
    if (publicKey.id !== keyId) {
      throw new SignerError(
        'ERR_SIGNER_FAILED',
        `GetKeyInfo ${keyId}: the signer returned a different key (${publicKey.id})`,
        grpc.status.OK,
      );
    }
    const info = { publicKey, role: res.role };
    this.#remember(keyId, info);
    return info;
  }

  #remember(keyId: string, info: { publicKey: PublicKey; role: string }): void {
    if (this.#keys.size >= 10_000) this.#keys.delete(this.#keys.keys().next().value as string);
    this.#keys.set(keyId, info);
  }

  #signer(keyId: string, publicKey: PublicKey): Signer {
    const method = signatureMethodFor(publicKey.keytype);
    return {
      keyId,
      publicKey,
      sign: async (message: Uint8Array): Promise<Uint8Array> => {
        const res = await this.#call(
          signerMethods().Sign,
          { keyID: { ID: keyId }, content: message },
          'Sign',
        );
        const sig = new Uint8Array(res.content);
        if (!publicKey.verify(method, message, sig)) {
          throw new SignerError(
            'ERR_SIGNER_FAILED',
            `Sign ${keyId}: the signer's ${method} signature does not verify`,
            grpc.status.OK,
          );
        }
        return sig;
      },
    };
  }

  #connect(): grpc.Client {
    if (this.#closed)
      throw new TrustdeskError('ERR_INTERNAL', 'the remote trust service is closed');
    this.#client ??= new grpc.Client(this.#target, this.#creds, {
      // Own subchannels, so dropping this client after a failure really starts a fresh dial.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5_000,
    });
    return this.#client;
  }

  /** Drops a client that reported UNAVAILABLE (only if it is still the current one). */
  #reset(client: grpc.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.close();
  }

  async #call<Req, Res>(
    m: Method<Req, Res>,
    req: Req,
    what: string,
    timeoutMs = this.#timeoutMs,
  ): Promise<Res> {
    const client = this.#connect();
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        req,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          if (err) {
            if (err.code === grpc.status.UNAVAILABLE) this.#reset(client);
            reject(this.#error(err, what));
          } else if (res === undefined) {
            reject(new SignerError('ERR_SIGNER_FAILED', `${what}: empty answer`, grpc.status.OK));
          } else {
            resolve(res);
          }
        },
      );
    });
  }

  #error(err: grpc.ServiceError, what: string): SignerError {
    const goText = `rpc error: code = ${goCodeName(err.code)} desc = ${err.details}`;
    if (UNREACHABLE.has(err.code)) {
      return new SignerError(
        'ERR_SIGNER_UNAVAILABLE',
        `notary-signer at ${this.#address} is unavailable (${what}): ${goText}`,
        err.code,
        { cause: err },
      );
    }
    const code: ErrorCode =
      err.code === grpc.status.NOT_FOUND ? 'ERR_MISSING_KEY' : 'ERR_SIGNER_FAILED';
    return new SignerError(code, goText, err.code, { cause: err });
  }
}
