// Corruption toolkit: turns valid metadata into the attacks a client or server must refuse.
// Every function returns new bytes and leaves its input alone. Those that re-sign use the
// signers they are given, so "properly signed but wrong" (rollback, freeze, lock-out) is
// separate from "badly signed".
//
// FILE_CORRUPTIONS act on one role's file; REFERENCE_CORRUPTIONS act on the file that records a
// role's length and hashes (the timestamp for the snapshot; the snapshot for root, targets and
// delegations). The right ERR_ code depends on who checks and for which role, so the catalogue
// only names and builds the attack; the tests pair each one with the code they expect.

import { canonicalText, encodeEnvelope, type WireSignature } from '../../src/tuf/canonical.js';
import { sha256, sha512, toBase64 } from '../../src/tuf/encoding.js';
import { isJsonObject, parseJson, type JsonObject } from '../../src/tuf/json.js';
import { type Signer } from '../../src/tuf/keys.js';
import { formatRfc3339, parseRfc3339 } from '../../src/tuf/metadata.js';
import { signEnvelope } from '../../src/tuf/sign.js';

const utf8 = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Envelope primitives

export interface Envelope {
  signed: JsonObject;
  signatures: WireSignature[];
}

/** Parses a metadata file into its `signed` value and wire signatures. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const doc = parseJson(bytes, 'envelope');
  if (!isJsonObject(doc) || !isJsonObject(doc.signed) || !Array.isArray(doc.signatures))
    throw new Error('corrupt: not a signed envelope');
  const signatures = doc.signatures.map((s): WireSignature => {
    const { keyid, method, sig } = isJsonObject(s) ? s : {};
    if (typeof keyid !== 'string' || typeof method !== 'string' || typeof sig !== 'string')
      throw new Error('corrupt: bad signature entry');
    return { keyid, method, sig };
  });
  return { signed: doc.signed, signatures };
}

/** Go wire bytes for a (possibly altered) envelope; signatures are written as given. */
export function encode(env: Envelope): Uint8Array {
  return encodeEnvelope(canonicalText(env.signed), env.signatures);
}

/** Rewrites the signature list, keeping `signed` byte-identical. */
export function mapSignatures(
  bytes: Uint8Array,
  fn: (sigs: WireSignature[]) => WireSignature[],
): Uint8Array {
  const env = decodeEnvelope(bytes);
  return encode({ signed: env.signed, signatures: fn(env.signatures) });
}

/** Applies `mutate` to a copy of `signed` and signs the result with `signers`. */
export async function resign(
  bytes: Uint8Array,
  signers: readonly Signer[],
  mutate: (signed: JsonObject) => void = () => {},
): Promise<Uint8Array> {
  const signed = structuredClone(decodeEnvelope(bytes).signed);
  mutate(signed);
  return signEnvelope(signed, signers);
}

// ---------------------------------------------------------------------------------------------
// Byte-level damage

/** A trailing comma before the final brace: not JSON. */
export function invalidJson(bytes: Uint8Array): Uint8Array {
  return concat(bytes.subarray(0, bytes.length - 1), utf8.encode(',}'));
}

export function truncate(bytes: Uint8Array, keep = Math.floor(bytes.length / 2)): Uint8Array {
  return bytes.slice(0, keep);
}

/** `bytes` followed by spaces up to `length` (still valid JSON: only a size check stops it). */
export function pad(bytes: Uint8Array, length: number): Uint8Array {
  if (length <= bytes.length) throw new Error('corrupt: pad length must exceed the file');
  const out = new Uint8Array(length).fill(0x20);
  out.set(bytes);
  return out;
}

/** An extra top-level member no signature covers (Cure53 2018). */
export function addUnsignedMember(bytes: Uint8Array): Uint8Array {
  return concat(bytes.subarray(0, bytes.length - 1), utf8.encode(',"unsigned":{"version":99}}'));
}

// ---------------------------------------------------------------------------------------------
// Signature damage (signed body untouched)

