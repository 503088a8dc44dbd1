// One open session on one token: PIN login, object lookup, and signing, serialised.
//
// Rules enforced here:
// - PKCS#11 sessions are not re-entrant: every call that touches the session goes through one
//   promise queue, so concurrent `sign()`s on a Signer never interleave C_SignInit/C_Sign.
// - Login: a token whose flags say CKF_USER_PIN_LOCKED is refused before any attempt, with
//   the unblock hint (some modules would still answer CKR_PIN_INCORRECT); a PIN from `pin-source` is tried once; a prompted
//   PIN at most MAX_PIN_ATTEMPTS times per operation (YubiKey PIV locks after 3), each prompt
//   told what the token says about its retry counter (CKF_USER_PIN_COUNT_LOW / FINAL_TRY).
//   Login state is per token for the whole process, so CKR_USER_ALREADY_LOGGED_IN is success
//   and nobody calls C_Logout while other sessions may still sign (C_CloseSession of the last
//   session / C_Finalize logs out).
// - Keys with CKA_ALWAYS_AUTHENTICATE (YubiKey PIV slot 9c's PIN policy) get a
//   CKU_CONTEXT_SPECIFIC login after every C_SignInit, with the PIN kept by the session.
// - Signing never blocks the event loop (C_SignAsync): a YubiKey waits there for a touch.
//   Any failure after C_SignInit reopens the session so no operation stays active.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TrustdeskError } from '../tuf/errors.js';
import {
  CK,
  ckrName,
  pkcs11Error,
  type Handle,
  type Pkcs11Module,
  type TokenSlot,
} from './pkcs11-module.js';
import { throwIfAborted, type PinRequest, type Prompter } from './types.js';

export const MAX_PIN_ATTEMPTS = 3;
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;
/** A YubiKey that has not answered a C_Sign within this time is waiting for a touch. */
const TOUCH_NOTICE_MS = 250;

export type Attr = { type: number; value?: number | boolean | string | Buffer };

export interface LoginContext {
  prompter: Prompter;
  /** Canonical key ID shown in the prompt ('' before the key exists). */
  keyId: string;
  /** RFC 7512 `pin-source` (a file path or file: URI). */
  pinSource?: string;
  signal?: AbortSignal;
}

function retriesOf(flags: number): NonNullable<PinRequest['retries']> {
  if (flags & CK.CKF_USER_PIN_FINAL_TRY) return 'final';
  if (flags & CK.CKF_USER_PIN_COUNT_LOW) return 'low';
  return 'ok';
}

function pinLocked(token: TokenSlot, after: boolean): TrustdeskError {
  return new TrustdeskError(
    'ERR_PIN_LOCKED',
    `the user PIN of token "${token.label}" (serial ${token.serial}) is ${after ? 'now ' : ''}locked`,
  );
}

/** Reads a PIN file: the first line, without its line ending. */
export async function readPinSource(source: string): Promise<string> {
  const path = source.startsWith('file:') ? fileURLToPath(source) : source;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TrustdeskError('ERR_IO', `cannot read the PIN file ${path}`, { cause: e });
  }
  return text.split(/\r?\n/, 1)[0] ?? '';
}

export class TokenSession {
  #session: Handle;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Kept only for CKA_ALWAYS_AUTHENTICATE keys, which need it for every signature. */
  #pin: string | undefined;

  private constructor(
    readonly module: Pkcs11Module,
    readonly token: TokenSlot,
    session: Handle,
  ) {
    this.#session = session;
  }

  /** Opens a read/write session (key generation and import need R/W; signing does not care). */
  static open(module: Pkcs11Module, token: TokenSlot): TokenSession {
    return new TokenSession(module, token, TokenSession.#openRaw(module, token));
  }

  static #openRaw(module: Pkcs11Module, token: TokenSlot): Handle {
    try {
      return module.lib.C_OpenSession(token.slot, CK.CKF_SERIAL_SESSION | CK.CKF_RW_SESSION);
    } catch (e) {
      throw pkcs11Error(e, `C_OpenSession on token "${token.label}"`);
    }
  }

