// The Keyring: one facade over every configured backend (file:, keychain:, pkcs11:). It indexes
// keys without unlocking anything, finds them by canonical id prefix, hands out Signers, and runs
// generate / import / export / remove / passwd / backup / restore.
//
// Rules:
// - Listing: every backend's keys, sorted root, targets, snapshot, timestamp, other roles, then
//   gun, then id. A backend that cannot be reached is reported as a problem, not an error.
// - Lookup by id prefix follows Go (`first file whose base name starts with the ID`, sorted);
//   destructive operations (remove, passwd, backup, export by id) require the prefix to be unique.
// - Role/gun as Go's key import normalises them: targets/snapshot/timestamp keys need a gun;
//   every other role (root, delegations) is stored without one.
// - Removing a key and showing its paper backup need an explicit `dangerous` confirmation.
// - Unlocked keys are cached for the life of the Keyring (one passphrase per key per session),
//   whichever public key they sign as (the bare key or a certificate of the same pair).
//   A key the Keyring generates for the file backend stays unlocked in memory the same way (it
//   is made here and stored through importPrivate, exactly what FileBackend.generate does), so
//   signing right after generating never runs the KDF again on the file just sealed. Nothing
//   unlocked is ever written anywhere.
// - Code only some operations need (Go PEM, paper backup) is loaded when they run.

import { TrustdeskError, isTrustdeskError } from '../tuf/errors.js';
import type { KeyObject } from 'node:crypto';
import { KeyObjectSigner } from '../tuf/key-object-signer.js';
import type { PublicKey, Signer } from '../tuf/keys.js';
import type { RestoreExpectation } from './paper-backup.js';
import { generateMaterial, keyObjectFromMaterial, publicKeyOfMaterial } from './private-key.js';
import { unlockWithPassphrase, askNewPassphrase, shortId } from './prompter.js';
import {
  wipe,
  type GenerateAlgorithm,
  type KeyBackend,
  type KeyBackendName,
  type KeyProblem,
  type KeyRecord,
  type KeyUri,
  type PrivateKeyMaterial,
  type Prompter,
} from './types.js';

export interface KeyringOptions {
  prompter: Prompter;
  /** In preference order; the first is the default for new keys. */
  backends: readonly KeyBackend[];
}

const ROLE_ORDER = ['root', 'targets', 'snapshot', 'timestamp'];
const GUN_ROLES = ['targets', 'snapshot', 'timestamp'];
const ROLE_RE = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;
/** Go's `notary key import` default role. */
export const DEFAULT_IMPORT_ROLE = 'delegation';