/** Flips one bit of every signature. */
export function flipSignatureByte(bytes: Uint8Array): Uint8Array {
  return mapSignatures(bytes, (sigs) =>
    sigs.map((s) => {
      const raw = Buffer.from(s.sig, 'base64');
      raw[0] = (raw[0] ?? 0) ^ 0x01;
      return { ...s, sig: raw.toString('base64') };
    }),
  );
}

/** Labels every signature with a method that does not belong to its key type. */
export function wrongMethod(bytes: Uint8Array): Uint8Array {
  return mapSignatures(bytes, (sigs) =>
    sigs.map((s) => ({ ...s, method: s.method === 'ecdsa' ? 'eddsa' : 'ecdsa' })),
  );
}

export function removeSignatures(bytes: Uint8Array): Uint8Array {
  return mapSignatures(bytes, () => []);
}

/** Keeps only the first `keep` signatures (below a threshold of keep + 1). */
export function dropSignatures(bytes: Uint8Array, keep = 1): Uint8Array {
  return mapSignatures(bytes, (sigs) => sigs.slice(0, keep));
}

/** Replaces every signature by a copy of the first: one key, counted once, however often. */
export function duplicateSignatures(bytes: Uint8Array): Uint8Array {
  return mapSignatures(bytes, (sigs) => sigs.map(() => sigs[0] as WireSignature));
}

// ---------------------------------------------------------------------------------------------
// Properly signed, wrong content

export function setVersion(
  bytes: Uint8Array,
  version: number,
  signers: readonly Signer[],
): Promise<Uint8Array> {
  return resign(bytes, signers, (s) => void (s.version = version));
}

export function offsetVersion(
  bytes: Uint8Array,
  delta: number,
  signers: readonly Signer[],
): Promise<Uint8Array> {
  return resign(bytes, signers, (s) => void (s.version = (s.version as number) + delta));
}

/** Expired one second before `nowMs` (a freeze attack replaying stale data). */
export function expire(
  bytes: Uint8Array,
  nowMs: number,
  signers: readonly Signer[],
): Promise<Uint8Array> {
  return resign(bytes, signers, (s) => void (s.expires = formatRfc3339(nowMs - 1000)));
}

/** Same version, different content (its expiry moved by a second): a fork. */
export function fork(bytes: Uint8Array, signers: readonly Signer[]): Promise<Uint8Array> {
  return resign(bytes, signers, (s) => {
    s.expires = formatRfc3339(parseRfc3339(s.expires as string) + 1000);
  });
}

const OTHER_TYPE: Record<string, string> = {
  Root: 'Targets',
  Targets: 'Snapshot',
  Snapshot: 'Timestamp',
  Timestamp: 'Snapshot',
};

/** Another role's `_type`, properly signed (a file served for the wrong role). */
export function retype(bytes: Uint8Array, signers: readonly Signer[]): Promise<Uint8Array> {
  return resign(bytes, signers, (s) => void (s._type = OTHER_TYPE[s._type as string] ?? 'Root'));
}

/** Rewrites `signed.meta[entry]` of a snapshot or timestamp and re-signs it. */
export function mutateMeta(
  bytes: Uint8Array,
  entry: string,
  signers: readonly Signer[],
  fn: (fm: JsonObject) => void,
): Promise<Uint8Array> {
  return resign(bytes, signers, (s) => {
    const meta = s.meta as JsonObject;
    const fm = meta[entry];
    if (!isJsonObject(fm)) throw new Error(`corrupt: no meta entry ${entry}`);
    fn(fm);
  });
}

// ---------------------------------------------------------------------------------------------
// Catalogue

export interface CorruptionContext {
  /** The role's legitimate signers. */
  signers: readonly Signer[];
  /** Signers of some other role (key-swap attacks). */
  otherSigners: readonly Signer[];
  nowMs: number;
  /** The size the file must stay within: the role's limit or the length recorded for it. */
  maxBytes: number;
}

export interface FileCorruption {
  readonly name: string;
  readonly description: string;
  /**
   * `trusted`: build it from the copy the victim already trusts (rollback and fork only make
   * sense against a known version); `next`: from a newer legitimate copy it has not seen.
   */
  readonly base: 'trusted' | 'next';
  /**
   * For roles whose hashes another file records: true if the attack assumes that file was
   * re-signed to match (a malicious server holding the keys, RepoSim.inject); false if the
   * point is that the bytes no longer match it (RepoSim.tamper).
   */
  readonly rereference: boolean;
  apply(bytes: Uint8Array, ctx: CorruptionContext): Promise<Uint8Array>;
}

