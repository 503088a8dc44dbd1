// POST /v2/<gun>/_trust/tuf/ (notary-protocol §4.2, §5.1), in Go's order:
//   1. the body must be multipart (form-data or mixed) with a boundary → else 400 MALFORMED_UPLOAD
//      (also for a body that breaks off or is malformed later: Go's handler panics there);
//   2. each part in turn: role = raw Content-Disposition filename minus one trailing ".json"
//      (the field name is ignored, '/' kept); '' → 400 NO_FILENAME; not a valid role → 400
//      INVALID_ROLE (detail = the role); not decodable as Go's SignedMeta → 400 MALFORMED_JSON
//      (a part that parses as validateUpdate will parse it decodes: that parse is kept for step 3,
//      so a valid part is parsed once);
//      a part over the per-part limit, or too many parts → 413 TOO_LARGE (the total body limit
//      is enforced while the request is read, also 413);
//   3. validateUpdate (src/tuf/upload.ts) against the current state read fresh from the store
//      (never from the cache): refused → 400 INVALID_UPDATE with Go's SerializableError detail
//      (duplicate roles and the ignored `timestamp` part are its rules); the signing service
//      failing surfaces as ErrValidation with its message, as with Go's remote signer;
//   4. store.updateMany stores the accepted files with the new snapshot/timestamp in one
//      transaction: a version at or below a stored one → 400 VERSION with detail {} (also the
//      loser of two concurrent uploads); any other storage failure → 500 UPDATING.
// Nothing is stored unless every step passed.

import { isTrustdeskError } from '../../src/tuf/errors.js';
import { fromBase64 } from '../../src/tuf/encoding.js';
import { isJsonObject, parseJson, type JsonValue } from '../../src/tuf/json.js';
import { parseRfc3339 } from '../../src/tuf/metadata.js';
import { isTargetsRole, isValidRole, parentRole } from '../../src/tuf/roles.js';
import {
  UploadValidationError,
  parseUploadPart,
  validateUpdate,
  type ServerKeys,
  type StoredState,
  type UploadPart,
} from '../../src/tuf/upload.js';
import { VersionConflictError, type MetaStore } from '../storage/types.js';
import { type TrustService } from '../trust/types.js';
import { readChain, readCurrentRole } from './current.js';
import { HttpError } from './errors.js';
import {
  MultipartError,
  PartTooLargeError,
  TooManyPartsError,
  multipartBoundary,
  readParts,
} from './multipart.js';

export interface UploadLimits {
  maxPartBytes: number;
  maxParts: number;
}

export interface UploadContext {
  store: MetaStore;
  keys: ServerKeys;
  nowMs: () => number;
  limits: UploadLimits;
}

/** The trust service as src/tuf/upload.ts wants it; its failures read like Go's remote signer. */
export function serverKeys(trust: TrustService): ServerKeys {
  return {
    async signers(_role, keyIds) {
      try {
        return await trust.signers(keyIds);
      } catch (e) {
        throw new UploadValidationError(
          'ErrValidation',
          e instanceof Error ? e.message : String(e),
          { cause: e },
        );
      }
    },
  };
}

const absent = (v: JsonValue | undefined): boolean => v === undefined || v === null;

/** Go's json.Decode into data.SignedMeta succeeds (types of the fields it knows). */
export function decodesAsSignedMeta(bytes: Uint8Array): boolean {
  let doc: JsonValue;
  try {
    doc = parseJson(bytes, 'upload');
  } catch {
    return false;
  }
  if (!isJsonObject(doc)) return false;
  const signed = doc.signed;
  if (!absent(signed)) {
    if (!isJsonObject(signed)) return false;
    if (!absent(signed._type) && typeof signed._type !== 'string') return false;
    const v = signed.version;
    if (!absent(v) && !(typeof v === 'number' && Number.isSafeInteger(v))) return false;
    const exp = signed.expires;
    if (!absent(exp)) {
      if (typeof exp !== 'string') return false;
      try {
        parseRfc3339(exp);
      } catch {
        return false;
      }
    }
  }
  const sigs = doc.signatures;
  if (absent(sigs)) return true;
  if (!Array.isArray(sigs)) return false;
  return sigs.every((s) => {
    if (s === null) return true;
    if (!isJsonObject(s)) return false;
    if (!absent(s.keyid) && typeof s.keyid !== 'string') return false;
    if (!absent(s.method) && typeof s.method !== 'string') return false;
    if (absent(s.sig)) return true;
    if (typeof s.sig !== 'string') return false;
    try {
      fromBase64(s.sig, 'sig');
      return true;
    } catch {
      return false;
    }
  });
}

