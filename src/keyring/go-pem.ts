// Go Notary private key PEM files (notary-protocol §7.3, quirk 15): import and export.
//
// Reading, per PEM block:
//   ENCRYPTED PRIVATE KEY  PKCS#8 EncryptedPrivateKeyInfo. Only PBES2 + PBKDF2 (any salt; iteration
//                          count ≤ MAX_ITERATIONS; PRF HMAC-SHA1 when absent — Go's only choice —
//                          or HMAC-SHA-224/256/384/512) with AES-128/192/256-CBC or DES-EDE3-CBC.
//                          Anything else → ERR_UNSUPPORTED_FORMAT naming the OID.
//   PRIVATE KEY            unencrypted PKCS#8.
//   EC / RSA / ED25519 PRIVATE KEY  legacy SEC1 / PKCS#1 / Go 96-byte blob, optionally with
//                          `Proc-Type: 4,ENCRYPTED` + `DEK-Info: <cipher>,<hex IV>` (OpenSSL
//                          EVP_BytesToKey-MD5 key, CBC).
//   Inner PKCS#8: version 0 or 1 (Go writes 1 for ECDSA); algorithm id-ecPublicKey (+ named curve),
//   rsaEncryption (NULL parameter optional, Go omits it), Ed25519 (1.3.101.112) or Go's
//   non-standard ed25519 OID 1.3.6.1.4.1.11591.15.1 whose key is public ‖ seed ‖ public (96 bytes;
//   both public copies must match the seed).
//   A wrong passphrase shows as bad CBC padding or an inner structure that does not parse; both
//   are ERR_BAD_PASSPHRASE (Go: "pkcs8: incorrect password").
// Writing reproduces Go's encoding exactly: PBES2{PBKDF2{8-byte salt, 2048}, AES-256-CBC{16-byte
// IV}}, PKCS#7 padding, Go's inner PKCS#8 (ECDSA version 1 with SEQUENCE{ecPublicKey, curve};
// RSA version 0 with SEQUENCE{rsaEncryption}; ed25519 the 96-byte blob), PEM headers `gun`
// (only when non-empty), `path` (export), `role`, sorted as Go's encoder sorts them.

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  pbkdf2Sync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import {
  DerReader,
  TAG,
  contextTag,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  parseDer,
  readOctetString,
  readOid,
  readSmallInteger,
  type DerElement,
} from '../tuf/der.js';
import { TrustdeskError } from '../tuf/errors.js';
import { decodePemBlocks, encodePem, type PemBlock } from '../tuf/pem.js';
import { keyObjectFromMaterial, materialFromKeyObject } from './private-key.js';
import { wipe, type PrivateKeyMaterial } from './types.js';

const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacSha1: '1.2.840.113549.2.7',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  goEd25519: '1.3.6.1.4.1.11591.15.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
} as const;

const PRFS: Record<string, string> = {
  [OID.hmacSha1]: 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const PBES2_CIPHERS: Record<string, { name: string; keyLen: number }> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLen: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLen: 24 },
  [OID.aes256cbc]: { name: 'aes-256-cbc', keyLen: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLen: 24 },
};
const LEGACY_CIPHERS: Record<string, { name: string; keyLen: number; ivLen: number }> = {
  'DES-CBC': { name: 'des-cbc', keyLen: 8, ivLen: 8 },
  'DES-EDE3-CBC': { name: 'des-ede3-cbc', keyLen: 24, ivLen: 8 },
  'AES-128-CBC': { name: 'aes-128-cbc', keyLen: 16, ivLen: 16 },
  'AES-192-CBC': { name: 'aes-192-cbc', keyLen: 24, ivLen: 16 },
  'AES-256-CBC': { name: 'aes-256-cbc', keyLen: 32, ivLen: 16 },
};
const CURVE_OIDS: Record<string, string> = {
  prime256v1: OID.p256,
  secp384r1: OID.p384,
  secp521r1: OID.p521,
};

export const GO_PBKDF2_ITERATIONS = 2048;
/** Refuse files that would make PBKDF2 run for minutes. */
const MAX_ITERATIONS = 10_000_000;

export const PRIVATE_KEY_BLOCK_TYPES = [
  'ENCRYPTED PRIVATE KEY',
  'PRIVATE KEY',
  'EC PRIVATE KEY',
  'RSA PRIVATE KEY',
  'ED25519 PRIVATE KEY',
] as const;