const file = <N extends string>(
  name: N,
  description: string,
  apply: (bytes: Uint8Array, ctx: CorruptionContext) => Uint8Array | Promise<Uint8Array>,
  opts: { base?: 'trusted' | 'next'; rereference?: boolean } = {},
): FileCorruption & { readonly name: N } => ({
  name,
  description,
  base: opts.base ?? 'next',
  rereference: opts.rereference ?? true,
  apply: (bytes, ctx) => Promise.resolve(apply(bytes, ctx)),
});

export const FILE_CORRUPTIONS = [
  file('invalid-json', 'not JSON (trailing comma)', (b) => invalidJson(b)),
  file('truncated', 'the first half of the file', (b) => truncate(b)),
  file('flipped-signature', 'one bit of every signature flipped', (b) => flipSignatureByte(b)),
  file('wrong-method', 'signature methods that do not match the key type', (b) => wrongMethod(b)),
  file(
    'rollback',
    'the trusted version minus one, properly signed',
    (b, c) => offsetVersion(b, -1, c.signers),
    { base: 'trusted' },
  ),
  file(
    'fork',
    'the trusted version with other content, properly signed',
    (b, c) => fork(b, c.signers),
    { base: 'trusted' },
  ),
  file('expired', 'expired before now, properly signed (freeze)', (b, c) =>
    expire(b, c.nowMs, c.signers),
  ),
  file('no-signatures', 'the signature list emptied', (b) => removeSignatures(b)),
  file('threshold-not-met', 'one signature left (role threshold 2)', (b) => dropSignatures(b, 1)),
  file('swapped-keys', 'signed by the keys of another role', (b, c) => resign(b, c.otherSigners)),
  file('duplicate-signatures', 'the first signature repeated in place of the others', (b) =>
    duplicateSignatures(b),
  ),
  file(
    'oversize',
    'padded one byte past its size limit or recorded length',
    (b, c) => pad(b, c.maxBytes + 1),
    { rereference: false },
  ),
  file('unsigned-member', 'an extra top-level member outside "signed"', (b) =>
    addUnsignedMember(b),
  ),
  file('max-version', 'version 2147483647, properly signed (locks the role out)', (b, c) =>
    setVersion(b, 2147483647, c.signers),
  ),
  file('wrong-type', "another role's _type, properly signed", (b, c) => retype(b, c.signers)),
] as const satisfies readonly FileCorruption[];

export type FileCorruptionName = (typeof FILE_CORRUPTIONS)[number]['name'];

export interface ReferenceCorruption {
  readonly name: string;
  readonly description: string;
  /** `bytes` is the referencing file, `entry` the role whose record to alter. */
  apply(bytes: Uint8Array, entry: string, signers: readonly Signer[]): Promise<Uint8Array>;
}

const other = utf8.encode('not the file');

const ref = <N extends string>(
  name: N,
  description: string,
  edit: (fm: JsonObject) => void,
): ReferenceCorruption & { readonly name: N } => ({
  name,
  description,
  apply: (bytes, entry, signers) => mutateMeta(bytes, entry, signers, edit),
});

export const REFERENCE_CORRUPTIONS = [
  ref('hash-mismatch', 'the recorded sha256 is of other bytes', (fm) => {
    (fm.hashes as JsonObject).sha256 = toBase64(sha256(other));
  }),
  ref('sha512-mismatch', 'sha256 right, sha512 of other bytes (every hash must match)', (fm) => {
    (fm.hashes as JsonObject).sha512 = toBase64(sha512(other));
  }),
  ref('length-mismatch', 'hashes right, the recorded length one byte more', (fm) => {
    fm.length = (fm.length as number) + 1;
  }),
] as const satisfies readonly ReferenceCorruption[];

export type ReferenceCorruptionName = (typeof REFERENCE_CORRUPTIONS)[number]['name'];

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
