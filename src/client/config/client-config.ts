// Client configuration (notary-protocol §7.1): the Go notary client's config.json keys, read
// unchanged, so an existing ~/.notary/config.json works when pointed to with -c.
//
// Where the config comes from, first match wins:
//   -c/--configFile  →  TRUSTDESK_CONFIG  →  ~/.trustdesk/config.json (may be absent: defaults).
// A config named by -c or TRUSTDESK_CONFIG must exist.
//
// Keys (matched case-insensitively, as Go's viper does; unknown keys are ignored):
//   trust_dir                      default ~/.trustdesk; a leading ~ is expanded; relative paths
//                                  are relative to the CWD (as in Go, despite its docs)
//   remote_server.url              default https://notary-server:4443 (Go's code default)
//   remote_server.root_ca          relative to the config file's directory
//   remote_server.tls_client_cert  idem; cert and key must be given together
//   remote_server.tls_client_key   idem
//   remote_server.skipTLSVerify    boolean (or Go's ParseBool strings)
//   trust_pinning.certs            { "<gun>" | "<prefix>*": ["<root TUF key id>", …] }
//   trust_pinning.ca               { "<gun prefix>": "<PEM bundle path>" } — relative to the
//                                  config file's directory (Go: to the CWD; see the report)
//   trust_pinning.disable_tofu     boolean
// Flags override the file: -s/--server, -d/--trustDir, --tlscacert, --tlscert, --tlskey (paths
// relative to the CWD). Env: NOTARY_AUTH (credentials.ts).
//
// File contents (TLS PEMs, CA bundles) are read by readTlsFiles / readTrustPinning when a
// command needs them, so offline commands do not fail over an unused TLS setting; every error
// names the file and the key.

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { TrustdeskError } from '../../tuf/errors.js';
import type { TrustPinning } from '../../tuf/root-trust.js';
import { credentialsFromEnv, type BasicCredentials } from './credentials.js';

export const DEFAULT_SERVER_URL = 'https://notary-server:4443';
export const DEFAULT_DIR_NAME = '.trustdesk';
/** Config files are small; anything larger is not a config file. */
const MAX_CONFIG_BYTES = 1024 * 1024;
/** PEM files (certificates, keys, CA bundles) are capped the same way. */
const MAX_PEM_BYTES = 10 * 1024 * 1024;

export interface ConfigFlags {
  /** -c / --configFile */
  configFile?: string;
  /** -s / --server */
  server?: string;
  /** -d / --trustDir */
  trustDir?: string;
  /** --tlscacert */
  tlsCaCert?: string;
  /** --tlscert */
  tlsCert?: string;
  /** --tlskey */
  tlsKey?: string;
}

export interface LoadConfigOptions {
  flags?: ConfigFlags;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Default: $HOME from `env`, else the OS home directory. */
  homeDir?: string;
}

/** A path and the config key (or flag) it came from, for error messages. */
export interface ConfigPath {
  path: string;
  key: string;
}

export interface RemoteServerConfig {
  /** Absolute http(s) URL without a trailing slash; may carry a path prefix. */
  url: string;
  rootCa?: ConfigPath;
  clientCert?: ConfigPath;
  clientKey?: ConfigPath;
  skipTLSVerify: boolean;
}

export interface TrustPinningConfig {
  certs: Record<string, string[]>;
  /** GUN prefix → CA bundle path. */
  ca: Record<string, ConfigPath>;
  disableTofu: boolean;
}

export interface ClientConfig {
  /** The config file that was read, or undefined when defaults were used. */
  configFile: string | undefined;
  /** Absolute trust directory. */
  trustDir: string;
  remote: RemoteServerConfig;
  trustPinning: TrustPinningConfig;
  /** From NOTARY_AUTH. */
  credentials: BasicCredentials | undefined;
}

/** PEM text of the remote's TLS files. */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type JsonObj = { [k: string]: Json };

function configError(where: string, msg: string, cause?: unknown): TrustdeskError {
  return new TrustdeskError('ERR_BAD_CONFIG', `${where}: ${msg}`, { cause });
}

