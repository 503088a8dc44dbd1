// What every repository operation works with: the GUN's cache and changelist, the keyring
// (opened on first use), the server (when there is one), the clock, events and cancellation.

import { join } from 'node:path';
import { TrustdeskError } from '../../tuf/errors.js';
import type { TrustPinning } from '../../tuf/root-trust.js';
import type { Access } from '../remote/auth.js';
import type { RemoteRepository } from '../remote/remote-store.js';
import { MetadataCache, gunDir } from '../trust-dir/metadata-cache.js';
import { checkGun } from '../trust-dir/gun.js';
import type { UpdateEvent } from '../update/events.js';
import { FileChangelist, type FileChangelistOptions } from '../changelist/file-changelist.js';
import type { Keyring } from '../../keyring/keyring.js';

/** Progress of a repository operation (update events plus the steps of the operation). */
export type ClientEvent =
  | UpdateEvent
  | { type: 'step'; step: string; message: string }
  | { type: 'key-generated'; role: string; keyId: string }
  | { type: 'signed'; role: string; version: number }
  | { type: 'uploaded'; roles: string[] }
  | { type: 'key-removed'; role: string; keyId: string };

export interface RepositoryDeps {
  gun: string;
  /** Absolute trust directory. */
  trustDir: string;
  /** Opens the keyring on first use (its backends are slow to load; read-only commands never do). */
  keyring: () => Promise<Keyring>;
  /** The server for this GUN with the access an operation needs; absent = none configured. */
  remote?: (access: Access) => RemoteRepository;
  /** --offline: work from the cache, never touch the network. */
  offline?: boolean;
  /** Trust pinning from the config (read when an update needs it). */
  pinning?: () => Promise<TrustPinning>;
  /** Wall clock (ms). */
  nowMs: () => number;
  onEvent?: (e: ClientEvent) => void;
  changelist?: FileChangelistOptions;
}

export class RepoContext {
  readonly gun: string;
  readonly cache: MetadataCache;
  readonly changelist: FileChangelist;
  readonly #deps: RepositoryDeps;
  #keyring: Promise<Keyring> | undefined;

  constructor(deps: RepositoryDeps) {
    this.gun = checkGun(deps.gun);
    this.#deps = deps;
    this.cache = new MetadataCache(deps.trustDir, this.gun);
    this.changelist = new FileChangelist(
      join(gunDir(deps.trustDir, this.gun), 'changelist'),
      deps.changelist,
    );
  }

  get trustDir(): string {
    return this.#deps.trustDir;
  }

  get offline(): boolean {
    return this.#deps.offline === true || this.#deps.remote === undefined;
  }

  nowMs(): number {
    return this.#deps.nowMs();
  }

  emit(e: ClientEvent): void {
    this.#deps.onEvent?.(e);
  }

  step(step: string, message: string): void {
    this.emit({ type: 'step', step, message });
  }

  keyring(): Promise<Keyring> {
    this.#keyring ??= this.#deps.keyring();
    return this.#keyring;
  }

  async pinning(): Promise<TrustPinning> {
    return (await this.#deps.pinning?.()) ?? {};
  }

  /** The server, or ERR_OFFLINE naming what needed it. */
  remote(access: Access, what: string): RemoteRepository {
    if (this.#deps.offline) {
      throw new TrustdeskError(
        'ERR_OFFLINE',
        `${what} needs the trust server, but --offline was given`,
        {
          hint: 'Run it without --offline.',
        },
      );
    }
    if (!this.#deps.remote) {
      throw new TrustdeskError(
        'ERR_OFFLINE',
        `${what} needs the trust server and none is configured`,
        {
          hint: 'Give the server with -s <url> or remote_server.url in the config file.',
        },
      );
    }
    return this.#deps.remote(access);
  }

  /** The remote for read-only operations, or undefined when working offline. */
  readRemote(): RemoteRepository | undefined {
    return this.offline ? undefined : this.#deps.remote?.('pull');
  }
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) {
    throw new TrustdeskError('ERR_ABORTED', `${what} was cancelled; nothing was changed`);
  }
}
