// The repository an owner edits and signs (Go tuf/tuf.go Repo + client/helpers.go changelist
// application; notary-protocol §1.3–1.9, §7.5, §7.9–7.13). Pure: no I/O, the clock is passed
// to sign(), and private keys are reached only through async Signers.
//
// Rules enforced here:
//   - Edits never sign. They mark roles dirty; sign() re-signs exactly the dirty roles with
//     version+1 and expires = now + the role's default lifetime (§1.9), then the snapshot (always,
//     as Go's publish does, when a snapshot key is available; omitted when none is — the server
//     then generates it), then the timestamp only if asked (tests / the server itself).
//   - Every signature requirement is checked before anything is signed: no matching signer →
//     ERR_MISSING_KEY, fewer than the threshold → ERR_THRESHOLD. Nothing is produced or changed
//     on failure.
//   - Root: re-signed when modified. After the root role changed (keys or threshold), the next
//     root is signed by the previous root role too, each role meeting its own threshold
//     (Go SignRoot). A rotated root certificate stays in `keys`; rotated keys of other base
//     roles leave `keys` when no other role uses them (Go RemoveBaseKeys).
//   - Targets files always carry `targets` and `delegations:{keys,roles}` (quirk 16); unknown
//     members of loaded files, target entries and role objects are carried over unchanged.
//   - Delegations: the parent must be a known role (its file is created if missing, as Go
//     does); added paths must lie within the parent's effective paths; unused delegation keys
//     are pruned from the parent; a target may only be added to a role whose effective paths
//     admit its name (removal is allowed regardless, to repair an invalid state, as in Go).
//   - Snapshot meta covers root and every loaded targets role, hashed over their exact bytes.

import { canonicalText } from './canonical.js';
import { TufError } from './errors.js';
import { fileMetaFor, fileMetaToJson } from './filemeta.js';
import { isJsonObject, type JsonObject, type JsonValue } from './json.js';
import { type PublicKey, type Signer } from './keys.js';
import {
  formatRfc3339,
  parseFileMeta,
  type FileMeta,
  type Metadata,
  type RootSigned,
  type SnapshotSigned,
  type TargetsSigned,
  type TimestampSigned,
} from './metadata.js';
import {
  BASE_ROLES,
  compareRoleDepth,
  isBaseRole,
  isDelegationName,
  parentRole,
  pathAllowed,
  restrictPaths,
  type BaseRole,
} from './roles.js';
import { signEnvelope } from './sign.js';
import { type RoleVerifier } from './verify.js';

export { fileMetaFor } from './filemeta.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const YEAR_MS = 365 * DAY_MS;

/** Notary's default lifetimes from signing time (const.go; a "year" is 365×24h). */
export const DEFAULT_EXPIRY_MS = {
  root: 10 * YEAR_MS,
  targets: 3 * YEAR_MS,
  snapshot: 3 * YEAR_MS,
  timestamp: 14 * DAY_MS,
} as const satisfies Record<BaseRole, number>;

/** Default lifetime of a role; delegations use the targets default. */
export function defaultExpiryMs(role: string): number {
  return isBaseRole(role) ? DEFAULT_EXPIRY_MS[role] : DEFAULT_EXPIRY_MS.targets;
}

function expiresAt(role: string, nowMs: number): string {
  return formatRfc3339(nowMs + defaultExpiryMs(role));
}

function nextVersion(prev: JsonObject | undefined): number {
  const v = prev?.version;
  return (typeof v === 'number' ? v : 0) + 1;
}

/**
 * The next snapshot body: `prev`'s members and meta carried over, meta for each of `files`
 * (role → exact bytes) recomputed, version+1 (1 when new), expires reset.
 */
export function nextSnapshotSigned(
  prev: JsonObject | undefined,
  files: ReadonlyMap<string, Uint8Array>,
  nowMs: number,
): JsonObject {
  const meta: JsonObject = Object.fromEntries(
    Object.entries(isJsonObject(prev?.meta) ? prev.meta : {}),
  );
  for (const [role, bytes] of files) meta[role] = fileMetaToJson(fileMetaFor(bytes));
  return {
    ...prev,
    _type: 'Snapshot',
    expires: expiresAt('snapshot', nowMs),
    meta,
    version: nextVersion(prev),
  };
}

