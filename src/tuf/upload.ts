// The server's validation of an upload (notary-protocol §5.1), generation of the snapshot and
// timestamp that go with it (§5.2), and the GET-time timestamp refresh (§5.3). Pure: the server
// passes the stored bytes and a way to reach its keys, and stores what comes back atomically.
//
// validateUpdate, in Go's order (server/handlers/validation.go):
//   0. A `timestamp` part is ignored (the server always makes it). A role named twice is refused.
//   1. The stored root, if any, is the trusted root (its expiry and cert expiry not checked).
//   2. An uploaded root must have version == current or current+1 ("current" = 1 when none is
//      stored) → else ErrBadRoot "Root modifications must increment the version. …"; it must
//      pass verifyRoot against the stored root (old + new thresholds, leaf rules, not expired)
//      → else ErrBadRoot. From then on it is the root every other role is checked against.
//      No root stored and none uploaded → ErrValidation "no pre-existing root and no root
//      provided in update.".
//   3. Targets-type parts, shallowest first: missing ancestors are loaded from storage (expiry
//      allowed); each part must be declared by its parent (targets: by root), meet its role's
//      threshold, be structurally valid, version >= 1, not expired → else ErrBadTargets.
//   4. An uploaded snapshot must meet root's snapshot threshold, be valid and unexpired, and its
//      meta must match the exact bytes (all hashes AND length) of the root in force and of every
//      targets file loaded in 3 → else ErrBadSnapshot. Without one, the server signs a snapshot
//      (previous stored snapshot carried over, those entries refreshed) if it holds the
//      threshold of root's snapshot keys → else ErrBadHierarchy (Missing "snapshot").
//   5. A timestamp over the new snapshot is always signed; without root's timestamp keys →
//      ErrBadRoot "no  timestamp keys exist on the server" (Go's text, two spaces).
// Version *increase* against storage is the store's check (400 VERSION); checkVersionsIncrease
// is the pure rule. Parsing refuses version 2^31-1 and unsigned envelope members, which Go
// accepts. Errors other than UploadValidationError mean the stored state itself is unusable.
//
// Two costs are not paid twice: a caller that already parsed a part with parseUploadPart passes
// the result as `metadata` (the server does, to check the part decodes at all), and the verified
// stored root is kept per GUN and content (trustedRoot below) — its x509 checks are most of a
// small upload's work.

import { sha256Hex } from './encoding.js';
import { checkFileMeta } from './filemeta.js';
import { nextSnapshotSigned, nextTimestampSigned } from './builder.js';
import { TufError, TrustdeskError, type ErrorCode } from './errors.js';
import { type Signer } from './keys.js';
import {
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type AnySigned,
  type Metadata,
  type RootSigned,
  type SnapshotSigned,
  type TargetsSigned,
  type TimestampSigned,
} from './metadata.js';
import { rootRoleVerifier, verifyRoot } from './root-trust.js';
import { compareRoleDepth, isTargetsRole, isValidRole, parentRole } from './roles.js';
import { signEnvelope } from './sign.js';
import { verifyThreshold, type RoleVerifier, type Verified } from './verify.js';

export type UploadErrorName =
  'ErrValidation' | 'ErrBadHierarchy' | 'ErrBadRoot' | 'ErrBadTargets' | 'ErrBadSnapshot';

/** Go's Error() prefix for each validation error type (tuf/validation/errors.go). */
const GO_PREFIX: Record<UploadErrorName, string> = {
  ErrValidation: 'An error occurred during validation: ',
  ErrBadHierarchy: 'Metadata hierarchy is incomplete: ',
  ErrBadRoot: 'The root metadata is invalid: ',
  ErrBadTargets: 'The targets metadata is invalid: ',
  ErrBadSnapshot: 'The snapshot metadata is invalid: ',
};

const DEFAULT_CODE: Record<UploadErrorName, ErrorCode> = {
  ErrValidation: 'ERR_VALIDATION',
  ErrBadHierarchy: 'ERR_BAD_HIERARCHY',
  ErrBadRoot: 'ERR_BAD_ROOT',
  ErrBadTargets: 'ERR_VALIDATION',
  ErrBadSnapshot: 'ERR_VALIDATION',
};

