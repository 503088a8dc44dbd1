// trustdesk private key file, format version 1 (docs/keyfile-format.md is the reference).
//
// Checks on read, in this order (first failure wins):
//   1. strict JSON object                                  else ERR_KEYFILE_CORRUPT (truncated…)
//   2. "format" is FORMAT_NAME                             else ERR_UNSUPPORTED_FORMAT
//   3. "version" is 1                                      else ERR_UNSUPPORTED_FORMAT (names it)
//   4. "checksum" = sha256(canonical JSON of the rest)     else ERR_KEYFILE_CORRUPT (bit rot)
//   5. exact member set, types, base64, ranges, KDF bounds else ERR_KEYFILE_CORRUPT
//   6. keyId = TUF id of publicKey, algorithm fits keytype else ERR_KEYFILE_CORRUPT
// Unlocking then: argon2id(passphrase, salt, cost) → 64 bytes = AES key ‖ check key;
//   7. kdf.check = HMAC-SHA256(check key, CHECK_LABEL)[0..16] else ERR_BAD_PASSPHRASE
//   8. AES-256-GCM open with AAD = canonical JSON of every member except "ciphertext" and
//      "checksum" (the whole header is authenticated)         else ERR_KEYFILE_CORRUPT
//   9. plaintext is PKCS#8 whose public key equals publicKey  else ERR_KEYFILE_CORRUPT
// Derived keys and plaintext buffers are wiped after use. The KDF may come from a derived-key
// cache (`kdf` option): unlocking caches a derivation only once step 7 accepted it, and sealing
// reuses a cached salt for the same passphrase and cost; the file format is the same either way.

import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { canonicalBytes } from '../tuf/canonical.js';
import { fromBase64, sha256Hex, toBase64 } from '../tuf/encoding.js';
import { TrustdeskError } from '../tuf/errors.js';
import { isJsonObject, parseJson, type JsonObject, type JsonValue } from '../tuf/json.js';
import { PublicKey } from '../tuf/keys.js';
import { formatRfc3339, parseRfc3339 } from '../tuf/metadata.js';
import {
  ARGON2_VERSION,
  SALT_BYTES,
  checkCost,
  deriveKeys,
  type KdfCost,
  type KdfProfileName,
} from './kdf.js';
import type { KeyFileKdf } from './derived-key-cache.js';
import { materialMatches, publicKeyOfMaterial } from './private-key.js';
import { wipe, type KeyAlgorithm, type PrivateKeyMaterial } from './types.js';

export const FORMAT_NAME = 'trustdesk-private-key';
export const FORMAT_VERSION = 1;
const CHECK_LABEL = 'trustdesk key file v1 passphrase check';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CHECK_BYTES = 16;

const PROFILES: readonly KdfProfileName[] = [
  'interactive',
  'ceremony',
  'ceremony-reduced',
  'custom',
];
const KEYTYPE_OF: Record<KeyAlgorithm, string> = { ecdsa: 'ecdsa', ed25519: 'ed25519', rsa: 'rsa' };

/** Everything readable without the passphrase. */
export interface KeyFileHeader {
  keyId: string;
  role: string;
  gun: string;
  algorithm: KeyAlgorithm;
  publicKey: PublicKey;
  createdAt: string;
  kdf: KdfCost & { salt: Uint8Array; check: Uint8Array };
  nonce: Uint8Array;
}

export interface ParsedKeyFile {
  header: KeyFileHeader;
  /** The document minus "ciphertext" (AAD) and the ciphertext ‖ tag. */
  aad: Uint8Array;
  sealed: Uint8Array;
}

function corrupt(what: string, msg: string): TrustdeskError {
  return new TrustdeskError('ERR_KEYFILE_CORRUPT', `${what}: ${msg}`);
}

function withoutMember(doc: JsonObject, name: string): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(doc)) if (k !== name) out[k] = v;
  return out;
}