/** The next timestamp body: meta.snapshot = the snapshot bytes, version+1, expires reset. */
export function nextTimestampSigned(
  prev: JsonObject | undefined,
  snapshotBytes: Uint8Array,
  nowMs: number,
): JsonObject {
  return {
    ...prev,
    _type: 'Timestamp',
    expires: expiresAt('timestamp', nowMs),
    meta: { snapshot: fileMetaToJson(fileMetaFor(snapshotBytes)) },
    version: nextVersion(prev),
  };
}

// ---------------------------------------------------------------------------------------------
// Signer selection

function sameKey(a: PublicKey, b: PublicKey): boolean {
  if (a.id === b.id) return true;
  try {
    return a.canonicalId === b.canonicalId;
  } catch {
    return false; // an unparsable certificate matches nothing
  }
}

/**
 * Role key ID → signer. A signer matches by TUF key ID, or by canonical ID (a bare key signing
 * for its certificate); the latter is re-labelled so the signature carries the role's key ID.
 */
function matchSigners(available: readonly Signer[], req: RoleVerifier): Map<string, Signer> {
  const out = new Map<string, Signer>();
  for (const id of req.keyids) {
    const key = req.keys.get(id);
    if (!key || out.has(id)) continue;
    const s =
      available.find((x) => x.keyId === id) ?? available.find((x) => sameKey(x.publicKey, key));
    if (!s) continue;
    out.set(id, s.keyId === id ? s : { keyId: id, publicKey: key, sign: (m) => s.sign(m) });
  }
  return out;
}

/**
 * Signers meeting every requirement, or null when `optional` and no key at all is held.
 * Throws ERR_MISSING_KEY / ERR_THRESHOLD otherwise.
 */
function selectSigners(
  role: string,
  available: readonly Signer[],
  reqs: readonly RoleVerifier[],
  optional = false,
): Signer[] | null {
  const chosen = new Map<string, Signer>();
  const matched = reqs.map((r) => matchSigners(available, r));
  if (optional && matched.every((m) => m.size === 0)) return null;
  reqs.forEach((req, i) => {
    const m = matched[i] as Map<string, Signer>;
    if (m.size === 0) {
      throw new TufError(
        'ERR_MISSING_KEY',
        `${role}: signing keys not available: need ${req.threshold} of the ${req.keyids.length} role keys (${req.keyids.join(', ')})`,
      );
    }
    if (m.size < req.threshold) {
      throw new TufError(
        'ERR_THRESHOLD',
        `${role}: not enough signing keys: found ${m.size} of ${req.threshold} needed keys`,
      );
    }
    for (const [id, s] of m) chosen.set(id, s);
  });
  return [...chosen.values()];
}

// ---------------------------------------------------------------------------------------------
// State

interface RoleEntry {
  keyids: string[];
  threshold: number;
  /** Members of the role object we do not interpret. */
  extra: JsonObject;
}

interface DelegationEntry extends RoleEntry {
  name: string;
  paths: string[];
}

interface RootState {
  base: JsonObject;
  version: number;
  keys: Map<string, PublicKey>;
  roles: Map<string, RoleEntry>;
  raw?: Uint8Array;
  dirty: boolean;
}

interface TargetsState {
  base: JsonObject;
  version: number;
  /** Target name → its FileMeta JSON exactly as loaded or added. */
  targets: Map<string, JsonValue>;
  keys: Map<string, PublicKey>;
  roles: DelegationEntry[];
  raw?: Uint8Array;
  dirty: boolean;
}

interface SignedFile {
  signed: JsonObject;
  raw: Uint8Array;
}

/** A role as the repository currently declares it. */
export interface RoleInfo {
  name: string;
  keyids: readonly string[];
  keys: ReadonlyMap<string, PublicKey>;
  threshold: number;
  /** Effective target-name prefixes (targets: [""]; base roles other than targets: []). */
  paths: readonly string[];
}

function without(o: JsonObject, names: readonly string[]): JsonObject {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !names.includes(k)));
}

function jsonObjectOf(v: JsonValue | undefined): JsonObject {
  return isJsonObject(v) ? v : {};
}

function unique<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

function checkThreshold(t: number, what: string): void {
  if (!Number.isSafeInteger(t) || t < 1)
    throw new TufError('ERR_THRESHOLD', `${what}: threshold must be an integer of at least 1`);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f]/;

