// Encryption at rest for the private keys of the local trust service.
//
// Blob layout (all integers big-endian), version 1:
//   0  "TDSK"            magic
//   4  0x01              format version
//   5  0x01              KDF: argon2id (v1.3)
//   6  u32 memory KiB    KDF parameters
//  10  u32 iterations
//  14  u8  parallelism
//  15  16 bytes salt
//  31  12 bytes IV
//  43  ciphertext ‖ 16-byte GCM tag
// key = argon2id(passphrase, salt, params) → 32 bytes; cipher = AES-256-GCM;
// AAD = header (bytes 0–42) ‖ UTF-8 JSON of the context strings (key ID, GUN, role, algorithm),
// so a blob moved to another row, or with edited parameters, does not decrypt.
//
// The KDF runs once per (salt, parameters): new blobs reuse the vault's sealing salt, so a
// process derives one key at start and only does AES afterwards. Derived keys and the passphrase
// bytes are zeroed on close(); callers zero the plaintexts they get from open().
// Parameters read from a blob are bounded, so a tampered row cannot make us allocate gigabytes.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { TrustdeskError } from '../../src/tuf/errors.js';

export interface KdfParams {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

/** OWASP's argon2id baseline is m=19 MiB t=2; we use 64 MiB t=3 (~150 ms here, once per start). */
export const DEFAULT_KDF: KdfParams = { memoryKiB: 65_536, iterations: 3, parallelism: 1 };

const MAGIC = Buffer.from('TDSK');
const VERSION = 1;
const KDF_ARGON2ID = 1;
const SALT_LEN = 16;
const IV_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = 4 + 1 + 1 + 4 + 4 + 1 + SALT_LEN + IV_LEN;
const LIMITS = { memoryKiB: [8, 1_048_576], iterations: [1, 64], parallelism: [1, 16] } as const;

function checkParams(p: KdfParams, what: string): void {
  for (const [name, [lo, hi]] of Object.entries(LIMITS) as [
    keyof KdfParams,
    readonly [number, number],
  ][]) {
    const v = p[name];
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new TrustdeskError(
        'ERR_KEY_UNREADABLE',
        `${what}: KDF ${name} ${v} is outside ${lo}–${hi}`,
      );
    }
  }
}

interface Header {
  params: KdfParams;
  salt: Buffer;
  iv: Buffer;
}

function parseHeader(blob: Uint8Array, what: string): Header {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < HEADER_LEN + TAG_LEN || !b.subarray(0, 4).equals(MAGIC)) {
    throw new TrustdeskError('ERR_KEY_UNREADABLE', `${what}: not an encrypted key blob`);
  }
  if (b[4] !== VERSION || b[5] !== KDF_ARGON2ID) {
    throw new TrustdeskError('ERR_KEY_UNREADABLE', `${what}: unknown blob version ${b[4]}/${b[5]}`);
  }
  const params = {
    memoryKiB: b.readUInt32BE(6),
    iterations: b.readUInt32BE(10),
    parallelism: b.readUInt8(14),
  };
  checkParams(params, what);
  return { params, salt: b.subarray(15, 15 + SALT_LEN), iv: b.subarray(31, 31 + IV_LEN) };
}

function aad(header: Uint8Array, context: readonly string[]): Buffer {
  return Buffer.concat([header, Buffer.from(JSON.stringify(context), 'utf8')]);
}

export class KeyVault {
  readonly #passphrase: Buffer;
  readonly #keys = new Map<string, Promise<Buffer>>();
  readonly #sealParams: KdfParams;
  readonly #sealSalt: Buffer;
  #closed = false;

