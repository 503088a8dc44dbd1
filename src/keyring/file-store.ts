// The `file:` backend: one argon2id/AES-256-GCM key file per key (keyfile-format.ts) at
// `<trustDir>/private/<canonical key id>.json` — directory 0700, files 0600, written atomically.
//
// Rules:
// - list/scan read headers only (no KDF, no passphrase). Hidden temp files are skipped; files
//   that do not parse are reported as problems, never silently dropped, never deleted.
// - A key's file name is its canonical id; a header whose keyId differs from the name is corrupt.
// - New keys never overwrite (ERR_KEY_EXISTS); passwd replaces the file atomically and keeps
//   role, gun and createdAt. A wrong passphrase never writes anything.
// - Root keys use the ceremony KDF profile, others interactive, unless `costFor` is injected;
//   if argon2id cannot allocate a ceremony profile's memory, a reduced equivalent is recorded.
// - argon2id goes through a derived-key cache (derived-key-cache.ts; the process-wide one unless
//   injected): unlocking a key again, or sealing another key under the same passphrase and cost,
//   costs no KDF run. The passphrase is still checked every time.
// - Key files are read synchronously and bounded (bounded-read.ts): anything that is not a
//   regular file of at most MAX_KEYFILE_BYTES (a planted FIFO, a huge file) is reported as
//   corrupt without being read.
// - Go notary's `*.key` PEM files in the same directory are left alone (import them instead).

import { open, readdir, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BoundedMemo } from '../tuf/bounded-memo.js';
import { TrustdeskError } from '../tuf/errors.js';
import { KeyObjectSigner } from '../tuf/key-object-signer.js';
import type { PublicKey, Signer } from '../tuf/keys.js';
import { atomicWrite, ensurePrivateDir, isTempName, type AtomicWriteHooks } from './atomic-file.js';
import { readBoundedFileSync } from './bounded-read.js';
import { defaultDerivedKeyCache, type DerivedKeyCache } from './derived-key-cache.js';
import { KdfMemoryError, defaultCostForRole, reducedAfterFailure, type KdfCost } from './kdf.js';
import { openKeyFile, parseKeyFile, sealKeyFile, type ParsedKeyFile } from './keyfile-format.js';
import { generateMaterial, keyObjectFromMaterial, publicKeyOfMaterial } from './private-key.js';
import { askNewPassphrase, unlockWithPassphrase } from './prompter.js';
import { parseRfc3339 } from '../tuf/metadata.js';
import {
  throwIfAborted,
  wipe,
  type BackendFactory,
  type GenerateOptions,
  type ImportOptions,
  type KeyBackend,
  type KeyProblem,
  type KeyRecord,
  type PrivateKeyMaterial,
  type Prompter,
} from './types.js';

export const KEYFILE_EXT = '.json';
/** Far above any real key file (an RSA-4096 one is ~5 KB). */
export const MAX_KEYFILE_BYTES = 64 * 1024;

/** The bytes of one key file; see the rules above. Throws errno errors as fs does. */
function readKeyFileBytes(path: string): Uint8Array {
  const r = readBoundedFileSync(path, MAX_KEYFILE_BYTES);
  if (r.kind === 'ok') return r.bytes;
  throw new TrustdeskError(
    'ERR_KEYFILE_CORRUPT',
    r.kind === 'not-regular'
      ? `${path}: not a regular file`
      : `${path}: larger than ${MAX_KEYFILE_BYTES} bytes, not a key file`,
  );
}

/**
 * Parsed headers by file content: a warm process (the agent) lists the same key files on every
 * command, and identical bytes parse to the identical result. Only successes are kept (a changed
 * file is parsed and judged afresh); FIFO-bounded. Callers treat the result as read-only.
 */
const PARSED = new BoundedMemo<ParsedKeyFile>(1024);