/** An upload refused by validation; the server answers 400 INVALID_UPDATE with detail(). */
export class UploadValidationError extends TufError {
  /** Go's message (the `Msg` of the detail), without the type prefix. */
  readonly msg: string;
  /** ErrBadHierarchy: the role the update lacks. */
  readonly missing: string | undefined;

  constructor(
    readonly goName: UploadErrorName,
    msg: string,
    opts: { missing?: string; cause?: unknown } = {},
  ) {
    // The code of the underlying failure (ERR_EXPIRED, ERR_THRESHOLD, …) picks the help text.
    const code = opts.cause instanceof TrustdeskError ? opts.cause.code : DEFAULT_CODE[goName];
    super(code, GO_PREFIX[goName] + msg, { cause: opts.cause });
    this.msg = msg;
    this.missing = opts.missing;
  }

  /** Go's SerializableError: `{"Name":…,"Error":{"Missing"?,"Msg"}}` (Go field order). */
  detail(): { Name: UploadErrorName; Error: { Missing?: string; Msg: string } } {
    const error =
      this.missing === undefined ? { Msg: this.msg } : { Missing: this.missing, Msg: this.msg };
    return { Name: this.goName, Error: error };
  }
}

/** What the store currently holds for the GUN (exact bytes). */
export interface StoredState {
  root?: Uint8Array;
  /** The current snapshot (the one the current timestamp lists). */
  snapshot?: Uint8Array;
  timestamp?: Uint8Array;
  /** Current bytes of a targets role (`targets` or a delegation), if stored. */
  targets: (role: string) => Uint8Array | undefined;
}

/** The server's signing keys (its trust service). */
export interface ServerKeys {
  /** The signers, among those key IDs, that the server holds (possibly none). */
  signers(role: 'snapshot' | 'timestamp', keyIds: readonly string[]): Promise<Signer[]>;
}

/** An uploaded file. `metadata`, when given, must be parseUploadPart(role, bytes). */
export interface UploadPart {
  role: string;
  bytes: Uint8Array;
  metadata?: Metadata;
}

/**
 * Parses an uploaded part as validateUpdate does (throws what the parser throws); undefined for
 * `timestamp`, which validateUpdate ignores. Pass the result on as UploadPart.metadata.
 */
export function parseUploadPart(role: string, bytes: Uint8Array): Metadata | undefined {
  if (role === 'root') return parseRoot(bytes);
  if (role === 'snapshot') return parseSnapshot(bytes);
  if (isTargetsRole(role)) return parseTargets(bytes, { role });
  return undefined;
}

/** The part's metadata as its caller parsed it, or parsed now (same parser, same errors). */
function partMetadata<T extends AnySigned>(
  part: UploadPart,
  type: T['_type'],
  parse: (bytes: Uint8Array) => Metadata<T>,
): Metadata<T> {
  const md = part.metadata;
  return md && md.raw === part.bytes && md.type === type ? (md as Metadata<T>) : parse(part.bytes);
}

/**
 * Step 1: the stored root, verified as trusted (expiry not checked). With allowExpired and no
 * pinning, verifyRoot's answer depends on the bytes and the GUN alone (no clock), so it is kept
 * per GUN and sha256 for the next upload; failures are not kept.
 */
const trustedRoots = new Map<string, Verified<RootSigned>>();
const TRUSTED_ROOTS_KEPT = 64;

function trustedRoot(bytes: Uint8Array, gun: string, nowMs: number): Verified<RootSigned> {
  const key = `${sha256Hex(bytes)} ${gun}`;
  const held = trustedRoots.get(key);
  if (held) return held;
  const verified = verifyRoot(parseRoot(bytes), { gun, nowMs, allowExpired: true });
  if (trustedRoots.size >= TRUSTED_ROOTS_KEPT) {
    const oldest = trustedRoots.keys().next();
    if (!oldest.done) trustedRoots.delete(oldest.value);
  }
  trustedRoots.set(key, verified);
  return verified;
}

export interface MetaUpdate {
  role: string;
  version: number;
  bytes: Uint8Array;
}