  get lib() {
    return this.module.lib;
  }

  /** Runs `fn` after every earlier operation on this session has finished. */
  run<T>(fn: (session: Handle) => T | Promise<T>): Promise<T> {
    const next = this.#tail.then(() => {
      if (this.#closed) throw new TrustdeskError('ERR_INTERNAL', 'PKCS#11 session is closed');
      return fn(this.#session);
    });
    this.#tail = next.catch(() => undefined);
    return next;
  }

  #loggedIn(): boolean {
    try {
      const st = this.lib.C_GetSessionInfo(this.#session).state;
      return st === CKS_RW_USER_FUNCTIONS || st === CKS_RO_USER_FUNCTIONS;
    } catch {
      return false;
    }
  }

  /** Logs the user in unless the token already is (see the rules at the top). */
  login(ctx: LoginContext): Promise<void> {
    return this.run(async (session) => {
      if (this.#loggedIn()) return;
      const token = this.token;
      let flags = this.module.tokenFlags(token.slot);
      if (flags & CK.CKF_USER_PIN_LOCKED) throw pinLocked(token, false);
      if ((flags & CK.CKF_LOGIN_REQUIRED) === 0) return;
      if (flags & CK.CKF_PROTECTED_AUTHENTICATION_PATH) {
        ctx.prompter.notice({
          kind: 'info',
          message: `Enter the PIN of token "${token.label}" on its PIN pad.`,
        });
        try {
          this.lib.C_Login(session, CK.CKU_USER);
        } catch (e) {
          if (ckrName(e) !== 'CKR_USER_ALREADY_LOGGED_IN') throw pkcs11Error(e, 'C_Login');
        }
        return;
      }
      for (let attempt = 0; ; attempt++) {
        throwIfAborted(ctx.signal);
        let pin: string;
        try {
          pin =
            ctx.pinSource !== undefined
              ? await readPinSource(ctx.pinSource)
              : await ctx.prompter.pin({
                  kind: 'user',
                  tokenLabel: token.label,
                  tokenSerial: token.serial,
                  keyId: ctx.keyId,
                  attempt,
                  retries: retriesOf(flags),
                  ...(ctx.signal ? { signal: ctx.signal } : {}),
                });
        } catch (e) {
          // A script prompter gives up after a wrong PIN; say what the token says about retries.
          if (attempt > 0 && e instanceof TrustdeskError && e.code === 'ERR_BAD_PIN') {
            throw this.#badPin(flags, undefined, e);
          }
          throw e;
        }
        try {
          this.lib.C_Login(session, CK.CKU_USER, pin);
          this.#pin = pin;
          return;
        } catch (e) {
          const ckr = ckrName(e);
          if (ckr === 'CKR_USER_ALREADY_LOGGED_IN') return;
          if (ckr === 'CKR_PIN_LOCKED') throw pinLocked(token, true);
          if (
            ckr !== 'CKR_PIN_INCORRECT' &&
            ckr !== 'CKR_PIN_INVALID' &&
            ckr !== 'CKR_PIN_LEN_RANGE'
          )
            throw pkcs11Error(e, `C_Login to token "${token.label}"`);
          flags = this.module.tokenFlags(token.slot);
          if (flags & CK.CKF_USER_PIN_LOCKED) throw pinLocked(token, true);
          if (ctx.pinSource !== undefined || attempt + 1 >= MAX_PIN_ATTEMPTS) {
            throw this.#badPin(flags, ctx.pinSource);
          }
        }
      }
    });
  }

  #badPin(flags: number, pinSource: string | undefined, cause?: TrustdeskError): TrustdeskError {
    const r = retriesOf(flags);
    const left =
      r === 'final'
        ? '; ONE try is left before the PIN locks'
        : r === 'low'
          ? '; the token reports few tries left before the PIN locks'
          : '';
    const from = pinSource !== undefined ? ` (from pin-source ${pinSource})` : '';
    const why = cause ? ` (${cause.message})` : '';
    return new TrustdeskError(
      'ERR_BAD_PIN',
      `wrong PIN${from} for token "${this.token.label}" (serial ${this.token.serial})${left}${why}`,
      cause ? { cause } : {},
    );
  }