function parseKeyFileOnce(bytes: Uint8Array, what: string): ParsedKeyFile {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return PARSED.getOrMake(key, () => parseKeyFile(bytes, what));
}

const ID_FILE = /^([0-9a-f]{64})\.json$/;

export interface FileBackendOptions {
  trustDir: string;
  /** KDF cost for a new key file of `role` (tests inject a cheap `custom` profile). */
  costFor?: (role: string) => KdfCost;
  hooks?: AtomicWriteHooks;
  /** Derived-key cache (default: the process-wide one, looked up at each use). */
  kdfCache?: DerivedKeyCache;
}

export class FileBackend implements KeyBackend {
  readonly name = 'file' as const;
  readonly privateDir: string;
  readonly #costFor: (role: string) => KdfCost;
  readonly #hooks: AtomicWriteHooks;
  readonly #kdfCache: DerivedKeyCache | undefined;

  constructor(opts: FileBackendOptions) {
    this.privateDir = resolve(opts.trustDir, 'private');
    this.#costFor = opts.costFor ?? defaultCostForRole;
    this.#hooks = opts.hooks ?? {};
    this.#kdfCache = opts.kdfCache;
  }

  get #kdf(): DerivedKeyCache {
    return this.#kdfCache ?? defaultDerivedKeyCache();
  }

  pathFor(keyId: string): string {
    return join(this.privateDir, `${keyId}${KEYFILE_EXT}`);
  }

  /** Reads one key file's header (any path, e.g. from a `file:/path` URI). */
  read(path: string): { parsed: ParsedKeyFile; record: KeyRecord } {
    let bytes: Uint8Array;
    try {
      bytes = readKeyFileBytes(path);
    } catch (e) {
      if (e instanceof TrustdeskError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TrustdeskError('ERR_KEY_NOT_FOUND', `no key file at ${path}`, { cause: e });
      }
      throw new TrustdeskError('ERR_IO', `${path}: ${(e as Error).message}`, { cause: e });
    }
    const parsed = parseKeyFileOnce(bytes, path);
    const h = parsed.header;
    const m = ID_FILE.exec(path.slice(path.lastIndexOf('/') + 1));
    if (m && m[1] !== h.keyId) {
      throw new TrustdeskError(
        'ERR_KEYFILE_CORRUPT',
        `${path}: file name does not match its key id ${h.keyId}`,
      );
    }
    return {
      parsed,
      record: {
        id: h.publicKey.canonicalId,
        tufId: h.publicKey.id,
        role: h.role,
        gun: h.gun,
        algorithm: h.algorithm,
        backend: 'file',
        uri: { scheme: 'file', ref: h.keyId },
        location: path,
        createdAt: h.createdAt,
        publicKey: h.publicKey,
      },
    };
  }

  async scan(): Promise<{ keys: KeyRecord[]; problems: KeyProblem[] }> {
    let names: string[];
    try {
      names = await readdir(this.privateDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [], problems: [] };
      throw new TrustdeskError('ERR_IO', `${this.privateDir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    // Headers in name order, so listings are stable.
    const keys: KeyRecord[] = [];
    const problems: KeyProblem[] = [];
    for (const n of names.sort()) {
      if (isTempName(n) || !n.endsWith(KEYFILE_EXT)) continue;
      const path = join(this.privateDir, n);
      try {
        keys.push(this.read(path).record);
      } catch (e) {
        if (!(e instanceof TrustdeskError)) throw e;
        problems.push({ backend: 'file', location: path, error: e });
      }
    }
    return { keys, problems };
  }

  async list(): Promise<KeyRecord[]> {
    return (await this.scan()).keys;
  }

  async #seal(
    material: PrivateKeyMaterial,
    passphrase: string,
    role: string,
    gun: string,
    createdAtMs: number,
  ): Promise<Uint8Array> {
    let cost: KdfCost | undefined = this.#costFor(role);
    for (;;) {
      try {
        return await sealKeyFile(material, passphrase, {
          role,
          gun,
          createdAtMs,
          cost,
          kdf: this.#kdf,
        });
      } catch (e) {
        const smaller: KdfCost | undefined =
          e instanceof KdfMemoryError && cost.profile.startsWith('ceremony')
            ? reducedAfterFailure(cost)
            : undefined;
        if (!smaller) throw e;
        cost = smaller;
      }
    }
  }

  async #store(
    material: PrivateKeyMaterial,
    opts: ImportOptions,
    prompter: Prompter,
  ): Promise<KeyRecord> {
    throwIfAborted(opts.signal);
    const pk = publicKeyOfMaterial(material);
    const path = this.pathFor(pk.id);
    await ensurePrivateDir(this.privateDir);
    if (await exists(path)) {
      throw new TrustdeskError('ERR_KEY_EXISTS', `key ${pk.id} is already stored at ${path}`);
    }
    const pass = await askNewPassphrase(prompter, {
      role: opts.role,
      gun: opts.gun,
      keyId: pk.id,
      ...signalOf(opts),
    });
    const bytes = await this.#seal(material, pass, opts.role, opts.gun, opts.nowMs);
    throwIfAborted(opts.signal);
    await atomicWrite(path, bytes, 'create', this.#hooks);
    return this.read(path).record;
  }

  async generate(opts: GenerateOptions, prompter: Prompter): Promise<KeyRecord> {
    const material = generateMaterial(opts.algorithm);
    try {
      return await this.#store(material, opts, prompter);
    } finally {
      wipe(material.pkcs8);
    }
  }

  importPrivate(
    key: PrivateKeyMaterial,
    opts: ImportOptions,
    prompter: Prompter,
  ): Promise<KeyRecord> {
    return this.#store(key, opts, prompter);
  }

  async #unlock(
    record: KeyRecord,
    prompter: Prompter,
  ): Promise<{ material: PrivateKeyMaterial; parsed: ParsedKeyFile }> {
    const { parsed } = this.read(record.location);
    const material = await unlockWithPassphrase(
      prompter,
      { role: record.role, gun: record.gun, keyId: record.id },
      (pass) => openKeyFile(parsed, pass, record.location, { kdf: this.#kdf }),
    );
    return { material, parsed };
  }

  async signer(record: KeyRecord, prompter: Prompter, publicKey?: PublicKey): Promise<Signer> {
    const { material } = await this.#unlock(record, prompter);
    try {
      return new KeyObjectSigner(keyObjectFromMaterial(material), publicKey);
    } finally {
      wipe(material.pkcs8);
    }
  }

  async exportPrivate(record: KeyRecord, prompter: Prompter): Promise<PrivateKeyMaterial> {
    return (await this.#unlock(record, prompter)).material;
  }

  async changePassphrase(record: KeyRecord, prompter: Prompter): Promise<void> {
    const { material, parsed } = await this.#unlock(record, prompter);
    try {
      const h = parsed.header;
      const pass = await askNewPassphrase(prompter, { role: h.role, gun: h.gun, keyId: h.keyId });
      const bytes = await this.#seal(
        material,
        pass,
        h.role,
        h.gun,
        parseRfc3339(h.createdAt, 'createdAt'),
      );
      await atomicWrite(record.location, bytes, 'replace', this.#hooks);
    } finally {
      wipe(material.pkcs8);
    }
  }

  async remove(record: KeyRecord): Promise<void> {
    try {
      await unlink(record.location);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TrustdeskError('ERR_KEY_NOT_FOUND', `no key file at ${record.location}`, {
          cause: e,
        });
      }
      throw e;
    }
    const dh = await open(this.privateDir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

function signalOf(o: { signal?: AbortSignal }): { signal?: AbortSignal } {
  return o.signal ? { signal: o.signal } : {};
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

export const createFileBackend: BackendFactory = (ctx) =>
  new FileBackend({ trustDir: ctx.trustDir });
