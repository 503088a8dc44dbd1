// Starting and stopping a trustdesk-signer: key DB + vault → KeyService → gRPC services → the
// mutual-TLS listener (+ the optional debug HTTP port). The order matters:
//   1. the key DB opens (an unreachable database fails the start, naming it);
//   2. every passphrase alias in use is checked by opening one key each — a wrong passphrase
//      stops the start, naming the alias, before the port is bound;
//   3. TLS files are read and the listener bound; only then is the signer "up".
// close(graceMs) stops accepting, lets running RPCs finish, then closes the key DB (and token
// sessions). The embedded dev setup (config.dataDir set, no file) gets its PKI made here and a
// generated passphrase kept in <data dir>/dev-passphrase (0600) unless the env gives one.

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { TrustdeskError } from '../src/tuf/errors.js';
import { DEV_ALIAS, DEV_FILES, type SignerConfig } from './config.js';
import { startDebugServer, type DebugServer } from './debug-http.js';
import { ensureDevPki } from './dev-pki.js';
import { registerSignerServices } from './grpc-service.js';
import { KeyService } from './key-service.js';
import { GrpcListener } from './listener.js';
import { createLogger, type Logger } from './log.js';
import { SignerMetrics } from './metrics.js';
import { Passphrases, passphraseEnvNames } from './passphrases.js';
import { Pkcs11Vault } from './pkcs11-vault.js';
import { MemoryKeyStore } from './store/memory.js';
import { PostgresKeyStore } from './store/postgres.js';
import { SqliteKeyStore } from './store/sqlite.js';
import { type KeyStore } from './store/types.js';
import { JweVault, type KeyVault } from './vault.js';

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  metrics?: SignerMetrics;
  now?: () => number;
  /** Human-facing start-up messages (the CLI prints them to stderr). */
  notice?: (message: string) => void;
}

export interface RunningSigner {
  readonly port: number;
  readonly debugPort: number | undefined;
  readonly keys: KeyService;
  readonly metrics: SignerMetrics;
  close(graceMs?: number): Promise<void>;
}

