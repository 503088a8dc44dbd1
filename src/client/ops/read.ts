// Read-only operations on verified metadata (Go client/reader.go): list, lookup, verify and
// the delegation list. Each runs an update first (from the cache only with --offline).
//
// Listing with roles follows Go's ListTargets(roles…): the roles are taken in priority order;
// for each, the walk descends from `targets` to that role without visiting the roles above it,
// visits it and its subtree breadth-first, and skips the other listed roles (and their subtrees)
// — so a listed role's entries are shadowed only by higher-priority listed roles. A target is
// listed under the first role (in that order) whose effective paths admit it.

import { TrustdeskError } from '../../tuf/errors.js';
import { toHex } from '../../tuf/encoding.js';
import { checkFileMeta } from '../../tuf/filemeta.js';
import type { FileMeta, TargetsSigned } from '../../tuf/metadata.js';
import { pathAllowed } from '../../tuf/roles.js';
import type { TrustedMetadataSet } from '../../tuf/trusted-set.js';
import type { Verified } from '../../tuf/verify.js';
import { updateRepository } from '../update/updater.js';
import type { RepositoryView, TargetEntry } from '../update/repository-view.js';
import type { RepoContext } from './context.js';
import { checkTargetName } from './stage.js';

export async function readView(ctx: RepoContext, signal?: AbortSignal): Promise<RepositoryView> {
  const remote = ctx.readRemote();
  return updateRepository({
    gun: ctx.gun,
    cache: ctx.cache,
    ...(remote ? { remote } : {}),
    offline: remote === undefined,
    pinning: await ctx.pinning(),
    nowMs: ctx.nowMs(),
    ...(signal ? { signal } : {}),
    onEvent: (e) => ctx.emit(e),
  });
}

function entry(name: string, role: string, meta: FileMeta): TargetEntry {
  const hashes: TargetEntry['hashes'] = {};
  if (meta.hashes.sha256) hashes.sha256 = toHex(meta.hashes.sha256);
  if (meta.hashes.sha512) hashes.sha512 = toHex(meta.hashes.sha512);
  const out: TargetEntry = { name, role, length: meta.length, hashes };
  if (meta.custom !== undefined) out.custom = meta.custom;
  return out;
}

type Visit = (role: string, t: Verified<TargetsSigned>, paths: readonly string[]) => void;

/** Go's WalkTargets("", rolePath, visit, skip…) over the loaded (verified) roles. */
function walkFrom(
  set: TrustedMetadataSet,
  rolePath: string,
  skip: readonly string[],
  visit: Visit,
): void {
  const queue: Array<{ name: string; paths: readonly string[] }> = [
    { name: 'targets', paths: [''] },
  ];
  for (let r = queue.shift(); r !== undefined; r = queue.shift()) {
    const t = r.name === 'targets' ? set.targets : set.delegated(r.name);
    if (!t) continue;
    const children = () => set.childRoles(r.name).map((d) => ({ name: d.name, paths: d.paths }));
    if (rolePath.startsWith(`${r.name}/`)) {
      queue.push(...children());
      continue;
    }
    const inSubtree = r.name === rolePath || r.name.startsWith(`${rolePath}/`);
    if (!inSubtree || skip.includes(r.name)) continue;
    visit(r.name, t, r.paths);
    queue.push(...children());
  }
}

/** Every target (or those of `roles`, in priority order), sorted by name as Go prints them. */
export function listTargets(view: RepositoryView, roles?: readonly string[]): TargetEntry[] {
  let out: TargetEntry[];
  if (!roles || roles.length === 0) {
    out = view.targets();
  } else {
    const found = new Map<string, TargetEntry>();
    for (const role of roles) {
      const skip = roles.filter((r) => r !== role);
      walkFrom(view.trusted, role, skip, (name, t, paths) => {
        for (const [target, meta] of t.signed.targets) {
          if (!found.has(target) && pathAllowed(paths, target))
            found.set(target, entry(target, name, meta));
        }
      });
    }
    out = [...found.values()];
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function noSuchTarget(gun: string, name: string): TrustdeskError {
  return new TrustdeskError('ERR_NOT_FOUND', `no valid trust data for ${name} in ${gun}`, {
    hint: `Run \`trustdesk list ${gun}\` to see the targets.`,
  });
}

export function lookupTarget(view: RepositoryView, name: string): TargetEntry {
  checkTargetName(name);
  const hit = view.lookup(name);
  if (!hit) throw noSuchTarget(view.gun, name);
  return hit;
}

/** Checks `content` against the target's trusted length and hashes (ERR_HASH_MISMATCH). */
export function verifyTarget(view: RepositoryView, name: string, content: Uint8Array): TargetEntry {
  checkTargetName(name);
  const hit = view.trusted.findTarget(name);
  if (!hit) throw noSuchTarget(view.gun, name);
  try {
    checkFileMeta(content, hit.meta, name);
  } catch (e) {
    throw new TrustdeskError(
      'ERR_HASH_MISMATCH',
      `the data is not the target ${name} of ${view.gun}: ${(e as Error).message}`,
      {
        hint: 'The content differs from what the trusted metadata records; do not use it.',
        cause: e,
      },
    );
  }
  return entry(name, hit.role, hit.meta);
}

export interface DelegationInfo {
  role: string;
  /** The role whose metadata declares it. */
  parent: string;
  paths: string[];
  /** Canonical key IDs (what `delegation remove` and `key` commands take). */
  keyIds: string[];
  threshold: number;
}

/** Every delegation declared by a verified targets role, sorted by name. */
export function listDelegations(view: RepositoryView): DelegationInfo[] {
  const set = view.trusted;
  const out: DelegationInfo[] = [];
  for (const parent of ['targets', ...set.delegatedRoles]) {
    const t = parent === 'targets' ? set.targets : set.delegated(parent);
    if (!t) continue;
    const keys = t.signed.delegations.keys;
    for (const d of t.signed.delegations.roles) {
      out.push({
        role: d.name,
        parent,
        paths: [...d.paths].sort(),
        keyIds: d.keyids.map((id) => {
          const k = keys.get(id);
          try {
            return k ? k.canonicalId : id;
          } catch {
            return id;
          }
        }),
        threshold: d.threshold,
      });
    }
  }
  return out.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
}