function isObj(v: Json | undefined): v is JsonObj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Viper matches keys case-insensitively: exact spelling first, then any case. */
function member(o: JsonObj, key: string): Json | undefined {
  if (Object.hasOwn(o, key)) return o[key];
  const lower = key.toLowerCase();
  const k = Object.keys(o).find((x) => x.toLowerCase() === lower);
  return k === undefined ? undefined : o[k];
}

/** Go strconv.ParseBool's spellings (viper's GetBool casts strings with it). */
const BOOL_STRINGS: Record<string, boolean> = {
  '1': true,
  t: true,
  T: true,
  true: true,
  TRUE: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  false: false,
  FALSE: false,
  False: false,
};

class Reader {
  constructor(readonly file: string) {}

  where(key: string): string {
    return `${this.file}: ${key}`;
  }

  obj(o: JsonObj, key: string): JsonObj | undefined {
    const v = member(o, key.split('.').pop() as string);
    if (v === undefined || v === null) return undefined;
    if (!isObj(v)) throw configError(this.where(key), 'must be an object');
    return v;
  }

  str(o: JsonObj | undefined, key: string): string | undefined {
    const v = o && member(o, key.split('.').pop() as string);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw configError(this.where(key), 'must be a string');
    return v;
  }

  bool(o: JsonObj | undefined, key: string): boolean {
    const v = o && member(o, key.split('.').pop() as string);
    if (v === undefined || v === null) return false;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && Object.hasOwn(BOOL_STRINGS, v)) return BOOL_STRINGS[v] as boolean;
    throw configError(this.where(key), 'must be true or false');
  }
}

function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}

/** Absolute http(s) URL, trailing slashes removed (the client appends `/v2/…`). */
export function normalizeServerUrl(url: string, where: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw configError(where, `${JSON.stringify(url)} is not a URL`, e);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw configError(where, `${JSON.stringify(url)} must start with https:// or http://`);
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '')
    throw configError(where, `${JSON.stringify(url)} must not carry credentials, a query or "#"`);
  return url.replace(/\/+$/, '');
}

async function readConfigFile(file: string, required: boolean): Promise<JsonObj | undefined> {
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_CONFIG_BYTES)
      throw configError(file, `${buf.length} bytes is too large for a config file`);
    text = buf.toString('utf8');
  } catch (e) {
    if (e instanceof TrustdeskError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    const why = code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw configError(file, `cannot read the config file (${why})`, e);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw configError(file, `not valid JSON (${(e as Error).message})`, e);
  }
  if (!isObj(doc as Json)) throw configError(file, 'the config must be a JSON object');
  return doc as JsonObj;
}

function trustPinningOf(r: Reader, root: JsonObj, configDir: string): TrustPinningConfig {
  const tp = r.obj(root, 'trust_pinning');
  const certs: Record<string, string[]> = {};
  const ca: Record<string, ConfigPath> = {};
  const certsObj = tp && r.obj(tp, 'trust_pinning.certs');
  for (const [gun, ids] of Object.entries(certsObj ?? {})) {
    const key = `trust_pinning.certs[${JSON.stringify(gun)}]`;
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string'))
      throw configError(r.where(key), 'must be a list of root key IDs (strings)');
    certs[gun] = ids;
  }
  const caObj = tp && r.obj(tp, 'trust_pinning.ca');
  for (const [prefix, path] of Object.entries(caObj ?? {})) {
    const key = `trust_pinning.ca[${JSON.stringify(prefix)}]`;
    if (typeof path !== 'string' || path === '')
      throw configError(r.where(key), 'must be the path of a PEM CA bundle');
    ca[prefix] = { path: resolve(configDir, path), key };
  }
  return { certs, ca, disableTofu: r.bool(tp, 'trust_pinning.disable_tofu') };
}

