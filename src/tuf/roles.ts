// Role names and delegation rules (notary-protocol §1.8).

export const BASE_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type BaseRole = (typeof BASE_ROLES)[number];

export function isBaseRole(r: string): r is BaseRole {
  return (BASE_ROLES as readonly string[]).includes(r);
}

const DELEGATION_CHARS = /^[-a-z0-9_/]+$/;

/** Posix path.Clean equivalence for the character set delegations may use. */
function isClean(name: string): boolean {
  return (
    !name.endsWith('/') &&
    !name.includes('//') &&
    !name.split('/').some((s) => s === '.' || s === '..')
  );
}

/** A valid delegation: `targets/…`, lowercase [-a-z0-9_/], clean, shorter than 256 chars. */
export function isDelegationName(name: string): boolean {
  return (
    name.length < 256 &&
    name.startsWith('targets/') &&
    name.length > 'targets/'.length &&
    DELEGATION_CHARS.test(name) &&
    isClean(name)
  );
}

/** Any role a metadata file can be uploaded or fetched for. */
export function isValidRole(name: string): boolean {
  return isBaseRole(name) || isDelegationName(name);
}

export function isTargetsRole(name: string): boolean {
  return name === 'targets' || isDelegationName(name);
}

/** path.Dir of the role name: the parent of `targets/a/b` is `targets/a`. */
export function parentRole(name: string): string {
  const i = name.lastIndexOf('/');
  return i < 0 ? '.' : name.slice(0, i);
}

/** Depth for ordering uploads: fewer slashes first, then lexical (Go's validation order). */
export function compareRoleDepth(a: string, b: string): number {
  const da = a.split('/').length;
  const db = b.split('/').length;
  return da !== db ? da - db : a < b ? -1 : a > b ? 1 : 0;
}

/** A target name is in scope of a role if some path is a string prefix of it. */
export function pathAllowed(paths: readonly string[], target: string): boolean {
  return paths.some((p) => target.startsWith(p));
}

/** A child's effective paths: its own paths that some parent path prefixes. */
export function restrictPaths(
  parentPaths: readonly string[],
  childPaths: readonly string[],
): string[] {
  return childPaths.filter((c) => parentPaths.some((p) => c.startsWith(p)));
}
