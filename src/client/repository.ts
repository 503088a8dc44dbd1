// A Notary repository (one GUN) as its owner sees it: every operation of `notary` on it, for the
// CLI's script mode and the TUI alike. Knows nothing of terminals: operations take an
// AbortSignal, report progress through `onEvent`, and ask for passphrases, PINs and
// confirmations only through the keyring's Prompter.
//
//   const repo = new Repository({ gun, trustDir, keyring: () => openKeyring(), remote, nowMs });
//   await repo.init({});                       // online: the server's timestamp key
//   await repo.addTarget('app', meta);         // offline: staged in the changelist
//   await repo.publish();                      // online: update, rebase, sign, upload
//
// The rules of each operation are at the top of its module in ./ops. Operations load their
// module on first use: staging a change must not pay for the HTTP client, the update machinery
// or the signing code (a CLI process starts for every command).

import type { PublicKey } from '../tuf/keys.js';
import type { FileMeta } from '../tuf/metadata.js';
import type { ChangeEntry } from './changelist/file-changelist.js';
import type { RepositoryView, TargetEntry } from './update/repository-view.js';
import { RepoContext, type RepositoryDeps } from './ops/context.js';
import type { DeleteResult } from './ops/delete.js';
import type { InitOptions, InitResult } from './ops/init.js';
import type { PublishResult } from './ops/publish.js';
import type { DelegationInfo } from './ops/read.js';
import type { RotateOptions, RotateResult } from './ops/rotate.js';
import {
  changelistStatus,
  resetChanges,
  stageAddDelegation,
  stageAddTarget,
  stagePurgeKeys,
  stageRemoveDelegation,
  stageRemoveTarget,
  stageWitness,
  type DelegationRemoval,
  type Staged,
} from './ops/stage.js';

export type { ClientEvent, RepositoryDeps } from './ops/context.js';
export type { InitOptions, InitResult } from './ops/init.js';
export type { PublishResult } from './ops/publish.js';
export type { RotateOptions, RotateResult } from './ops/rotate.js';
export type { DelegationInfo } from './ops/read.js';
export type { DelegationRemoval, Staged } from './ops/stage.js';
export type { DeleteResult } from './ops/delete.js';

export interface Signal {
  signal?: AbortSignal;
}

export class Repository {
  readonly #ctx: RepoContext;

  constructor(deps: RepositoryDeps) {
    this.#ctx = new RepoContext(deps);
  }

  get gun(): string {
    return this.#ctx.gun;
  }

  /** `<trust_dir>/tuf/<gun>/changelist` */
  get changelistDir(): string {
    return this.#ctx.changelist.dir;
  }

  // --- online -----------------------------------------------------------------------------

  async init(opts: InitOptions = {}): Promise<InitResult> {
    return (await import('./ops/init.js')).initRepository(this.#ctx, opts);
  }

  async publish(opts: Signal = {}): Promise<PublishResult> {
    return (await import('./ops/publish.js')).publish(this.#ctx, opts.signal);
  }

  async rotateKey(role: string, opts: RotateOptions = {}): Promise<RotateResult> {
    return (await import('./ops/rotate.js')).rotateKey(this.#ctx, role, opts);
  }

  async delete(opts: { remote?: boolean } & Signal = {}): Promise<DeleteResult> {
    return (await import('./ops/delete.js')).deleteRepository(this.#ctx, opts);
  }

  /** Brings the verified metadata up to date (from the cache only when offline). */
  async update(opts: Signal = {}): Promise<RepositoryView> {
    return (await import('./ops/read.js')).readView(this.#ctx, opts.signal);
  }

  async list(opts: { roles?: readonly string[] } & Signal = {}): Promise<{
    view: RepositoryView;
    targets: TargetEntry[];
  }> {
    const view = await this.update(opts);
    return { view, targets: (await import('./ops/read.js')).listTargets(view, opts.roles) };
  }

  async lookup(
    name: string,
    opts: Signal = {},
  ): Promise<{ view: RepositoryView; target: TargetEntry }> {
    const view = await this.update(opts);
    return { view, target: (await import('./ops/read.js')).lookupTarget(view, name) };
  }

  /** Checks `content` against the trusted metadata of target `name`; throws unless it matches. */
  async verify(
    name: string,
    content: Uint8Array,
    opts: Signal = {},
  ): Promise<{ view: RepositoryView; target: TargetEntry }> {
    const view = await this.update(opts);
    return { view, target: (await import('./ops/read.js')).verifyTarget(view, name, content) };
  }

  async delegations(opts: Signal = {}): Promise<{
    view: RepositoryView;
    delegations: DelegationInfo[];
  }> {
    const view = await this.update(opts);
    return { view, delegations: (await import('./ops/read.js')).listDelegations(view) };
  }

  // --- offline (staged) -----------------------------------------------------------------------

  addTarget(name: string, meta: FileMeta, roles?: readonly string[]): Promise<Staged> {
    return stageAddTarget(this.#ctx, name, meta, roles);
  }

  removeTarget(name: string, roles?: readonly string[]): Promise<Staged> {
    return stageRemoveTarget(this.#ctx, name, roles);
  }

  addDelegation(
    role: string,
    keys: readonly PublicKey[],
    paths: readonly string[],
  ): Promise<Staged> {
    return stageAddDelegation(this.#ctx, role, keys, paths);
  }

  removeDelegation(role: string, removal: DelegationRemoval): Promise<Staged> {
    return stageRemoveDelegation(this.#ctx, role, removal);
  }

  purgeDelegationKeys(keyIds: readonly string[]): Promise<Staged> {
    return stagePurgeKeys(this.#ctx, keyIds);
  }

  witness(roles: readonly string[]): Promise<Staged> {
    return stageWitness(this.#ctx, roles);
  }

  status(): Promise<ChangeEntry[]> {
    return changelistStatus(this.#ctx);
  }

  reset(which: { all: true } | { indices: readonly number[] }): Promise<string[]> {
    return resetChanges(this.#ctx, which);
  }
}
