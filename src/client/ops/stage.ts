// Offline edits: each validates its input, then stages changes in the changelist for the next
// publish (Go client/client.go AddTarget/RemoveTarget, client/delegations.go, witness.go).
// Nothing here touches the network, the cache or a private key.
//
// Validation, before anything is written:
//   - target scopes are `targets` or a valid delegation (Go also accepts `targets/*`, which can
//     never be applied; it is refused here); target names must be serialisable by Go (no
//     control characters, well-formed Unicode);
//   - a target needs at least one of sha256/sha512; sizes are non-negative integers;
//   - delegation names must be valid (§1.8); adding needs keys or paths; `--all-paths` (or a
//     "" path) means the single path "" (every target);
//   - witness takes targets roles only.
// One command may stage several changes (one per role, or keys then paths, as Go does); each is
// written atomically, in order.

import { TrustdeskError } from '../../tuf/errors.js';
import type { PublicKey } from '../../tuf/keys.js';
import type { FileMeta } from '../../tuf/metadata.js';
import { isDelegationName } from '../../tuf/roles.js';
import {
  SCOPE_ALL_DELEGATIONS,
  addTargetChange,
  delegationChange,
  deleteDelegationChange,
  isTargetScope,
  removeTargetChange,
  witnessChange,
  type Change,
} from '../changelist/change.js';
import type { ChangeEntry } from '../changelist/file-changelist.js';
import type { RepoContext } from './context.js';

export interface Staged {
  gun: string;
  /** The staged changes, in order, with the file each went to. */
  changes: Array<{ file: string; change: Change }>;
}

function badRole(role: string, why: string): TrustdeskError {
  return new TrustdeskError('ERR_BAD_ROLE', `${JSON.stringify(role)}: ${why}`);
}

function targetScopes(roles: readonly string[] | undefined): string[] {
  const scopes = roles && roles.length > 0 ? [...new Set(roles)] : ['targets'];
  for (const r of scopes)
    if (!isTargetScope(r))
      throw badRole(r, 'targets live in targets or a delegation (targets/<name>)');
  return scopes;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f]/;

export function checkTargetName(name: string): string {
  if (name === '') throw new TrustdeskError('ERR_USAGE', 'the target name is empty');
  if (CONTROL.test(name) || !name.isWellFormed()) {
    throw new TrustdeskError(
      'ERR_UNENCODABLE',
      `target name ${JSON.stringify(name)} contains a character Go Notary cannot serialise`,
    );
  }
  return name;
}

function checkDelegation(role: string): string {
  if (!isDelegationName(role)) {
    throw badRole(
      role,
      'not a valid delegation name (targets/<name>: lowercase letters, digits, -, _ and /)',
    );
  }
  return role;
}

async function stage(ctx: RepoContext, changes: Change[]): Promise<Staged> {
  const files = await ctx.changelist.add(changes);
  return {
    gun: ctx.gun,
    changes: changes.map((change, i) => ({ file: files[i] as string, change })),
  };
}

export async function stageAddTarget(
  ctx: RepoContext,
  name: string,
  meta: FileMeta,
  roles?: readonly string[],
): Promise<Staged> {
  checkTargetName(name);
  if (!Number.isSafeInteger(meta.length) || meta.length < 0)
    throw new TrustdeskError('ERR_USAGE', `invalid target size ${meta.length}`);
  if (!meta.hashes.sha256 && !meta.hashes.sha512)
    throw new TrustdeskError('ERR_USAGE', `no hashes given for target ${JSON.stringify(name)}`, {
      hint: 'Give --sha256 and/or --sha512.',
    });
  return stage(
    ctx,
    targetScopes(roles).map((scope) => addTargetChange(scope, name, meta)),
  );
}

export async function stageRemoveTarget(
  ctx: RepoContext,
  name: string,
  roles?: readonly string[],
): Promise<Staged> {
  checkTargetName(name);
  return stage(
    ctx,
    targetScopes(roles).map((s) => removeTargetChange(s, name)),
  );
}

/** `--paths` / `--all-paths` as Go normalises them: any "" path means all paths. */
export function normalisePaths(paths: readonly string[] | undefined, allPaths: boolean): string[] {
  if (allPaths || (paths ?? []).includes('')) return [''];
  return [...new Set(paths ?? [])];
}

export async function stageAddDelegation(
  ctx: RepoContext,
  role: string,
  keys: readonly PublicKey[],
  paths: readonly string[],
): Promise<Staged> {
  checkDelegation(role);
  if (keys.length === 0 && paths.length === 0) {
    throw new TrustdeskError('ERR_USAGE', `nothing to add to ${role}: give keys and/or paths`, {
      hint: 'e.g. `trustdesk delegation add <gun> targets/releases key.pem --all-paths`.',
    });
  }
  const changes: Change[] = [];
  if (keys.length > 0)
    changes.push(delegationChange('create', role, { threshold: 1, addKeys: [...keys] }));
  if (paths.length > 0) changes.push(delegationChange('create', role, { addPaths: [...paths] }));
  return stage(ctx, changes);
}

export interface DelegationRemoval {
  /** Canonical key IDs to remove. */
  keyIds?: readonly string[];
  paths?: readonly string[];
  allPaths?: boolean;
}

/** With nothing to remove, the whole delegation goes (Go's "forced removal"). */
export function isWholeDelegationRemoval(r: DelegationRemoval): boolean {
  return !r.keyIds?.length && !r.paths?.length && !r.allPaths;
}

export async function stageRemoveDelegation(
  ctx: RepoContext,
  role: string,
  r: DelegationRemoval,
): Promise<Staged> {
  checkDelegation(role);
  if (isWholeDelegationRemoval(r)) return stage(ctx, [deleteDelegationChange(role)]);
  const changes: Change[] = [];
  if (r.allPaths) changes.push(delegationChange('update', role, { clearPaths: true }));
  else if (r.paths?.length)
    changes.push(delegationChange('update', role, { removePaths: [...r.paths] }));
  if (r.keyIds?.length)
    changes.push(delegationChange('update', role, { removeKeys: [...r.keyIds] }));
  return stage(ctx, changes);
}

export async function stagePurgeKeys(ctx: RepoContext, keyIds: readonly string[]): Promise<Staged> {
  if (keyIds.length === 0)
    throw new TrustdeskError('ERR_USAGE', 'give at least one key ID to purge with --key');
  for (const id of keyIds)
    if (!/^[0-9a-f]{64}$/.test(id))
      throw new TrustdeskError(
        'ERR_USAGE',
        `${JSON.stringify(id)} is not a key ID (64 hex digits)`,
      );
  return stage(ctx, [
    delegationChange('update', SCOPE_ALL_DELEGATIONS, { removeKeys: [...keyIds] }),
  ]);
}

export async function stageWitness(ctx: RepoContext, roles: readonly string[]): Promise<Staged> {
  if (roles.length === 0)
    throw new TrustdeskError('ERR_USAGE', 'give at least one role to witness');
  for (const r of roles)
    if (!isTargetScope(r)) throw badRole(r, 'only targets roles can be witnessed');
  return stage(ctx, [...new Set(roles)].map(witnessChange));
}

export async function changelistStatus(ctx: RepoContext): Promise<ChangeEntry[]> {
  return ctx.changelist.list();
}

export async function resetChanges(
  ctx: RepoContext,
  which: { all: true } | { indices: readonly number[] },
): Promise<string[]> {
  return 'all' in which ? ctx.changelist.clear() : ctx.changelist.removeIndices(which.indices);
}
