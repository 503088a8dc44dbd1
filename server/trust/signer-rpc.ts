// The notary-signer gRPC surface as notary-server uses it (notary-protocol §6.1): method
// definitions loaded from proto/signer.proto, typed messages, and the standard gRPC health check
// (grpc.health.v1, defined inline: two tiny messages, no extra .proto file to ship).
//
// Messages keep the proto field names (keepCase): keyInfo.keyID.ID, publicKey, … Missing message
// fields decode as null, missing scalars as ''/empty bytes (defaults: true).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromJSON, loadSync, type MethodDefinition, type Options } from '@grpc/proto-loader';

export interface KeyIdMsg {
  ID: string;
}
export interface AlgorithmMsg {
  algorithm: string;
}
export interface KeyInfoMsg {
  keyID: KeyIdMsg | null;
  algorithm: AlgorithmMsg | null;
}
export interface CreateKeyRequestMsg {
  algorithm: string;
  gun: string;
  role: string;
}
export interface PublicKeyMsg {
  keyInfo: KeyInfoMsg | null;
  publicKey: Buffer;
}
export interface GetKeyInfoResponseMsg {
  keyInfo: KeyInfoMsg | null;
  publicKey: Buffer;
  role: string;
}
export interface SignatureRequestMsg {
  keyID: KeyIdMsg;
  content: Uint8Array;
}
export interface SignatureMsg {
  keyInfo: KeyInfoMsg | null;
  algorithm: AlgorithmMsg | null;
  content: Buffer;
}
export interface HealthCheckRequestMsg {
  service: string;
}
export interface HealthCheckResponseMsg {
  status: string;
}

/** The service names Go's signer registers as SERVING (notary `const.go`). */
export const HEALTH_SERVICES = {
  KeyManagement: 'grpc.health.v1.Health.KeyManagement',
  Signer: 'grpc.health.v1.Health.Signer',
} as const;

export type Method<Req, Res> = MethodDefinition<Req, Res>;

export interface SignerMethods {
  CreateKey: Method<CreateKeyRequestMsg, PublicKeyMsg>;
  DeleteKey: Method<KeyIdMsg, Record<string, never>>;
  GetKeyInfo: Method<KeyIdMsg, GetKeyInfoResponseMsg>;
  Sign: Method<SignatureRequestMsg, SignatureMsg>;
  HealthCheck: Method<HealthCheckRequestMsg, HealthCheckResponseMsg>;
}

const LOAD_OPTIONS: Options = { keepCase: true, enums: String, defaults: true, oneofs: true };

/** proto/signer.proto from the source tree (server/trust/) or the build (dist/server/trust/). */
export function signerProtoPath(): string {
  for (const rel of ['../../proto/signer.proto', '../../../proto/signer.proto']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('proto/signer.proto not found next to the trustdesk installation');
}

const HEALTH_JSON: Parameters<typeof fromJSON>[0] = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: {
                    ServingStatus: {
                      values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 },
                    },
                  },
                },
                Health: {
                  methods: {
                    Check: {
                      requestType: 'HealthCheckRequest',
                      responseType: 'HealthCheckResponse',
                      comment: '',
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

let methods: SignerMethods | undefined;

function method<Req, Res>(def: unknown, name: string): Method<Req, Res> {
  const m = (def as Record<string, Method<Req, Res> | undefined> | undefined)?.[name];
  if (!m?.path) throw new Error(`signer proto: method ${name} is missing`);
  return m;
}

/** Method definitions (path, serializers), loaded once. */
export function signerMethods(): SignerMethods {
  if (methods) return methods;
  const pkg = loadSync(signerProtoPath(), LOAD_OPTIONS);
  const health = fromJSON(HEALTH_JSON, LOAD_OPTIONS);
  methods = {
    CreateKey: method(pkg['proto.KeyManagement'], 'CreateKey'),
    DeleteKey: method(pkg['proto.KeyManagement'], 'DeleteKey'),
    GetKeyInfo: method(pkg['proto.KeyManagement'], 'GetKeyInfo'),
    Sign: method(pkg['proto.Signer'], 'Sign'),
    HealthCheck: method(health['grpc.health.v1.Health'], 'Check'),
  };
  return methods;
}
