// The gRPC surface trustdesk-signer serves (notary-protocol §6.1): the service definitions of
// proto/signer.proto (package `proto`: KeyManagement, Signer) and the standard health service
// grpc.health.v1.Health/Check, with the message shapes the handlers see.
//
// Messages keep the proto field names (keepCase): keyInfo.keyID.ID, publicKey, … Absent message
// fields decode as null and absent scalars as ''/empty bytes (defaults: true), so a malformed or
// empty request never reaches a handler as `undefined`.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ServiceDefinition } from '@grpc/grpc-js';
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
  keyID: KeyIdMsg | null;
  content: Buffer;
}
export interface SignatureMsg {
  keyInfo: KeyInfoMsg;
  algorithm: AlgorithmMsg;
  content: Uint8Array;
}
export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
export interface HealthCheckRequestMsg {
  service: string;
}
export interface HealthCheckResponseMsg {
  status: ServingStatus;
}

/**
 * Health service names Go's signer registers (notary `const.go`), plus "" — the server as a
 * whole, which grpc-go's health server always answers.
 */
export const HEALTH_SERVICES = [
  '',
  'grpc.health.v1.Health.KeyManagement',
  'grpc.health.v1.Health.Signer',
] as const;

const LOAD_OPTIONS: Options = { keepCase: true, enums: String, defaults: true, oneofs: true };

/** proto/signer.proto from the source tree (signer/) or the build (dist/signer/). */
function protoPath(): string {
  for (const rel of ['../proto/signer.proto', '../../proto/signer.proto']) {
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

export interface SignerServices {
  KeyManagement: ServiceDefinition;
  Signer: ServiceDefinition;
  Health: ServiceDefinition;
}

let services: SignerServices | undefined;

function service(def: unknown, name: string): ServiceDefinition {
  if (typeof def !== 'object' || def === null || Object.keys(def).length === 0) {
    throw new Error(`signer proto: service ${name} is missing`);
  }
  return def as ServiceDefinition;
}

/** The three service definitions, loaded once per process. */
export function signerServices(): SignerServices {
  if (services) return services;
  const pkg = loadSync(protoPath(), LOAD_OPTIONS);
  const health = fromJSON(HEALTH_JSON, LOAD_OPTIONS);
  services = {
    KeyManagement: service(pkg['proto.KeyManagement'], 'proto.KeyManagement'),
    Signer: service(pkg['proto.Signer'], 'proto.Signer'),
    Health: service(health['grpc.health.v1.Health'], 'grpc.health.v1.Health'),
  };
  return services;
}
