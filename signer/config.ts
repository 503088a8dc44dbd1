// trustdesk-signer's configuration: a Go notary-signer config file, unchanged (Go
// cmd/notary-signer/config.go, utils/configuration.go), plus env overrides.
//
// Reading rules, in order:
//   1. the file is JSON; keys are case-insensitive (viper lower-cases them);
//   2. every known setting may be overridden by env TRUSTDESK_SIGNER_<PATH> or Go's
//      NOTARY_SIGNER_<PATH>, PATH = the dotted path upper-cased with '.' → '_'
//      (TRUSTDESK_SIGNER_STORAGE_DB_URL); the TRUSTDESK_ name wins;
//   3. relative file paths (TLS files, a SQLite db_url, PKCS#11 files) are resolved against the
//      config file's directory, as Go does;
//   4. validation: server.grpc_addr required ("host:port", ":port" = every interface); mutual
//      TLS is mandatory — tls_cert_file, tls_key_file and client_ca_file all required — unless
//      --insecure-dev, which serves plaintext and only on a loopback address;
//      storage.backend ∈ memory | sqlite (sqlite3) | postgres | pkcs11 (mysql and rethinkdb are
//      Go's, not ours: refused with a message); sqlite and postgres need db_url and a default
//      passphrase alias (storage.default_alias, else env *_DEFAULT_ALIAS as Go reads it);
//      pkcs11 needs storage.pkcs11.token_label or token_serial and keeps its key DB in db_url
//      (a postgres:// URL or a SQLite path; default <data dir>/signer.db);
//      logging.level a logrus level.
// trustdesk's own settings (not in Go): server.debug_addr (HTTP /metrics and /health),
// server.max_message_bytes, storage.pkcs11.*.
// Without a config file (the embedded dev setup): 127.0.0.1:7899, a throwaway PKI and SQLite
// under the data dir ($TRUSTDESK_SIGNER_DATA_DIR or ~/.trustdesk/signer), alias "dev".

import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
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
} from '../src/service/plumbing.js';
import { checkAlias } from './passphrases.js';

export type StorageBackend = 'memory' | 'sqlite' | 'postgres' | 'pkcs11';

export interface ListenAddr {
  /** undefined = every interface (Go's ":7899"). */
  host: string | undefined;
  port: number;
}

export interface SignerConfig {
  file?: string;
  /** The dev setup's directory (PKI, database, passphrase file). */
  dataDir?: string;
  listen: ListenAddr;
  /** Absent only with insecureDev. */
  tls?: { certFile: string; keyFile: string; clientCaFile: string };
  insecureDev: boolean;
  debug?: ListenAddr;
  maxMessageBytes: number;
  storage: {
    backend: StorageBackend;
    /** sqlite: an absolute path; postgres: a postgres:// URL. */
    dbUrl?: string;
    defaultAlias?: string;
    pkcs11?: {
      modulePath: string;
      tokenLabel?: string;
      tokenSerial?: string;
      pinFile?: string;
      stateDir: string;
    };
  };
  logging: { level: string };
}

export const DEFAULT_GRPC_ADDR = '127.0.0.1:7899';
export const DEFAULT_PKCS11_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const MiB = 1024 * 1024;
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * MiB;

export const KNOWN_KEYS = [
  'server.grpc_addr',
  'server.tls_cert_file',
  'server.tls_key_file',
  'server.client_ca_file',
  'server.debug_addr',
  'server.max_message_bytes',
  'storage.backend',
  'storage.db_url',
  'storage.default_alias',
  'storage.pkcs11.module_path',
  'storage.pkcs11.token_label',
  'storage.pkcs11.token_serial',
  'storage.pkcs11.pin_file',
  'storage.pkcs11.state_dir',
  'logging.level',
] as const;

export function envNames(key: string): [string, string] {
  return envOverrideNames('SIGNER', key);
}

