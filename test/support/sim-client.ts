// A minimal update walk for tests, fetching from anything shaped like RepoSim.serve: the paths
// a Go client asks for (notary-protocol §7.6) — timestamp.json, then every other role by the
// sha256 its referencing metadata records, delegations pre-order and only when the snapshot
// lists them. No caching, no retries, no root refresh: that is the real updater's job.

import { toHex } from '../../src/tuf/encoding.js';
import { type FileMeta } from '../../src/tuf/metadata.js';
import { type TrustedMetadataSet } from '../../src/tuf/trusted-set.js';

export type Serve = (path: string) => Uint8Array | undefined;

function byChecksum(role: string, fm: FileMeta | undefined): string {
  if (!fm?.hashes.sha256) throw new Error(`sim-client: no sha256 recorded for ${role}`);
  return `${role}.${toHex(fm.hashes.sha256)}.json`;
}

/** The path to fetch `role` from, given what the set trusts now. */
export function pathFor(set: TrustedMetadataSet, role: string): string {
  if (role === 'timestamp') return 'timestamp.json';
  if (role === 'snapshot') return byChecksum(role, set.timestamp?.signed.meta.get('snapshot'));
  return byChecksum(role, set.snapshot?.signed.meta.get(role));
}

export function fetchRole(set: TrustedMetadataSet, role: string, serve: Serve): Uint8Array {
  const path = pathFor(set, role);
  const bytes = serve(path);
  if (!bytes) throw new Error(`sim-client: ${path} not found`);
  return bytes;
}

/** Fetches `role` and hands it to the matching update method. */
export function loadRole(set: TrustedMetadataSet, role: string, serve: Serve): void {
  const bytes = fetchRole(set, role, serve);
  if (role === 'timestamp') set.updateTimestamp(bytes);
  else if (role === 'snapshot') set.updateSnapshot(bytes);
  else if (role === 'targets') set.updateTargets(bytes);
  else set.updateDelegatedTargets(bytes, role);
}

/** timestamp → snapshot → targets → delegations (pre-order, listed in the snapshot). */
export function loadAll(set: TrustedMetadataSet, serve: Serve): void {
  for (const role of ['timestamp', 'snapshot', 'targets']) loadRole(set, role, serve);
  const visit = (parent: string): void => {
    for (const child of set.childRoles(parent)) {
      if (!set.snapshot?.signed.meta.has(child.name)) continue;
      loadRole(set, child.name, serve);
      visit(child.name);
    }
  };
  visit('targets');
}
