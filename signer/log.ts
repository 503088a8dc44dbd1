// The signer's logger: pino, one JSON object per line on stderr (Go's -logf json), levels by
// logrus name. What may be logged: RPC method, key ID, GUN, role, algorithm, the caller's
// certificate CN, peer address, status, latency and error messages — never key material,
// passphrases, PINs or the content being signed.

import {
  createServiceLogger,
  type DestinationStream,
  type Logger,
} from '../src/service/plumbing.js';

export { logLevel, type Logger } from '../src/service/plumbing.js';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return createServiceLogger({ level, destination, base: { service: 'trustdesk-signer' } });
}