/** Authenticated data: every member except the ciphertext and the (unkeyed) checksum. */
function aadOf(doc: JsonObject): Uint8Array {
  return canonicalBytes(withoutMember(withoutMember(doc, 'ciphertext'), 'checksum'));
}

/** Bit-rot detector over every member except itself (the ciphertext included). */
function checksumOf(doc: JsonObject): string {
  return sha256Hex(canonicalBytes(withoutMember(doc, 'checksum')));
}

const EXPECTED = [
  'algorithm',
  'checksum',
  'cipher',
  'ciphertext',
  'createdAt',
  'format',
  'gun',
  'kdf',
  'keyId',
  'publicKey',
  'role',
  'version',
];
const KDF_MEMBERS = [
  'check',
  'iterations',
  'memoryKiB',
  'name',
  'parallelism',
  'profile',
  'salt',
  'version',
];

function exactMembers(o: JsonObject, names: readonly string[], what: string): void {
  const have = Object.keys(o).sort();
  const want = [...names].sort();
  if (have.length !== want.length || have.some((k, i) => k !== want[i])) {
    throw corrupt(what, `members must be exactly ${want.join(', ')}`);
  }
}

function str(o: JsonObject, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw corrupt(what, `"${k}" must be a string`);
  return v;
}

function int(o: JsonObject, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw corrupt(what, `"${k}" must be an integer`);
  return v;
}

function obj(o: JsonObject, k: string, what: string): JsonObject {
  const v = o[k];
  if (!isJsonObject(v)) throw corrupt(what, `"${k}" must be an object`);
  return v;
}

function b64(o: JsonObject, k: string, what: string, len?: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(str(o, k, what), `${what} ${k}`);
  } catch (e) {
    if (e instanceof TrustdeskError && e.code === 'ERR_KEYFILE_CORRUPT') throw e;
    throw corrupt(what, `"${k}" is not base64`);
  }
  if (len !== undefined && bytes.length !== len) throw corrupt(what, `"${k}" must be ${len} bytes`);
  return bytes;
}