function readTls(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new TrustdeskError(
      'ERR_CONFIG',
      `unable to set up TLS: cannot read ${what} ${file}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

/** The dev setup's passphrase: from the env if set, else generated once into the data dir. */
function devPassphrase(
  dataDir: string,
  env: NodeJS.ProcessEnv,
  notice: (m: string) => void,
): Map<string, string> {
  if (passphraseEnvNames(DEV_ALIAS).some((n) => env[n])) return new Map();
  const file = join(dataDir, DEV_FILES.passphrase);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(24).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
    notice(
      `generated the dev key DB passphrase in ${file} (deleting it makes the dev keys unreadable)`,
    );
  }
  chmodSync(file, 0o600);
  return new Map([[DEV_ALIAS, readFileSync(file, 'utf8').trim()]]);
}

/** The key DB the config names (memory, a postgres:// URL, else a SQLite file). */
export async function openStore(config: SignerConfig): Promise<KeyStore> {
  const { backend, dbUrl } = config.storage;
  if (backend === 'memory') return new MemoryKeyStore();
  if (dbUrl && /^postgres(ql)?:\/\//i.test(dbUrl))
    return PostgresKeyStore.open({ connectionString: dbUrl });
  return SqliteKeyStore.open(dbUrl as string);
}

/** Passphrases by alias for a JWE key DB (the dev setup adds its generated one). */
export function passphrasesFor(
  config: SignerConfig,
  env: NodeJS.ProcessEnv,
  notice: (m: string) => void,
): Passphrases {
  const fixed = config.dataDir
    ? devPassphrase(config.dataDir, env, notice)
    : new Map<string, string>();
  return new Passphrases(env, fixed);
}

/** Opens the key DB and vault the config names. */
export async function openKeyService(
  config: SignerConfig,
  opts: { env: NodeJS.ProcessEnv; notice: (m: string) => void; now?: () => number; log?: Logger },
): Promise<KeyService> {
  const { storage } = config;
  const store = await openStore(config);

  let vault: KeyVault;
  try {
    if (storage.pkcs11) {
      const pin = opts.env.TRUSTDESK_SIGNER_PKCS11_PIN ?? opts.env.TRUSTDESK_PKCS11_PIN;
      vault = new Pkcs11Vault({ ...storage.pkcs11, ...(pin ? { pin } : {}) });
    } else if (storage.backend === 'memory') {
      // Nothing outlives the process, so the keys are sealed under a random per-process secret.
      const alias = 'memory';
      vault = new JweVault(
        new Passphrases({}, new Map([[alias, randomBytes(24).toString('base64url')]])),
        alias,
      );
    } else {
      vault = new JweVault(
        passphrasesFor(config, opts.env, opts.notice),
        storage.defaultAlias as string,
      );
    }
  } catch (e) {
    await store.close();
    throw e;
  }
  const keys = new KeyService({
    store,
    vault,
    ...(opts.now ? { now: opts.now } : {}),
    onBackgroundError: (e, keyId) =>
      opts.log?.warn(
        { keyId, error: e instanceof Error ? e.message : String(e) },
        'background key update failed',
      ),
  });
  try {
    await keys.start();
  } catch (e) {
    await keys.close().catch(() => undefined);
    throw e;
  }
  return keys;
}

/** Starts a signer (see the order at the top of the file). */
export async function startSigner(
  config: SignerConfig,
  opts: StartOptions = {},
): Promise<RunningSigner> {
  const env = opts.env ?? process.env;
  const log = opts.logger ?? createLogger(config.logging.level);
  const notice = opts.notice ?? ((m: string) => log.info(m));
  const metrics = opts.metrics ?? new SignerMetrics();
  const now = opts.now ?? Date.now;

  if (config.dataDir && config.tls) {
    const pki = ensureDevPki(config.dataDir, now());
    notice(
      `dev PKI in ${pki.dir}${pki.created ? ' (new)' : ''}: give trustdesk-server / notary-server ` +
        `trust_service.tls_ca_file=${pki.caCert}, tls_client_cert=${pki.clientCert}, tls_client_key=${pki.clientKey}`,
    );
  }
  const tls = config.tls && {
    certPem: readTls(config.tls.certFile, 'server.tls_cert_file'),
    keyPem: readTls(config.tls.keyFile, 'server.tls_key_file'),
    clientCaPem: readTls(config.tls.clientCaFile, 'server.client_ca_file'),
  };

  const keys = await openKeyService(config, { env, notice, now, log });
  let listener: GrpcListener | undefined;
  let debug: DebugServer | undefined;
  try {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': config.maxMessageBytes,
      'grpc.max_send_message_length': config.maxMessageBytes,
    });
    registerSignerServices(server, {
      keys,
      log,
      metrics,
      callerOf: (peer) => listener?.callerOf(peer),
    });
    listener = await GrpcListener.start(server, {
      host: config.listen.host,
      port: config.listen.port,
      ...(tls ? { tls } : {}),
      now,
      onRefused: (r) => {
        metrics.refused(r.reason);
        log.warn(
          { remote: r.remote, cn: r.cn, reason: r.reason },
          `refused a client connection: ${r.detail}`,
        );
      },
    });
    if (config.debug) debug = await startDebugServer(config.debug, metrics, keys);
  } catch (e) {
    await listener?.close(0);
    await keys.close();
    throw e;
  }
  if (config.insecureDev) {
    notice(
      'WARNING: --insecure-dev: serving gRPC in PLAINTEXT without client authentication; anyone who can reach the port can sign with every key. Never use this outside local experiments.',
    );
  }
  log.info(
    {
      addr: `${config.listen.host ?? '*'}:${listener.port}`,
      storage: keys.store.name,
      vault: keys.vault.kind,
      mtls: !config.insecureDev,
      debugPort: debug?.port,
    },
    'trustdesk-signer listening',
  );
  const running = listener;
  let closing: Promise<void> | undefined;
  return {
    port: running.port,
    debugPort: debug?.port,
    keys,
    metrics,
    close: (graceMs = 5_000) =>
      (closing ??= (async () => {
        await running.close(graceMs);
        await debug?.close();
        await keys.close();
        log.info('trustdesk-signer stopped');
      })()),
  };
}
