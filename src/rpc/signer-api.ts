// The notary-signer wire API shared by trustdesk-server's remote trust service (the client) and
// trustdesk-signer (the server), notary-protocol §6.1: the services of proto/signer.proto
// (package `proto`: KeyManagement, Signer) plus the standard health service
// grpc.health.v1.Health/Check, defined here (two tiny messages, no extra .proto file to ship).
// Imports node, @grpc/* and src/tuf only, so neither side imports the other.
//
// Messages keep the proto field names (keepCase): keyInfo.keyID.ID, publicKey, … The interfaces
// are what a sender writes; what a receiver reads is Received<…>: proto-loader decodes with
// `defaults: true`, so an absent sub-message is null, an absent scalar ''/empty bytes, and bytes
// arrive as a Buffer — a malformed or empty message never reaches code as `undefined`.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { fromJSON, loadSync, type Options } from '@grpc/proto-loader';

export interface KeyIdMsg {
  ID: string;
}
export interface AlgorithmMsg {
  algorithm: string;
}
export interface KeyInfoMsg {
  keyID: KeyIdMsg;
  algorithm: AlgorithmMsg;
}
export interface CreateKeyRequestMsg {
  algorithm: string;
  gun: string;
  role: string;
}
export interface PublicKeyMsg {
  keyInfo: KeyInfoMsg;
  publicKey: Uint8Array;
}
export interface GetKeyInfoResponseMsg {
  keyInfo: KeyInfoMsg;
  publicKey: Uint8Array;
  role: string;
}
export interface SignatureRequestMsg {
  keyID: KeyIdMsg;
  content: Uint8Array;
}
export interface SignatureMsg {
  keyInfo: KeyInfoMsg;
  algorithm: AlgorithmMsg;
  content: Uint8Array;
}
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
export interface HealthCheckRequestMsg {
  service: string;
}
export interface HealthCheckResponseMsg {
  status: ServingStatus;
}

/** A message as the receiving side decodes it (see the top of this file). */
export type Received<T> = {
  [K in keyof T]: T[K] extends Uint8Array
    ? Buffer
    : T[K] extends object
      ? Received<T[K]> | null
      : T[K];
};

/** The health service names Go's signer registers as SERVING (notary `const.go`). */
export const HEALTH_SERVICES = {
  KeyManagement: 'grpc.health.v1.Health.KeyManagement',
  Signer: 'grpc.health.v1.Health.Signer',
} as const;

export type Method<Req, Res> = MethodDefinition<Req, Res>;

export interface SignerServices {
  KeyManagement: ServiceDefinition;
  Signer: ServiceDefinition;
  Health: ServiceDefinition;
}

/** The client's view: each method as the caller writes its request and reads its answer. */
export interface SignerMethods {
  CreateKey: Method<CreateKeyRequestMsg, Received<PublicKeyMsg>>;
  DeleteKey: Method<KeyIdMsg, Record<string, never>>;
  GetKeyInfo: Method<KeyIdMsg, Received<GetKeyInfoResponseMsg>>;
  Sign: Method<SignatureRequestMsg, Received<SignatureMsg>>;
  HealthCheck: Method<HealthCheckRequestMsg, HealthCheckResponseMsg>;
}

const LOAD_OPTIONS: Options = { keepCase: true, enums: String, defaults: true, oneofs: true };

/** proto/signer.proto from the source tree (src/rpc/) or the build (dist/src/rpc/). */
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

let services: SignerServices | undefined;
let methods: SignerMethods | undefined;

function service(def: unknown, name: string): ServiceDefinition {
  if (typeof def !== 'object' || def === null || Object.keys(def).length === 0) {
    throw new Error(`signer proto: service ${name} is missing`);
  }
  return def as ServiceDefinition;
}

function method<Req, Res>(def: ServiceDefinition, name: string): Method<Req, Res> {
  const m = def[name] as Method<Req, Res> | undefined;
  if (!m?.path) throw new Error(`signer proto: method ${name} is missing`);
  return m;
}

/** The three service definitions (for a server, or a generic client), loaded once. */
export function signerServices(): SignerServices {
  if (services) return services;
  const pkg = loadSync(signerProtoPath(), LOAD_OPTIONS);
  const health = fromJSON(HEALTH_JSON, LOAD_OPTIONS);
  services = {
    KeyManagement: service(pkg['proto.KeyManagement'], 'proto.KeyManagement'),
    Signer: service(pkg['proto.Signer'], 'proto.Signer'),
    Health: service(health['grpc.health.v1.Health'], 'grpc.health.v1.Health'),
  };
  return services;
}

/** The method definitions (path, serializers) a client calls, from signerServices(). */
export function signerMethods(): SignerMethods {
  if (methods) return methods;
  const s = signerServices();
  methods = {
    CreateKey: method(s.KeyManagement, 'CreateKey'),
    DeleteKey: method(s.KeyManagement, 'DeleteKey'),
    GetKeyInfo: method(s.KeyManagement, 'GetKeyInfo'),
    Sign: method(s.Signer, 'Sign'),
    HealthCheck: method(s.Health, 'Check'),
  };
  return methods;
}
