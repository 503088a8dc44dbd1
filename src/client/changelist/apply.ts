// Applying staged changes to a RepoBuilder (Go client/helpers.go applyChangelist), in order.
// Any change that cannot be applied stops the whole application with an error naming it; the
// builder is then discarded by the caller, so nothing is signed or uploaded and the changelist
// is untouched.
//
//   scope targets / targets/…   target      create → addTarget, delete → removeTarget
//                               delegation  create → add keys (threshold for a new role), then
//                                           paths; update → edit keys/paths; delete → remove
//                               witness     mark the role for re-signing
//   scope targets/* (wildcard)  delegation  update → purge the keys from every delegation
//   scope root                  role        create → replace the base role's keys (rotations)
// Anything else is refused, as Go refuses it ("scope not supported").

import { TrustdeskError, isTrustdeskError } from '../../tuf/errors.js';
import type { RepoBuilder } from '../../tuf/builder.js';
import { isDelegationName } from '../../tuf/roles.js';
import {
  SCOPE_ROOT,
  isTargetScope,
  parseDelegationData,
  parseRootRoleData,
  parseTargetMeta,
  type Change,
} from './change.js';

/** Go's IsWildDelegation: `targets/*` or `<delegation>/*`. */
export function isWildScope(scope: string): boolean {
  if (!scope.endsWith('/*')) return false;
  const parent = scope.slice(0, -2);
  return parent === 'targets' || isDelegationName(parent);
}

function unsupported(what: string, msg: string): TrustdeskError {
  return new TrustdeskError('ERR_USAGE', `${what}: ${msg}`, {
    hint: 'This change cannot be applied; drop it with `trustdesk reset <gun> -n <number>`.',
  });
}

function applyTargetsChange(b: RepoBuilder, c: Change, what: string): void {
  switch (c.type) {
    case 'target':
      if (c.action === 'create') return b.addTarget(c.scope, c.path, parseTargetMeta(c, what));
      if (c.action === 'delete') return b.removeTarget(c.scope, c.path);
      throw unsupported(what, `action ${JSON.stringify(c.action)} is not supported for targets`);
    case 'delegation': {
      if (c.action === 'delete') return b.removeDelegation(c.scope);
      const d = parseDelegationData(c, what);
      if (c.action === 'create') {
        // Go: keys first (creating the role), then paths, as two edits.
        b.addDelegation(c.scope, d.addKeys ?? [], [], d.threshold ?? 1);
        if (d.addPaths?.length) b.addDelegation(c.scope, [], d.addPaths);
        return;
      }
      if (c.action === 'update') {
        b.updateDelegation(c.scope, {
          ...(d.addKeys ? { addKeys: d.addKeys } : {}),
          ...(d.removeKeys ? { removeKeyIds: d.removeKeys } : {}),
          ...(d.addPaths ? { addPaths: d.addPaths } : {}),
          ...(d.removePaths ? { removePaths: d.removePaths } : {}),
          ...(d.clearPaths ? { clearPaths: true } : {}),
        });
        return;
      }
      throw unsupported(
        what,
        `action ${JSON.stringify(c.action)} is not supported for delegations`,
      );
    }
    case 'witness':
      return b.witness(c.scope);
    default:
      throw unsupported(what, `change type ${JSON.stringify(c.type)} is not supported`);
  }
}

/** Applies one change; errors keep their code and name the change. */
export function applyChange(b: RepoBuilder, c: Change, what: string): void {
  try {
    if (isWildScope(c.scope)) {
      if (c.type !== 'delegation' || c.action !== 'update')
        throw unsupported(what, `a wildcard scope (${c.scope}) only purges delegation keys`);
      b.purgeDelegationKeys(parseDelegationData(c, what).removeKeys ?? []);
    } else if (isTargetScope(c.scope)) {
      applyTargetsChange(b, c, what);
    } else if (c.scope === SCOPE_ROOT) {
      if (c.type !== 'role' || c.action !== 'create')
        throw unsupported(
          what,
          `root changes must replace a role's keys (got ${c.action} ${c.type})`,
        );
      const { role, keys } = parseRootRoleData(c, what);
      b.rotateBaseRoleKeys(role, keys);
    } else {
      throw unsupported(what, `scope ${JSON.stringify(c.scope)} is not supported`);
    }
  } catch (e) {
    if (!isTrustdeskError(e) || e.message.startsWith(`${what}:`)) throw e;
    throw new TrustdeskError(e.code, `${what}: ${e.message}`, { hint: e.hint, cause: e });
  }
}
