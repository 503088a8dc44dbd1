// Plumbing shared by the trustdesk-server and trustdesk-signer processes: logging and the Go
// config file + env override rules. Each process keeps its own settings, defaults and messages;
// this module may import only node, pino and src/tuf.
//
// Logging: pino, one JSON object per line (Go's -logf json) or logfmt (-logf logfmt), on stderr
// like Go's logrus; levels take logrus' names (debug, info, warn/warning, error, fatal, panic).
// Config rules, in order:
//   1. the file is JSON; keys are case-insensitive (viper lower-cases them, also inside lists);
//   2. a dotted setting may be overridden by env TRUSTDESK_<SERVICE>_<PATH> or Go's
//      NOTARY_<SERVICE>_<PATH>, PATH = the dotted path upper-cased with '.' → '_'; the
//      TRUSTDESK_ name wins, an empty variable counts as unset;
//   3. relative paths are resolved against the config file's directory;
//   4. a file that cannot be read or parsed, and every ERR_CONFIG the parser throws, name the file.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import { TrustdeskError } from '../tuf/errors.js';

export type LogFormat = 'json' | 'logfmt';
export type { DestinationStream, Logger } from 'pino';

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

export interface ServiceLoggerOptions {
  /** A logrus level name (default info). */
  level?: string;
  format?: LogFormat;
  /** Where lines go (default: stderr, asynchronously). */
  destination?: DestinationStream;
  /** Fields on every line (default none). */
  base?: Record<string, string>;
}

export function createServiceLogger(opts: ServiceLoggerOptions = {}): Logger {
  const out = opts.destination ?? pino.destination({ fd: 2, sync: false });
  const dest: DestinationStream =
    opts.format === 'logfmt' ? { write: (line: string) => out.write(toLogfmt(line)) } : out;
  return pino(
    {
      level: logLevel(opts.level ?? 'info'),
      base: opts.base,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

export type RawConfig = Record<string, unknown>;

export function configFail(message: string): never {
  throw new TrustdeskError('ERR_CONFIG', message);
}

export function isConfigObject(v: unknown): v is RawConfig {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A parsed config with every key lower-cased, as viper reads it. */
export function lowerKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(lowerKeys);
  if (!isConfigObject(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), lowerKeys(x)]));
}

/** The env overrides of a dotted setting, ours first: TRUSTDESK_SIGNER_X_Y, NOTARY_SIGNER_X_Y. */
export function envOverrideNames(service: 'SERVER' | 'SIGNER', key: string): [string, string] {
  const suffix = key.toUpperCase().replaceAll('.', '_');
  return [`TRUSTDESK_${service}_${suffix}`, `NOTARY_${service}_${suffix}`];
}

/** A lookup of dotted settings: the first non-empty env override, else the raw config's value. */
export function configLookup(
  raw: RawConfig,
  env: NodeJS.ProcessEnv,
  envNames: (key: string) => readonly string[],
): (key: string) => unknown {
  return (key) => {
    for (const name of envNames(key)) {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
    }
    let v: unknown = raw;
    for (const part of key.split('.')) v = isConfigObject(v) ? v[part] : undefined;
    return v;
  };
}

/** A setting's value as a string (numbers and booleans as written); unset or empty → undefined. */
export function configString(v: unknown, key: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  configFail(`${key}: must be a string`);
}

/** A configured path, relative ones resolved against baseDir. */
export function configPath(baseDir: string, p: string | undefined): string | undefined {
  return p === undefined ? undefined : isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Reads a JSON config file and parses it with `parse` (rule 4). */
export function readConfigFile<T>(
  file: string,
  parse: (raw: unknown, where: { baseDir: string; file: string }) => T,
): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TrustdeskError(
      'ERR_CONFIG',
      `Could not read config at ${file}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TrustdeskError('ERR_CONFIG', `${file}: not valid JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const abs = resolve(file);
  try {
    return parse(raw, { baseDir: dirname(abs), file: abs });
  } catch (e) {
    if (e instanceof TrustdeskError && e.code === 'ERR_CONFIG')
      throw new TrustdeskError('ERR_CONFIG', `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}
