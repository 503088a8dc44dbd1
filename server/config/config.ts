// trustdesk-server's configuration: a Go notary-server config file, unchanged (notary-protocol
// §4; Go cmd/notary-server/config.go, utils/configuration.go), plus env overrides.
//
// Reading rules, in order:
//   1. the file is JSON (Go's viper also reads YAML/TOML by extension: those are refused with a
//      clear message); keys are case-insensitive, as viper lower-cases them;
//   2. every known setting (KNOWN_KEYS) may be overridden by env TRUSTDESK_SERVER_<PATH> or, as
//      an alias, NOTARY_SERVER_<PATH> (Go's prefix), PATH = the dotted path upper-cased with '.'
//      → '_' (TRUSTDESK_SERVER_STORAGE_BACKEND); the TRUSTDESK_ name wins when both are set;
//      list values (gun_prefixes) split on whitespace as viper does;
//   3. relative file paths (TLS files, trust service TLS files, auth.options.rootcertbundle, a
//      SQLite db_url) are resolved against the config file's directory;
//   4. validation, with Go's messages where Go has one:
//      server.http_addr required ("host:port", ":port" = all interfaces); TLS cert and key both
//      or neither, client_ca_file only with them; storage.backend ∈ memory | sqlite3 (alias
//      sqlite) | postgres | mysql, db_url required for the SQL ones; trust_service.type ∈ local
//      | remote; remote needs hostname, port, tls_ca_file, key_algorithm ∈ ecdsa | ed25519, and
//      client cert and key both or neither; caching.max_age.* integers in 0 … 31536000;
//      repositories.gun_prefixes each a clean relative path ending in '/'; logging.level a
//      logrus level; auth.type "" or "token" (token options are checked by server/auth).
// trustdesk's own settings (not in Go): server.max_upload_bytes, server.max_part_bytes,
// server.max_parts, caching.revalidate_ms, caching.max_entries, caching.max_bytes.
// With no config file at all: 127.0.0.1:4443, plain HTTP, SQLite and the local trust service
// under the data dir ($TRUSTDESK_DATA_DIR or ~/.trustdesk/server).

import { homedir } from 'node:os';
import { extname, isAbsolute, join, posix, resolve } from 'node:path';
import {
  configFail as fail,
  configLookup,
  configPath,
  configString,
  envOverrideNames,
  isConfigObject as isObject,
  logLevel,
  lowerKeys,
  readConfigFile,
  type RawConfig as Raw,
} from '../../src/service/plumbing.js';
import { DEFAULT_SQLITE_FILE } from '../storage/open.js';

export type StorageBackend = 'memory' | 'sqlite' | 'postgres' | 'mysql';
export type KeyAlgorithm = 'ecdsa' | 'ed25519';

export interface TrustConfig {
  type: 'local' | 'remote';
  /** Remote: required. Local: default ecdsa (Go's local service forces ed25519). */
  keyAlgorithm?: KeyAlgorithm;
  hostname?: string;
  port?: number;
  caFile?: string;
  clientCertFile?: string;
  clientKeyFile?: string;
}

export interface ServerConfig {
  /** The config file, or undefined for the built-in defaults. */
  file?: string;
  /** Set in the default (no config file) setup: where the database and passphrase live. */
  dataDir?: string;
  listen: { host: string | undefined; port: number };
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  storage: { backend: StorageBackend; dbUrl?: string };
  trust: TrustConfig;
  /** auth.type "token": the options map as Go passes it (rootcertbundle resolved). */
  auth?: { type: 'token'; options: Record<string, unknown> };
  logging: { level: string };
  caching: {
    currentMaxAge: number;
    consistentMaxAge: number;
    /** How long a cached GUN is served before the store is asked whether it changed. */
    revalidateMs: number;
    maxEntries: number;
    maxBytes: number;
  };
  gunPrefixes: string[];
  limits: { maxUploadBytes: number; maxPartBytes: number; maxParts: number };
}

export const DEFAULT_ADDR = '127.0.0.1:4443';
export const MAX_CACHE_AGE = 31_536_000;
const MiB = 1024 * 1024;
export const DEFAULTS = {
  currentMaxAge: 300,
  consistentMaxAge: 2_592_000,
  revalidateMs: 250,
  maxEntries: 10_000,
  maxCacheBytes: 256 * MiB,
  maxUploadBytes: 128 * MiB,
  maxPartBytes: 64 * MiB,
  maxParts: 1_000,
} as const;

