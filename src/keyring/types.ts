// Keyring contracts shared by every backend (file:, keychain:, pkcs11:) and the Keyring facade.
//
// Rules enforced here:
// - A key is named by its CANONICAL key ID (notary-protocol §3.2) everywhere in the keyring;
//   `tufId` is only carried for display/metadata (it differs for x509 root keys).
// - `list()` never unlocks anything: no passphrase, PIN or keychain secret is read.
// - Secrets (passphrases, PINs) come only from a Prompter, never from argv.
// - Key URIs: `file:<path or key id>`, `keychain:<key id>`, `pkcs11:<RFC 7512 attributes>`.
//   pkcs11 path attributes appear at most once; unknown non-`x-` attributes and `pin-value`
//   are refused; values are percent-decoded (`id` to raw bytes). A token is selected by
//   label/serial, never by slot (slot-id is parsed but backends must not rely on it alone).

import type { KeyObject } from 'node:crypto';
import { TrustdeskError } from '../tuf/errors.js';
import type { PublicKey, Signer } from '../tuf/keys.js';

export type KeyBackendName = 'file' | 'keychain' | 'pkcs11';
export const KEY_BACKENDS: readonly KeyBackendName[] = ['file', 'keychain', 'pkcs11'];

/** Private key algorithms. Notary generates ecdsa (P-256) and ed25519; rsa is import-only. */
export type KeyAlgorithm = 'ecdsa' | 'ed25519' | 'rsa';
export type GenerateAlgorithm = 'ecdsa' | 'ed25519';

// ---------------------------------------------------------------------------------------------
// Key URIs

/** RFC 7512 attributes we understand. `id` is raw bytes; everything else is decoded text. */
export interface Pkcs11UriAttributes {
  // path attributes (token / slot / object selection)
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  'library-manufacturer'?: string;
  'library-description'?: string;
  'library-version'?: string;
  'slot-description'?: string;
  'slot-manufacturer'?: string;
  'slot-id'?: string;
  object?: string;
  type?: 'private' | 'public' | 'cert' | 'secret-key' | 'data';
  id?: Uint8Array;
  // query attributes (how to load the module / where the PIN is)
  'module-path'?: string;
  'module-name'?: string;
  'pin-source'?: string;
}

export type KeyUri =
  | {
      scheme: 'file';
      /** a path, or a canonical key ID (prefix) inside the trust dir */ ref: string;
    }
  | { scheme: 'keychain'; keyId: string }
  | {
      scheme: 'pkcs11';
      attrs: Pkcs11UriAttributes;
      /** vendor `x-…` attributes, kept verbatim */ vendor: Record<string, string>;
    };

const PK11_PATH_ATTRS = [
  'token',
  'manufacturer',
  'serial',
  'model',
  'library-manufacturer',
  'library-description',
  'library-version',
  'slot-description',
  'slot-manufacturer',
  'slot-id',
  'object',
  'type',
  'id',
] as const;
const PK11_QUERY_ATTRS = ['module-path', 'module-name', 'pin-source'] as const;
const PK11_TYPES = ['private', 'public', 'cert', 'secret-key', 'data'] as const;

function uriError(uri: string, why: string): TrustdeskError {
  return new TrustdeskError('ERR_BAD_KEY_URI', `key URI ${JSON.stringify(uri)}: ${why}`);
}

function pctDecodeBytes(s: string, uri: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex))
        throw uriError(uri, `bad percent-escape near "${s.slice(i, i + 3)}"`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of new TextEncoder().encode(s[i])) out.push(b);
    }
  }
  return new Uint8Array(out);
}

function pctDecodeText(s: string, uri: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(pctDecodeBytes(s, uri));
  } catch (e) {
    if (e instanceof TrustdeskError) throw e;
    throw uriError(uri, 'attribute value is not UTF-8');
  }
}

