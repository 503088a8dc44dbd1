// `publish` (notary-protocol §7.10; Go client/client.go publish): a rebase of the staged changes
// onto what the server holds.
//
//   1. update as a write operation (the repository's existence is proven with GET root.json).
//      If the server does not know the repository ("initial publish"), start from the cached
//      root/targets/snapshot/timestamp — or initialise it first when nothing is cached;
//   2. apply the changes in order to a RepoBuilder loaded from the verified metadata (a witness
//      change may revive a delegation the update skipped as invalid: that copy is loaded too);
//   3. sign only what must be signed: the root when it changed or expires within six months
//      (then cross-signed by the previous root keys if the root role changed), every changed
//      targets role (and `targets` on an initial publish), the snapshot when its key is held
//      locally (otherwise the server makes it); never the timestamp;
//   4. one multipart POST with every file; an initial publish also sends the cached root.
// Only after the server's 200 does `publish` remove the changes it applied (exactly those: a
// change staged meanwhile stays). Any failure before that leaves the changelist and the cache
// as they were. The cache is not rewritten by publish (the next update fetches the server's
// copies, as in Go).

import { RepoBuilder } from '../../tuf/builder.js';
import { TrustdeskError, isTrustdeskError } from '../../tuf/errors.js';
import type { PublicKey, Signer } from '../../tuf/keys.js';
import {
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type Metadata,
  type TargetsSigned,
} from '../../tuf/metadata.js';
import { isDelegationName } from '../../tuf/roles.js';
import type { Access } from '../remote/auth.js';
import { sixMonthsFrom, updateRepository } from '../update/updater.js';
import type { RepositoryView } from '../update/repository-view.js';
import { applyChange } from '../changelist/apply.js';
import type { Change } from '../changelist/change.js';
import { throwIfAborted, type RepoContext } from './context.js';
import { initRepository } from './init.js';
import { heldKeys, signersFor } from './keys.js';

export interface StagedChange {
  change: Change;
  /** How errors name it, e.g. `change #2 (create target "app")`. */
  what: string;
}

export interface PublishedRole {
  role: string;
  version: number;
}

export interface PublishResult {
  gun: string;
  /** The server did not know the repository before. */
  initial: boolean;
  /** What was uploaded, in upload order (root, targets roles, snapshot). */
  uploaded: PublishedRole[];
  /** No snapshot was sent: the server signs it. */
  serverSignsSnapshot: boolean;
  /** Changes applied. */
  applied: number;
}

export interface PublishOptions {
  access: Access;
  /** Names the operation in errors ("publish", "key rotate"). */
  what: string;
  signal?: AbortSignal;
  /** Called with the builder as loaded, before the changes are applied. */
  beforeApply?: (b: RepoBuilder) => void;
}

function describe(c: Change): string {
  const target = c.type === 'target' ? ` ${JSON.stringify(c.path)}` : '';
  return `${c.action} ${c.type}${target} in ${c.scope}`;
}

export function stagedChange(c: Change, index: number): StagedChange {
  return { change: c, what: `change #${index} (${describe(c)})` };
}

/** The builder from the verified view; witnessed delegations that failed verification included. */
function builderFromView(
  ctx: RepoContext,
  view: RepositoryView,
  witnessed: ReadonlySet<string>,
): RepoBuilder {
  const set = view.trusted;
  const delegations = new Map<string, Metadata<TargetsSigned>>();
  for (const role of set.delegatedRoles) {
    const v = set.delegated(role);
    if (v) delegations.set(role, v.metadata);
  }
  for (const s of view.info.skipped) {
    if (!witnessed.has(s.role) || !s.raw) continue;
    try {
      delegations.set(s.role, parseTargets(s.raw, { role: s.role }));
    } catch {
      // unparsable: witness then reports the role as unknown
    }
  }
  return RepoBuilder.load({
    gun: ctx.gun,
    root: set.root.metadata,
    ...(set.targets ? { targets: set.targets.metadata } : {}),
    ...(set.snapshot ? { snapshot: set.snapshot.metadata } : {}),
    ...(set.timestamp ? { timestamp: set.timestamp.metadata } : {}),
    delegations,
  });
}

/** Go's bootstrapRepo: the unpublished repository as the cache holds it (base roles only). */
async function builderFromCache(
  ctx: RepoContext,
  signal: AbortSignal | undefined,
): Promise<{ builder: RepoBuilder; initialised: boolean }> {
  let initialised = false;
  const read = () =>
    Promise.all(['root', 'targets', 'snapshot', 'timestamp'].map((r) => ctx.cache.read(r)));
  let [rootBytes, targets, snapshot, timestamp] = await read();
  if (!rootBytes) {
    ctx.step('init', `no trust data for ${ctx.gun} locally or on the server: initialising it`);
    await initRepository(ctx, { ...(signal ? { signal } : {}) });
    initialised = true;
    [rootBytes, targets, snapshot, timestamp] = await read();
  }
  if (!rootBytes) throw new TrustdeskError('ERR_IO', `${ctx.gun}: the cached root disappeared`);
  try {
    const builder = RepoBuilder.load({
      gun: ctx.gun,
      root: parseRoot(rootBytes),
      ...(targets ? { targets: parseTargets(targets) } : {}),
      ...(snapshot ? { snapshot: parseSnapshot(snapshot) } : {}),
      ...(timestamp ? { timestamp: parseTimestamp(timestamp) } : {}),
    });
    return { builder, initialised };
  } catch (e) {
    if (!isTrustdeskError(e)) throw e;
    throw new TrustdeskError(e.code, `the cached metadata of ${ctx.gun} is damaged: ${e.message}`, {
      hint: `Remove the local copy (\`trustdesk delete ${ctx.gun}\`) and initialise again.`,
      cause: e,
    });
  }
}

