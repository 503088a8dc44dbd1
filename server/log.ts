// The server's logger: pino, one JSON object per line (Go's -logf json) or logfmt (-logf
// logfmt), on stderr like Go's logrus. Levels take logrus' names (debug, info, warn/warning,
// error, fatal, panic). What may be logged: method, path without the query string, status,
// latency, GUN, error messages — never headers, bodies, tokens or passphrases.

import {
  createServiceLogger,
  type DestinationStream,
  type LogFormat,
  type Logger,
} from '../src/service/plumbing.js';

export { logLevel, toLogfmt, type LogFormat, type Logger } from '../src/service/plumbing.js';

export interface LoggerOptions {
  level?: string;
  format?: LogFormat;
  /** Where lines go (default: stderr, asynchronously). */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return createServiceLogger(opts);
}

/**
 * The one line per request, at info: method, path without the query string, status, latency.
 * Nothing is built when info is off (the hot GET path pays one level check).
 */
export function logRequest(
  logger: Logger,
  method: string,
  url: string,
  status: number,
  ms: number,
): void {
  if (!logger.isLevelEnabled('info')) return;
  const q = url.indexOf('?');
  logger.info(
    { method, path: q < 0 ? url : url.slice(0, q), status, ms: Math.round(ms * 1000) / 1000 },
    'request',
  );
}
