// The signer's logger: pino, one JSON object per line on stderr (Go's -logf json), levels by
// logrus name. What may be logged: RPC method, key ID, GUN, role, algorithm, the caller's
// certificate CN, peer address, status, latency and error messages — never key material,
// passphrases, PINs or the content being signed.

import { pino, type DestinationStream, type Logger } from 'pino';
import { TrustdeskError } from '../src/tuf/errors.js';

export type { Logger } from 'pino';

const LEVELS: Record<string, string> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  panic: 'fatal',
  silent: 'silent',
};

/** pino's level for a logrus level name. */
export function logLevel(name: string): string {
  const level = LEVELS[name.toLowerCase()];
  if (!level) {
    throw new TrustdeskError(
      'ERR_CONFIG',
      `logging.level: ${JSON.stringify(name)} is not a log level (use debug, info, warn, error, fatal or panic)`,
    );
  }
  return level;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level: logLevel(level),
      base: { service: 'trustdesk-signer' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