  /**
   * `salt`/`params` are what new blobs use (pass those of an existing blob to share its derived
   * key); a fresh random salt when omitted.
   */
  constructor(passphrase: string, params: KdfParams = DEFAULT_KDF, salt?: Uint8Array) {
    if (passphrase === '')
      throw new TrustdeskError('ERR_BAD_PASSPHRASE', 'the passphrase is empty');
    checkParams(params, 'KDF parameters');
    this.#passphrase = Buffer.from(passphrase, 'utf8');
    this.#sealParams = { ...params };
    this.#sealSalt = salt ? Buffer.from(salt) : randomBytes(SALT_LEN);
    if (this.#sealSalt.length !== SALT_LEN)
      throw new TrustdeskError('ERR_INTERNAL', 'salt must be 16 bytes');
  }

  /** A vault that seals with the salt and parameters of an existing blob. */
  static sharing(passphrase: string, blob: Uint8Array, what: string): KeyVault {
    const h = parseHeader(blob, what);
    return new KeyVault(passphrase, h.params, h.salt);
  }

  #derive(params: KdfParams, salt: Buffer): Promise<Buffer> {
    if (this.#closed) throw new TrustdeskError('ERR_INTERNAL', 'the key vault is closed');
    const id = `${params.memoryKiB}/${params.iterations}/${params.parallelism}/${salt.toString('hex')}`;
    let key = this.#keys.get(id);
    if (!key) {
      key = argon2.hash(this.#passphrase, {
        raw: true,
        type: argon2.argon2id,
        salt: Buffer.from(salt),
        hashLength: 32,
        memoryCost: params.memoryKiB,
        timeCost: params.iterations,
        parallelism: params.parallelism,
      });
      // A handful of salts at most (one per database normally); never let it grow unbounded.
      // Evicted keys are not zeroed: a seal/open in flight may still be using them.
      if (this.#keys.size >= 16) this.#keys.clear();
      this.#keys.set(id, key);
      key.catch(() => this.#keys.delete(id));
    }
    return key;
  }

  /** Encrypts `plaintext`, bound to `context`. */
  async seal(plaintext: Uint8Array, context: readonly string[]): Promise<Uint8Array> {
    const key = await this.#derive(this.#sealParams, this.#sealSalt);
    const header = Buffer.alloc(HEADER_LEN);
    MAGIC.copy(header, 0);
    header[4] = VERSION;
    header[5] = KDF_ARGON2ID;
    header.writeUInt32BE(this.#sealParams.memoryKiB, 6);
    header.writeUInt32BE(this.#sealParams.iterations, 10);
    header.writeUInt8(this.#sealParams.parallelism, 14);
    this.#sealSalt.copy(header, 15);
    const iv = randomBytes(IV_LEN);
    iv.copy(header, 31);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(header, context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return new Uint8Array(Buffer.concat([header, body]));
  }

  /**
   * Decrypts a blob sealed with the same context. Throws ERR_KEY_UNREADABLE when it does not
   * authenticate (wrong passphrase, altered bytes, other row). The caller zeroes the result.
   */
  async open(blob: Uint8Array, context: readonly string[], what: string): Promise<Buffer> {
    const h = parseHeader(blob, what);
    const key = await this.#derive(h.params, Buffer.from(h.salt));
    const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    const decipher = createDecipheriv('aes-256-gcm', key, h.iv);
    decipher.setAAD(aad(b.subarray(0, HEADER_LEN), context));
    decipher.setAuthTag(b.subarray(b.length - TAG_LEN));
    const out = decipher.update(b.subarray(HEADER_LEN, b.length - TAG_LEN));
    try {
      return Buffer.concat([out, decipher.final()]);
    } catch (e) {
      throw new TrustdeskError(
        'ERR_KEY_UNREADABLE',
        `${what} does not decrypt: the passphrase is wrong or the stored bytes were altered`,
        { cause: e },
      );
    } finally {
      out.fill(0);
    }
  }

  /** Zeroes the passphrase bytes and every derived key. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#passphrase.fill(0);
    const keys = [...this.#keys.values()];
    this.#keys.clear();
    for (const k of await Promise.allSettled(keys)) if (k.status === 'fulfilled') k.value.fill(0);
  }
}
