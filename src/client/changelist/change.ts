// One staged change, in Go Notary's changelist format (notary-protocol §7.9; Go
// client/changelist/change.go TUFChange), so changes staged by Go are applied by trustdesk and
// the other way round.
//
// File bytes are what Go's json.Marshal writes:
//   {"action":A,"role":SCOPE,"type":T,"path":P,"data":D}
// in that member order, strings escaped as Go escapes them (HTML characters as \u003c…), D the
// standard base64 of the payload JSON or null. Payloads, also in Go's member order and with Go's
// omitempty rules:
//   target      {"length":N,"hashes":{"sha256":B64,"sha512":B64},"custom":…}  (custom omitted if absent)
//   delegation  {"new_name","threshold","add_keys":[key…],"remove_keys","add_paths",
//                "remove_paths","clear_paths"}                                  (empty members omitted)
//   role        {"keys":[key…],"role":R}                     (root key replacement, rotations only)
//   witness     null
// Keys are {"keytype":…,"keyval":{"public":B64,"private":null}}.
//
// Reading is lenient where Go's decoder is (missing members are zero values, unknown members are
// ignored) and strict where ours must be: the payload JSON goes through the strict parser (only
// integers, no duplicate keys), because it ends up in signed metadata.

import { canonicalText, goJsonString } from '../../tuf/canonical.js';
import { TrustdeskError } from '../../tuf/errors.js';
import { fromBase64, toBase64, utf8Encode } from '../../tuf/encoding.js';
import { isJsonObject, parseJson, type JsonObject, type JsonValue } from '../../tuf/json.js';
import { PublicKey } from '../../tuf/keys.js';
import { parseFileMeta, type FileMeta } from '../../tuf/metadata.js';
import { isBaseRole, isDelegationName, type BaseRole } from '../../tuf/roles.js';

export const CHANGE_ACTIONS = ['create', 'update', 'delete'] as const;
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];

export const CHANGE_TYPES = ['target', 'delegation', 'role', 'witness'] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

/** Go's scope for root changes; `targets/*` purges keys from every delegation. */
export const SCOPE_ROOT = 'root';
export const SCOPE_TARGETS = 'targets';
export const SCOPE_ALL_DELEGATIONS = 'targets/*';

export interface Change {
  action: string;
  /** Go's `role` member: `targets`, a delegation, `targets/*` (purge) or `root`. */
  scope: string;
  type: string;
  /** Target name, base role name (root changes) or "" (delegations, witness). */
  path: string;
  /** The payload JSON bytes, or null. */
  data: Uint8Array | null;
}

function changeError(what: string, msg: string, cause?: unknown): TrustdeskError {
  return new TrustdeskError('ERR_BAD_JSON', `${what}: ${msg}`, {
    hint: 'The staged change file is damaged; drop it with `trustdesk reset <gun> -n <number>` (see `trustdesk status <gun>`).',
    cause,
  });
}

/** Go's json.Marshal of a TUFChange. */
export function encodeChange(c: Change): Uint8Array {
  const data = c.data === null ? 'null' : `"${toBase64(c.data)}"`;
  return utf8Encode(
    `{"action":${goJsonString(c.action)},"role":${goJsonString(c.scope)},"type":${goJsonString(c.type)},"path":${goJsonString(c.path)},"data":${data}}`,
  );
}