/** validateUpdate's parse of a part, or undefined when it does not parse (or is not parsed). */
function parsedPart(role: string, bytes: Uint8Array): UploadPart['metadata'] {
  try {
    return parseUploadPart(role, bytes);
  } catch {
    return undefined;
  }
}

/** Steps 1–2: the parts of the body, or the HttpError Go would answer. */
export function readUploadParts(
  contentType: string | undefined,
  body: Uint8Array | undefined,
  limits: UploadLimits,
): UploadPart[] {
  const out: UploadPart[] = [];
  try {
    const boundary = multipartBoundary(contentType);
    for (const p of readParts(body ?? new Uint8Array(0), boundary, limits)) {
      const role = p.filename.endsWith('.json') ? p.filename.slice(0, -5) : p.filename;
      if (role === '') throw new HttpError('NO_FILENAME');
      if (!isValidRole(role)) throw new HttpError('INVALID_ROLE', role);
      const metadata = parsedPart(role, p.body);
      if (!metadata && !decodesAsSignedMeta(p.body)) throw new HttpError('MALFORMED_JSON');
      out.push(metadata ? { role, bytes: p.body, metadata } : { role, bytes: p.body });
    }
  } catch (e) {
    if (e instanceof MultipartError) throw new HttpError('MALFORMED_UPLOAD');
    if (e instanceof PartTooLargeError || e instanceof TooManyPartsError)
      throw new HttpError('TOO_LARGE', e.message);
    throw e;
  }
  return out;
}

/** The stored state validateUpdate needs: the current chain, root and the parts' ancestors. */
export async function readStoredState(
  store: MetaStore,
  gun: string,
  roles: readonly string[],
): Promise<StoredState> {
  const chain = await readChain(store, gun);
  const wanted = new Set<string>(['root']);
  for (const role of roles) {
    if (!isTargetsRole(role)) continue;
    for (let a = role; a !== 'targets';) wanted.add((a = parentRole(a)));
  }
  const files = new Map<string, Uint8Array>();
  await Promise.all(
    [...wanted].map(async (role) => {
      const f = await readCurrentRole(store, gun, chain, role);
      if (f) files.set(role, f.data);
    }),
  );
  return {
    root: files.get('root'),
    snapshot: chain.snapshot?.file.data,
    timestamp: chain.timestamp?.file.data,
    targets: (role) => files.get(role),
  };
}

/** Steps 3–4 after the parts were read: validates and stores; throws HttpError. */
export async function applyUpload(
  ctx: UploadContext,
  gun: string,
  parts: UploadPart[],
): Promise<void> {
  let updates;
  try {
    const stored = await readStoredState(
      ctx.store,
      gun,
      parts.map((p) => p.role),
    );
    updates = await validateUpdate({
      gun,
      nowMs: ctx.nowMs(),
      stored,
      updates: parts,
      keys: ctx.keys,
    });
  } catch (e) {
    if (e instanceof UploadValidationError) throw new HttpError('INVALID_UPDATE', e.detail());
    // The stored metadata itself does not validate: Go answers INVALID_UPDATE as well.
    if (isTrustdeskError(e))
      throw new HttpError('INVALID_UPDATE', { Name: 'ErrValidation', Error: { Msg: e.message } });
    throw new UpdatingError(e);
  }
  try {
    await ctx.store.updateMany(
      gun,
      updates.map((u) => ({ role: u.role, version: u.version, data: u.bytes })),
    );
  } catch (e) {
    if (e instanceof VersionConflictError) throw new HttpError('VERSION', {});
    throw new UpdatingError(e);
  }
}

/** A storage failure while applying an upload (500 UPDATING; the cause is logged, not sent). */
export class UpdatingError extends Error {
  constructor(cause: unknown) {
    super('storage update failed', { cause });
    this.name = 'UpdatingError';
  }
}