/** Steps 1–6: parses a key file without the passphrase. `what` names it in errors. */
export function parseKeyFile(bytes: Uint8Array, what: string): ParsedKeyFile {
  let doc: JsonValue;
  try {
    doc = parseJson(bytes, what);
  } catch (e) {
    throw new TrustdeskError(
      'ERR_KEYFILE_CORRUPT',
      `${what}: not a complete JSON document (truncated?)`,
      {
        cause: e,
      },
    );
  }
  if (!isJsonObject(doc)) throw corrupt(what, 'not a JSON object');
  if (doc.format !== FORMAT_NAME) {
    throw new TrustdeskError(
      'ERR_UNSUPPORTED_FORMAT',
      `${what}: not a trustdesk key file (format ${JSON.stringify(doc.format ?? null)})`,
    );
  }
  if (doc.version !== FORMAT_VERSION) {
    throw new TrustdeskError(
      'ERR_UNSUPPORTED_FORMAT',
      `${what}: key file format version ${JSON.stringify(doc.version ?? null)} is not supported (this trustdesk reads version ${FORMAT_VERSION})`,
      {
        hint: 'Upgrade trustdesk to read this key file, or export it from the trustdesk that wrote it.',
      },
    );
  }
  if (typeof doc.checksum !== 'string' || doc.checksum !== checksumOf(doc)) {
    throw corrupt(what, 'checksum does not match the contents (the file was altered or damaged)');
  }
  exactMembers(doc, EXPECTED, what);
  const keyId = str(doc, 'keyId', what);
  if (!/^[0-9a-f]{64}$/.test(keyId)) throw corrupt(what, '"keyId" must be 64 lowercase hex digits');
  const algorithm = str(doc, 'algorithm', what) as KeyAlgorithm;
  if (!(algorithm in KEYTYPE_OF))
    throw corrupt(what, `unknown algorithm ${JSON.stringify(algorithm)}`);
  const pkDoc = obj(doc, 'publicKey', what);
  exactMembers(pkDoc, ['keytype', 'public'], `${what} publicKey`);
  const publicKey = new PublicKey(str(pkDoc, 'keytype', what), b64(pkDoc, 'public', what));
  if (publicKey.keytype !== KEYTYPE_OF[algorithm] || publicKey.cryptoKey() === null) {
    throw corrupt(what, `publicKey is not a usable ${algorithm} key`);
  }
  if (publicKey.id !== keyId) throw corrupt(what, 'keyId does not match publicKey');
  const createdAt = str(doc, 'createdAt', what);
  try {
    parseRfc3339(createdAt, 'createdAt');
  } catch {
    throw corrupt(what, '"createdAt" is not an RFC 3339 time');
  }
  const kdf = obj(doc, 'kdf', what);
  exactMembers(kdf, KDF_MEMBERS, `${what} kdf`);
  if (kdf.name !== 'argon2id' || kdf.version !== ARGON2_VERSION) {
    throw new TrustdeskError(
      'ERR_UNSUPPORTED_FORMAT',
      `${what}: KDF ${JSON.stringify(kdf.name)} v${JSON.stringify(kdf.version)} is not supported (argon2id v19 only)`,
    );
  }
  const profile = str(kdf, 'profile', what) as KdfProfileName;
  if (!PROFILES.includes(profile))
    throw corrupt(what, `unknown KDF profile ${JSON.stringify(profile)}`);
  const cost = {
    profile,
    memoryKiB: int(kdf, 'memoryKiB', what),
    iterations: int(kdf, 'iterations', what),
    parallelism: int(kdf, 'parallelism', what),
  };
  checkCost(cost, what);
  const salt = b64(kdf, 'salt', what);
  if (salt.length < SALT_BYTES || salt.length > 64)
    throw corrupt(what, 'salt must be 16 to 64 bytes');
  const check = b64(kdf, 'check', what, CHECK_BYTES);
  const cipher = obj(doc, 'cipher', what);
  exactMembers(cipher, ['name', 'nonce'], `${what} cipher`);
  if (cipher.name !== 'aes-256-gcm') {
    throw new TrustdeskError(
      'ERR_UNSUPPORTED_FORMAT',
      `${what}: cipher ${JSON.stringify(cipher.name)} is not supported (aes-256-gcm only)`,
    );
  }
  const nonce = b64(cipher, 'nonce', what, NONCE_BYTES);
  const sealed = b64(doc, 'ciphertext', what);
  if (sealed.length <= TAG_BYTES) throw corrupt(what, 'ciphertext is too short');
  return {
    header: {
      keyId,
      role: str(doc, 'role', what),
      gun: str(doc, 'gun', what),
      algorithm,
      publicKey,
      createdAt,
      kdf: { ...cost, salt, check },
      nonce,
    },
    aad: aadOf(doc),
    sealed,
  };
}

function checkValue(checkKey: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHmac('sha256', checkKey).update(CHECK_LABEL).digest().subarray(0, CHECK_BYTES),
  );
}

function checkMatches(derived: Uint8Array, expected: Uint8Array): boolean {
  return timingSafeEqual(checkValue(derived.subarray(32)), expected);
}

/** Plain argon2id: every use runs the KDF and every seal draws a fresh salt. */
const UNCACHED: KeyFileKdf = { derive: deriveKeys, saltFor: () => undefined };

export interface OpenOptions {
  /** Where derivations come from (default: argon2id every time, no cache). */
  kdf?: KeyFileKdf;
}