  /** Every object matching `template` (the session must be idle: call inside `run`). */
  find(session: Handle, template: Attr[]): Handle[] {
    const out: Handle[] = [];
    try {
      this.lib.C_FindObjectsInit(session, template);
      try {
        for (;;) {
          const batch = this.lib.C_FindObjects(session, 64);
          if (batch.length === 0) break;
          out.push(...batch);
        }
      } finally {
        this.lib.C_FindObjectsFinal(session);
      }
    } catch (e) {
      throw pkcs11Error(e, 'C_FindObjects');
    }
    return out;
  }

  /** Attribute values by type; missing/unreadable ones are absent from the map. */
  attributes(session: Handle, object: Handle, types: number[]): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    // One call per attribute: a module fails the whole template if one is sensitive/unknown.
    for (const type of types) {
      try {
        const [a] = this.lib.C_GetAttributeValue(session, object, [{ type }]);
        if (a) out.set(type, a.value);
      } catch {
        // not present on this object
      }
    }
    return out;
  }

  /**
   * CKM_ECDSA over a 32-byte digest → raw r‖s (64 bytes for P-256), with the one private key
   * matching `template` (looked up per call: handles need not survive a session reopen).
   */
  signDigest(
    template: Attr[],
    digest: Uint8Array,
    opts: { alwaysAuthenticate: boolean; onSlow?: () => void },
  ): Promise<Uint8Array> {
    return this.run(async (session) => {
      const keys = this.find(session, template);
      if (keys.length !== 1) {
        throw new TrustdeskError(
          'ERR_MISSING_KEY',
          `token "${this.token.label}" has ${keys.length} matching private keys; expected one`,
        );
      }
      try {
        this.lib.C_SignInit(session, { mechanism: CK.CKM_ECDSA }, keys[0] as Handle);
      } catch (e) {
        throw pkcs11Error(e, 'C_SignInit');
      }
      let slow: NodeJS.Timeout | undefined;
      try {
        if (opts.alwaysAuthenticate) {
          if (this.#pin === undefined) {
            throw new TrustdeskError(
              'ERR_BAD_PIN',
              `the key on token "${this.token.label}" needs its PIN for every signature, and none is known`,
            );
          }
          this.lib.C_Login(session, CK.CKU_CONTEXT_SPECIFIC, this.#pin);
        }
        if (opts.onSlow) slow = setTimeout(opts.onSlow, TOUCH_NOTICE_MS);
        const sig = await this.lib.C_SignAsync(session, Buffer.from(digest), Buffer.alloc(132));
        return new Uint8Array(sig);
      } catch (e) {
        this.#reopen();
        throw pkcs11Error(e, `C_Sign on token "${this.token.label}"`);
      } finally {
        clearTimeout(slow);
      }
    });
  }

  /** Closes and reopens the session, ending any operation left active by a failure. */
  #reopen(): void {
    // Open the new one first: closing a token's last session would log the user out.
    const old = this.#session;
    this.#session = TokenSession.#openRaw(this.module, this.token);
    try {
      this.lib.C_CloseSession(old);
    } catch {
      // already gone
    }
  }

  /** Closes the session once pending operations are done. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#tail;
    if (this.#closed) return;
    this.#closed = true;
    this.#pin = undefined;
    try {
      this.lib.C_CloseSession(this.#session);
    } catch {
      // the token may have been removed; the session is gone either way
    }
  }
}
