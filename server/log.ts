// The server's logger: pino, one JSON object per line (Go's -logf json) or logfmt (-logf
// logfmt), on stderr like Go's logrus. Levels take logrus' names (debug, info, warn/warning,
// error, fatal, panic). What may be logged: method, path without the query string, status,
// latency, GUN, error messages — never headers, bodies, tokens or passphrases.

import { pino, type DestinationStream, type Logger } from 'pino';
import { TrustdeskError } from '../src/tuf/errors.js';

export type LogFormat = 'json' | 'logfmt';
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

/** pino's level for a logrus level name, or a TrustdeskError naming the valid ones. */
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

function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

/** JSON log line → `time=… level=… msg=… key=value…` (logrus' text formatter layout). */
export function toLogfmt(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...rest } = rec;
  const parts = [`time=${logfmtValue(time)}`, `level=${logfmtValue(level)}`];
  if (msg !== undefined) parts.push(`msg=${logfmtValue(msg)}`);
  for (const [k, v] of Object.entries(rest))
    if (v !== undefined) parts.push(`${k}=${logfmtValue(v)}`);
  return parts.join(' ') + '\n';
}

export interface LoggerOptions {
  level?: string;
  format?: LogFormat;
  /** Where lines go (default: stderr, asynchronously). */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const base = opts.destination ?? pino.destination({ fd: 2, sync: false });
  const dest: DestinationStream =
    opts.format === 'logfmt' ? { write: (line: string) => base.write(toLogfmt(line)) } : base;
  return pino(
    {
      level: logLevel(opts.level ?? 'info'),
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
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
