// PKCS#11 modules and tokens: loading a module once per process, finding a token by what an
// RFC 7512 URI says about it, reading EC public keys, and turning CKR_ codes into our errors.
//
// Rules enforced here:
// - A module is loaded and C_Initialize'd once per path, reference-counted; the last release
//   calls C_Finalize and unloads it. (C_Initialize twice fails; a token inserted or created
//   after C_Initialize is only seen after the module is re-initialised.)
// - A token is selected by label and/or serial (plus manufacturer/model and the library/slot
//   description attributes when given), NEVER by slot number: SoftHSM moves tokens to new
//   slot IDs and readers renumber on replug. `slot-id` in a URI is ignored; a URI that names
//   neither label nor serial is refused; a URI matching several tokens is refused.
// - Only P-256 EC keys are understood (what Notary generates and YubiKey PIV slot 9c holds).

import { createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { derBitString, derOid, derSequence, parseDer, readOctetString } from '../tuf/der.js';
import { TrustdeskError, type ErrorCode } from '../tuf/errors.js';
import { PublicKey } from '../tuf/keys.js';
import type { Pkcs11UriAttributes } from './types.js';

export type Pkcs11Lib = Pkcs11js.PKCS11;
export type Handle = Buffer;

/**
 * The pkcs11js native addon, loaded when a token is first used: every keyring lists this
 * backend (its public sidecars), and most never touch a token. `require`, as it is CommonJS.
 */
let addon: typeof Pkcs11js | undefined;
function pkcs11js(): typeof Pkcs11js {
  addon ??= createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11js;
  return addon;
}

/** pkcs11js's namespace object holds the CK* constants (see toolchain.md); read on use. */
export const CK = new Proxy({} as typeof Pkcs11js, {
  get: (_, name) => Reflect.get(pkcs11js(), name) as unknown,
});

/** DER OID prime256v1 — the value of CKA_EC_PARAMS for P-256. */
export const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_P256 = '1.2.840.10045.3.1.7';

// ---------------------------------------------------------------------------------------------
// Errors

/** The CKR_ name of a pkcs11js error, or undefined for anything else. */
export function ckrName(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const m = /^(CKR_[A-Z0-9_]+)/.exec(e.message);
  return m?.[1];
}

const CKR_CODES: Record<string, ErrorCode> = {
  CKR_PIN_INCORRECT: 'ERR_BAD_PIN',
  CKR_PIN_INVALID: 'ERR_BAD_PIN',
  CKR_PIN_LEN_RANGE: 'ERR_BAD_PIN',
  CKR_PIN_EXPIRED: 'ERR_BAD_PIN',
  CKR_USER_NOT_LOGGED_IN: 'ERR_BAD_PIN',
  CKR_PIN_LOCKED: 'ERR_PIN_LOCKED',
  CKR_TOKEN_NOT_PRESENT: 'ERR_TOKEN_NOT_FOUND',
  CKR_TOKEN_NOT_RECOGNIZED: 'ERR_TOKEN_NOT_FOUND',
  CKR_DEVICE_REMOVED: 'ERR_TOKEN_NOT_FOUND',
  CKR_SLOT_ID_INVALID: 'ERR_TOKEN_NOT_FOUND',
  CKR_SESSION_HANDLE_INVALID: 'ERR_TOKEN_NOT_FOUND',
  CKR_FUNCTION_CANCELED: 'ERR_ABORTED',
  CKR_ATTRIBUTE_SENSITIVE: 'ERR_NOT_EXTRACTABLE',
  CKR_KEY_UNEXTRACTABLE: 'ERR_NOT_EXTRACTABLE',
};

const CKR_HINTS: Record<string, string> = {
  CKR_PIN_EXPIRED: 'The token PIN has expired; change it with the token vendor tool, then retry.',
  CKR_USER_NOT_LOGGED_IN:
    'The token wants its PIN for this key; run in a terminal or set TRUSTDESK_PKCS11_PIN / a pin-source.',
  CKR_DEVICE_REMOVED: 'The token was removed during the operation; insert it and retry.',
  CKR_SESSION_HANDLE_INVALID: 'The token was removed or reset; insert it and retry.',
};

/** Maps a pkcs11js error (or anything else thrown by it) to a TrustdeskError. */
export function pkcs11Error(e: unknown, what: string): TrustdeskError {
  if (e instanceof TrustdeskError) return e;
  const ckr = ckrName(e);
  const detail = ckr ?? (e instanceof Error ? e.message : String(e));
  const code = (ckr && CKR_CODES[ckr]) || 'ERR_PKCS11';
  return new TrustdeskError(code, `${what}: ${detail}`, {
    cause: e,
    ...(ckr && CKR_HINTS[ckr] ? { hint: CKR_HINTS[ckr] } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Modules

/** Directories searched for `module-name=` (p11-kit's convention: the file name without suffix). */
const MODULE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/pkcs11',
  '/usr/lib/aarch64-linux-gnu/pkcs11',
  '/usr/lib64/pkcs11',
  '/usr/lib/pkcs11',
  '/usr/local/lib/pkcs11',
  '/usr/local/lib',
  '/usr/lib',
];

/**
 * The module to load for a URI: `module-path`, else `module-name` looked up in the usual
 * directories, else `fallback` (TRUSTDESK_PKCS11_MODULE / configuration).
 */
export function resolveModulePath(
  attrs: Pkcs11UriAttributes,
  fallback: string | undefined,
  exists: (p: string) => boolean,
): string {
  if (attrs['module-path']) return attrs['module-path'];
  const name = attrs['module-name'];
  if (name) {
    if (name.includes('/'))
      throw new TrustdeskError('ERR_BAD_KEY_URI', `module-name "${name}" must not be a path`);
    for (const dir of MODULE_DIRS) {
      for (const file of [`${name}.so`, `lib${name}.so`, `${name}.dylib`]) {
        const p = `${dir}/${file}`;
        if (exists(p)) return p;
      }
    }
    throw new TrustdeskError('ERR_PKCS11', `PKCS#11 module "${name}" not found`, {
      hint: 'Give the full path with ?module-path=… in the pkcs11: URI.',
    });
  }
  if (fallback) return fallback;
  throw new TrustdeskError('ERR_BAD_KEY_URI', 'no PKCS#11 module given', {
    hint: 'Add ?module-path=/path/to/module.so to the pkcs11: URI, or set TRUSTDESK_PKCS11_MODULE (SoftHSM: /usr/lib/softhsm/libsofthsm2.so; YubiKey: libykcs11.so).',
  });
}

export interface TokenSlot {
  /** Slot handle for this process only; never stored or shown as an identity. */
  readonly slot: Handle;
  readonly label: string;
  readonly serial: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly flags: number;
  readonly slotDescription: string;
  readonly slotManufacturer: string;
}

/** One loaded, initialised module. Get it with `Pkcs11Module.open`, give it back with `release`. */
export class Pkcs11Module {
  static readonly #open = new Map<string, Pkcs11Module>();
  #refs = 1;

  private constructor(
    readonly path: string,
    readonly lib: Pkcs11Lib,
    /** false when someone else in the process had already initialised the module. */
    readonly ownsInit: boolean,
  ) {}

  static open(path: string): Pkcs11Module {
    const known = Pkcs11Module.#open.get(path);
    if (known) {
      known.#refs++;
      return known;
    }
    const lib = new (pkcs11js().PKCS11)();
    try {
      lib.load(path);
    } catch (e) {
      throw new TrustdeskError(
        'ERR_PKCS11',
        `cannot load PKCS#11 module ${path}: ${e instanceof Error ? e.message : String(e)}`,
        {
          cause: e,
          hint: 'Check module-path (SoftHSM: /usr/lib/softhsm/libsofthsm2.so; YubiKey: libykcs11.so from yubico-piv-tool).',
        },
      );
    }
    let ownsInit = true;
    try {
      lib.C_Initialize();
    } catch (e) {
      if (ckrName(e) === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') ownsInit = false;
      else {
        lib.close();
        throw pkcs11Error(e, `C_Initialize of ${path}`);
      }
    }
    const m = new Pkcs11Module(path, lib, ownsInit);
    Pkcs11Module.#open.set(path, m);
    return m;
  }

  /** Drops one reference; the last one finalises and unloads the module. */
  release(): void {
    if (this.#refs <= 0) return;
    if (--this.#refs > 0) return;
    Pkcs11Module.#open.delete(this.path);
    try {
      if (this.ownsInit) this.lib.C_Finalize();
    } finally {
      this.lib.close();
    }
  }

  /** Every slot with a token present. */
  tokens(): TokenSlot[] {
    let slots: Handle[];
    try {
      slots = this.lib.C_GetSlotList(true);
    } catch (e) {
      throw pkcs11Error(e, `C_GetSlotList of ${this.path}`);
    }
    const out: TokenSlot[] = [];
    for (const slot of slots) {
      try {
        const t = this.lib.C_GetTokenInfo(slot);
        const s = this.lib.C_GetSlotInfo(slot);
        // SoftHSM always offers one uninitialised token; it holds nothing.
        if ((t.flags & CK.CKF_TOKEN_INITIALIZED) === 0) continue;
        out.push({
          slot,
          label: t.label.trimEnd(),
          serial: t.serialNumber.trimEnd(),
          manufacturer: t.manufacturerID.trimEnd(),
          model: t.model.trimEnd(),
          flags: t.flags,
          slotDescription: s.slotDescription.trimEnd(),
          slotManufacturer: s.manufacturerID.trimEnd(),
        });
      } catch {
        // A token pulled out between C_GetSlotList and C_GetTokenInfo is simply not there.
      }
    }
    return out;
  }

  /** Fresh token flags (PIN counters change after every login attempt). */
  tokenFlags(slot: Handle): number {
    try {
      return this.lib.C_GetTokenInfo(slot).flags;
    } catch (e) {
      throw pkcs11Error(e, 'C_GetTokenInfo');
    }
  }

  /** The one token a URI names (see the rules at the top of this file). */
  selectToken(attrs: Pkcs11UriAttributes): TokenSlot {
    if (attrs.token === undefined && attrs.serial === undefined) {
      throw new TrustdeskError(
        'ERR_BAD_KEY_URI',
        'a pkcs11: URI must name the token by token=<label> or serial=<serial> (slot numbers change)',
      );
    }
    const info = this.lib.C_GetInfo();
    const libOk =
      (attrs['library-manufacturer'] === undefined ||
        attrs['library-manufacturer'] === info.manufacturerID.trimEnd()) &&
      (attrs['library-description'] === undefined ||
        attrs['library-description'] === info.libraryDescription.trimEnd()) &&
      (attrs['library-version'] === undefined ||
        versionMatches(attrs['library-version'], info.libraryVersion));
    const all = this.tokens();
    const hits = libOk ? all.filter((t) => tokenMatches(t, attrs)) : [];
    const wanted = describeTokenQuery(attrs);
    if (hits.length === 0) {
      const present = all.map((t) => `"${t.label}" (serial ${t.serial})`).join(', ') || 'none';
      throw new TrustdeskError(
        'ERR_TOKEN_NOT_FOUND',
        `no PKCS#11 token with ${wanted} in ${this.path}; tokens present: ${present}`,
      );
    }
    if (hits.length > 1) {
      throw new TrustdeskError(
        'ERR_BAD_KEY_URI',
        `${hits.length} tokens match ${wanted}; add serial=… to the pkcs11: URI`,
      );
    }
    return hits[0] as TokenSlot;
  }
}

function versionMatches(want: string, v: { major: number; minor: number }): boolean {
  const [maj, min = '0'] = want.split('.');
  return Number(maj) === v.major && Number(min) === v.minor;
}

function tokenMatches(t: TokenSlot, a: Pkcs11UriAttributes): boolean {
  return (
    (a.token === undefined || a.token === t.label) &&
    (a.serial === undefined || a.serial === t.serial) &&
    (a.manufacturer === undefined || a.manufacturer === t.manufacturer) &&
    (a.model === undefined || a.model === t.model) &&
    (a['slot-description'] === undefined || a['slot-description'] === t.slotDescription) &&
    (a['slot-manufacturer'] === undefined || a['slot-manufacturer'] === t.slotManufacturer)
  );
}

export function describeTokenQuery(a: Pkcs11UriAttributes): string {
  const parts: string[] = [];
  if (a.token !== undefined) parts.push(`label "${a.token}"`);
  if (a.serial !== undefined) parts.push(`serial "${a.serial}"`);
  if (a.manufacturer !== undefined) parts.push(`manufacturer "${a.manufacturer}"`);
  if (a.model !== undefined) parts.push(`model "${a.model}"`);
  return parts.join(', ');
}

// ---------------------------------------------------------------------------------------------
// EC public keys

/**
 * CKA_EC_POINT → a Notary `ecdsa` PublicKey (DER SPKI, as Go's MarshalPKIXPublicKey writes it).
 * The attribute is a DER OCTET STRING around 04‖X‖Y; a few modules return the bare point.
 */
export function publicKeyFromEcPoint(ecPoint: Uint8Array, ecParams: Uint8Array): PublicKey {
  if (!Buffer.from(ecParams).equals(P256_PARAMS)) {
    throw new TrustdeskError('ERR_UNSUPPORTED_KEY', 'the token key is not on curve P-256');
  }
  let point = ecPoint;
  if (!(ecPoint.length === 65 && ecPoint[0] === 0x04)) {
    point = readOctetString(parseDer(ecPoint, 'CKA_EC_POINT'), 'CKA_EC_POINT');
  }
  if (point.length !== 65 || point[0] !== 0x04) {
    throw new TrustdeskError('ERR_BAD_KEY', 'CKA_EC_POINT is not an uncompressed P-256 point');
  }
  const spki = derSequence(
    derSequence(derOid(OID_EC_PUBLIC_KEY), derOid(OID_P256)),
    derBitString(point),
  );
  try {
    createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }); // on the curve?
  } catch (e) {
    throw new TrustdeskError('ERR_BAD_KEY', 'CKA_EC_POINT is not a point on P-256', { cause: e });
  }
  return new PublicKey('ecdsa', spki);
}