// RFC 7512 pk11-pchar / pk11-qchar minus the separators we must escape; everything else %XX.
const PATH_SAFE = /[A-Za-z0-9\-._~:[\]@!$'()*+,=&]/;
const QUERY_SAFE = /[A-Za-z0-9\-._~:[\]@!$'()*+,=/?|]/;

function pctEncode(bytes: Uint8Array, safe: RegExp | null): string {
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += safe && b < 0x80 && safe.test(ch) ? ch : '%' + b.toString(16).padStart(2, '0');
  }
  return out;
}

function parsePkcs11(uri: string): KeyUri {
  const body = uri.slice('pkcs11:'.length);
  const q = body.indexOf('?');
  const pathPart = q === -1 ? body : body.slice(0, q);
  const queryPart = q === -1 ? '' : body.slice(q + 1);
  const attrs: Record<string, unknown> = {};
  const vendor: Record<string, string> = {};
  const take = (part: string, sep: string, allowed: readonly string[], where: string): void => {
    if (part === '') return;
    for (const item of part.split(sep)) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw uriError(uri, `${where} attribute "${item}" has no name=value`);
      const name = item.slice(0, eq).toLowerCase();
      const raw = item.slice(eq + 1);
      if (name === 'pin-value') {
        throw uriError(
          uri,
          'pin-value is refused: PINs never go on the command line (use pin-source, TRUSTDESK_PKCS11_PIN or a prompt)',
        );
      }
      if (name.startsWith('x-')) {
        vendor[name] = pctDecodeText(raw, uri);
        continue;
      }
      if (!allowed.includes(name)) throw uriError(uri, `unknown ${where} attribute "${name}"`);
      if (name in attrs) throw uriError(uri, `attribute "${name}" given twice`);
      if (name === 'id') attrs.id = pctDecodeBytes(raw, uri);
      else attrs[name] = pctDecodeText(raw, uri);
    }
  };
  take(pathPart, ';', PK11_PATH_ATTRS, 'path');
  take(queryPart, '&', PK11_QUERY_ATTRS, 'query');
  if (attrs.type !== undefined && !(PK11_TYPES as readonly unknown[]).includes(attrs.type)) {
    throw uriError(uri, `type must be one of ${PK11_TYPES.join(', ')}`);
  }
  return { scheme: 'pkcs11', attrs: attrs, vendor };
}

const KEY_ID_RE = /^[0-9a-f]{1,64}$/;

/** Parses a key URI. A bare 64-hex string is NOT accepted here: callers decide the default. */
export function parseKeyUri(uri: string): KeyUri {
  const colon = uri.indexOf(':');
  const scheme = colon === -1 ? '' : uri.slice(0, colon).toLowerCase();
  const rest = colon === -1 ? '' : uri.slice(colon + 1);
  switch (scheme) {
    case 'file':
      if (rest === '') throw uriError(uri, 'file: needs a path or a key ID');
      return { scheme: 'file', ref: rest };
    case 'keychain':
      if (!KEY_ID_RE.test(rest)) throw uriError(uri, 'keychain: needs a lowercase hex key ID');
      return { scheme: 'keychain', keyId: rest };
    case 'pkcs11':
      return parsePkcs11(uri);
    default:
      throw uriError(uri, 'scheme must be file:, keychain: or pkcs11:');
  }
}