function compareRecords(a: KeyRecord, b: KeyRecord): number {
  const ra = ROLE_ORDER.indexOf(a.role);
  const rb = ROLE_ORDER.indexOf(b.role);
  const oa = ra === -1 ? ROLE_ORDER.length : ra;
  const ob = rb === -1 ? ROLE_ORDER.length : rb;
  if (oa !== ob) return oa - ob;
  if (a.role !== b.role) return a.role < b.role ? -1 : 1;
  if (a.gun !== b.gun) return a.gun < b.gun ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Go's role/gun normalisation (trustmanager/keys.go checkValidity). */
export function normaliseRoleGun(role: string, gun: string): { role: string; gun: string } {
  if (!ROLE_RE.test(role)) {
    throw new TrustdeskError('ERR_BAD_ROLE', `invalid key role ${JSON.stringify(role)}`);
  }
  if (GUN_ROLES.includes(role)) {
    if (gun === '') {
      throw new TrustdeskError(
        'ERR_USAGE',
        `a ${role} key belongs to one repository: give its GUN (--gun)`,
      );
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(gun))
      throw new TrustdeskError('ERR_USAGE', 'the GUN contains control characters');
    return { role, gun };
  }
  return { role, gun: '' };
}

export interface GenerateRequest {
  algorithm: GenerateAlgorithm;
  role: string;
  gun: string;
  backend?: KeyBackendName;
  nowMs: number;
  target?: KeyUri;
  signal?: AbortSignal;
}

export interface ImportRequest {
  /** Fallbacks when a PEM block has no role/gun header (Go's --role/--gun). */
  role?: string;
  gun?: string;
  backend?: KeyBackendName;
  nowMs: number;
  /** pkcs11: the token to put the key on. */
  target?: KeyUri;
  signal?: AbortSignal;
}

export class Keyring {
  readonly prompter: Prompter;
  readonly backends: readonly KeyBackend[];
  readonly #signers = new Map<string, Signer>();
  /** `backend:id` → private keys this Keyring generated or unlocked (see the rules above). */
  readonly #held = new Map<string, KeyObject>();

  constructor(opts: KeyringOptions) {
    if (opts.backends.length === 0)
      throw new TrustdeskError('ERR_INTERNAL', 'a keyring needs a backend');
    this.prompter = opts.prompter;
    this.backends = opts.backends;
  }

  /** Releases every backend's native handles; the Keyring must not be used afterwards. */
  async close(): Promise<void> {
    this.#signers.clear();
    this.#held.clear();
    for (const b of this.backends) await b.close?.();
  }

  backend(name?: KeyBackendName): KeyBackend {
    const b = name === undefined ? this.backends[0] : this.backends.find((x) => x.name === name);
    if (!b) {
      throw new TrustdeskError('ERR_USAGE', `the ${String(name)} key backend is not configured`, {
        hint: `Configured backends: ${this.backends.map((x) => x.name).join(', ')}.`,
      });
    }
    return b;
  }

  #backendOf(r: KeyRecord): KeyBackend {
    return this.backend(r.backend);
  }

  /** Every key (no unlocking) and every entry or backend that could not be read. */
  async scan(): Promise<{ keys: KeyRecord[]; problems: KeyProblem[] }> {
    const keys: KeyRecord[] = [];
    const problems: KeyProblem[] = [];
    for (const b of this.backends) {
      try {
        const r = b.scan ? await b.scan() : { keys: await b.list(), problems: [] };
        keys.push(...r.keys);
        problems.push(...r.problems);
      } catch (e) {
        if (!isTrustdeskError(e)) throw e;
        problems.push({ backend: b.name, location: b.name, error: e });
      }
    }
    return { keys: keys.sort(compareRecords), problems };
  }

  async list(): Promise<KeyRecord[]> {
    return (await this.scan()).keys;
  }

  #matching(keys: KeyRecord[], prefix: string): KeyRecord[] {
    const p = prefix.toLowerCase();
    if (!/^[0-9a-f]*$/.test(p))
      throw new TrustdeskError('ERR_USAGE', `${JSON.stringify(prefix)} is not a hex key id`);
    return keys
      .filter((k) => k.id.startsWith(p))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Go's rule: the first key (by id) whose canonical id starts with `prefix`. */
  async find(prefix: string): Promise<KeyRecord> {
    const hit = this.#matching(await this.list(), prefix)[0];
    if (!hit) throw new TrustdeskError('ERR_KEY_NOT_FOUND', `no key with id ${prefix}`);
    return hit;
  }

  /** Like find, but several matches are an error (for destructive operations). */
  async findUnique(prefix: string): Promise<KeyRecord> {
    const hits = this.#matching(await this.list(), prefix);
    if (hits.length === 0)
      throw new TrustdeskError('ERR_KEY_NOT_FOUND', `no key with id ${prefix}`);
    const ids = new Set(hits.map((h) => `${h.backend}:${h.id}`));
    if (ids.size > 1) {
      throw new TrustdeskError(
        'ERR_KEY_AMBIGUOUS',
        `${prefix} matches ${hits.map((h) => shortId(h.id)).join(', ')}`,
      );
    }
    return hits[0] as KeyRecord;
  }

  /** A Signer for `record`, optionally presenting it as an x509 key of the same pair. */
  async signerForRecord(record: KeyRecord, publicKey?: PublicKey): Promise<Signer> {
    const keyName = `${record.backend}:${record.id}`;
    const cacheKey = `${keyName}:${publicKey?.id ?? ''}`;
    const cached = this.#signers.get(cacheKey);
    if (cached) return cached;
    // A key made or unlocked here once is presented as its bare key or as any certificate of
    // the same pair without unlocking it again.
    const held = this.#held.get(keyName);
    const s = held
      ? new KeyObjectSigner(held, publicKey)
      : await this.#backendOf(record).signer(record, this.prompter, publicKey);
    if (s instanceof KeyObjectSigner) this.#held.set(keyName, s.privateKey);
    this.#signers.set(cacheKey, s);
    return s;
  }

  async signerForKey(idPrefix: string, publicKey?: PublicKey): Promise<Signer> {
    return this.signerForRecord(await this.find(idPrefix), publicKey);
  }

  /**
   * A Signer for the first key held for `role` in `gun` (root and delegation keys carry no gun,
   * so any of them matches). ERR_MISSING_KEY when none is held.
   */
  async signerFor(role: string, gun: string, publicKey?: PublicKey): Promise<Signer> {
    const want = GUN_ROLES.includes(role) ? gun : '';
    const keys = (await this.list()).filter(
      (k) => k.role === role && k.gun === want && (!publicKey || k.id === publicKey.canonicalId),
    );
    const hit = keys[0];
    if (!hit) {
      throw new TrustdeskError(
        'ERR_MISSING_KEY',
        `no ${role} key${want ? ` for ${want}` : ''} is held${publicKey ? ` with id ${shortId(publicKey.canonicalId)}` : ''}`,
      );
    }
    return this.signerForRecord(hit, publicKey);
  }

  async generate(req: GenerateRequest): Promise<KeyRecord> {
    const { role, gun } = normaliseRoleGun(req.role, req.gun);
    const backend = this.backend(req.backend);
    const opts = {
      role,
      gun,
      nowMs: req.nowMs,
      ...(req.target ? { target: req.target } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    };
    if (backend.name !== 'file') {
      return backend.generate({ ...opts, algorithm: req.algorithm }, this.prompter);
    }
    const material = generateMaterial(req.algorithm);
    try {
      const record = await backend.importPrivate(material, opts, this.prompter);
      this.#held.set(`${record.backend}:${record.id}`, keyObjectFromMaterial(material));
      return record;
    } finally {
      wipe(material.pkcs8);
    }
  }

  async importMaterial(
    material: PrivateKeyMaterial,
    req: ImportRequest & { role: string; gun: string },
  ): Promise<KeyRecord> {
    const { role, gun } = normaliseRoleGun(req.role, req.gun);
    return this.backend(req.backend).importPrivate(
      material,
      {
        role,
        gun,
        nowMs: req.nowMs,
        ...(req.target ? { target: req.target } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      },
      this.prompter,
    );
  }

  /**
   * Imports every private key block of a Go-notary PEM file. Encrypted blocks are unlocked with
   * the passphrase for their role (prompter, 'existing'); each key is then stored in the chosen
   * backend under a new passphrase (prompter, 'new'). Returns the stored records.
   */
  async importPem(text: string, what: string, req: ImportRequest): Promise<KeyRecord[]> {
    const { decodeGoKeyBlock, readGoKeyBlocks } = await import('./go-pem.js');
    const out: KeyRecord[] = [];
    const blocks = readGoKeyBlocks(text, what);
    for (const [i, b] of blocks.entries()) {
      const where = blocks.length > 1 ? `${what} (key ${i + 1})` : what;
      const role = b.role || req.role || DEFAULT_IMPORT_ROLE;
      const gun = b.gun || req.gun || '';
      const norm = normaliseRoleGun(role, gun);
      const pathId = /^[0-9a-f]{64}$/.test(b.path) ? b.path : '';
      const material = b.encrypted
        ? await unlockWithPassphrase(
            this.prompter,
            { ...norm, keyId: pathId, ...(req.signal ? { signal: req.signal } : {}) },
            (pass) => Promise.resolve(decodeGoKeyBlock(b, pass, where)),
          )
        : decodeGoKeyBlock(b, undefined, where);
      try {
        out.push(await this.importMaterial(material, { ...req, ...norm }));
      } finally {
        wipe(material.pkcs8);
      }
    }
    return out;
  }

  /** Unlocks and returns the private key (caller wipes it). */
  async exportMaterial(record: KeyRecord): Promise<PrivateKeyMaterial> {
    return this.#backendOf(record).exportPrivate(record, this.prompter);
  }

  /**
   * Go-notary PEM for the keys (like `notary key export`: `path` header = canonical id), each
   * encrypted under a passphrase asked for as 'new' for its role.
   */
  async exportPem(records: readonly KeyRecord[]): Promise<string> {
    const { encodeGoPem } = await import('./go-pem.js');
    let out = '';
    for (const r of records) {
      const material = await this.exportMaterial(r);
      try {
        const passphrase = await askNewPassphrase(this.prompter, {
          role: r.role,
          gun: r.gun,
          keyId: r.id,
        });
        out += encodeGoPem(material, { role: r.role, gun: r.gun, path: r.id, passphrase });
      } finally {
        wipe(material.pkcs8);
      }
    }
    return out;
  }

  async remove(idPrefix: string): Promise<KeyRecord> {
    const r = await this.findUnique(idPrefix);
    const ok = await this.prompter.confirm({
      message: `Delete ${r.role} key ${r.id}${r.gun ? ` (${r.gun})` : ''} from ${r.location}? This cannot be undone.`,
      dangerous: true,
    });
    if (!ok) throw new TrustdeskError('ERR_ABORTED', 'key removal cancelled; nothing was deleted');
    await this.#backendOf(r).remove(r);
    this.#held.delete(`${r.backend}:${r.id}`);
    for (const k of [...this.#signers.keys()])
      if (k.startsWith(`${r.backend}:${r.id}:`)) this.#signers.delete(k);
    return r;
  }

  async passwd(idPrefix: string): Promise<KeyRecord> {
    const r = await this.findUnique(idPrefix);
    const b = this.#backendOf(r);
    if (!b.changePassphrase) {
      throw new TrustdeskError(
        'ERR_USAGE',
        `keys in the ${b.name} backend have no passphrase to change`,
      );
    }
    await b.changePassphrase(r, this.prompter);
    return r;
  }

  /** The 24 words of a key's paper backup, after an explicit confirmation. */
  async backup(idPrefix: string): Promise<{ record: KeyRecord; words: string[] }> {
    const r = await this.findUnique(idPrefix);
    const ok = await this.prompter.confirm({
      message: `Show the paper backup (24 words) of ${r.role} key ${r.id}? Anyone who sees them holds the key.`,
      dangerous: true,
    });
    if (!ok) throw new TrustdeskError('ERR_ABORTED', 'backup cancelled; nothing was shown');
    const { mnemonicFor } = await import('./paper-backup.js');
    const material = await this.exportMaterial(r);
    try {
      return { record: r, words: mnemonicFor(material) };
    } finally {
      wipe(material.pkcs8);
    }
  }

  /** Restores a key from its 24 words after checking its ids (nothing is written otherwise). */
  async restore(
    words: string,
    exp: RestoreExpectation,
    req: ImportRequest & { role: string; gun: string },
  ): Promise<KeyRecord> {
    const { restoreFromMnemonic } = await import('./paper-backup.js');
    const restored = restoreFromMnemonic(words, exp);
    try {
      const record = await this.importMaterial(restored.material, req);
      if (record.id !== publicKeyOfMaterial(restored.material).id) {
        throw new TrustdeskError('ERR_INTERNAL', 'the stored key differs from the restored one');
      }
      return record;
    } finally {
      wipe(restored.material.pkcs8);
    }
  }
}