function checkTargetName(name: string): void {
  if (CONTROL.test(name) || !name.isWellFormed()) {
    throw new TufError(
      'ERR_UNENCODABLE',
      `target name ${JSON.stringify(name)} contains a character Go Notary cannot serialise`,
    );
  }
}

function freshTargets(): TargetsState {
  return {
    base: {},
    version: 0,
    targets: new Map(),
    keys: new Map(),
    roles: [],
    dirty: true,
  };
}

function targetsStateOf(md: Metadata<TargetsSigned>, role: string): TargetsState {
  // md.signed passed every structure check when parsed; what depends on the role it is loaded
  // as is checked again here, as parseTargetsSigned words it (children must be direct children).
  const typed = md.signed;
  if (role !== 'targets' && !isDelegationName(role))
    throw new TufError('ERR_BAD_ROLE', `${JSON.stringify(role)} is not a targets role`);
  typed.delegations.roles.forEach((d, i) => {
    if (parentRole(d.name) !== role) {
      throw new TufError(
        'ERR_BAD_DELEGATION',
        `signed.delegations.roles[${i}].name: ${d.name} is not a direct child of ${role}`,
      );
    }
  });
  const json = md.signedJson;
  const rolesJson = jsonObjectOf(json.delegations).roles;
  return {
    base: json,
    version: typed.version,
    targets: new Map(Object.entries(jsonObjectOf(json.targets))),
    keys: new Map(typed.delegations.keys),
    roles: typed.delegations.roles.map((r, i) => ({
      name: r.name,
      keyids: [...r.keyids],
      threshold: r.threshold,
      paths: [...r.paths],
      extra: without(jsonObjectOf(Array.isArray(rolesJson) ? rolesJson[i] : undefined), [
        'keyids',
        'name',
        'paths',
        'threshold',
      ]),
    })),
    raw: md.raw,
    dirty: false,
  };
}

export interface CreateRepoOptions {
  gun: string;
  /** Root certificate keys (ecdsa-x509 / rsa-x509), e.g. from createRootCertificate. */
  rootKeys: readonly PublicKey[];
  targetsKeys: readonly PublicKey[];
  /** Public keys only: for a server-managed snapshot pass the server's key and hold no signer. */
  snapshotKeys: readonly PublicKey[];
  timestampKeys: readonly PublicKey[];
  /** Default 1 for every role. */
  thresholds?: Partial<Record<BaseRole, number>>;
}

export interface LoadRepoOptions {
  gun: string;
  root: Metadata<RootSigned>;
  targets?: Metadata<TargetsSigned>;
  snapshot?: Metadata<SnapshotSigned>;
  timestamp?: Metadata<TimestampSigned>;
  /** Delegation role name → its metadata (an invalid copy may be passed to revive it by witness). */
  delegations?: ReadonlyMap<string, Metadata<TargetsSigned>>;
}

export interface DelegationUpdate {
  addKeys?: readonly PublicKey[];
  /** Canonical key IDs (as `notary delegation remove` takes them); TUF IDs are accepted too. */
  removeKeyIds?: readonly string[];
  addPaths?: readonly string[];
  removePaths?: readonly string[];
  clearPaths?: boolean;
  threshold?: number;
}

export type SignerLookup = (role: string) => readonly Signer[] | Promise<readonly Signer[]>;

export interface SignOptions {
  nowMs: number;
  /**
   * The signers available for a role. Asked once per role being signed; for `root`, return
   * every root key held (the previous root keys too while a rotation is pending).
   */
  signers: SignerLookup;
  /** Also sign a timestamp (tests and simulated servers; a client never uploads one). */
  timestamp?: boolean;
}

export class RepoBuilder {
  readonly gun: string;
  #root: RootState;
  /** The root role as last signed or loaded: a change triggers cross-signing. */
  #originalRootRole: RoleVerifier;
  #targets = new Map<string, TargetsState>();
  #snapshot: SignedFile | undefined;
  #timestamp: SignedFile | undefined;

  private constructor(gun: string, root: RootState) {
    this.gun = gun;
    this.#root = root;
    this.#originalRootRole = this.#baseRoleVerifier('root');
  }

