// The read-only result of an update: what list, lookup, verify and status show. Everything in
// it comes from the TrustedMetadataSet, i.e. from verified metadata only.

import { toHex } from '../../tuf/encoding.js';
import type { TrustdeskError } from '../../tuf/errors.js';
import type { JsonValue } from '../../tuf/json.js';
import type { AnySigned, FileMeta } from '../../tuf/metadata.js';
import type { TrustedMetadataSet } from '../../tuf/trusted-set.js';
import type { Verified } from '../../tuf/verify.js';

export interface TargetEntry {
  name: string;
  /** The role whose metadata lists it (first in Go's walk order). */
  role: string;
  length: number;
  /** Hex digests (what `notary list` prints). */
  hashes: { sha256?: string; sha512?: string };
  custom?: JsonValue;
}

export interface RoleEntry {
  role: string;
  version: number;
  /** As written in the metadata. */
  expires: string;
  expiresMs: number;
  /** Negative once expired. */
  leftMs: number;
  keyIds: readonly string[];
  threshold: number | undefined;
}

export interface SkippedRole {
  role: string;
  /** Why it was skipped (ERR_EXPIRED, ERR_THRESHOLD, …). */
  error: TrustdeskError;
  /** The bytes that failed verification (witness can revive them), when any were fetched. */
  raw?: Uint8Array;
}

export interface ExpiryNotice {
  role: string;
  expires: string;
  expiresMs: number;
  leftMs: number;
  expired: boolean;
}

function entry(name: string, role: string, meta: FileMeta): TargetEntry {
  const hashes: TargetEntry['hashes'] = {};
  if (meta.hashes.sha256) hashes.sha256 = toHex(meta.hashes.sha256);
  if (meta.hashes.sha512) hashes.sha512 = toHex(meta.hashes.sha512);
  const out: TargetEntry = { name, role, length: meta.length, hashes };
  if (meta.custom !== undefined) out.custom = meta.custom;
  return out;
}

export class RepositoryView {
  constructor(
    readonly gun: string,
    /** The verified metadata (C2 builds publishes on top of it). */
    readonly trusted: TrustedMetadataSet,
    readonly nowMs: number,
    readonly info: {
      /** Worked from the cache only. */
      offline: boolean;
      /** The server's timestamp could not be fetched; the cached one was used. */
      usedCachedTimestamp: boolean;
      skipped: readonly SkippedRole[];
      expiring: readonly ExpiryNotice[];
    },
  ) {}

  /** Every target in scope of its role, in Go's walk order (first listing wins). */
  targets(): TargetEntry[] {
    return this.trusted.listTargets().map((t) => entry(t.name, t.role, t.meta));
  }

  /** The target as the first role in walk order lists it. */
  lookup(name: string): TargetEntry | undefined {
    const hit = this.trusted.findTarget(name);
    return hit ? entry(name, hit.role, hit.meta) : undefined;
  }

  /** root, timestamp, snapshot, targets, then the loaded delegations. */
  roles(): RoleEntry[] {
    const t = this.trusted;
    const root = t.root.signed;
    const list: Array<[string, Verified<AnySigned> | undefined]> = [
      ['root', t.root],
      ['timestamp', t.timestamp],
      ['snapshot', t.snapshot],
      ['targets', t.targets],
      ...t.delegatedRoles.map((r): [string, Verified<AnySigned> | undefined] => [
        r,
        t.delegated(r),
      ]),
    ];
    const out: RoleEntry[] = [];
    for (const [role, v] of list) {
      if (!v) continue;
      const decl = role.startsWith('targets/')
        ? t.childRoles(role.slice(0, role.lastIndexOf('/'))).find((d) => d.name === role)
        : root.roles[role];
      out.push({
        role,
        version: v.signed.version,
        expires: v.signed.expires,
        expiresMs: v.signed.expiresMs,
        leftMs: v.signed.expiresMs - this.nowMs,
        keyIds: decl?.keyids ?? [],
        threshold: decl?.threshold,
      });
    }
    return out;
  }

  version(role: string): number | undefined {
    return this.roles().find((r) => r.role === role)?.version;
  }
}