const HIERARCHY_MSG =
  'no snapshot was included in update and server does not hold current snapshot key for repository';
const NO_TIMESTAMP_KEY_MSG = 'no  timestamp keys exist on the server';

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function refuse(name: UploadErrorName, e: unknown): never {
  if (e instanceof UploadValidationError) throw e;
  throw new UploadValidationError(name, messageOf(e), { cause: e });
}

function notExpired(md: Metadata, role: string, nowMs: number): void {
  if (md.isExpired(nowMs))
    throw new TufError('ERR_EXPIRED', `${role} expired at ${md.signed.expires}`);
}

/** The held signers for a role's key IDs, or null when they cannot reach its threshold. */
async function serverSigners(
  keys: ServerKeys,
  role: 'snapshot' | 'timestamp',
  verifier: RoleVerifier,
): Promise<Signer[] | null> {
  const wanted = new Set(verifier.keyids);
  const seen = new Set<string>();
  const held = (await keys.signers(role, verifier.keyids)).filter(
    (s) => wanted.has(s.keyId) && !seen.has(s.keyId) && (seen.add(s.keyId), true),
  );
  return held.length >= verifier.threshold && held.length > 0 ? held : null;
}

interface LoadedTargets {
  md: Metadata<TargetsSigned>;
  bytes: Uint8Array;
}

/** Verifies a targets-type file against root (targets) or its loaded parent's delegation. */
function loadTargets(
  part: UploadPart,
  root: Verified<RootSigned>,
  loaded: ReadonlyMap<string, LoadedTargets>,
  nowMs: number,
  allowExpired: boolean,
): LoadedTargets {
  const role = part.role;
  const md = partMetadata(part, 'Targets', (b) => parseTargets(b, { role }));
  let verifier: RoleVerifier;
  if (role === 'targets') {
    verifier = rootRoleVerifier(root, 'targets');
  } else {
    const parent = parentRole(role);
    const p = loaded.get(parent);
    if (!p)
      throw new TufError('ERR_BAD_DELEGATION', `${role}: its parent ${parent} does not exist`);
    const d = p.md.signed.delegations;
    const entry = d.roles.find((r) => r.name === role);
    if (!entry)
      throw new TufError('ERR_BAD_DELEGATION', `${role}: delegation does not exist in ${parent}`);
    verifier = { keys: d.keys, keyids: entry.keyids, threshold: entry.threshold };
  }
  verifyThreshold(md, role, verifier);
  if (!allowExpired) notExpired(md, role, nowMs);
  return { md, bytes: part.bytes };
}