  /** A new repository: nothing signed yet; the first sign() produces version 1 of each file. */
  static create(opts: CreateRepoOptions): RepoBuilder {
    const keys = new Map<string, PublicKey>();
    const roles = new Map<string, RoleEntry>();
    const given: Record<BaseRole, readonly PublicKey[]> = {
      root: opts.rootKeys,
      targets: opts.targetsKeys,
      snapshot: opts.snapshotKeys,
      timestamp: opts.timestampKeys,
    };
    for (const role of BASE_ROLES) {
      const ks = given[role];
      if (ks.length === 0)
        throw new TufError('ERR_MISSING_KEY', `no keys given for the ${role} role`);
      if (role === 'root') requireX509(ks);
      const threshold = opts.thresholds?.[role] ?? 1;
      checkThreshold(threshold, role);
      const keyids = unique(ks.map((k) => k.id));
      if (threshold > keyids.length) {
        throw new TufError(
          'ERR_THRESHOLD',
          `${role}: threshold ${threshold} exceeds its ${keyids.length} key(s)`,
        );
      }
      for (const k of ks) keys.set(k.id, k);
      roles.set(role, { keyids, threshold, extra: {} });
    }
    const b = new RepoBuilder(opts.gun, {
      base: { consistent_snapshot: false },
      version: 0,
      keys,
      roles,
      dirty: true,
    });
    b.#targets.set('targets', freshTargets());
    return b;
  }

  /** An existing repository from parsed metadata (the exact bytes and unknown fields are kept). */
  static load(opts: LoadRepoOptions): RepoBuilder {
    const r = opts.root;
    const rolesJson = jsonObjectOf(r.signedJson.roles);
    const roles = new Map<string, RoleEntry>();
    for (const [name, rk] of Object.entries(r.signed.roles)) {
      roles.set(name, {
        keyids: [...rk.keyids],
        threshold: rk.threshold,
        extra: without(jsonObjectOf(rolesJson[name]), ['keyids', 'threshold']),
      });
    }
    const b = new RepoBuilder(opts.gun, {
      base: r.signedJson,
      version: r.signed.version,
      keys: new Map(r.signed.keys),
      roles,
      raw: r.raw,
      dirty: false,
    });
    b.#targets.set(
      'targets',
      opts.targets ? targetsStateOf(opts.targets, 'targets') : freshTargets(),
    );
    for (const [name, md] of opts.delegations ?? []) {
      if (!isDelegationName(name))
        throw new TufError('ERR_BAD_ROLE', `${JSON.stringify(name)} is not a delegation role`);
      b.#targets.set(name, targetsStateOf(md, name));
    }
    if (opts.snapshot) b.#snapshot = { signed: opts.snapshot.signedJson, raw: opts.snapshot.raw };
    if (opts.timestamp)
      b.#timestamp = { signed: opts.timestamp.signedJson, raw: opts.timestamp.raw };
    return b;
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /** Current bytes of a role: as loaded, or as produced by the last sign(). */
  bytes(role: string): Uint8Array | undefined {
    switch (role) {
      case 'root':
        return this.#root.raw;
      case 'snapshot':
        return this.#snapshot?.raw;
      case 'timestamp':
        return this.#timestamp?.raw;
      default:
        return this.#targets.get(role)?.raw;
    }
  }