export interface GoKeyBlock {
  block: PemBlock;
  /** Needs a passphrase to read. */
  encrypted: boolean;
  role: string;
  gun: string;
  /** `path` header from `notary key export`, if any. */
  path: string;
}

const unsupported = (msg: string) => new TrustdeskError('ERR_UNSUPPORTED_FORMAT', msg);
const badPass = (what: string) =>
  new TrustdeskError('ERR_BAD_PASSPHRASE', `${what}: incorrect passphrase`);

/** Every private-key block of a PEM file (other blocks are ignored, as Go ignores them). */
export function readGoKeyBlocks(text: string, what: string): GoKeyBlock[] {
  const blocks = decodePemBlocks(text).filter((b) =>
    (PRIVATE_KEY_BLOCK_TYPES as readonly string[]).includes(b.type),
  );
  if (blocks.length === 0) {
    const types = decodePemBlocks(text).map((b) => b.type);
    throw new TrustdeskError(
      types.length ? 'ERR_UNSUPPORTED_FORMAT' : 'ERR_BAD_KEY',
      types.length
        ? `${what}: no private key block (found ${types.join(', ')})`
        : `${what}: no PEM private key found`,
    );
  }
  return blocks.map((block) => ({
    block,
    encrypted:
      block.type === 'ENCRYPTED PRIVATE KEY' || /ENCRYPTED/.test(block.headers['Proc-Type'] ?? ''),
    role: block.headers.role ?? '',
    gun: block.headers.gun ?? '',
    path: block.headers.path ?? '',
  }));
}

// ---------------------------------------------------------------------------------------------
// decrypt

function unpad(buf: Buffer, blockSize: number, what: string): Buffer {
  const n = buf.length ? (buf[buf.length - 1] as number) : 0;
  if (buf.length === 0 || buf.length % blockSize !== 0 || n < 1 || n > blockSize)
    throw badPass(what);
  for (let i = buf.length - n; i < buf.length; i++) if (buf[i] !== n) throw badPass(what);
  return buf.subarray(0, buf.length - n);
}

function cbcDecrypt(
  cipher: string,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  what: string,
): Buffer {
  let d;
  try {
    d = createDecipheriv(cipher, key, iv);
  } catch (e) {
    throw new TrustdeskError(
      'ERR_UNSUPPORTED_FORMAT',
      `${what}: cipher ${cipher} is not available in this Node/OpenSSL`,
      { cause: e },
    );
  }
  d.setAutoPadding(false);
  const blockSize = cipher.startsWith('aes') ? 16 : 8;
  if (data.length === 0 || data.length % blockSize !== 0) {
    throw new TrustdeskError(
      'ERR_BAD_KEY',
      `${what}: encrypted data is not a whole number of cipher blocks`,
    );
  }
  return unpad(Buffer.concat([d.update(data), d.final()]), blockSize, what);
}

function algorithmId(
  el: DerElement,
  what: string,
): { oid: string; params: DerElement | undefined } {
  const r = new DerReader(el, what);
  const oid = readOid(r.next('algorithm', TAG.OID), what);
  const params = r.done ? undefined : r.next('parameters');
  r.end();
  return { oid, params };
}