/** Every setting read from file or env (dotted, lower-case). */
export const KNOWN_KEYS = [
  'server.http_addr',
  'server.tls_cert_file',
  'server.tls_key_file',
  'server.client_ca_file',
  'server.max_upload_bytes',
  'server.max_part_bytes',
  'server.max_parts',
  'storage.backend',
  'storage.db_url',
  'trust_service.type',
  'trust_service.key_algorithm',
  'trust_service.hostname',
  'trust_service.port',
  'trust_service.tls_ca_file',
  'trust_service.tls_client_cert',
  'trust_service.tls_client_key',
  'auth.type',
  'auth.options.realm',
  'auth.options.service',
  'auth.options.issuer',
  'auth.options.rootcertbundle',
  'auth.options.autoredirect',
  'logging.level',
  'caching.max_age.current_metadata',
  'caching.max_age.consistent_metadata',
  'caching.revalidate_ms',
  'caching.max_entries',
  'caching.max_bytes',
  'repositories.gun_prefixes',
] as const;

export function envNames(key: string): [string, string] {
  return envOverrideNames('SERVER', key);
}

function str(get: (k: string) => unknown, key: string): string | undefined {
  return configString(get(key), key);
}

function int(
  get: (k: string) => unknown,
  key: string,
  min: number,
  max: number,
  dflt: number,
  message?: string,
): number {
  const s = str(get, key);
  if (s === undefined) return dflt;
  const n = /^[+-]?\d+$/.test(s.trim()) ? Number(s.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    fail(
      message ?? `${key}: must be an integer between ${min} and ${max}, got ${JSON.stringify(s)}`,
    );
  return n;
}

/** host:port → listen options; ":4443" = every interface. */
export function parseAddr(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    fail(
      `server.http_addr: ${JSON.stringify(addr)} is not "host:port" (e.g. ":4443" or "127.0.0.1:4443")`,
    );
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

/** Go's getRequiredGunPrefixes: each prefix clean, relative, ending in '/'. */
export function checkGunPrefixes(prefixes: string[]): string[] {
  for (const p of prefixes) {
    const clean = posix.normalize(p.trim()).replace(/\/+$/, '');
    if (clean + '/' !== p || clean.startsWith('/') || clean.startsWith('..') || clean === '.')
      fail(`invalid GUN prefix ${p}`);
  }
  return prefixes;
}

function list(get: (k: string) => unknown, key: string): string[] {
  const v = get(key);
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') return v.split(/\s+/).filter((s) => s !== '');
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  fail(`${key}: must be a list of strings`);
}

export interface ParseOptions {
  /** Directory relative paths are resolved against (the config file's). */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  file?: string;
  dataDir?: string;
}

/** Builds and validates a ServerConfig from a parsed Go notary-server config object. */
export function parseServerConfig(rawIn: unknown, opts: ParseOptions): ServerConfig {
  if (!isObject(rawIn)) fail('the configuration must be a JSON object');
  const raw = lowerKeys(rawIn) as Raw;
  const get = configLookup(raw, opts.env, envNames);
  const path = (key: string): string | undefined => configPath(opts.baseDir, str(get, key));

  const addr = str(get, 'server.http_addr');
  if (!addr) fail('http listen address required for server (server.http_addr)');
  const listen = parseAddr(addr);

  const certFile = path('server.tls_cert_file');
  const keyFile = path('server.tls_key_file');
  const clientCaFile = path('server.client_ca_file');
  if ((certFile === undefined) !== (keyFile === undefined) || (!certFile && clientCaFile))
    fail('either include both a cert and key file, or no TLS information at all to disable TLS');
  const tls =
    certFile && keyFile
      ? { certFile, keyFile, ...(clientCaFile ? { clientCaFile } : {}) }
      : undefined;

  const backendName = (str(get, 'storage.backend') ?? '').toLowerCase();
  const backends: Record<string, StorageBackend> = {
    memory: 'memory',
    sqlite3: 'sqlite',
    sqlite: 'sqlite',
    postgres: 'postgres',
    mysql: 'mysql',
  };
  const backend = backends[backendName];
  if (!backend) {
    fail(
      `${backendName === '' ? 'storage.backend is not set' : `${backendName} is not a supported storage backend`}` +
        ' (use memory, sqlite3, postgres or mysql)',
    );
  }
  let dbUrl = str(get, 'storage.db_url');
  if (backend !== 'memory' && !dbUrl)
    fail(`must provide a non-empty database source for ${backendName} (storage.db_url)`);
  if (backend === 'sqlite' && dbUrl && !isAbsolute(dbUrl) && !dbUrl.startsWith('file:'))
    dbUrl = resolve(opts.baseDir, dbUrl);

  const trustType = str(get, 'trust_service.type');
  if (trustType !== 'local' && trustType !== 'remote')
    fail('must specify either a "local" or "remote" type for trust_service');
  const algorithm = str(get, 'trust_service.key_algorithm');
  if (algorithm !== undefined && algorithm !== 'ecdsa' && algorithm !== 'ed25519') {
    fail(
      `invalid key algorithm configured: ${algorithm}` +
        (algorithm === 'rsa' ? ' (signers never generate RSA keys; use ecdsa or ed25519)' : ''),
    );
  }
  const trust: TrustConfig = { type: trustType };
  if (algorithm) trust.keyAlgorithm = algorithm;
  if (trustType === 'remote') {
    if (!algorithm)
      fail('invalid key algorithm configured: (trust_service.key_algorithm is required)');
    const hostname = str(get, 'trust_service.hostname');
    if (!hostname) fail('trust_service.hostname is required for a remote trust service');
    trust.hostname = hostname;
    trust.port = int(get, 'trust_service.port', 1, 65535, 0);
    if (!trust.port) fail('trust_service.port is required for a remote trust service');
    const ca = path('trust_service.tls_ca_file');
    if (!ca) fail('trust_service.tls_ca_file is required for a remote trust service');
    trust.caFile = ca;
    const cc = path('trust_service.tls_client_cert');
    const ck = path('trust_service.tls_client_key');
    if ((cc === undefined) !== (ck === undefined))
      fail('either pass both client key and cert, or neither');
    if (cc && ck) Object.assign(trust, { clientCertFile: cc, clientKeyFile: ck });
  }

  let auth: ServerConfig['auth'];
  const authType = str(get, 'auth.type');
  if (authType !== undefined) {
    if (authType !== 'token')
      fail(
        `auth.type ${JSON.stringify(authType)} is not supported (use "token", or leave it unset)`,
      );
    const options: Record<string, unknown> =
      isObject(raw.auth) && isObject(raw.auth.options) ? { ...raw.auth.options } : {};
    for (const k of ['realm', 'service', 'issuer', 'rootcertbundle', 'autoredirect']) {
      const v = get(`auth.options.${k}`);
      if (v !== undefined) options[k] = v;
    }
    if (typeof options.autoredirect === 'string')
      options.autoredirect = options.autoredirect === 'true';
    if (typeof options.rootcertbundle === 'string' && options.rootcertbundle !== '')
      options.rootcertbundle = resolve(opts.baseDir, options.rootcertbundle);
    auth = { type: 'token', options };
  }

  const level = str(get, 'logging.level') ?? 'info';
  logLevel(level);

  const cacheMsg = `must specify a cache-control max-age between 0 and ${MAX_CACHE_AGE}`;
  const caching = {
    currentMaxAge: int(
      get,
      'caching.max_age.current_metadata',
      0,
      MAX_CACHE_AGE,
      DEFAULTS.currentMaxAge,
      cacheMsg,
    ),
    consistentMaxAge: int(
      get,
      'caching.max_age.consistent_metadata',
      0,
      MAX_CACHE_AGE,
      DEFAULTS.consistentMaxAge,
      cacheMsg,
    ),
    revalidateMs: int(get, 'caching.revalidate_ms', 0, 3_600_000, DEFAULTS.revalidateMs),
    maxEntries: int(get, 'caching.max_entries', 1, 10_000_000, DEFAULTS.maxEntries),
    maxBytes: int(get, 'caching.max_bytes', 0, 2 ** 40, DEFAULTS.maxCacheBytes),
  };

  const limits = {
    maxUploadBytes: int(get, 'server.max_upload_bytes', 1024, 2 ** 31, DEFAULTS.maxUploadBytes),
    maxPartBytes: int(get, 'server.max_part_bytes', 1024, 2 ** 31, DEFAULTS.maxPartBytes),
    maxParts: int(get, 'server.max_parts', 1, 100_000, DEFAULTS.maxParts),
  };

  return {
    ...(opts.file ? { file: opts.file } : {}),
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    listen,
    ...(tls ? { tls } : {}),
    storage: { backend, ...(dbUrl ? { dbUrl } : {}) },
    trust,
    ...(auth ? { auth } : {}),
    logging: { level },
    caching,
    gunPrefixes: checkGunPrefixes(list(get, 'repositories.gun_prefixes')),
    limits,
  };
}

/** Reads a Go notary-server config file (rules at the top). */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const ext = extname(file).toLowerCase();
  if (ext !== '.json' && ext !== '')
    fail(`${file}: only JSON config files are supported (Go's notary-server fixtures are JSON)`);
  return readConfigFile(file, (raw, where) => parseServerConfig(raw, { ...where, env }));
}

/** The data dir of the embedded setup: $TRUSTDESK_DATA_DIR or ~/.trustdesk/server. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TRUSTDESK_DATA_DIR
    ? resolve(env.TRUSTDESK_DATA_DIR)
    : join(homedir(), '.trustdesk', 'server');
}

/** The configuration without a file: loopback, SQLite + local trust service in the data dir. */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const dataDir = defaultDataDir(env);
  return parseServerConfig(
    {
      server: { http_addr: DEFAULT_ADDR },
      storage: { backend: 'sqlite3', db_url: join(dataDir, DEFAULT_SQLITE_FILE) },
      trust_service: { type: 'local' },
      logging: { level: 'info' },
    },
    { baseDir: dataDir, env, dataDir },
  );
}
