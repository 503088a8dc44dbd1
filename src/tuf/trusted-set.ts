// The client's trusted metadata (python-tuf ngclient TrustedMetadataSet; Go tuf/builder.go):
// a small pure core that only ever holds verified metadata. The updater decides what to fetch
// and hands bytes in; every update either passes every check and is stored, or throws a coded
// error and leaves the set exactly as it was.
//
// Ordering (ERR_ORDER):   root ─► timestamp ─► snapshot ─► targets ─► delegations
//   - root may be updated only while no timestamp is loaded. A trusted root that has expired
//     (metadata or leaf certificates) is still an anchor for verifying the next root, but it
//     must be replaced before a timestamp can be loaded (ERR_EXPIRED);
//   - the timestamp may be replaced by a newer one until a snapshot is loaded;
//   - the snapshot until targets is loaded (only by bytes the timestamp names, so in effect never);
//   - targets after the snapshot; a delegation after its direct parent. Loaded targets roles are
//     pinned by the snapshot's hashes, so they can only be "reloaded" with identical bytes;
//   - nowMs is fixed for the life of a set (one update session): what was valid stays valid.
//
// Each update checks, in this order:
//   1. size on the raw bytes, before parsing (ERR_TOO_LARGE): root ≤ limits.root (100 MiB),
//      timestamp ≤ limits.timestamp (1 MiB), snapshot/targets/delegations ≤ the length their
//      referencing metadata records;
//   2. mix-and-match (ERR_HASH_MISMATCH): snapshot bytes vs timestamp.meta.snapshot, targets and
//      delegation bytes vs snapshot.meta[role]: length and every understood hash (sha256, sha512;
//      at least one). A delegation must be declared by its loaded parent and listed in the
//      snapshot (ERR_BAD_DELEGATION);
//   3. parse: strict JSON, Go's structure rules, `_type` of the role (ERR_BAD_JSON,
//      ERR_BAD_METADATA, ERR_WRONG_TYPE);
//   4. signatures (verifyThreshold): distinct valid keys of root's role for timestamp, snapshot
//      and targets; the parent's delegation entry (keys + threshold) for a delegation; roots go
//      through verifyRoot (trusted root's threshold AND the new root's own; trust pinning on first
//      contact and, as Go does, for every root loaded while the cached anchor was expired);
//   5. version (≤ MAX_VERSION is already enforced by the parser): not lower than
//      the copy held nor the previous session's copy (ERR_ROLLBACK); equal only if byte-identical
//      (a fork → ERR_ROLLBACK). Roots walk <v>.root.json one version at a time unless the caller
//      allows a jump (a newer root.json signed by the trusted root), else ERR_BAD_ROOT;
//   6. expiry vs nowMs (ERR_EXPIRED) — not for roots: chain intermediates may be expired; the
//      trusted root's freshness is checked when the timestamp is loaded (rule above);
//   7. snapshot only: snapshot.meta.root must describe the trusted root's exact bytes, else a
//      RootChangedError (ERR_ROOT_CHANGED) carrying that FileMeta: the updater fetches
//      root.<sha256>.json, walks to it in a new set and starts over.
//
// Version floors across sessions (`previous`): the updater passes its cached copy of each role.
// When the role is updated, that copy is verified with the same keys, expiry ignored — an expired
// timestamp or snapshot still proves that its version was issued — and becomes the floor. A copy
// that no longer verifies (keys rotated, corrupted cache) gives no floor, as with Go's old builder.
// A copy byte-identical to the new file (the usual case: nothing changed on the server) is the
// new file itself, which just passed the same verification, so it is not parsed and verified a
// second time; the new file still goes through every rule above, expiry and version included.
// Unlike python-tuf, an expired but valid *new* timestamp/snapshot is not kept as a floor: errors
// never change the set, and the cached copies already give the floors that matter.

import { TufError } from './errors.js';
import { bytesEqual } from './encoding.js';
import { checkFileMeta } from './filemeta.js';
import {
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  formatRfc3339,
  type AnySigned,
  type DelegationRole,
  type FileMeta,
  type Metadata,
  type RootSigned,
  type SnapshotSigned,
  type TargetsSigned,
  type TimestampSigned,
} from './metadata.js';
import { rootRoleVerifier, verifyRoot, type TrustPinning } from './root-trust.js';
import { isDelegationName, parentRole, pathAllowed, restrictPaths } from './roles.js';
import { verifyThreshold, type RoleVerifier, type Verified } from './verify.js';

