// The RPC handlers: notary-signer's KeyManagement and Signer services plus the health check,
// answering exactly as Go notary-server expects (notary-protocol §6.1, Go signer/api/rpc_api.go):
//
// | case                                   | status            | details (Go's text)                              |
// |----------------------------------------|-------------------|--------------------------------------------------|
// | CreateKey, algorithm not offered       | UNKNOWN           | algorithm X not supported for create key         |
// | CreateKey, gun/role over 255 chars     | INVALID_ARGUMENT  | gun/role longer than 255 characters              |
// | GetKeyInfo, unknown key                | NOT_FOUND         | key <id> not found                               |
// | Sign, unknown key                      | NOT_FOUND         | signing key not found: <id>                      |
// | Sign, empty content                    | INVALID_ARGUMENT  | nothing to sign: the content is empty            |
// | request over server.max_message_bytes  | RESOURCE_EXHAUSTED| (grpc-js, before the handler runs)               |
// | malformed protobuf                     | INTERNAL          | (grpc-js: "Failed to parse request")             |
// | key database unreachable               | UNAVAILABLE       | key database (…) unavailable during …            |
// | DeleteKey of a missing key             | OK                |                                                  |
// | any other failure                      | INTERNAL          | Key creation failed / Signing failed for KeyID … |
//
// Health: grpc.health.v1.Health/Check for "", grpc.health.v1.Health.KeyManagement and
// grpc.health.v1.Health.Signer answers SERVING while the key database answers (NOT_SERVING
// otherwise); any other name is NOT_FOUND "unknown service", as grpc-go's health server says.
// Every RPC is logged (method, key ID, GUN, role, caller CN, status, ms) and counted.

import * as grpc from '@grpc/grpc-js';
import {
  HEALTH_SERVICES,
  signerServices,
  type CreateKeyRequestMsg,
  type GetKeyInfoResponseMsg,
  type HealthCheckRequestMsg,
  type HealthCheckResponseMsg,
  type KeyIdMsg,
  type KeyInfoMsg,
  type PublicKeyMsg,
  type Received,
  type SignatureMsg,
  type SignatureRequestMsg,
} from '../src/rpc/signer-api.js';
import { TrustdeskError } from '../src/tuf/errors.js';
import { signatureMethodFor, type PublicKey } from '../src/tuf/keys.js';
import { type KeyService } from './key-service.js';
import { type Logger } from './log.js';
import { type SignerMetrics } from './metrics.js';
import { MAX_FIELD_LENGTH } from './store/types.js';

export interface ServiceDeps {
  keys: KeyService;
  log: Logger;
  metrics: SignerMetrics;
  /** The client certificate CN of the connection a call came on (by call.getPeer()). */
  callerOf: (peer: string) => string | undefined;
  /** Deadline for the database probe behind a health check, ms. */
  healthTimeoutMs?: number;
}

/** What a handler reports for its log line besides status and timing. */
type LogFields = Record<string, string | boolean | undefined>;

class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** Go's health service names, plus "" — the server as a whole, which grpc-go always answers. */
const SERVED_HEALTH = new Set<string>(['', ...Object.values(HEALTH_SERVICES)]);

function keyInfo(publicKey: PublicKey): KeyInfoMsg {
  return { keyID: { ID: publicKey.id }, algorithm: { algorithm: publicKey.keytype } };
}

function checkLength(field: string, value: string): void {
  if (value.length > MAX_FIELD_LENGTH)
    throw new RpcError(
      grpc.status.INVALID_ARGUMENT,
      `${field} longer than ${MAX_FIELD_LENGTH} characters`,
    );
}

function isCode(e: unknown, code: string): boolean {
  return e instanceof TrustdeskError && e.code === code;
}

