// FileMeta as Notary writes it (notary-protocol §1.7): length + sha256 + sha512 of exact bytes,
// digests as standard base64 in JSON. Used by the repository builder (snapshot/timestamp meta,
// targets) and by upload validation (checking an uploaded snapshot against the uploaded bytes).

import { TufError } from './errors.js';
import { bytesEqual, sha256, sha512, toBase64 } from './encoding.js';
import { type JsonObject, type JsonValue } from './json.js';
import { type FileMeta } from './metadata.js';

/** FileMeta of `bytes` with both digests Go writes; `custom` only for target entries. */
export function fileMetaFor(bytes: Uint8Array, custom?: JsonValue): FileMeta {
  const fm: FileMeta = {
    length: bytes.length,
    hashes: { sha256: sha256(bytes), sha512: sha512(bytes) },
  };
  if (custom !== undefined) fm.custom = custom;
  return fm;
}

/** The JSON object of a FileMeta (`custom` omitted when absent, as Go's omitempty does). */
export function fileMetaToJson(fm: FileMeta): JsonObject {
  const hashes: JsonObject = {};
  if (fm.hashes.sha256) hashes.sha256 = toBase64(fm.hashes.sha256);
  if (fm.hashes.sha512) hashes.sha512 = toBase64(fm.hashes.sha512);
  const out: JsonObject = { hashes, length: fm.length };
  if (fm.custom !== undefined) out.custom = fm.custom;
  return out;
}

/**
 * Checks `bytes` against `fm` as Go's CheckHashes does (every understood digest must match, at
 * least one must be present) and, unlike Go, also the length. Throws ERR_HASH_MISMATCH.
 */
export function checkFileMeta(bytes: Uint8Array, fm: FileMeta | undefined, what: string): void {
  if (!fm) throw new TufError('ERR_HASH_MISMATCH', `${what}: no checksum is recorded for it`);
  const { sha256: h256, sha512: h512 } = fm.hashes;
  if (!h256 && !h512) {
    throw new TufError('ERR_HASH_MISMATCH', `${what}: no supported hash (sha256, sha512) listed`);
  }
  if (h256 && !bytesEqual(h256, sha256(bytes)))
    throw new TufError('ERR_HASH_MISMATCH', `${what}: sha256 checksum mismatched`);
  if (h512 && !bytesEqual(h512, sha512(bytes)))
    throw new TufError('ERR_HASH_MISMATCH', `${what}: sha512 checksum mismatched`);
  if (fm.length !== bytes.length) {
    throw new TufError(
      'ERR_HASH_MISMATCH',
      `${what}: length ${bytes.length} does not match the recorded length ${fm.length}`,
    );
  }
}