const MiB = 1024 * 1024;

/** Caps for files whose size no other metadata records (Go: 100 MiB root, 1 MiB timestamp). */
export interface SizeLimits {
  root: number;
  timestamp: number;
}

export const DEFAULT_SIZE_LIMITS: Readonly<SizeLimits> = { root: 100 * MiB, timestamp: 1 * MiB };

export interface TrustedSetOptions {
  gun: string;
  /** The clock, fixed for this set's life. */
  nowMs: number;
  pinning?: TrustPinning;
  limits?: Partial<SizeLimits>;
  /** Role → bytes of the copy trusted in an earlier session (the cache): rollback floors. */
  previous?: ReadonlyMap<string, Uint8Array>;
}

export interface UpdateRootOptions {
  /** Accept any higher version signed by the trusted root (root.json), not only trusted + 1. */
  allowVersionJump?: boolean;
}

/** The snapshot names a root other than the trusted one; `expected` says which to fetch. */
export class RootChangedError extends TufError {
  constructor(
    readonly expected: FileMeta,
    message: string,
  ) {
    super('ERR_ROOT_CHANGED', message);
  }
}

export interface TargetHit {
  role: string;
  meta: FileMeta;
}

export interface ExpiryEntry {
  role: string;
  expiresMs: number;
  expired: boolean;
}

interface LoadedTargets {
  verified: Verified<TargetsSigned>;
  /** Effective paths: the role's own paths that a path of its parent prefixes. */
  paths: readonly string[];
}

interface TrustedRoot {
  verified: Verified<RootSigned>;
  /** Neither its metadata nor its leaf certificates have expired. */
  fresh: boolean;
}

export class TrustedMetadataSet {
  readonly #gun: string;
  readonly #nowMs: number;
  readonly #limits: SizeLimits;
  readonly #previous: ReadonlyMap<string, Uint8Array>;
  /** Pinning applied to root updates: only on first contact or from an expired anchor. */
  readonly #updatePinning: TrustPinning | undefined;
  #root: TrustedRoot;
  #timestamp: Verified<TimestampSigned> | undefined;
  #snapshot: Verified<SnapshotSigned> | undefined;
  /** `targets` and delegations, in load order. */
  readonly #targets = new Map<string, LoadedTargets>();

  private constructor(opts: TrustedSetOptions, root: TrustedRoot, pinUpdates: boolean) {
    this.#gun = opts.gun;
    this.#nowMs = opts.nowMs;
    this.#limits = { ...DEFAULT_SIZE_LIMITS, ...opts.limits };
    this.#previous = opts.previous ?? new Map();
    this.#updatePinning = pinUpdates ? (opts.pinning ?? {}) : undefined;
    this.#root = root;
  }

  /**
   * The cached root.json is the trust anchor (notary-protocol §7.6, bootstrap 1): it must verify
   * by its own keys, but pinning is not re-checked and its expiry does not matter — an expired
   * anchor can only be used to verify its successor (and pinning then applies to that).
   */
  static fromCachedRoot(rootBytes: Uint8Array, opts: TrustedSetOptions): TrustedMetadataSet {
    const limit = { ...DEFAULT_SIZE_LIMITS, ...opts.limits }.root;
    checkSize(rootBytes, limit, 'root');
    const md = parseRoot(rootBytes);
    const root = verifyRootCandidate(md, { gun: opts.gun, nowMs: opts.nowMs });
    return new TrustedMetadataSet(opts, root, !root.fresh);
  }

  /** No cached root: the downloaded root.json must satisfy trust pinning and be unexpired (§7.8). */
  static firstContact(rootBytes: Uint8Array, opts: TrustedSetOptions): TrustedMetadataSet {
    const limit = { ...DEFAULT_SIZE_LIMITS, ...opts.limits }.root;
    checkSize(rootBytes, limit, 'root');
    const md = parseRoot(rootBytes);
    const root = verifyRootCandidate(md, {
      gun: opts.gun,
      nowMs: opts.nowMs,
      pinning: opts.pinning ?? {},
      mustBeFresh: true,
    });
    return new TrustedMetadataSet(opts, root, true);
  }

  get root(): Verified<RootSigned> {
    return this.#root.verified;
  }