  /** Version of a role's current file (0 when it has never been signed). */
  version(role: string): number {
    switch (role) {
      case 'root':
        return this.#root.version;
      case 'snapshot':
      case 'timestamp': {
        const v = (role === 'snapshot' ? this.#snapshot : this.#timestamp)?.signed.version;
        return typeof v === 'number' ? v : 0;
      }
      default:
        return this.#targets.get(role)?.version ?? 0;
    }
  }

  /** Targets roles whose files are loaded or created, shallowest first. */
  targetsRoles(): string[] {
    return [...this.#targets.keys()].sort(compareRoleDepth);
  }

  /** Target names and FileMeta of one role's file (empty when the file does not exist). */
  targets(role: string): Map<string, FileMeta> {
    const out = new Map<string, FileMeta>();
    for (const [name, v] of this.#targets.get(role)?.targets ?? [])
      out.set(name, parseFileMeta(v, `${role}.targets[${JSON.stringify(name)}]`, true));
    return out;
  }

  isDirty(role: string): boolean {
    return role === 'root' ? this.#root.dirty : (this.#targets.get(role)?.dirty ?? false);
  }

  /** The keys, threshold and effective paths of a base role or a declared delegation. */
  role(name: string): RoleInfo {
    if (isBaseRole(name)) {
      const req = this.#baseRoleVerifier(name);
      return { name, ...req, paths: name === 'targets' ? [''] : [] };
    }
    return this.#resolveDelegation(name);
  }

  // -------------------------------------------------------------------------------------------
  // Targets

  addTarget(role: string, name: string, meta: FileMeta): void {
    checkTargetName(name);
    const info = this.#targetsRole(role);
    if (!pathAllowed(info.paths, name)) {
      throw new TufError(
        'ERR_BAD_DELEGATION',
        `target ${JSON.stringify(name)} is outside the paths delegated to ${role}`,
      );
    }
    const t = this.#fileFor(role);
    const entry = fileMetaToJson(meta);
    const old = t.targets.get(name);
    if (old !== undefined && canonicalText(old) === canonicalText(entry)) return;
    t.targets.set(name, entry);
    t.dirty = true;
  }

  removeTarget(role: string, name: string): void {
    this.#targetsRole(role);
    const t = this.#targets.get(role);
    if (t?.targets.delete(name)) t.dirty = true;
  }

  // -------------------------------------------------------------------------------------------
  // Delegations

  /**
   * Creates the delegation (threshold applies only then) or adds keys and paths to an existing
   * one, as `notary delegation add` does. An empty path "" admits every target name.
   */
  addDelegation(
    name: string,
    keys: readonly PublicKey[],
    paths: readonly string[],
    threshold = 1,
  ): void {
    const { parent, parentInfo } = this.#delegationParent(name);
    checkPathsWithin(parentInfo, name, paths);
    const file = this.#fileFor(parent);
    const existing = file.roles.find((r) => r.name === name);
    if (existing) {
      this.#editDelegation(file, existing, { addKeys: keys, addPaths: paths });
      return;
    }
    checkThreshold(threshold, name);
    const entry: DelegationEntry = { name, keyids: [], threshold, paths: [], extra: {} };
    file.roles.push(entry);
    this.#editDelegation(file, entry, { addKeys: keys, addPaths: paths });
  }

  updateDelegation(name: string, change: DelegationUpdate): void {
    const { parent, parentInfo } = this.#delegationParent(name);
    const file = this.#targets.get(parent);
    const entry = file?.roles.find((r) => r.name === name);
    if (!file || !entry)
      throw new TufError('ERR_BAD_DELEGATION', `${name}: no such delegation in ${parent}`);
    checkPathsWithin(parentInfo, name, change.addPaths ?? []);
    if (change.threshold !== undefined) checkThreshold(change.threshold, name);
    this.#editDelegation(file, entry, change);
  }

  /** Removes the role from its parent (and its own and its descendants' files and snapshot entries). */
  removeDelegation(name: string): void {
    const { parent } = this.#delegationParent(name);
    for (const role of [...this.#targets.keys()]) {
      if (role === name || role.startsWith(name + '/')) this.#targets.delete(role);
    }
    if (this.#snapshot) {
      const meta = jsonObjectOf(this.#snapshot.signed.meta);
      const kept = Object.entries(meta).filter(([r]) => r !== name && !r.startsWith(name + '/'));
      if (kept.length !== Object.keys(meta).length) {
        this.#snapshot = {
          ...this.#snapshot,
          signed: { ...this.#snapshot.signed, meta: Object.fromEntries(kept) },
        };
      }
    }
    const file = this.#targets.get(parent);
    const i = file ? file.roles.findIndex((r) => r.name === name) : -1;
    if (!file || i < 0) return;
    file.roles.splice(i, 1);
    pruneUnusedKeys(file);
    file.dirty = true;
  }

  /**
   * Removes keys (canonical or TUF IDs) from every loaded targets file's delegations
   * (`notary delegation purge`). Returns the roles whose files changed.
   */
  purgeDelegationKeys(keyIds: readonly string[]): string[] {
    const kill = new Set(keyIds);
    const changed: string[] = [];
    for (const role of this.targetsRoles()) {
      const file = this.#targets.get(role) as TargetsState;
      const doomed = [...file.keys.values()].filter((k) => keyMatches(k, kill)).map((k) => k.id);
      if (doomed.length === 0) continue;
      for (const id of doomed) file.keys.delete(id);
      for (const r of file.roles) r.keyids = r.keyids.filter((id) => !doomed.includes(id));
      file.dirty = true;
      changed.push(role);
    }
    return changed;
  }

  // -------------------------------------------------------------------------------------------
  // Base roles, witness, root

  /**
   * Replaces a base role's keys (`notary key rotate`). Root: the old certificates stay in
   * `keys` and the next root is cross-signed by the old root role. Other roles: old keys no
   * other role uses leave `keys`. `threshold` defaults to the current one.
   */
  rotateBaseRoleKeys(role: BaseRole, newKeys: readonly PublicKey[], threshold?: number): void {
    if (!isBaseRole(role)) throw new TufError('ERR_BAD_ROLE', `${String(role)} is not a base role`);
    if (newKeys.length === 0)
      throw new TufError('ERR_MISSING_KEY', `no new keys given for ${role}`);
    if (role === 'root') requireX509(newKeys);
    const entry = this.#root.roles.get(role) as RoleEntry;
    const t = threshold ?? entry.threshold;
    checkThreshold(t, role);
    const keyids = unique(newKeys.map((k) => k.id));
    if (t > keyids.length)
      throw new TufError(
        'ERR_THRESHOLD',
        `${role}: threshold ${t} exceeds its ${keyids.length} key(s)`,
      );
    const old = entry.keyids;
    entry.keyids = keyids;
    entry.threshold = t;
    if (role !== 'root') {
      const used = new Set([...this.#root.roles.values()].flatMap((r) => r.keyids));
      for (const id of old) if (!used.has(id)) this.#root.keys.delete(id);
    }
    for (const k of newKeys) this.#root.keys.set(k.id, k);
    this.#root.dirty = true;
    if (role === 'targets') (this.#targets.get('targets') as TargetsState).dirty = true;
  }

  /** Marks a targets role for re-signing (`notary witness`); its file must be loaded. */
  witness(role: string): void {
    const info = this.#targetsRole(role);
    const file = this.#targets.get(role);
    if (!file) throw new TufError('ERR_BAD_DELEGATION', `${role}: this role is not known`);
    if (info.threshold > info.keys.size) {
      throw new TufError(
        'ERR_BAD_DELEGATION',
        `${role}: role does not specify enough valid signing keys to meet its required threshold`,
      );
    }
    file.dirty = true;
  }

  markRootDirty(): void {
    this.#root.dirty = true;
  }

  // -------------------------------------------------------------------------------------------
  // Signing

  /**
   * Signs every dirty role, then the snapshot (if a snapshot key is available) and, if asked,
   * the timestamp. Returns role → Go-identical file bytes, in signing order. On success the
   * builder moves to the signed state; on failure nothing changes.
   */
  async sign(opts: SignOptions): Promise<Map<string, Uint8Array>> {
    const { nowMs } = opts;
    const lookups = new Map<string, readonly Signer[]>();
    const available = async (role: string): Promise<readonly Signer[]> => {
      let s = lookups.get(role);
      if (!s) lookups.set(role, (s = await opts.signers(role)));
      return s;
    };

    // 1. Plan: every requirement is checked before anything is signed.
    const root = this.#root;
    let rootSigners: Signer[] | undefined;
    if (root.dirty) {
      const current = this.#baseRoleVerifier('root');
      const reqs = sameRole(current, this.#originalRootRole)
        ? [current]
        : [this.#originalRootRole, current];
      rootSigners = selectSigners('root', await available('root'), reqs) as Signer[];
    }
    const dirtyTargets = this.targetsRoles().filter((r) => this.#targets.get(r)?.dirty);
    const targetSigners = new Map<string, Signer[]>();
    for (const role of dirtyTargets) {
      const info = this.#targetsRole(role);
      targetSigners.set(role, selectSigners(role, await available(role), [info]) as Signer[]);
    }
    const snapshotSigners = selectSigners(
      'snapshot',
      await available('snapshot'),
      [this.#baseRoleVerifier('snapshot')],
      true,
    );
    const timestampSigners = opts.timestamp
      ? selectSigners('timestamp', await available('timestamp'), [
          this.#baseRoleVerifier('timestamp'),
        ])
      : null;
    if (timestampSigners && !snapshotSigners && !this.#snapshot) {
      throw new TufError('ERR_BAD_HIERARCHY', 'cannot sign a timestamp: there is no snapshot');
    }

    // 2. Produce.
    const out = new Map<string, Uint8Array>();
    let rootFile: SignedFile | undefined;
    if (rootSigners) {
      const signed = this.#rootSigned(root.version + 1, expiresAt('root', nowMs));
      rootFile = { signed, raw: await signEnvelope(signed, rootSigners) };
      out.set('root', rootFile.raw);
    }
    const targetFiles = new Map<string, SignedFile>();
    for (const role of dirtyTargets) {
      const t = this.#targets.get(role) as TargetsState;
      const signed = targetsSigned(t, t.version + 1, expiresAt(role, nowMs));
      const file = { signed, raw: await signEnvelope(signed, targetSigners.get(role) as Signer[]) };
      targetFiles.set(role, file);
      out.set(role, file.raw);
    }
    let snapshotFile: SignedFile | undefined;
    if (snapshotSigners) {
      const files = new Map<string, Uint8Array>();
      files.set('root', (rootFile?.raw ?? root.raw) as Uint8Array);
      for (const role of this.targetsRoles()) {
        const bytes = targetFiles.get(role)?.raw ?? this.#targets.get(role)?.raw;
        if (bytes) files.set(role, bytes);
      }
      const signed = nextSnapshotSigned(this.#snapshot?.signed, files, nowMs);
      snapshotFile = { signed, raw: await signEnvelope(signed, snapshotSigners) };
      out.set('snapshot', snapshotFile.raw);
    }
    let timestampFile: SignedFile | undefined;
    if (timestampSigners) {
      const snap = (snapshotFile ?? this.#snapshot) as SignedFile;
      const signed = nextTimestampSigned(this.#timestamp?.signed, snap.raw, nowMs);
      timestampFile = { signed, raw: await signEnvelope(signed, timestampSigners) };
      out.set('timestamp', timestampFile.raw);
    }

    // 3. Commit.
    if (rootFile) {
      Object.assign(root, { base: rootFile.signed, version: root.version + 1, raw: rootFile.raw });
      root.dirty = false;
      this.#originalRootRole = this.#baseRoleVerifier('root');
    }
    for (const [role, file] of targetFiles) {
      const t = this.#targets.get(role) as TargetsState;
      Object.assign(t, { base: file.signed, version: t.version + 1, raw: file.raw, dirty: false });
    }
    if (snapshotFile) this.#snapshot = snapshotFile;
    if (timestampFile) this.#timestamp = timestampFile;
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  #baseRoleVerifier(role: BaseRole): RoleVerifier {
    const entry = this.#root.roles.get(role);
    if (!entry) throw new TufError('ERR_BAD_METADATA', `root declares no ${role} role`);
    const keys = new Map<string, PublicKey>();
    for (const id of entry.keyids) {
      const k = this.#root.keys.get(id);
      if (k) keys.set(id, k);
    }
    return { keys, keyids: [...entry.keyids], threshold: entry.threshold };
  }

  /** `targets` or a delegation declared by its (loaded) parent; throws otherwise. */
  #targetsRole(role: string): RoleInfo {
    if (role === 'targets') return this.role('targets');
    if (!isDelegationName(role))
      throw new TufError('ERR_BAD_ROLE', `${JSON.stringify(role)} is not a targets role`);
    return this.#resolveDelegation(role);
  }

  #resolveDelegation(name: string): RoleInfo {
    if (!isDelegationName(name))
      throw new TufError('ERR_BAD_ROLE', `${JSON.stringify(name)} is not a delegation role`);
    const parent = parentRole(name);
    const parentInfo = this.#targetsRole(parent);
    const entry = this.#targets.get(parent)?.roles.find((r) => r.name === name);
    if (!entry)
      throw new TufError('ERR_BAD_DELEGATION', `${name}: delegation does not exist in ${parent}`);
    const file = this.#targets.get(parent) as TargetsState;
    const keys = new Map<string, PublicKey>();
    for (const id of entry.keyids) {
      const k = file.keys.get(id);
      if (!k)
        throw new TufError(
          'ERR_BAD_DELEGATION',
          `${name}: role lists unknown key ${id} as a signing key`,
        );
      keys.set(id, k);
    }
    return {
      name,
      keyids: [...entry.keyids],
      keys,
      threshold: entry.threshold,
      paths: restrictPaths(parentInfo.paths, entry.paths),
    };
  }

  #delegationParent(name: string): { parent: string; parentInfo: RoleInfo } {
    if (!isDelegationName(name))
      throw new TufError('ERR_BAD_ROLE', `${JSON.stringify(name)} is not a valid delegation name`);
    const parent = parentRole(name);
    return { parent, parentInfo: this.#targetsRole(parent) };
  }

  /** The role's targets file, created empty (and dirty) if it does not exist yet. */
  #fileFor(role: string): TargetsState {
    let t = this.#targets.get(role);
    if (!t) this.#targets.set(role, (t = freshTargets()));
    return t;
  }

  /** Applies a delegation change in Go's order: paths removed, cleared, added; keys removed, added. */
  #editDelegation(file: TargetsState, entry: DelegationEntry, change: DelegationUpdate): void {
    const removePaths = new Set(change.removePaths ?? []);
    entry.paths = entry.paths.filter((p) => !removePaths.has(p));
    if (change.clearPaths) entry.paths = [];
    entry.paths = unique([...entry.paths, ...(change.addPaths ?? [])]);
    const kill = new Set(change.removeKeyIds ?? []);
    entry.keyids = entry.keyids.filter((id) => {
      const k = file.keys.get(id);
      return !(kill.has(id) || (k && keyMatches(k, kill)));
    });
    for (const k of change.addKeys ?? []) {
      file.keys.set(k.id, k);
      if (!entry.keyids.includes(k.id)) entry.keyids.push(k.id);
    }
    if (change.threshold !== undefined) entry.threshold = change.threshold;
    pruneUnusedKeys(file);
    file.dirty = true;
  }

  #rootSigned(version: number, expires: string): JsonObject {
    const r = this.#root;
    const cs = r.base.consistent_snapshot;
    return {
      ...r.base,
      _type: 'Root',
      consistent_snapshot: typeof cs === 'boolean' ? cs : false,
      expires,
      keys: keysJson(r.keys),
      roles: Object.fromEntries(
        [...r.roles].map(([name, e]) => [
          name,
          { ...e.extra, keyids: [...e.keyids], threshold: e.threshold },
        ]),
      ),
      version,
    };
  }
}

function targetsSigned(t: TargetsState, version: number, expires: string): JsonObject {
  return {
    ...t.base,
    _type: 'Targets',
    delegations: {
      ...jsonObjectOf(t.base.delegations),
      keys: keysJson(t.keys),
      roles: t.roles.map((r) => ({
        ...r.extra,
        keyids: [...r.keyids],
        name: r.name,
        ...(r.paths.length ? { paths: [...r.paths] } : {}),
        threshold: r.threshold,
      })),
    },
    expires,
    targets: Object.fromEntries(t.targets),
    version,
  };
}

function keysJson(keys: ReadonlyMap<string, PublicKey>): JsonObject {
  return Object.fromEntries([...keys].map(([id, k]) => [id, k.toJSON() as unknown as JsonValue]));
}

function requireX509(keys: readonly PublicKey[]): void {
  for (const k of keys) {
    if (!k.isX509)
      throw new TufError(
        'ERR_BAD_CERT',
        `root key ${k.id} is a ${k.keytype} key, not a certificate`,
      );
  }
}

function keyMatches(k: PublicKey, ids: ReadonlySet<string>): boolean {
  if (ids.has(k.id)) return true;
  try {
    return ids.has(k.canonicalId);
  } catch {
    return false;
  }
}

function sameRole(a: RoleVerifier, b: RoleVerifier): boolean {
  if (a.threshold !== b.threshold) return false;
  const x = new Set(a.keys.keys());
  const y = new Set(b.keys.keys());
  return x.size === y.size && [...x].every((id) => y.has(id));
}

function checkPathsWithin(parent: RoleInfo, name: string, paths: readonly string[]): void {
  if (restrictPaths(parent.paths, paths).length !== paths.length) {
    throw new TufError(
      'ERR_BAD_DELEGATION',
      `${name}: invalid paths to add to role (they must lie within the paths of ${parent.name})`,
    );
  }
}

function pruneUnusedKeys(file: TargetsState): void {
  const used = new Set(file.roles.flatMap((r) => r.keyids));
  for (const id of [...file.keys.keys()]) if (!used.has(id)) file.keys.delete(id);
}
