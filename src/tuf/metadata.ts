// Typed Notary metadata (notary-protocol §1). Parsing keeps three things:
//   raw         — the exact file bytes (hashes in snapshot/timestamp cover these),
//   signedJson  — the generic parsed `signed` value, unknown fields included (what is
//                 re-canonicalised for verification and carried over when re-signing),
//   signed      — a typed, validated view for code to read.
// Structure checks follow Go's isValid*Structure rules and name the offending field.

import { canonicalBytes } from './canonical.js';
import { TufError } from './errors.js';
import { fromBase64 } from './encoding.js';
import {
  isJsonObject,
  parseJsonWithCanonicalMember,
  type JsonObject,
  type JsonValue,
} from './json.js';
import { PublicKey } from './keys.js';
import { isDelegationName, parentRole, BASE_ROLES, type BaseRole } from './roles.js';

export type MetadataType = 'Root' | 'Targets' | 'Snapshot' | 'Timestamp';

export interface SignatureEntry {
  keyid: string;
  /** Lower-cased, as Go does when parsing. */
  method: string;
  sig: Uint8Array;
}

export interface FileMeta {
  length: number;
  /** Understood digests (sha256, sha512) decoded; other algorithm names are ignored. */
  hashes: { sha256?: Uint8Array; sha512?: Uint8Array };
  custom?: JsonValue;
}

export interface RoleKeys {
  keyids: string[];
  threshold: number;
}

export interface DelegationRole extends RoleKeys {
  name: string;
  /** Target-name prefixes; "" admits every name. */
  paths: string[];
}

interface Common {
  version: number;
  /** The expiry string exactly as written (never re-format before verifying). */
  expires: string;
  /** Expiry as epoch milliseconds (sub-millisecond digits truncated). */
  expiresMs: number;
}

export interface RootSigned extends Common {
  _type: 'Root';
  consistentSnapshot: boolean;
  keys: Map<string, PublicKey>;
  roles: Record<BaseRole, RoleKeys> & Record<string, RoleKeys>;
}

export interface TargetsSigned extends Common {
  _type: 'Targets';
  targets: Map<string, FileMeta>;
  delegations: { keys: Map<string, PublicKey>; roles: DelegationRole[] };
}

export interface SnapshotSigned extends Common {
  _type: 'Snapshot';
  meta: Map<string, FileMeta>;
}

export interface TimestampSigned extends Common {
  _type: 'Timestamp';
  meta: Map<string, FileMeta>;
}

export type AnySigned = RootSigned | TargetsSigned | SnapshotSigned | TimestampSigned;

export class Metadata<T extends AnySigned = AnySigned> {
  #canonical: Uint8Array | undefined;
  constructor(
    readonly raw: Uint8Array,
    readonly signedJson: JsonObject,
    readonly signed: T,
    readonly signatures: readonly SignatureEntry[],
    /** canonicalBytes(signedJson) when already known (the file wrote `signed` canonically). */
    canonical?: Uint8Array,
  ) {
    this.#canonical = canonical;
  }

  get type(): T['_type'] {
    return this.signed._type;
  }