  get timestamp(): Verified<TimestampSigned> | undefined {
    return this.#timestamp;
  }

  get snapshot(): Verified<SnapshotSigned> | undefined {
    return this.#snapshot;
  }

  get targets(): Verified<TargetsSigned> | undefined {
    return this.#targets.get('targets')?.verified;
  }

  delegated(role: string): Verified<TargetsSigned> | undefined {
    return role === 'targets' ? undefined : this.#targets.get(role)?.verified;
  }

  /** Names of the loaded delegations, in load order. */
  get delegatedRoles(): string[] {
    return [...this.#targets.keys()].filter((r) => r !== 'targets');
  }

  /**
   * The delegations a loaded targets role declares, in its order, with effective paths — what
   * the updater fetches next (when the snapshot lists them). Empty if `role` is not loaded.
   */
  childRoles(role: string): DelegationRole[] {
    const loaded = this.#targets.get(role);
    if (!loaded) return [];
    return loaded.verified.signed.delegations.roles.map((d) => ({
      ...d,
      paths: restrictPaths(loaded.paths, d.paths),
    }));
  }

  /**
   * Next root. Walking the chain (`<v>.root.json`) its version must be exactly trusted + 1;
   * with `allowVersionJump` any higher version the trusted root signed is accepted (root.json).
   * Re-submitting the trusted root's own bytes is a no-op.
   */
  updateRoot(bytes: Uint8Array, opts: UpdateRootOptions = {}): Verified<RootSigned> {
    if (this.#timestamp)
      throw new TufError('ERR_ORDER', 'root: cannot update the root after the timestamp');
    checkSize(bytes, this.#limits.root, 'root');
    const trusted = this.#root.verified;
    if (bytesEqual(bytes, trusted.raw)) return trusted;
    const md = parseRoot(bytes);
    const root = verifyRootCandidate(md, {
      gun: this.#gun,
      nowMs: this.#nowMs,
      trusted,
      pinning: this.#updatePinning,
    });
    checkVersion('root', md, trusted.metadata, undefined);
    const next = trusted.signed.version + 1;
    if (md.signed.version > next && !opts.allowVersionJump) {
      throw new TufError(
        'ERR_BAD_ROOT',
        `root: version ${md.signed.version} does not follow the trusted version ${trusted.signed.version}; fetch ${next}.root.json first`,
      );
    }
    this.#root = root;
    return root.verified;
  }

  updateTimestamp(bytes: Uint8Array): Verified<TimestampSigned> {
    if (this.#snapshot)
      throw new TufError('ERR_ORDER', 'timestamp: cannot update the timestamp after the snapshot');
    this.#requireFreshRoot();
    checkSize(bytes, this.#limits.timestamp, 'timestamp');
    const held = this.#timestamp;
    if (held && bytesEqual(bytes, held.raw)) return held;
    const md = parseTimestamp(bytes);
    const verifier = rootRoleVerifier(this.#root.verified, 'timestamp');
    const v = verifyThreshold(md, 'timestamp', verifier);
    checkVersion(
      'timestamp',
      md,
      held?.metadata,
      this.#floor('timestamp', md, parseTimestamp, verifier),
    );
    this.#checkExpiry('timestamp', md);
    this.#timestamp = v;
    return v;
  }

  updateSnapshot(bytes: Uint8Array): Verified<SnapshotSigned> {
    const ts = this.#timestamp;
    if (!ts)
      throw new TufError('ERR_ORDER', 'snapshot: cannot load the snapshot before the timestamp');
    if (this.#targets.size > 0)
      throw new TufError('ERR_ORDER', 'snapshot: cannot update the snapshot after targets');
    const held = this.#snapshot;
    if (held && bytesEqual(bytes, held.raw)) return held;
    checkReferenced(bytes, ts.signed.meta.get('snapshot'), 'snapshot', 'timestamp');
    const md = parseSnapshot(bytes);
    const verifier = rootRoleVerifier(this.#root.verified, 'snapshot');
    const v = verifyThreshold(md, 'snapshot', verifier);
    checkVersion(
      'snapshot',
      md,
      held?.metadata,
      this.#floor('snapshot', md, parseSnapshot, verifier),
    );
    this.#checkExpiry('snapshot', md);
    const rootMeta = md.signed.meta.get('root') as FileMeta; // parseSnapshot requires it
    try {
      checkFileMeta(this.#root.verified.raw, rootMeta, 'root');
    } catch (e) {
      throw new RootChangedError(
        rootMeta,
        `snapshot: lists a root other than the trusted version ${this.#root.verified.signed.version} (${(e as Error).message}); fetch the new root`,
      );
    }
    this.#snapshot = v;
    return v;
  }

  updateTargets(bytes: Uint8Array): Verified<TargetsSigned> {
    return this.#updateTargetsRole(bytes, 'targets');
  }

  updateDelegatedTargets(bytes: Uint8Array, role: string): Verified<TargetsSigned> {
    if (!isDelegationName(role))
      throw new TufError('ERR_BAD_ROLE', `${JSON.stringify(role)} is not a delegation name`);
    return this.#updateTargetsRole(bytes, role);
  }

  #updateTargetsRole(bytes: Uint8Array, role: string): Verified<TargetsSigned> {
    const snap = this.#snapshot;
    if (!snap)
      throw new TufError('ERR_ORDER', `${role}: cannot load targets metadata before the snapshot`);
    const held = this.#targets.get(role);
    let verifier: RoleVerifier;
    let paths: readonly string[];
    if (role === 'targets') {
      verifier = rootRoleVerifier(this.#root.verified, 'targets');
      paths = [''];
    } else {
      const parentName = parentRole(role);
      const parent = this.#targets.get(parentName);
      if (!parent) throw new TufError('ERR_ORDER', `${role}: load its parent ${parentName} first`);
      const decl = parent.verified.signed.delegations.roles.find((d) => d.name === role);
      if (!decl)
        throw new TufError('ERR_BAD_DELEGATION', `${role}: not delegated by ${parentName}`);
      if (!snap.signed.meta.has(role)) {
        throw new TufError(
          'ERR_BAD_DELEGATION',
          `${role}: the snapshot does not list it, so its bytes cannot be checked`,
        );
      }
      verifier = {
        keys: parent.verified.signed.delegations.keys,
        keyids: decl.keyids,
        threshold: decl.threshold,
      };
      paths = restrictPaths(parent.paths, decl.paths);
    }
    if (held && bytesEqual(bytes, held.verified.raw)) return held.verified;
    checkReferenced(bytes, snap.signed.meta.get(role), role, 'snapshot');
    const parse = (raw: Uint8Array) => parseTargets(raw, { role });
    const md = parse(bytes);
    const v = verifyThreshold(md, role, verifier);
    checkVersion(role, md, held?.verified.metadata, this.#floor(role, md, parse, verifier));
    this.#checkExpiry(role, md);
    this.#targets.set(role, { verified: v, paths });
    return v;
  }

  /**
   * Go's WalkTargets: breadth-first from `targets`, children in their parent's order, skipping
   * (with their subtrees) roles that are not loaded or whose effective paths don't admit the
   * name; the first role listing it wins.
   */
  findTarget(name: string): TargetHit | undefined {
    let hit: TargetHit | undefined;
    this.#walk(name, (role, t) => {
      const meta = t.verified.signed.targets.get(name);
      if (meta) hit = { role, meta };
      return hit !== undefined;
    });
    return hit;
  }

  /** Every target in scope of its role, walk order; the first occurrence of a name wins. */
  listTargets(): Array<{ name: string } & TargetHit> {
    const out = new Map<string, { name: string } & TargetHit>();
    this.#walk(undefined, (role, t) => {
      for (const [name, meta] of t.verified.signed.targets) {
        if (!out.has(name) && pathAllowed(t.paths, name)) out.set(name, { name, role, meta });
      }
      return false;
    });
    return [...out.values()];
  }

  /**
   * Loaded roles that expire within `withinMs` of now (Go warns within 6 months) or already
   * have. The timestamp is left out: it lives two weeks by design and is re-signed by the server.
   */
  expiryReport(withinMs: number): ExpiryEntry[] {
    const roles: Array<[string, Verified<AnySigned> | undefined]> = [
      ['root', this.#root.verified],
      ['snapshot', this.#snapshot],
      ...[...this.#targets].map(([r, t]): [string, Verified<AnySigned>] => [r, t.verified]),
    ];
    const out: ExpiryEntry[] = [];
    for (const [role, v] of roles) {
      if (!v) continue;
      const expiresMs = v.signed.expiresMs;
      if (expiresMs < this.#nowMs + withinMs)
        out.push({ role, expiresMs, expired: expiresMs < this.#nowMs });
    }
    return out;
  }

  #walk(name: string | undefined, visit: (role: string, t: LoadedTargets) => boolean): void {
    const queue = ['targets'];
    for (let role = queue.shift(); role !== undefined; role = queue.shift()) {
      const t = this.#targets.get(role);
      if (!t) continue;
      if (name !== undefined && !pathAllowed(t.paths, name)) continue;
      if (visit(role, t)) return;
      for (const d of t.verified.signed.delegations.roles) queue.push(d.name);
    }
  }

  #requireFreshRoot(): void {
    const r = this.#root;
    if (!r.fresh) {
      throw new TufError(
        'ERR_EXPIRED',
        `root: the trusted root (version ${r.verified.signed.version}, expires ${r.verified.signed.expires}) or its certificates have expired; update the root first`,
      );
    }
  }

  #checkExpiry(role: string, md: Metadata): void {
    if (md.isExpired(this.#nowMs)) {
      throw new TufError(
        'ERR_EXPIRED',
        `${role}: expired at ${md.signed.expires} (now ${formatRfc3339(this.#nowMs)})`,
      );
    }
  }

  /**
   * The previous session's copy of `role`, if it still verifies with `verifier`. `candidate` is
   * the new file, already verified with `verifier`: an identical copy is that file.
   */
  #floor<T extends AnySigned>(
    role: string,
    candidate: Metadata<T>,
    parse: (raw: Uint8Array) => Metadata<T>,
    verifier: RoleVerifier,
  ): Metadata<T> | undefined {
    const raw = this.#previous.get(role);
    if (!raw) return undefined;
    if (bytesEqual(raw, candidate.raw)) return candidate;
    try {
      const md = parse(raw);
      verifyThreshold(md, role, verifier);
      return md;
    } catch {
      return undefined;
    }
  }
}

function checkSize(bytes: Uint8Array, max: number, what: string): void {
  if (bytes.length > max)
    throw new TufError(
      'ERR_TOO_LARGE',
      `${what}: ${bytes.length} bytes exceeds the limit of ${max}`,
    );
}

/** Length cap first (endless data), then length and hashes (mix-and-match). */
function checkReferenced(
  bytes: Uint8Array,
  fm: FileMeta | undefined,
  what: string,
  by: string,
): void {
  if (fm) checkSize(bytes, fm.length, `${what} (length recorded in ${by})`);
  checkFileMeta(bytes, fm, what);
}

/** Rules 5: cap, no lower than held or floor, equal only when byte-identical. */
function checkVersion(
  role: string,
  md: Metadata,
  held: Metadata | undefined,
  floor: Metadata | undefined,
): void {
  const v = md.signed.version;
  for (const [ref, what] of [
    [held, 'trusted'],
    [floor, 'previously trusted'],
  ] as const) {
    if (!ref) continue;
    if (v < ref.signed.version) {
      throw new TufError(
        'ERR_ROLLBACK',
        `${role}: version ${v} is lower than the ${what} version ${ref.signed.version}`,
      );
    }
    if (v === ref.signed.version && !bytesEqual(md.raw, ref.raw)) {
      throw new TufError(
        'ERR_ROLLBACK',
        `${role}: version ${v} differs from the ${what} copy of the same version (fork)`,
      );
    }
  }
}

/**
 * verifyRoot, noting whether the root is fresh: a strict check first; if that fails, the same
 * check with expiry ignored tells an expired root (still usable as an anchor) from a bad one.
 */
function verifyRootCandidate(
  md: Metadata<RootSigned>,
  o: {
    gun: string;
    nowMs: number;
    trusted?: Verified<RootSigned>;
    pinning?: TrustPinning;
    mustBeFresh?: boolean;
  },
): TrustedRoot {
  const base = { gun: o.gun, nowMs: o.nowMs, trusted: o.trusted, pinning: o.pinning };
  try {
    return { verified: verifyRoot(md, base), fresh: true };
  } catch (strict) {
    const verified = verifyRoot(md, { ...base, allowExpired: true });
    if (!o.mustBeFresh) return { verified, fresh: false };
    if (md.isExpired(o.nowMs)) {
      throw new TufError(
        'ERR_EXPIRED',
        `root: expired at ${md.signed.expires} (now ${formatRfc3339(o.nowMs)})`,
      );
    }
    throw strict;
  }
}