/** Registers KeyManagement, Signer and Health on `server`. */
export function registerSignerServices(server: grpc.Server, deps: ServiceDeps): void {
  const { keys, log, metrics } = deps;
  const services = signerServices();

  /**
   * Wraps a handler: caller identity, status mapping (`fallback` for unexpected errors),
   * logging and metrics. `fields` is filled by the handler for the log line.
   */
  function unary<Req, Res>(
    method: string,
    fallback: (req: Req) => string,
    fn: (req: Req, fields: LogFields) => Promise<Res>,
    level: 'info' | 'debug' = 'info',
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const started = process.hrtime.bigint();
      const fields: LogFields = { caller: deps.callerOf(call.getPeer()) ?? 'insecure' };
      const finish = (code: grpc.status, err?: unknown, details?: string) => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        metrics.rpc(method, grpc.status[code], ms / 1000);
        const line = {
          rpc: method,
          ...fields,
          code: grpc.status[code],
          ms: Math.round(ms * 100) / 100,
        };
        if (code === grpc.status.OK) log[level](line, `${method} ok`);
        else
          log.warn(
            { ...line, error: err instanceof Error ? err.message : details },
            `${method} failed: ${details ?? ''}`,
          );
      };
      fn(call.request, fields).then(
        (res) => {
          finish(grpc.status.OK);
          callback(null, res);
        },
        (e: unknown) => {
          let code: grpc.status;
          let details: string;
          if (e instanceof RpcError) [code, details] = [e.code, e.message];
          else if (isCode(e, 'ERR_SIGNER_UNAVAILABLE'))
            [code, details] = [grpc.status.UNAVAILABLE, (e as Error).message];
          else [code, details] = [grpc.status.INTERNAL, fallback(call.request)];
          finish(code, e, details);
          callback({ code, details });
        },
      );
    };
  }

  server.addService(services.KeyManagement, {
    CreateKey: unary<Received<CreateKeyRequestMsg>, PublicKeyMsg>(
      'CreateKey',
      () => 'Key creation failed',
      async (req, fields) => {
        Object.assign(fields, { gun: req.gun, role: req.role, algorithm: req.algorithm });
        checkLength('gun', req.gun);
        checkLength('role', req.role);
        let made;
        try {
          made = await keys.createKey(req.algorithm, req.gun, req.role);
        } catch (e) {
          if (isCode(e, 'ERR_UNSUPPORTED_KEY'))
            throw new RpcError(
              grpc.status.UNKNOWN,
              `algorithm ${req.algorithm} not supported for create key`,
            );
          throw e;
        }
        Object.assign(fields, { keyId: made.publicKey.id, reused: made.reused });
        metrics.created(req.algorithm, made.reused);
        return { keyInfo: keyInfo(made.publicKey), publicKey: made.publicKey.publicBytes };
      },
    ),
    DeleteKey: unary<Received<KeyIdMsg>, Record<string, never>>(
      'DeleteKey',
      (req) => `Key deletion for KeyID ${req.ID} failed`,
      async (req, fields) => {
        fields.keyId = req.ID;
        fields.existed = await keys.deleteKey(req.ID);
        return {};
      },
    ),
    GetKeyInfo: unary<Received<KeyIdMsg>, GetKeyInfoResponseMsg>(
      'GetKeyInfo',
      () => 'key lookup failed',
      async (req, fields) => {
        fields.keyId = req.ID;
        try {
          const info = await keys.keyInfo(req.ID);
          Object.assign(fields, { gun: info.gun, role: info.role });
          return {
            keyInfo: keyInfo(info.publicKey),
            publicKey: info.publicKey.publicBytes,
            role: info.role,
          };
        } catch (e) {
          if (isCode(e, 'ERR_KEY_NOT_FOUND'))
            throw new RpcError(grpc.status.NOT_FOUND, `key ${req.ID} not found`);
          throw e;
        }
      },
    ),
  });

  server.addService(services.Signer, {
    Sign: unary<Received<SignatureRequestMsg>, SignatureMsg>(
      'Sign',
      (req) => `Signing failed for KeyID ${req.keyID?.ID ?? ''}`,
      async (req, fields) => {
        const id = req.keyID?.ID ?? '';
        fields.keyId = id;
        if (req.content.length === 0)
          throw new RpcError(grpc.status.INVALID_ARGUMENT, 'nothing to sign: the content is empty');
        try {
          const { publicKey, signature } = await keys.sign(id, req.content);
          return {
            keyInfo: keyInfo(publicKey),
            algorithm: { algorithm: signatureMethodFor(publicKey.keytype) },
            content: signature,
          };
        } catch (e) {
          if (isCode(e, 'ERR_KEY_NOT_FOUND'))
            throw new RpcError(grpc.status.NOT_FOUND, `signing key not found: ${id}`);
          throw e;
        }
      },
    ),
  });

  const healthTimeoutMs = deps.healthTimeoutMs ?? 2_000;
  server.addService(services.Health, {
    Check: unary<Received<HealthCheckRequestMsg>, HealthCheckResponseMsg>(
      'HealthCheck',
      () => 'health check failed',
      async (req, fields) => {
        fields.service = req.service;
        if (!SERVED_HEALTH.has(req.service))
          throw new RpcError(grpc.status.NOT_FOUND, 'unknown service');
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('database probe timed out')), healthTimeoutMs);
        });
        try {
          await Promise.race([keys.health(), timeout]);
          return { status: 'SERVING' };
        } catch (e) {
          fields.problem = e instanceof Error ? e.message : String(e);
          return { status: 'NOT_SERVING' };
        } finally {
          clearTimeout(timer);
        }
      },
      'debug',
    ),
  });
}
