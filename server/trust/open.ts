// Builds the configured trust service (Go notary-server's `trust_service` section, already read
// by the config loader: files → PEM text). `local` is the default for the embedded setup; Go's
// local service forces ed25519, ours defaults to ecdsa (P-256) and accepts either.

import { TrustdeskError } from '../../src/tuf/errors.js';
import type { KdfParams } from './key-vault.js';
import { isKeyAlgorithm, openLocalTrustService, type ServerKeyStore } from './local.js';
import { resolvePassphrase } from './passphrase.js';
import { RemoteTrustService, type RemoteTrustConfig } from './remote.js';
import type { KeyAlgorithm, TrustService } from './types.js';

export interface LocalTrustConfig {
  type: 'local';
  /** `trust_service.key_algorithm`; default ecdsa. */
  keyAlgorithm?: KeyAlgorithm;
  /** Set only by the embedded dev setup: allows the generated passphrase file (passphrase.ts). */
  devDataDir?: string;
  /** KDF cost for a new database; tests lower it. */
  kdf?: KdfParams;
}

export type TrustServiceConfig = LocalTrustConfig | ({ type: 'remote' } & RemoteTrustConfig);

export interface OpenTrustOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Start-up notices worth a log line (e.g. "generated a passphrase file"). */
  notice?: (message: string) => void;
}

export async function openTrustService(
  config: TrustServiceConfig,
  store: ServerKeyStore,
  opts: OpenTrustOptions = {},
): Promise<TrustService> {
  const algorithm = config.keyAlgorithm ?? 'ecdsa';
  if (!isKeyAlgorithm(algorithm)) {
    throw new TrustdeskError(
      'ERR_USAGE',
      `trust_service.key_algorithm ${JSON.stringify(algorithm)}: use ecdsa or ed25519`,
    );
  }
  if (config.type === 'remote')
    return new RemoteTrustService({ ...config, keyAlgorithm: algorithm });
  const { passphrase, source } = resolvePassphrase({
    env: opts.env ?? process.env,
    ...(config.devDataDir === undefined ? {} : { devDataDir: config.devDataDir }),
    ...(opts.notice ? { notice: opts.notice } : {}),
  });
  return openLocalTrustService(store, {
    passphrase,
    passphraseSource: source,
    keyAlgorithm: algorithm,
    ...(config.kdf ? { kdf: config.kdf } : {}),
  });
}