/** Steps 7–9: the private key, or ERR_BAD_PASSPHRASE / ERR_KEYFILE_CORRUPT. */
export async function openKeyFile(
  f: ParsedKeyFile,
  passphrase: string,
  what: string,
  o: OpenOptions = {},
): Promise<PrivateKeyMaterial> {
  const { header } = f;
  const expected = header.kdf.check;
  const derived = await (o.kdf ?? UNCACHED).derive(passphrase, header.kdf.salt, header.kdf, (d) =>
    checkMatches(d, expected),
  );
  let plain: Buffer | undefined;
  try {
    if (!checkMatches(derived, expected)) {
      throw new TrustdeskError(
        'ERR_BAD_PASSPHRASE',
        `wrong passphrase for key ${header.keyId.slice(0, 7)} (${what})`,
      );
    }
    const body = f.sealed.subarray(0, f.sealed.length - TAG_BYTES);
    const tag = f.sealed.subarray(f.sealed.length - TAG_BYTES);
    const d = createDecipheriv('aes-256-gcm', derived.subarray(0, 32), header.nonce, {
      authTagLength: TAG_BYTES,
    });
    d.setAAD(f.aad);
    d.setAuthTag(tag);
    try {
      plain = Buffer.concat([d.update(body), d.final()]);
    } catch {
      throw corrupt(what, 'authentication failed: the header or ciphertext was altered');
    }
    const material: PrivateKeyMaterial = {
      algorithm: header.algorithm,
      pkcs8: new Uint8Array(plain),
    };
    let ok = false;
    try {
      ok = materialMatches(material, header.publicKey);
    } catch {
      ok = false;
    }
    if (!ok) {
      wipe(material.pkcs8);
      throw corrupt(what, 'the decrypted private key does not match publicKey');
    }
    return material;
  } finally {
    wipe(derived, plain);
  }
}

export interface SealOptions {
  role: string;
  gun: string;
  createdAtMs: number;
  cost: KdfCost;
  /** Where derivations and reusable salts come from (default: argon2id, fresh salt). */
  kdf?: KeyFileKdf;
}

/** Encrypts `material` under `passphrase` into the JSON file bytes (pretty-printed, LF). */
export async function sealKeyFile(
  material: PrivateKeyMaterial,
  passphrase: string,
  o: SealOptions,
): Promise<Uint8Array> {
  checkCost(o.cost, 'KDF profile');
  const publicKey = publicKeyOfMaterial(material);
  const kdf = o.kdf ?? UNCACHED;
  // A cached salt means a cached derivation: same passphrase + salt + cost = same key. The nonce
  // stays random per file, so no (key, nonce) pair is ever used twice.
  const salt = kdf.saltFor(passphrase, o.cost) ?? new Uint8Array(randomBytes(SALT_BYTES));
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  const derived = await kdf.derive(passphrase, salt, o.cost);
  try {
    const doc: JsonObject = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      keyId: publicKey.id,
      role: o.role,
      gun: o.gun,
      algorithm: material.algorithm,
      publicKey: { keytype: publicKey.keytype, public: publicKey.publicB64 },
      createdAt: formatRfc3339(o.createdAtMs),
      kdf: {
        name: 'argon2id',
        version: ARGON2_VERSION,
        profile: o.cost.profile,
        memoryKiB: o.cost.memoryKiB,
        iterations: o.cost.iterations,
        parallelism: o.cost.parallelism,
        salt: toBase64(salt),
        check: toBase64(checkValue(derived.subarray(32))),
      },
      cipher: { name: 'aes-256-gcm', nonce: toBase64(nonce) },
    };
    const c = createCipheriv('aes-256-gcm', derived.subarray(0, 32), nonce, {
      authTagLength: TAG_BYTES,
    });
    c.setAAD(aadOf(doc));
    const body = Buffer.concat([c.update(material.pkcs8), c.final()]);
    doc.ciphertext = toBase64(Buffer.concat([body, c.getAuthTag()]));
    doc.checksum = checksumOf(doc);
    return new TextEncoder().encode(JSON.stringify(doc, null, 2) + '\n');
  } finally {
    wipe(derived);
  }
}