function optString(o: JsonObject, key: string, what: string): string {
  const v = o[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw changeError(what, `"${key}" must be a string`);
  return v;
}

/** Reads a change file (as Go's json.Unmarshal into TUFChange would). */
export function decodeChange(bytes: Uint8Array, what: string): Change {
  let doc: JsonValue;
  try {
    doc = parseJson(bytes, what);
  } catch (e) {
    throw changeError(what, (e as Error).message, e);
  }
  if (!isJsonObject(doc)) throw changeError(what, 'a change must be a JSON object');
  const d = doc.data;
  let data: Uint8Array | null = null;
  if (d !== undefined && d !== null) {
    if (typeof d !== 'string') throw changeError(what, '"data" must be base64 text or null');
    try {
      data = fromBase64(d, `${what}: data`);
    } catch (e) {
      throw changeError(what, '"data" is not valid base64', e);
    }
  }
  return {
    action: optString(doc, 'action', what),
    scope: optString(doc, 'role', what),
    type: optString(doc, 'type', what),
    path: optString(doc, 'path', what),
    data,
  };
}

// ---------------------------------------------------------------------------------------------
// Payloads

function keyJson(k: PublicKey): string {
  return `{"keytype":${goJsonString(k.keytype)},"keyval":{"public":"${k.publicB64}","private":null}}`;
}

function stringList(xs: readonly string[]): string {
  return `[${xs.map(goJsonString).join(',')}]`;
}

/** Go's json.Marshal of a FileMeta: length, hashes (sorted), custom when present. */
export function encodeTargetMeta(meta: FileMeta): Uint8Array {
  const hashes: string[] = [];
  if (meta.hashes.sha256) hashes.push(`"sha256":"${toBase64(meta.hashes.sha256)}"`);
  if (meta.hashes.sha512) hashes.push(`"sha512":"${toBase64(meta.hashes.sha512)}"`);
  const custom = meta.custom === undefined ? '' : `,"custom":${canonicalText(meta.custom)}`;
  return utf8Encode(`{"length":${meta.length},"hashes":{${hashes.join(',')}}${custom}}`);
}

function payload(c: Change, what: string): JsonObject {
  if (!c.data) throw changeError(what, `a ${c.type} change needs data`);
  let v: JsonValue;
  try {
    v = parseJson(c.data, `${what}: data`);
  } catch (e) {
    throw changeError(what, (e as Error).message, e);
  }
  if (!isJsonObject(v)) throw changeError(what, 'the change data must be a JSON object');
  return v;
}

export function parseTargetMeta(c: Change, what: string): FileMeta {
  const o = payload(c, what);
  try {
    return parseFileMeta(o, `${what}: data`, true);
  } catch (e) {
    throw changeError(what, (e as Error).message, e);
  }
}

/** A delegation edit (Go TUFDelegation). Absent members mean "no change". */
export interface DelegationData {
  newName?: string;
  threshold?: number;
  addKeys?: PublicKey[];
  /** Canonical key IDs. */
  removeKeys?: string[];
  addPaths?: string[];
  removePaths?: string[];
  clearPaths?: boolean;
}

/** Go's json.Marshal of a TUFDelegation (omitempty on every member). */
export function encodeDelegationData(d: DelegationData): Uint8Array {
  const parts: string[] = [];
  if (d.newName) parts.push(`"new_name":${goJsonString(d.newName)}`);
  if (d.threshold) parts.push(`"threshold":${d.threshold}`);
  if (d.addKeys?.length) parts.push(`"add_keys":[${d.addKeys.map(keyJson).join(',')}]`);
  if (d.removeKeys?.length) parts.push(`"remove_keys":${stringList(d.removeKeys)}`);
  if (d.addPaths?.length) parts.push(`"add_paths":${stringList(d.addPaths)}`);
  if (d.removePaths?.length) parts.push(`"remove_paths":${stringList(d.removePaths)}`);
  if (d.clearPaths) parts.push(`"clear_paths":true`);
  return utf8Encode(`{${parts.join(',')}}`);
}

function strings(o: JsonObject, key: string, what: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw changeError(what, `"${key}" must be a list of strings`);
  return v;
}

function keyList(v: JsonValue | undefined, what: string): PublicKey[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw changeError(what, 'keys must be a list');
  try {
    return v.map((k, i) => PublicKey.fromJSON(k, `${what}: key ${i}`));
  } catch (e) {
    throw changeError(what, (e as Error).message, e);
  }
}

export function parseDelegationData(c: Change, what: string): DelegationData {
  // Go unmarshals a missing/empty payload of an update into the zero value.
  const o = c.data ? payload(c, what) : {};
  const out: DelegationData = {};
  const name = o.new_name;
  if (typeof name === 'string' && name !== '') out.newName = name;
  const t = o.threshold;
  if (t !== undefined && t !== null) {
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0)
      throw changeError(what, '"threshold" must be a non-negative integer');
    if (t > 0) out.threshold = t;
  }
  const addKeys = keyList(o.add_keys, what);
  if (addKeys.length) out.addKeys = addKeys;
  const lists = [
    ['remove_keys', 'removeKeys'],
    ['add_paths', 'addPaths'],
    ['remove_paths', 'removePaths'],
  ] as const;
  for (const [json, field] of lists) {
    const xs = strings(o, json, what);
    if (xs?.length) out[field] = xs;
  }
  if (o.clear_paths !== undefined && o.clear_paths !== null) {
    if (typeof o.clear_paths !== 'boolean')
      throw changeError(what, '"clear_paths" must be a boolean');
    if (o.clear_paths) out.clearPaths = true;
  }
  return out;
}

/** Go's json.Marshal of a TUFRootData. */
export function encodeRootRoleData(role: BaseRole, keys: readonly PublicKey[]): Uint8Array {
  return utf8Encode(`{"keys":[${keys.map(keyJson).join(',')}],"role":${goJsonString(role)}}`);
}

export function parseRootRoleData(c: Change, what: string): { role: BaseRole; keys: PublicKey[] } {
  const o = payload(c, what);
  const role = o.role;
  if (typeof role !== 'string' || !isBaseRole(role))
    throw changeError(what, '"role" must be root, targets, snapshot or timestamp');
  return { role, keys: keyList(o.keys, what) };
}

// ---------------------------------------------------------------------------------------------
// Builders (what each command stages)

/** Scopes a target change may name: `targets` or a delegation. */
export function isTargetScope(scope: string): boolean {
  return scope === SCOPE_TARGETS || isDelegationName(scope);
}

export function addTargetChange(scope: string, name: string, meta: FileMeta): Change {
  return { action: 'create', scope, type: 'target', path: name, data: encodeTargetMeta(meta) };
}

export function removeTargetChange(scope: string, name: string): Change {
  return { action: 'delete', scope, type: 'target', path: name, data: null };
}

export function delegationChange(
  action: 'create' | 'update',
  scope: string,
  d: DelegationData,
): Change {
  return { action, scope, type: 'delegation', path: '', data: encodeDelegationData(d) };
}

export function deleteDelegationChange(scope: string): Change {
  return { action: 'delete', scope, type: 'delegation', path: '', data: null };
}

export function witnessChange(scope: string): Change {
  return { action: 'update', scope, type: 'witness', path: '', data: null };
}

export function rootRoleChange(role: BaseRole, keys: readonly PublicKey[]): Change {
  return {
    action: 'create',
    scope: SCOPE_ROOT,
    type: 'role',
    path: role,
    data: encodeRootRoleData(role, keys),
  };
}