  /** The message every signature covers: canonical JSON of the parsed `signed` value. */
  canonicalSigned(): Uint8Array {
    return (this.#canonical ??= canonicalBytes(this.signedJson));
  }

  isExpired(nowMs: number): boolean {
    return this.signed.expiresMs < nowMs;
  }
}

// ---------------------------------------------------------------------------------------------
// Field helpers

function bad(field: string, msg: string): never {
  throw new TufError('ERR_BAD_METADATA', `${field}: ${msg}`);
}

function obj(v: JsonValue | undefined, field: string): JsonObject {
  if (!isJsonObject(v)) bad(field, 'must be an object');
  return v;
}

function str(v: JsonValue | undefined, field: string): string {
  if (typeof v !== 'string') bad(field, 'must be a string');
  return v;
}

function int(v: JsonValue | undefined, field: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(field, 'must be an integer');
  if (v < min) bad(field, `must be >= ${min}`);
  return v;
}

function strArray(v: JsonValue | undefined, field: string): string[] {
  if (!Array.isArray(v)) bad(field, 'must be an array');
  return v.map((x, i) => str(x, `${field}[${i}]`));
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;

/** Parses an RFC 3339 time (fraction optional, zone mandatory) to epoch ms, or throws. */
export function parseRfc3339(s: string, field = 'expires'): number {
  const m = RFC3339.exec(s);
  if (!m) bad(field, `${JSON.stringify(s)} is not an RFC 3339 time`);
  const [, y, mo, d, h, mi, se, frac, z, sign, zh, zm] = m;
  const n = (x: string | undefined) => Number(x ?? 0);
  if (n(mo) < 1 || n(mo) > 12 || n(d) < 1 || n(d) > 31 || n(h) > 23 || n(mi) > 59 || n(se) > 59) {
    bad(field, `${JSON.stringify(s)} is out of range`);
  }
  let ms = Date.UTC(
    n(y),
    n(mo) - 1,
    n(d),
    n(h),
    n(mi),
    n(se),
    Math.floor(n((frac ?? '').padEnd(3, '0').slice(0, 3))),
  );
  if (new Date(Date.UTC(n(y), n(mo) - 1, n(d))).getUTCDate() !== n(d))
    bad(field, `${JSON.stringify(s)} is not a real date`);
  if (z !== 'Z') {
    if (n(zh) > 23 || n(zm) > 59) bad(field, `${JSON.stringify(s)} has an invalid zone`);
    const off = (n(zh) * 60 + n(zm)) * 60_000;
    ms += sign === '+' ? -off : off;
  }
  return ms;
}

/** Formats epoch ms as Go's RFC3339Nano in UTC ("…Z", trailing zeros of the fraction trimmed). */
export function formatRfc3339(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-22T00:00:00.123Z
  const [main, frac = ''] = iso.slice(0, -1).split('.');
  const f = frac.replace(/0+$/, '');
  return `${main}${f ? '.' + f : ''}Z`;
}

/**
 * Highest version we accept. 2^31-1 is refused: stored in a 32-bit column (Go's MySQL/PostgreSQL
 * schema) nothing can ever follow it, which locks the role out (Cure53 2018).
 */
export const MAX_VERSION = 2 ** 31 - 2;

function common(signed: JsonObject, type: MetadataType, minVersion: number): Common {
  const t = str(signed._type, 'signed._type');
  if (t !== type) {
    throw new TufError(
      'ERR_WRONG_TYPE',
      `signed._type: expected ${JSON.stringify(type)}, got ${JSON.stringify(t)}`,
    );
  }
  const expires = str(signed.expires, 'signed.expires');
  const version = int(signed.version, 'signed.version', minVersion);
  if (version > MAX_VERSION)
    bad('signed.version', `${version} is larger than the maximum ${MAX_VERSION}`);
  return {
    version,
    expires,
    expiresMs: parseRfc3339(expires, 'signed.expires'),
  };
}

function keyMap(v: JsonValue | undefined, field: string): Map<string, PublicKey> {
  const o = obj(v, field);
  const out = new Map<string, PublicKey>();
  for (const [id, k] of Object.entries(o)) {
    const key = PublicKey.fromJSON(k, `${field}[${JSON.stringify(id)}]`);
    // A key listed under an ID that is not its own could make one key count as several.
    if (key.id !== id)
      bad(`${field}[${JSON.stringify(id)}]`, `key ID does not match the key (it is ${key.id})`);
    out.set(id, key);
  }
  return out;
}

export function parseFileMeta(
  v: JsonValue | undefined,
  field: string,
  allowCustom = false,
): FileMeta {
  const o = obj(v, field);
  const length = int(o.length, `${field}.length`);
  const hashesObj = obj(o.hashes, `${field}.hashes`);
  const hashes: FileMeta['hashes'] = {};
  for (const [alg, h] of Object.entries(hashesObj)) {
    const b = fromBase64(str(h, `${field}.hashes.${alg}`), `${field}.hashes.${alg}`);
    if (alg === 'sha256') {
      if (b.length !== 32) bad(`${field}.hashes.sha256`, 'must be 32 bytes');
      hashes.sha256 = b;
    } else if (alg === 'sha512') {
      if (b.length !== 64) bad(`${field}.hashes.sha512`, 'must be 64 bytes');
      hashes.sha512 = b;
    }
  }
  const fm: FileMeta = { length, hashes };
  if (o.custom !== undefined) {
    if (!allowCustom) bad(`${field}.custom`, 'only target entries may carry custom data');
    fm.custom = o.custom;
  }
  return fm;
}

function metaMap(v: JsonValue | undefined, field: string): Map<string, FileMeta> {
  const o = obj(v, field);
  const out = new Map<string, FileMeta>();
  for (const [name, fm] of Object.entries(o))
    out.set(name, parseFileMeta(fm, `${field}[${JSON.stringify(name)}]`));
  return out;
}

function roleKeys(v: JsonValue | undefined, field: string): RoleKeys {
  const o = obj(v, field);
  // Go writes `null` for an emptied key list (e.g. all keys removed from a delegation).
  const keyids = o.keyids === null ? [] : strArray(o.keyids, `${field}.keyids`);
  return { keyids, threshold: int(o.threshold, `${field}.threshold`, 1) };
}

// ---------------------------------------------------------------------------------------------
// Signed bodies

export function parseRootSigned(signed: JsonObject, minVersion = 1): RootSigned {
  const c = common(signed, 'Root', minVersion);
  const cs = signed.consistent_snapshot;
  if (cs !== undefined && typeof cs !== 'boolean')
    bad('signed.consistent_snapshot', 'must be a boolean');
  const keys = keyMap(signed.keys, 'signed.keys');
  const rolesObj = obj(signed.roles, 'signed.roles');
  const roles: Record<string, RoleKeys> = {};
  for (const [name, r] of Object.entries(rolesObj))
    roles[name] = roleKeys(r, `signed.roles.${name}`);
  for (const base of BASE_ROLES) {
    const r = roles[base];
    if (!r) bad('signed.roles', `missing the ${base} role`);
    for (const id of r.keyids)
      if (!keys.has(id)) bad(`signed.roles.${base}.keyids`, `key ${id} is not in signed.keys`);
  }
  return {
    _type: 'Root',
    ...c,
    consistentSnapshot: cs === true,
    keys,
    roles: roles as RootSigned['roles'],
  };
}

/** `role` is the role this file is for (`targets` or a delegation), used for structure checks. */
export function parseTargetsSigned(
  signed: JsonObject,
  role = 'targets',
  minVersion = 1,
): TargetsSigned {
  const c = common(signed, 'Targets', minVersion);
  if (role !== 'targets' && !isDelegationName(role)) {
    throw new TufError('ERR_BAD_ROLE', `${JSON.stringify(role)} is not a targets role`);
  }
  const targets = new Map<string, FileMeta>();
  if (signed.targets !== undefined && signed.targets !== null) {
    for (const [name, fm] of Object.entries(obj(signed.targets, 'signed.targets'))) {
      targets.set(name, parseFileMeta(fm, `signed.targets[${JSON.stringify(name)}]`, true));
    }
  }
  let dKeys = new Map<string, PublicKey>();
  const dRoles: DelegationRole[] = [];
  if (signed.delegations !== undefined && signed.delegations !== null) {
    const d = obj(signed.delegations, 'signed.delegations');
    if (d.keys !== undefined && d.keys !== null) dKeys = keyMap(d.keys, 'signed.delegations.keys');
    if (d.roles !== undefined && d.roles !== null) {
      if (!Array.isArray(d.roles)) bad('signed.delegations.roles', 'must be an array');
      const seen = new Set<string>();
      d.roles.forEach((rv, i) => {
        const f = `signed.delegations.roles[${i}]`;
        const ro = obj(rv, f);
        const name = str(ro.name, `${f}.name`);
        if (!isDelegationName(name))
          throw new TufError(
            'ERR_BAD_ROLE',
            `${f}.name: ${JSON.stringify(name)} is not a valid delegation name`,
          );
        if (parentRole(name) !== role) {
          throw new TufError(
            'ERR_BAD_DELEGATION',
            `${f}.name: ${name} is not a direct child of ${role}`,
          );
        }
        if (seen.has(name)) bad(`${f}.name`, `delegation ${name} is listed twice`);
        seen.add(name);
        const rk = roleKeys(ro, f);
        for (const id of rk.keyids)
          if (!dKeys.has(id)) bad(`${f}.keyids`, `key ${id} is not in signed.delegations.keys`);
        const paths =
          ro.paths === undefined || ro.paths === null ? [] : strArray(ro.paths, `${f}.paths`);
        dRoles.push({ name, ...rk, paths });
      });
    }
  }
  return { _type: 'Targets', ...c, targets, delegations: { keys: dKeys, roles: dRoles } };
}

export function parseSnapshotSigned(signed: JsonObject, minVersion = 1): SnapshotSigned {
  const c = common(signed, 'Snapshot', minVersion);
  const meta = metaMap(signed.meta, 'signed.meta');
  for (const r of ['root', 'targets']) {
    const fm = meta.get(r);
    if (!fm) bad('signed.meta', `missing the ${r} entry`);
    if (!fm.hashes.sha256) bad(`signed.meta.${r}.hashes`, 'a sha256 hash is required');
  }
  return { _type: 'Snapshot', ...c, meta };
}

export function parseTimestampSigned(signed: JsonObject, minVersion = 1): TimestampSigned {
  const c = common(signed, 'Timestamp', minVersion);
  const meta = metaMap(signed.meta, 'signed.meta');
  const snap = meta.get('snapshot');
  if (!snap) bad('signed.meta', 'missing the snapshot entry');
  if (!snap.hashes.sha256) bad('signed.meta.snapshot.hashes', 'a sha256 hash is required');
  return { _type: 'Timestamp', ...c, meta };
}

// ---------------------------------------------------------------------------------------------
// Envelopes

export interface ParseOptions {
  /** Refuse files larger than this many bytes (endless-data protection). */
  maxBytes?: number;
  /** For Targets: the role the file is for. */
  role?: string;
}

function parseEnvelope(
  raw: Uint8Array,
  what: string,
  maxBytes?: number,
): { signed: JsonObject; signatures: SignatureEntry[]; canonical: Uint8Array | undefined } {
  if (maxBytes !== undefined && raw.length > maxBytes) {
    throw new TufError(
      'ERR_TOO_LARGE',
      `${what}: ${raw.length} bytes exceeds the limit of ${maxBytes}`,
    );
  }
  // Files written by Notary carry `signed` in canonical form already: its bytes are the message.
  const { value: doc, canonical } = parseJsonWithCanonicalMember(raw, 'signed', what);
  if (!isJsonObject(doc)) bad(what, 'must be a JSON object');
  // Anything beside `signed` and `signatures` is covered by no signature (Cure53 2018): refuse it.
  for (const k of Object.keys(doc)) {
    if (k !== 'signed' && k !== 'signatures')
      bad(k, 'unsigned member outside "signed" is not allowed');
  }
  const signed = obj(doc.signed, 'signed');
  const sigsV = doc.signatures;
  if (sigsV !== undefined && sigsV !== null && !Array.isArray(sigsV))
    bad('signatures', 'must be an array');
  const signatures = (sigsV ?? []).map((s, i): SignatureEntry => {
    const o = obj(s, `signatures[${i}]`);
    return {
      keyid: str(o.keyid, `signatures[${i}].keyid`),
      method: str(o.method, `signatures[${i}].method`).toLowerCase(),
      sig: fromBase64(str(o.sig, `signatures[${i}].sig`), `signatures[${i}].sig`),
    };
  });
  return { signed, signatures, canonical };
}

export function parseRoot(raw: Uint8Array, opts: ParseOptions = {}): Metadata<RootSigned> {
  const e = parseEnvelope(raw, 'root', opts.maxBytes);
  return new Metadata(raw, e.signed, parseRootSigned(e.signed), e.signatures, e.canonical);
}

export function parseTargets(raw: Uint8Array, opts: ParseOptions = {}): Metadata<TargetsSigned> {
  const role = opts.role ?? 'targets';
  const e = parseEnvelope(raw, role, opts.maxBytes);
  return new Metadata(raw, e.signed, parseTargetsSigned(e.signed, role), e.signatures, e.canonical);
}

export function parseSnapshot(raw: Uint8Array, opts: ParseOptions = {}): Metadata<SnapshotSigned> {
  const e = parseEnvelope(raw, 'snapshot', opts.maxBytes);
  return new Metadata(raw, e.signed, parseSnapshotSigned(e.signed), e.signatures, e.canonical);
}

export function parseTimestamp(
  raw: Uint8Array,
  opts: ParseOptions = {},
): Metadata<TimestampSigned> {
  const e = parseEnvelope(raw, 'timestamp', opts.maxBytes);
  return new Metadata(raw, e.signed, parseTimestampSigned(e.signed), e.signatures, e.canonical);
}

/** Parses any role, dispatching on `signed._type`. For Targets, `opts.role` names the role. */
export function parseAny(raw: Uint8Array, opts: ParseOptions = {}): Metadata {
  const e = parseEnvelope(raw, opts.role ?? 'metadata', opts.maxBytes);
  const t = e.signed._type;
  switch (t) {
    case 'Root':
      return new Metadata(raw, e.signed, parseRootSigned(e.signed), e.signatures, e.canonical);
    case 'Targets':
      return new Metadata(
        raw,
        e.signed,
        parseTargetsSigned(e.signed, opts.role ?? 'targets'),
        e.signatures,
        e.canonical,
      );
    case 'Snapshot':
      return new Metadata(raw, e.signed, parseSnapshotSigned(e.signed), e.signatures, e.canonical);
    case 'Timestamp':
      return new Metadata(raw, e.signed, parseTimestampSigned(e.signed), e.signatures, e.canonical);
    default:
      throw new TufError('ERR_WRONG_TYPE', `signed._type: unknown type ${JSON.stringify(t)}`);
  }
}