/** Validates an upload; returns everything to store atomically (uploaded parts + snapshot/timestamp). */
export async function validateUpdate(args: {
  gun: string;
  nowMs: number;
  stored: StoredState;
  updates: readonly UploadPart[];
  keys: ServerKeys;
}): Promise<MetaUpdate[]> {
  const { gun, nowMs, stored, keys } = args;
  const parts = new Map<string, UploadPart>();
  for (const u of args.updates) {
    if (!isValidRole(u.role))
      throw new UploadValidationError('ErrValidation', `${u.role} is not a valid role`);
    if (u.role === 'timestamp') continue;
    if (parts.has(u.role))
      throw new UploadValidationError(
        'ErrValidation',
        `${u.role} appears more than once in the update`,
      );
    parts.set(u.role, u);
  }
  const out: MetaUpdate[] = [];

  // 1–2. Root.
  const trusted = stored.root ? trustedRoot(stored.root, gun, nowMs) : undefined;
  const current = trusted?.signed.version ?? 1;
  let root = trusted;
  let rootBytes = stored.root;
  const rootPart = parts.get('root');
  if (rootPart) {
    let md: Metadata<RootSigned>;
    try {
      md = partMetadata(rootPart, 'Root', parseRoot);
    } catch (e) {
      refuse('ErrBadRoot', e);
    }
    const v = md.signed.version;
    if (v !== current && v !== current + 1) {
      throw new UploadValidationError(
        'ErrBadRoot',
        `Root modifications must increment the version. Current ${current}, new ${v}`,
      );
    }
    try {
      root = verifyRoot(md, { gun, nowMs, trusted });
      notExpired(md, 'root', nowMs);
    } catch (e) {
      refuse('ErrBadRoot', e);
    }
    rootBytes = rootPart.bytes;
    out.push({ role: 'root', version: v, bytes: rootPart.bytes });
  } else if (!root || !rootBytes) {
    throw new UploadValidationError(
      'ErrValidation',
      'no pre-existing root and no root provided in update.',
    );
  }
  const rootInForce = root;

  // 3. Targets and delegations, shallowest first.
  const loaded = new Map<string, LoadedTargets>();
  for (const role of [...parts.keys()].filter(isTargetsRole).sort(compareRoleDepth)) {
    const ancestors: string[] = [];
    for (let a = role; a !== 'targets';) {
      a = parentRole(a);
      if (!loaded.has(a)) ancestors.unshift(a);
    }
    try {
      for (const a of ancestors) {
        const bytes = stored.targets(a);
        if (bytes) loaded.set(a, loadTargets({ role: a, bytes }, rootInForce, loaded, nowMs, true));
      }
      const t = loadTargets(parts.get(role) as UploadPart, rootInForce, loaded, nowMs, false);
      loaded.set(role, t);
      out.push({ role, version: t.md.signed.version, bytes: t.bytes });
    } catch (e) {
      refuse('ErrBadTargets', e);
    }
  }

  // 4. Snapshot: uploaded and checked, or generated.
  let snapshotBytes: Uint8Array;
  let snapshotVersion: number;
  const snapshotPart = parts.get('snapshot');
  if (snapshotPart) {
    try {
      const md = partMetadata(snapshotPart, 'Snapshot', parseSnapshot);
      verifyThreshold(md, 'snapshot', rootRoleVerifier(rootInForce, 'snapshot'));
      notExpired(md, 'snapshot', nowMs);
      checkFileMeta(rootBytes, md.signed.meta.get('root'), 'root');
      for (const [role, t] of loaded) checkFileMeta(t.bytes, md.signed.meta.get(role), role);
      snapshotVersion = md.signed.version;
    } catch (e) {
      refuse('ErrBadSnapshot', e);
    }
    snapshotBytes = snapshotPart.bytes;
  } else {
    let prev: Metadata<SnapshotSigned> | undefined;
    try {
      prev = stored.snapshot ? parseSnapshot(stored.snapshot) : undefined;
      if (!prev && !loaded.has('targets')) throw new Error('targets must be loaded first');
    } catch (e) {
      refuse('ErrValidation', e);
    }
    const signers = await serverSigners(
      keys,
      'snapshot',
      rootRoleVerifier(rootInForce, 'snapshot'),
    );
    if (!signers)
      throw new UploadValidationError('ErrBadHierarchy', HIERARCHY_MSG, { missing: 'snapshot' });
    const files = new Map<string, Uint8Array>([['root', rootBytes]]);
    for (const [role, t] of loaded) files.set(role, t.bytes);
    const signed = nextSnapshotSigned(prev?.signedJson, files, nowMs);
    snapshotBytes = await signOrRefuse(signed, signers);
    snapshotVersion = signed.version as number;
  }
  out.push({ role: 'snapshot', version: snapshotVersion, bytes: snapshotBytes });

  // 5. Timestamp, always generated.
  let prevTs: Metadata<TimestampSigned> | undefined;
  try {
    prevTs = stored.timestamp ? parseTimestamp(stored.timestamp) : undefined;
  } catch (e) {
    refuse('ErrValidation', e);
  }
  const tsSigners = await serverSigners(
    keys,
    'timestamp',
    rootRoleVerifier(rootInForce, 'timestamp'),
  );
  if (!tsSigners) throw new UploadValidationError('ErrBadRoot', NO_TIMESTAMP_KEY_MSG);
  const tsSigned = nextTimestampSigned(prevTs?.signedJson, snapshotBytes, nowMs);
  out.push({
    role: 'timestamp',
    version: tsSigned.version as number,
    bytes: await signOrRefuse(tsSigned, tsSigners),
  });
  return out;
}