/** Formats a key URI; `parseKeyUri(formatKeyUri(u))` equals `u`. Attributes in RFC order. */
export function formatKeyUri(u: KeyUri): string {
  switch (u.scheme) {
    case 'file':
      return `file:${u.ref}`;
    case 'keychain':
      return `keychain:${u.keyId}`;
    case 'pkcs11': {
      const enc = new TextEncoder();
      const path: string[] = [];
      for (const name of PK11_PATH_ATTRS) {
        const v = u.attrs[name];
        if (v === undefined) continue;
        path.push(
          `${name}=${v instanceof Uint8Array ? pctEncode(v, null) : pctEncode(enc.encode(v), PATH_SAFE)}`,
        );
      }
      const query: string[] = [];
      for (const name of PK11_QUERY_ATTRS) {
        const v = u.attrs[name];
        if (v !== undefined) query.push(`${name}=${pctEncode(enc.encode(v), QUERY_SAFE)}`);
      }
      for (const [name, v] of Object.entries(u.vendor).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      )) {
        path.push(`${name}=${pctEncode(enc.encode(v), PATH_SAFE)}`);
      }
      return `pkcs11:${path.join(';')}${query.length ? '?' + query.join('&') : ''}`;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Records and backends

/** What the index knows about a key without unlocking it. */
export interface KeyRecord {
  /** Canonical key ID (file names, CLI arguments, prompts). */
  readonly id: string;
  /** TUF key ID of `publicKey` (equals `id` unless `publicKey` is an x509 certificate key). */
  readonly tufId: string;
  /** `root`, `targets`, `snapshot`, `timestamp`, a delegation name, or '' if unknown. */
  readonly role: string;
  /** '' for root and delegation keys (Go writes no gun header for them). */
  readonly gun: string;
  readonly algorithm: KeyAlgorithm;
  readonly backend: KeyBackendName;
  /** Where it lives: a parsed URI, plus `location` = its formatted text (or a file path). */
  readonly uri: KeyUri;
  readonly location: string;
  /** RFC 3339, or null when the backend does not record it (tokens, Go PEM files). */
  readonly createdAt: string | null;
  readonly publicKey: PublicKey;
}

/**
 * Unlocked private key material in transit between backends (import/export/backup).
 * `pkcs8` is a standard (Node/OpenSSL) PKCS#8 PrivateKeyInfo DER; call `wipe` when done.
 */
export interface PrivateKeyMaterial {
  readonly algorithm: KeyAlgorithm;
  readonly pkcs8: Uint8Array;
}

export interface KeyMeta {
  role: string;
  gun: string;
}

export interface GenerateOptions extends KeyMeta {
  algorithm: GenerateAlgorithm;
  /** Wall clock for createdAt (injected so tests are deterministic). */
  nowMs: number;
  /**
   * Backend-specific placement: for pkcs11 the token URI (token/serial + module-path);
   * ignored by file/keychain.
   */
  target?: KeyUri;
  signal?: AbortSignal;
}

export interface ImportOptions extends KeyMeta {
  nowMs: number;
  target?: KeyUri;
  signal?: AbortSignal;
}

export interface KeyBackend {
  readonly name: KeyBackendName;
  /** Lists keys without unlocking anything. Unreachable backends return [] from the facade. */
  list(): Promise<KeyRecord[]>;
  /** Like list(), plus entries that could not be read (the facade prefers it when present). */
  scan?(): Promise<{ keys: KeyRecord[]; problems: KeyProblem[] }>;
  /** Creates a key (on the token for pkcs11), asking the prompter for a new passphrase/PIN. */
  generate(opts: GenerateOptions, prompter: Prompter): Promise<KeyRecord>;
  /** Stores a software key (wiping is the caller's job). Tokens may refuse with ERR_NOT_EXTRACTABLE-like errors. */
  importPrivate(
    key: PrivateKeyMaterial,
    opts: ImportOptions,
    prompter: Prompter,
  ): Promise<KeyRecord>;
  /** Unlocks a key for signing (asks for passphrase/PIN). `publicKey` may be an x509 key of the same pair. */
  signer(record: KeyRecord, prompter: Prompter, publicKey?: PublicKey): Promise<Signer>;
  /** Deletes the key. Irreversible; the facade confirms first. Tokens may need the PIN (`prompter`). */
  remove(record: KeyRecord, prompter?: Prompter): Promise<void>;
  /** Private material for export/backup, or ERR_NOT_EXTRACTABLE when the backend cannot give it. */
  exportPrivate(record: KeyRecord, prompter: Prompter): Promise<PrivateKeyMaterial>;
  /** Re-protects the key under a new passphrase/PIN, atomically (file: only; others may refuse). */
  changePassphrase?(record: KeyRecord, prompter: Prompter): Promise<void>;
  /** Releases native handles (PKCS#11 sessions/modules). Called once, when the app is done. */
  close?(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Prompter: every secret and every confirmation goes through this.

export interface PassphraseRequest {
  /** 'new' = choose (and confirm, ≥ 8 chars); 'existing' = unlock. */
  mode: 'new' | 'existing';
  role: string;
  gun: string;
  /** Canonical key ID (may be '' before a key exists). */
  keyId: string;
  /** 0 on the first ask; > 0 after a wrong answer. Give up (ERR_BAD_PASSPHRASE) when it is pointless to ask again. */
  attempt: number;
  signal?: AbortSignal;
}

export interface PinRequest {
  /** 'user' PIN to log in, 'new' when a token is being initialised (tests). */
  kind: 'user' | 'new';
  tokenLabel: string;
  tokenSerial: string;
  keyId: string;
  attempt: number;
  /** From token flags: 'low' (CKF_USER_PIN_COUNT_LOW) or 'final' (CKF_USER_PIN_FINAL_TRY). */
  retries?: 'ok' | 'low' | 'final';
  signal?: AbortSignal;
}

export interface ConfirmRequest {
  message: string;
  /** Destructive/sensitive: TTY prompters should make the user type something, not just "y". */
  dangerous: boolean;
  signal?: AbortSignal;
}

export type PrompterNotice =
  { kind: 'touch'; keyId: string; tokenLabel: string } | { kind: 'info'; message: string };

/**
 * Supplies secrets. Implementations throw TrustdeskError: ERR_NO_TTY when they cannot ask,
 * ERR_ABORTED when the signal fires or the user cancels, ERR_BAD_PASSPHRASE/ERR_BAD_PIN when
 * asking again is pointless (script mode after a wrong answer).
 */
export interface Prompter {
  /**
   * True when answers never come from a person (environment, files): several keys may then
   * ask at once, so independent work (e.g. making a repository's keys) runs concurrently.
   * Absent or false: one question at a time, in order.
   */
  readonly unattended?: boolean;
  passphrase(req: PassphraseRequest): Promise<string>;
  pin(req: PinRequest): Promise<string>;
  confirm(req: ConfirmRequest): Promise<boolean>;
  notice(n: PrompterNotice): void;
}

/**
 * How the app builds backends. K2's modules export `createKeychainBackend: BackendFactory`
 * (keychain.ts) and `createPkcs11Backend: BackendFactory` (pkcs11.ts); the file backend is
 * `createFileBackend` (file-store.ts). Factories must not touch the keychain/token until used.
 */
export interface BackendContext {
  /** The trust directory (file keys live in `<trustDir>/private/`). */
  trustDir: string;
  /** Environment for configuration such as TRUSTDESK_PKCS11_MODULE (never secrets from argv). */
  env: Readonly<Record<string, string | undefined>>;
}
export type BackendFactory = (ctx: BackendContext) => KeyBackend;

/** A key store entry that could not be read (corrupt file, unreachable keychain/token). */
export interface KeyProblem {
  backend: KeyBackendName;
  location: string;
  error: TrustdeskError;
}

/** Go gives up after this many wrong passphrases (passphrase.go); so do we. */
export const MAX_PASSPHRASE_ATTEMPTS = 4;
export const MIN_PASSPHRASE_LENGTH = 8;

// ---------------------------------------------------------------------------------------------
// helpers shared by backends

/** Overwrites secret bytes in place. */
export function wipe(...bufs: (Uint8Array | undefined | null)[]): void {
  for (const b of bufs) b?.fill(0);
}

/** The algorithm of a node private key, or ERR_UNSUPPORTED_KEY. */
export function algorithmOf(k: KeyObject): KeyAlgorithm {
  switch (k.asymmetricKeyType) {
    case 'ec':
      return 'ecdsa';
    case 'ed25519':
      return 'ed25519';
    case 'rsa':
      return 'rsa';
    default:
      throw new TrustdeskError(
        'ERR_UNSUPPORTED_KEY',
        `unsupported private key type ${String(k.asymmetricKeyType)}`,
      );
  }
}

/** Go's passphrase aliasing: base roles by name, every other role is a "delegation". */
export function passphraseAlias(role: string): string {
  return ['root', 'targets', 'snapshot', 'timestamp'].includes(role) ? role : 'delegation';
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TrustdeskError('ERR_ABORTED', 'cancelled');
}