function decryptPbes2(der: Uint8Array, passphrase: string, what: string): Buffer {
  const top = new DerReader(parseDer(der, what), what);
  const alg = algorithmId(top.next('encryptionAlgorithm', TAG.SEQUENCE), what);
  const data = readOctetString(top.next('encryptedData', TAG.OCTET_STRING), what);
  top.end();
  if (alg.oid !== OID.pbes2 || !alg.params) {
    throw unsupported(
      `${what}: encryption scheme ${alg.oid} is not supported (only PBES2 ${OID.pbes2})`,
    );
  }
  const p = new DerReader(alg.params, `${what} PBES2`);
  const kdf = algorithmId(p.next('keyDerivationFunc', TAG.SEQUENCE), what);
  const enc = algorithmId(p.next('encryptionScheme', TAG.SEQUENCE), what);
  p.end();
  if (kdf.oid !== OID.pbkdf2 || !kdf.params) {
    throw unsupported(
      `${what}: key derivation ${kdf.oid} is not supported (only PBKDF2 ${OID.pbkdf2})`,
    );
  }
  const cipher = PBES2_CIPHERS[enc.oid];
  if (!cipher) {
    throw unsupported(
      `${what}: cipher ${enc.oid} is not supported (AES-CBC ${OID.aes256cbc} as Go notary writes, AES-128/192-CBC or DES-EDE3-CBC)`,
    );
  }
  if (!enc.params) throw new TrustdeskError('ERR_BAD_KEY', `${what}: cipher has no IV`);
  const iv = readOctetString(enc.params, `${what} IV`);
  if (iv.length !== (cipher.name.startsWith('aes') ? 16 : 8))
    throw new TrustdeskError('ERR_BAD_KEY', `${what}: IV has the wrong length`);
  const kp = new DerReader(kdf.params, `${what} PBKDF2`);
  const salt = readOctetString(kp.next('salt', TAG.OCTET_STRING), what);
  const iterations = readSmallInteger(
    kp.next('iterationCount', TAG.INTEGER),
    `${what} iterationCount`,
  );
  const keyLenEl = kp.optional(TAG.INTEGER);
  const prfEl = kp.optional(TAG.SEQUENCE);
  kp.end();
  if (iterations < 1 || iterations > MAX_ITERATIONS) {
    throw unsupported(
      `${what}: PBKDF2 iteration count ${iterations} is outside 1..${MAX_ITERATIONS}`,
    );
  }
  if (keyLenEl && readSmallInteger(keyLenEl, what) !== cipher.keyLen) {
    throw new TrustdeskError(
      'ERR_BAD_KEY',
      `${what}: PBKDF2 keyLength does not fit ${cipher.name}`,
    );
  }
  const prfOid = prfEl ? algorithmId(prfEl, what).oid : OID.hmacSha1;
  const digest = PRFS[prfOid];
  if (!digest) throw unsupported(`${what}: PBKDF2 PRF ${prfOid} is not supported`);
  const key = pbkdf2Sync(Buffer.from(passphrase, 'utf8'), salt, iterations, cipher.keyLen, digest);
  try {
    return cbcDecrypt(cipher.name, key, iv, data, what);
  } finally {
    wipe(key);
  }
}

/** OpenSSL EVP_BytesToKey with MD5, one iteration (legacy PEM encryption, RFC 1423). */
function bytesToKey(pass: Buffer, salt: Uint8Array, len: number): Buffer {
  const parts: Buffer[] = [];
  let prev = Buffer.alloc(0);
  let have = 0;
  while (have < len) {
    prev = createHash('md5').update(prev).update(pass).update(salt).digest();
    parts.push(prev);
    have += prev.length;
  }
  const all = Buffer.concat(parts);
  const key = Buffer.from(all.subarray(0, len));
  wipe(all, ...parts);
  return key;
}

function decryptLegacy(block: PemBlock, passphrase: string, what: string): Buffer {
  const dek = block.headers['DEK-Info'] ?? '';
  const [name = '', ivHex = ''] = dek.split(',');
  const cipher = LEGACY_CIPHERS[name.trim().toUpperCase()];
  if (!cipher)
    throw unsupported(`${what}: legacy PEM cipher ${JSON.stringify(name)} is not supported`);
  if (!new RegExp(`^[0-9a-fA-F]{${cipher.ivLen * 2}}$`).test(ivHex.trim())) {
    throw new TrustdeskError('ERR_BAD_KEY', `${what}: DEK-Info has a malformed IV`);
  }
  const iv = Buffer.from(ivHex.trim(), 'hex');
  const pass = Buffer.from(passphrase, 'utf8');
  const key = bytesToKey(pass, iv.subarray(0, 8), cipher.keyLen);
  try {
    return cbcDecrypt(cipher.name, key, iv, block.bytes, what);
  } finally {
    wipe(key, pass);
  }
}

// ---------------------------------------------------------------------------------------------
// inner key structures

function fromGoEd25519Blob(blob: Uint8Array, what: string): PrivateKeyMaterial {
  if (blob.length !== 96)
    throw new TrustdeskError(
      'ERR_BAD_KEY',
      `${what}: ed25519 key blob must be 96 bytes, got ${blob.length}`,
    );
  const seed = blob.subarray(32, 64);
  const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
  const der = Buffer.concat([prefix, seed]);
  let k: KeyObject;
  try {
    k = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    wipe(der);
  }
  const pub = Buffer.from(createPublicKey(k).export({ format: 'jwk' }).x as string, 'base64url');
  if (!pub.equals(blob.subarray(0, 32)) || !pub.equals(blob.subarray(64, 96))) {
    throw new TrustdeskError(
      'ERR_KEY_MISMATCH',
      `${what}: ed25519 public key does not match its seed`,
    );
  }
  return materialFromKeyObject(k);
}