/** Updates, applies `changes`, signs and uploads. The changelist is not touched here. */
export async function publishChanges(
  ctx: RepoContext,
  changes: readonly StagedChange[],
  opts: PublishOptions,
): Promise<PublishResult> {
  const { signal } = opts;
  const remote = ctx.remote(opts.access, opts.what);
  const nowMs = ctx.nowMs();
  let initial = false;
  let builder: RepoBuilder;
  // The keyring's index (read-only: nothing is unlocked or asked for) is read while the update
  // waits for the server; its errors surface where it is needed, after the update's.
  const readKeys = () => {
    const p = ctx.keyring().then(async (k) => ({ keyring: k, held: await heldKeys(k) }));
    p.catch(() => {});
    return p;
  };
  let keysHeld = readKeys();
  ctx.step('update', `updating ${ctx.gun} from the server`);
  try {
    const view = await updateRepository({
      gun: ctx.gun,
      cache: ctx.cache,
      remote,
      pinning: await ctx.pinning(),
      nowMs,
      checkExists: true,
      ...(signal ? { signal } : {}),
      onEvent: (e) => ctx.emit(e),
    });
    const witnessed = new Set(
      changes.filter((c) => c.change.type === 'witness').map((c) => c.change.scope),
    );
    builder = builderFromView(ctx, view, witnessed);
  } catch (e) {
    if (!isTrustdeskError(e) || e.code !== 'ERR_REPO_NOT_FOUND') throw e;
    initial = true;
    ctx.step('initial', `${ctx.gun} is not on the server yet: publishing it for the first time`);
    const fromCache = await builderFromCache(ctx, signal);
    builder = fromCache.builder;
    if (fromCache.initialised) keysHeld = readKeys(); // init made new keys
  }
  throwIfAborted(signal, opts.what);

  const originalRootKeys: PublicKey[] = [...builder.role('root').keys.values()];
  opts.beforeApply?.(builder);
  for (const c of changes) applyChange(builder, c.change, c.what);
  const rootExpires = parseRoot(builder.bytes('root') as Uint8Array).signed.expiresMs;
  if (rootExpires < sixMonthsFrom(nowMs)) builder.markRootDirty();
  if (initial) builder.witness('targets');

  const { keyring, held } = await keysHeld;
  const signers = (role: string): Signer[] => {
    if (role === 'root')
      return signersFor(keyring, held, [
        ...originalRootKeys,
        ...builder.role('root').keys.values(),
      ]);
    if (role !== 'targets' && role !== 'snapshot' && !isDelegationName(role)) return [];
    try {
      return signersFor(keyring, held, builder.role(role).keys.values());
    } catch {
      return []; // an undeclared role: the builder names the problem
    }
  };
  ctx.step('sign', 'signing');
  const signed = await builder.sign({ nowMs, signers });
  throwIfAborted(signal, opts.what);

  const files = new Map<string, Uint8Array>();
  const rootBytes = signed.get('root') ?? (initial ? builder.bytes('root') : undefined);
  if (rootBytes) files.set('root', rootBytes);
  for (const [role, bytes] of signed)
    if (role !== 'root' && role !== 'snapshot') files.set(role, bytes);
  const snapshot = signed.get('snapshot');
  if (snapshot) files.set('snapshot', snapshot);
  for (const role of signed.keys())
    ctx.emit({ type: 'signed', role, version: builder.version(role) });

  const uploaded = [...files.keys()].map((role) => ({ role, version: builder.version(role) }));
  if (files.size > 0) {
    ctx.step('upload', `uploading ${[...files.keys()].join(', ')}`);
    await remote.upload(files, signal);
    ctx.emit({ type: 'uploaded', roles: [...files.keys()] });
  }
  return {
    gun: ctx.gun,
    initial,
    uploaded,
    serverSignsSnapshot: !snapshot,
    applied: changes.length,
  };
}

/** Publishes the staged changelist; clears exactly the applied entries after the server's 200. */
export async function publish(ctx: RepoContext, signal?: AbortSignal): Promise<PublishResult> {
  const entries = await ctx.changelist.list();
  const bad = entries.find((e) => e.problem);
  if (bad?.problem) {
    throw new TrustdeskError(
      bad.problem.code,
      `staged change #${bad.index} cannot be read: ${bad.problem.message}`,
      {
        hint: `Nothing was published. Drop it with \`trustdesk reset ${ctx.gun} -n ${bad.index}\` and publish again.`,
        cause: bad.problem,
      },
    );
  }
  const staged = entries.map((e) => stagedChange(e.change as Change, e.index));
  const result = await publishChanges(ctx, staged, {
    access: 'push',
    what: `publish ${ctx.gun}`,
    ...(signal ? { signal } : {}),
  });
  try {
    await ctx.changelist.remove(entries.map((e) => e.file));
  } catch (e) {
    ctx.emit({
      type: 'warning',
      code: isTrustdeskError(e) ? e.code : 'ERR_IO',
      message: `published, but the applied changes could not be cleared from ${ctx.changelist.dir}: ${(e as Error).message}; remove them with \`trustdesk reset ${ctx.gun} --all\``,
    });
  }
  return result;
}