/** Reads the config file (if any), applies flags and defaults. */
export async function loadClientConfig(opts: LoadConfigOptions): Promise<ClientConfig> {
  const { env, cwd } = opts;
  const flags = opts.flags ?? {};
  const home = opts.homeDir ?? (env.HOME || homedir());
  const defaultDir = join(home, DEFAULT_DIR_NAME);

  const explicit = flags.configFile ?? (env.TRUSTDESK_CONFIG || undefined);
  const file = resolve(cwd, expandHome(explicit ?? join(defaultDir, 'config.json'), home));
  const doc = await readConfigFile(file, explicit !== undefined);
  const root = doc ?? {};
  const r = new Reader(file);
  const configDir = dirname(file);
  const fromConfig = (v: string | undefined, key: string): ConfigPath | undefined =>
    v === undefined ? undefined : { path: resolve(configDir, expandHome(v, home)), key };
  const fromFlag = (v: string | undefined, flag: string): ConfigPath | undefined =>
    v === undefined || v === ''
      ? undefined
      : { path: resolve(cwd, expandHome(v, home)), key: flag };

  const rs = r.obj(root, 'remote_server');
  const rootCa =
    fromFlag(flags.tlsCaCert, '--tlscacert') ??
    fromConfig(r.str(rs, 'remote_server.root_ca'), 'remote_server.root_ca');
  const clientCert =
    fromFlag(flags.tlsCert, '--tlscert') ??
    fromConfig(r.str(rs, 'remote_server.tls_client_cert'), 'remote_server.tls_client_cert');
  const clientKey =
    fromFlag(flags.tlsKey, '--tlskey') ??
    fromConfig(r.str(rs, 'remote_server.tls_client_key'), 'remote_server.tls_client_key');
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    const given = (clientCert ?? clientKey) as ConfigPath;
    throw configError(
      given.key === '--tlscert' || given.key === '--tlskey' ? 'flags' : file,
      `${given.key} is set without its pair: pass both the TLS client certificate and key, or neither`,
    );
  }

  let url: string;
  if (flags.server !== undefined && flags.server !== '') {
    url = normalizeServerUrl(flags.server, '-s/--server');
  } else {
    const configured = r.str(rs, 'remote_server.url');
    url = normalizeServerUrl(
      configured ?? DEFAULT_SERVER_URL,
      configured ? r.where('remote_server.url') : 'default server URL',
    );
  }

  const trustDirRaw =
    flags.trustDir !== undefined && flags.trustDir !== ''
      ? flags.trustDir
      : (r.str(root, 'trust_dir') ?? defaultDir);

  return {
    configFile: doc === undefined ? undefined : file,
    trustDir: resolve(cwd, expandHome(trustDirRaw, home)),
    remote: {
      url,
      rootCa,
      clientCert,
      clientKey,
      skipTLSVerify: r.bool(rs, 'remote_server.skipTLSVerify'),
    },
    trustPinning: trustPinningOf(r, root, configDir),
    credentials: credentialsFromEnv(env),
  };
}

async function readPem(p: ConfigPath, configFile: string | undefined): Promise<string> {
  const where = p.key.startsWith('--') ? p.key : `${configFile ?? 'config'}: ${p.key}`;
  let buf: Buffer;
  try {
    buf = await readFile(p.path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw configError(where, `cannot read ${p.path} (${why})`, e);
  }
  if (buf.length > MAX_PEM_BYTES) throw configError(where, `${p.path} is too large for a PEM file`);
  const text = buf.toString('utf8');
  if (!text.includes('-----BEGIN ')) throw configError(where, `${p.path} is not a PEM file`);
  return text;
}

/** Reads the remote's TLS files (CA, client certificate and key) as PEM text. */
export async function readTlsFiles(config: ClientConfig): Promise<TlsFiles> {
  const { rootCa, clientCert, clientKey } = config.remote;
  const out: TlsFiles = {};
  if (rootCa) out.ca = await readPem(rootCa, config.configFile);
  if (clientCert) out.cert = await readPem(clientCert, config.configFile);
  if (clientKey) out.key = await readPem(clientKey, config.configFile);
  return out;
}

/** The src/tuf TrustPinning: CA bundle files read as PEM text. */
export async function readTrustPinning(config: ClientConfig): Promise<TrustPinning> {
  const tp = config.trustPinning;
  const ca: Record<string, string> = {};
  for (const [prefix, p] of Object.entries(tp.ca)) ca[prefix] = await readPem(p, config.configFile);
  const out: TrustPinning = { disableTofu: tp.disableTofu };
  if (Object.keys(tp.certs).length > 0) out.certs = structuredClone(tp.certs);
  if (Object.keys(ca).length > 0) out.ca = ca;
  return out;
}