/** Parses an inner PrivateKeyInfo (Go's or standard). Throws ERR_BAD_KEY/ERR_UNSUPPORTED_KEY. */
function fromPkcs8(der: Uint8Array, what: string): PrivateKeyMaterial {
  const r = new DerReader(parseDer(der, what), what);
  const version = readSmallInteger(r.next('version', TAG.INTEGER), `${what} version`);
  if (version > 1) throw new TrustdeskError('ERR_BAD_KEY', `${what}: PKCS#8 version ${version}`);
  const alg = new DerReader(r.next('privateKeyAlgorithm', TAG.SEQUENCE), what);
  const oid = readOid(alg.next('algorithm', TAG.OID), what);
  const params = alg.done ? undefined : alg.next('parameters');
  alg.end();
  const inner = readOctetString(r.next('privateKey', TAG.OCTET_STRING), what);
  // [0] attributes / [1] publicKey (OneAsymmetricKey) may follow; they add nothing we need.
  r.optional(contextTag(0, true));
  r.optional(contextTag(1, false));
  r.end();
  let std: Uint8Array;
  switch (oid) {
    case OID.goEd25519:
      return fromGoEd25519Blob(inner, what);
    case OID.ed25519:
      std = der;
      break;
    case OID.ecPublicKey: {
      if (!params || params.tag !== TAG.OID)
        throw new TrustdeskError('ERR_UNSUPPORTED_KEY', `${what}: EC key without a named curve`);
      std = derSequence(
        derInteger(0),
        derSequence(derOid(OID.ecPublicKey), params.raw),
        derOctetString(inner),
      );
      break;
    }
    case OID.rsaEncryption:
      std = derSequence(
        derInteger(0),
        derSequence(derOid(OID.rsaEncryption), derNull()),
        derOctetString(inner),
      );
      break;
    default:
      throw new TrustdeskError(
        'ERR_UNSUPPORTED_KEY',
        `${what}: private key algorithm ${oid} is not supported`,
      );
  }
  try {
    return materialFromKeyObject(
      createPrivateKey({ key: Buffer.from(std), format: 'der', type: 'pkcs8' }),
    );
  } catch (e) {
    if (e instanceof TrustdeskError) throw e;
    throw new TrustdeskError('ERR_BAD_KEY', `${what}: the private key does not parse`, {
      cause: e,
    });
  } finally {
    if (std !== der) wipe(std);
  }
}

function fromLegacy(type: string, der: Uint8Array, what: string): PrivateKeyMaterial {
  if (type === 'ED25519 PRIVATE KEY') return fromGoEd25519Blob(der, what);
  try {
    return materialFromKeyObject(
      createPrivateKey({
        key: Buffer.from(der),
        format: 'der',
        type: type === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs1',
      }),
    );
  } catch (e) {
    if (e instanceof TrustdeskError) throw e;
    throw new TrustdeskError('ERR_BAD_KEY', `${what}: the ${type} does not parse`, { cause: e });
  }
}

/**
 * Decrypts/decodes one key block. `passphrase` is required for encrypted blocks. A structure
 * that does not parse after decryption means a wrong passphrase (ERR_BAD_PASSPHRASE).
 */
export function decodeGoKeyBlock(
  k: GoKeyBlock,
  passphrase: string | undefined,
  what: string,
): PrivateKeyMaterial {
  const { block } = k;
  if (k.encrypted && passphrase === undefined) {
    throw new TrustdeskError('ERR_INTERNAL', `${what}: encrypted key needs a passphrase`);
  }
  if (block.type === 'ENCRYPTED PRIVATE KEY') {
    const plain = decryptPbes2(block.bytes, passphrase as string, what);
    try {
      return fromPkcs8(plain, what);
    } catch (e) {
      if (e instanceof TrustdeskError && (e.code === 'ERR_BAD_DER' || e.code === 'ERR_BAD_KEY'))
        throw badPass(what);
      throw e;
    } finally {
      wipe(plain);
    }
  }
  if (block.type === 'PRIVATE KEY') {
    if (k.encrypted)
      throw unsupported(`${what}: a PRIVATE KEY block with Proc-Type encryption is not supported`);
    return fromPkcs8(block.bytes, what);
  }
  if (!k.encrypted) return fromLegacy(block.type, block.bytes, what);
  const plain = decryptLegacy(block, passphrase as string, what);
  try {
    return fromLegacy(block.type, plain, what);
  } catch (e) {
    if (e instanceof TrustdeskError && (e.code === 'ERR_BAD_DER' || e.code === 'ERR_BAD_KEY'))
      throw badPass(what);
    throw e;
  } finally {
    wipe(plain);
  }
}