/** A failing signing service surfaces as ErrValidation with its message, as in Go. */
async function signOrRefuse(
  signed: Parameters<typeof signEnvelope>[0],
  signers: Signer[],
): Promise<Uint8Array> {
  try {
    return await signEnvelope(signed, signers);
  } catch (e) {
    refuse('ErrValidation', e);
  }
}

export interface VersionConflict {
  role: string;
  version: number;
  current: number;
}

/**
 * Each update's version must exceed the highest stored version of its role (storage rule,
 * answered with 400 VERSION). Returns the offending updates (empty when all increase).
 */
export function checkVersionsIncrease(
  updates: ReadonlyArray<{ role: string; version: number }>,
  storedVersion: (role: string) => number | undefined,
): VersionConflict[] {
  const out: VersionConflict[] = [];
  for (const u of updates) {
    const current = storedVersion(u.role);
    if (current !== undefined && u.version <= current)
      out.push({ role: u.role, version: u.version, current });
  }
  return out;
}

/**
 * GET-time refresh (§5.3): re-signs an expired snapshot (server must hold its key) and, if the
 * timestamp expired or no longer matches the snapshot, a new timestamp. Returns what to store
 * atomically, or null when the stored timestamp can be served as is. Failures (no timestamp
 * stored, root expired, keys missing) are plain TufErrors: the server answers 404 / 500.
 */
export async function refreshTimestamp(args: {
  gun: string;
  nowMs: number;
  stored: StoredState;
  keys: ServerKeys;
}): Promise<{ snapshot?: Uint8Array; timestamp: Uint8Array } | null> {
  const { gun, nowMs, stored, keys } = args;
  if (!stored.timestamp) throw new TufError('ERR_NOT_FOUND', 'no timestamp is stored');
  if (!stored.snapshot) throw new TufError('ERR_NOT_FOUND', 'no snapshot is stored');
  const ts = parseTimestamp(stored.timestamp);
  let snapshot = parseSnapshot(stored.snapshot);
  let newSnapshot: Uint8Array | undefined;
  let root: Verified<RootSigned> | undefined;
  const loadRoot = (): Verified<RootSigned> => {
    if (!stored.root) throw new TufError('ERR_NOT_FOUND', 'no root is stored');
    return (root ??= verifyRoot(parseRoot(stored.root), { gun, nowMs }));
  };

  if (snapshot.isExpired(nowMs)) {
    const verifier = rootRoleVerifier(loadRoot(), 'snapshot');
    const signers = await serverSigners(keys, 'snapshot', verifier);
    if (!signers)
      throw new TufError(
        'ERR_MISSING_KEY',
        'the server does not hold the snapshot key to re-sign it',
      );
    const files = new Map([['root', stored.root as Uint8Array]]);
    newSnapshot = await signEnvelope(
      nextSnapshotSigned(snapshot.signedJson, files, nowMs),
      signers,
    );
    snapshot = parseSnapshot(newSnapshot);
  }

  const snapBytes = newSnapshot ?? stored.snapshot;
  if (!ts.isExpired(nowMs) && matches(snapBytes, ts.signed.meta.get('snapshot'))) return null;

  const r = loadRoot();
  verifyThreshold(snapshot, 'snapshot', rootRoleVerifier(r, 'snapshot'));
  notExpired(snapshot, 'snapshot', nowMs);
  checkFileMeta(stored.root as Uint8Array, snapshot.signed.meta.get('root'), 'root');
  const signers = await serverSigners(keys, 'timestamp', rootRoleVerifier(r, 'timestamp'));
  if (!signers) throw new TufError('ERR_MISSING_KEY', NO_TIMESTAMP_KEY_MSG);
  const timestamp = await signEnvelope(
    nextTimestampSigned(ts.signedJson, snapBytes, nowMs),
    signers,
  );
  return newSnapshot ? { snapshot: newSnapshot, timestamp } : { timestamp };
}

function matches(bytes: Uint8Array, fm: Parameters<typeof checkFileMeta>[1]): boolean {
  try {
    checkFileMeta(bytes, fm, 'snapshot');
    return true;
  } catch {
    return false;
  }
}