/** host:port → listen address; ":7899" = every interface. */
export function parseAddr(addr: string, key: string): ListenAddr {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) fail(`${key}: ${JSON.stringify(addr)} is not "host:port" (e.g. ":7899")`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

export function isLoopback(host: string | undefined): boolean {
  return host === 'localhost' || host === '::1' || (host?.startsWith('127.') ?? false);
}

export interface ParseOptions {
  /** Directory relative paths are resolved against. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  file?: string;
  dataDir?: string;
  insecureDev?: boolean;
}

/** Builds and validates a SignerConfig from a parsed Go notary-signer config object. */
export function parseSignerConfig(rawIn: unknown, opts: ParseOptions): SignerConfig {
  if (!isObject(rawIn)) fail('the configuration must be a JSON object');
  const raw = lowerKeys(rawIn) as Raw;
  const lookup = configLookup(raw, opts.env, envNames);
  const get = (key: string): string | undefined => configString(lookup(key), key);
  const path = (key: string): string | undefined => configPath(opts.baseDir, get(key));
  const insecureDev = opts.insecureDev ?? false;

  const addr = get('server.grpc_addr');
  if (!addr) fail('grpc listen address required for server (server.grpc_addr)');
  const listen = parseAddr(addr, 'server.grpc_addr');

  const certFile = path('server.tls_cert_file');
  const keyFile = path('server.tls_key_file');
  const clientCaFile = path('server.client_ca_file');
  let tls: SignerConfig['tls'];
  if (insecureDev) {
    if (!isLoopback(listen.host))
      fail(`--insecure-dev serves plaintext, so only on a loopback address (not ${addr})`);
  } else {
    if (!certFile || !keyFile)
      fail('unable to set up TLS: server.tls_cert_file and server.tls_key_file are required');
    if (!clientCaFile) {
      fail(
        'trustdesk-signer only serves mutual TLS: set server.client_ca_file to the CA (or the ' +
          "notary-server certificate chain) that issued notary-server's client certificate",
      );
    }
    tls = { certFile, keyFile, clientCaFile };
  }

  const debugAddr = get('server.debug_addr');
  const maxRaw = get('server.max_message_bytes');
  const maxMessageBytes = maxRaw === undefined ? DEFAULT_MAX_MESSAGE_BYTES : Number(maxRaw);
  if (
    !Number.isSafeInteger(maxMessageBytes) ||
    maxMessageBytes < 1024 ||
    maxMessageBytes > 64 * MiB
  )
    fail(`server.max_message_bytes: must be an integer from 1024 to ${64 * MiB}`);

  const backendName = (get('storage.backend') ?? '').toLowerCase();
  const backends: Record<string, StorageBackend> = {
    memory: 'memory',
    sqlite: 'sqlite',
    sqlite3: 'sqlite',
    postgres: 'postgres',
    pkcs11: 'pkcs11',
  };
  const backend = backends[backendName];
  if (!backend) {
    fail(
      backendName === ''
        ? 'storage.backend is not set (use sqlite, postgres, memory or pkcs11)'
        : `${backendName} is not an allowed backend, must be one of: sqlite, postgres, memory, pkcs11` +
            (backendName === 'mysql' || backendName === 'rethinkdb'
              ? ' (trustdesk-signer does not speak MySQL or RethinkDB; use postgres)'
              : ''),
    );
  }
  const dataDir = opts.dataDir ?? defaultDataDir(opts.env);
  let dbUrl = get('storage.db_url');
  if (backend === 'pkcs11' && !dbUrl) dbUrl = join(dataDir, 'signer.db');
  if ((backend === 'sqlite' || backend === 'postgres') && !dbUrl)
    fail(`must provide a non-empty database source for ${backendName} (storage.db_url)`);
  const isPg = dbUrl !== undefined && /^postgres(ql)?:\/\//i.test(dbUrl);
  if (backend === 'postgres' && !isPg)
    fail('storage.db_url: a postgres db_url must be a postgres:// URL');
  if (backend === 'sqlite' && dbUrl && /^[a-z]+:\/\//i.test(dbUrl))
    fail('storage.db_url: a sqlite db_url is a file path');
  if (dbUrl && !isPg && !isAbsolute(dbUrl)) dbUrl = resolve(opts.baseDir, dbUrl);

  let defaultAlias = get('storage.default_alias');
  if (!defaultAlias) {
    for (const name of envNames('default_alias')) defaultAlias ||= opts.env[name];
  }
  if (backend === 'sqlite' || backend === 'postgres') {
    if (!defaultAlias) fail('must provide a default alias for the key DB (storage.default_alias)');
    checkAlias(defaultAlias, 'storage.default_alias');
  }

  let pkcs11: SignerConfig['storage']['pkcs11'];
  if (backend === 'pkcs11') {
    const tokenLabel = get('storage.pkcs11.token_label');
    const tokenSerial = get('storage.pkcs11.token_serial');
    if (!tokenLabel && !tokenSerial)
      fail('storage.pkcs11.token_label or storage.pkcs11.token_serial is required');
    const pinFile = path('storage.pkcs11.pin_file');
    pkcs11 = {
      modulePath: path('storage.pkcs11.module_path') ?? DEFAULT_PKCS11_MODULE,
      ...(tokenLabel ? { tokenLabel } : {}),
      ...(tokenSerial ? { tokenSerial } : {}),
      ...(pinFile ? { pinFile } : {}),
      stateDir: path('storage.pkcs11.state_dir') ?? join(dataDir, 'pkcs11'),
    };
  }

  const level = get('logging.level') ?? 'info';
  logLevel(level);

  return {
    ...(opts.file ? { file: opts.file } : {}),
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    listen,
    ...(tls ? { tls } : {}),
    insecureDev,
    ...(debugAddr ? { debug: parseAddr(debugAddr, 'server.debug_addr') } : {}),
    maxMessageBytes,
    storage: {
      backend,
      ...(dbUrl ? { dbUrl } : {}),
      ...(defaultAlias ? { defaultAlias } : {}),
      ...(pkcs11 ? { pkcs11 } : {}),
    },
    logging: { level },
  };
}

/** Reads a Go notary-signer config file (rules at the top). */
export function loadConfigFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: { insecureDev?: boolean } = {},
): SignerConfig {
  return readConfigFile(file, (raw, where) => parseSignerConfig(raw, { ...where, env, ...opts }));
}

/** The dev setup's directory: $TRUSTDESK_SIGNER_DATA_DIR or ~/.trustdesk/signer. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TRUSTDESK_SIGNER_DATA_DIR
    ? resolve(env.TRUSTDESK_SIGNER_DATA_DIR)
    : join(homedir(), '.trustdesk', 'signer');
}

/** File names of the dev setup inside its data dir. */
export const DEV_FILES = {
  pkiDir: 'pki',
  caCert: 'ca.crt',
  serverCert: 'signer.crt',
  serverKey: 'signer.key',
  clientCert: 'client.crt',
  clientKey: 'client.key',
  database: 'signer.db',
  passphrase: 'dev-passphrase',
} as const;
export const DEV_ALIAS = 'dev';

/** The configuration without a file (the PKI files are made by dev-pki.ts at start). */
export function devConfig(env: NodeJS.ProcessEnv = process.env, insecureDev = false): SignerConfig {
  const dataDir = defaultDataDir(env);
  const pki = join(dataDir, DEV_FILES.pkiDir);
  return parseSignerConfig(
    {
      server: {
        grpc_addr: DEFAULT_GRPC_ADDR,
        tls_cert_file: join(pki, DEV_FILES.serverCert),
        tls_key_file: join(pki, DEV_FILES.serverKey),
        client_ca_file: join(pki, DEV_FILES.caCert),
      },
      storage: {
        backend: 'sqlite',
        db_url: join(dataDir, DEV_FILES.database),
        default_alias: DEV_ALIAS,
      },
      logging: { level: 'info' },
    },
    { baseDir: dataDir, env, dataDir, insecureDev },
  );
}