// ---------------------------------------------------------------------------------------------
// encode (Go's exact format)

/** Go's inner PrivateKeyInfo (tuf/utils/pkcs8.go convertTUFKeyToPKCS8). Caller wipes it. */
export function goPkcs8(m: PrivateKeyMaterial): Uint8Array {
  const k = keyObjectFromMaterial(m);
  switch (m.algorithm) {
    case 'ecdsa': {
      const curve = CURVE_OIDS[String(k.asymmetricKeyDetails?.namedCurve)];
      if (!curve) throw new TrustdeskError('ERR_UNSUPPORTED_KEY', 'unsupported ECDSA curve');
      const sec1 = new Uint8Array(k.export({ format: 'der', type: 'sec1' }));
      try {
        return derSequence(
          derInteger(1),
          derSequence(derOid(OID.ecPublicKey), derOid(curve)),
          derOctetString(sec1),
        );
      } finally {
        wipe(sec1);
      }
    }
    case 'rsa': {
      const pkcs1 = new Uint8Array(k.export({ format: 'der', type: 'pkcs1' }));
      try {
        return derSequence(
          derInteger(0),
          derSequence(derOid(OID.rsaEncryption)),
          derOctetString(pkcs1),
        );
      } finally {
        wipe(pkcs1);
      }
    }
    case 'ed25519': {
      const jwk = k.export({ format: 'jwk' });
      const pub = Buffer.from(jwk.x as string, 'base64url');
      const seed = Buffer.from(jwk.d as string, 'base64url');
      const blob = Buffer.concat([pub, seed, pub]);
      try {
        return derSequence(derInteger(0), derSequence(derOid(OID.goEd25519)), derOctetString(blob));
      } finally {
        wipe(seed, blob);
      }
    }
  }
}

/** Go's convertTUFKeyToPKCS8Encrypted: PBES2/PBKDF2-HMAC-SHA1(2048)/AES-256-CBC. */
export function goEncryptPkcs8(inner: Uint8Array, passphrase: string): Uint8Array {
  const salt = randomBytes(8);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(passphrase, 'utf8'), salt, GO_PBKDF2_ITERATIONS, 32, 'sha1');
  try {
    const c = createCipheriv('aes-256-cbc', key, iv); // PKCS#7 padding, 1–16 bytes, as Go pads
    const encrypted = Buffer.concat([c.update(inner), c.final()]);
    return derSequence(
      derSequence(
        derOid(OID.pbes2),
        derSequence(
          derSequence(
            derOid(OID.pbkdf2),
            derSequence(derOctetString(salt), derInteger(GO_PBKDF2_ITERATIONS)),
          ),
          derSequence(derOid(OID.aes256cbc), derOctetString(iv)),
        ),
      ),
      derOctetString(encrypted),
    );
  } finally {
    wipe(key);
  }
}

export interface GoPemOptions {
  role: string;
  /** Only targets/snapshot/timestamp keys carry one (Go drops it for other roles). */
  gun?: string;
  /** `path` header as `notary key export` writes it (the canonical key id). */
  path?: string;
  /** Empty/undefined → an unencrypted `PRIVATE KEY` block (as Go does for an empty passphrase). */
  passphrase?: string;
}

/** One PEM block in Go notary's private key format. */
export function encodeGoPem(m: PrivateKeyMaterial, o: GoPemOptions): string {
  const inner = goPkcs8(m);
  try {
    const headers: Record<string, string> = {};
    if (o.role) headers.role = o.role;
    if (o.gun) headers.gun = o.gun;
    if (o.path) headers.path = o.path;
    const encrypted = o.passphrase !== undefined && o.passphrase !== '';
    return encodePem({
      type: encrypted ? 'ENCRYPTED PRIVATE KEY' : 'PRIVATE KEY',
      headers,
      bytes: encrypted ? goEncryptPkcs8(inner, o.passphrase as string) : inner.slice(),
    });
  } finally {
    wipe(inner);
  }
}
