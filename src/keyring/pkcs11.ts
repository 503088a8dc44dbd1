// The `pkcs11:` backend: EC P-256 keys that live on a PKCS#11 token (YubiKey PIV via ykcs11,
// SoftHSM, HSMs) and never leave it. Key URIs follow RFC 7512.
//
// Rules enforced here:
// - Keys are generated ON the token: private CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN,
//   CKA_EXTRACTABLE=false; public CKA_TOKEN, CKA_PRIVATE=false (listable without a PIN),
//   CKA_VERIFY, CKA_EC_PARAMS = P-256. Both get CKA_ID = the 32 bytes of the canonical key ID
//   and CKA_LABEL = its hex, set right after generation (the ID is the hash of the public key,
//   unknown before). A target URI with `id=` (YubiKey PIV: id=%02 is slot 9c in ykcs11's
//   mapping) keeps that id; an id already in use is never overwritten (ERR_KEY_EXISTS).
// - Import (Go Notary's YubiKey behaviour for root keys) writes the private scalar as a
//   sensitive, non-extractable token object plus its public key object; the software copy is
//   the caller's to wipe. Export is impossible (ERR_NOT_EXTRACTABLE).
// - Signing: CKM_ECDSA over SHA-256(message) → raw r‖s (64 bytes), through the session queue.
//   The signer checks the token's public key still has the record's ID before first use.
// - list()/scan() never log in: token keys are found through their public objects; role, gun
//   and createdAt come from the public sidecar written at generate/import/adopt time, so keys on
//   a token that is not plugged in are still listed.
// - Tokens are selected by label/serial (pkcs11-module.ts); PINs come from the URI's
//   pin-source or the Prompter (TTY, TRUSTDESK_PKCS11_PIN, PIN file), never from argv.
// - Every signature is verified with the record's public key before it is returned, so a
//   token whose slot now holds another key cannot sign in this key's name.
// - Every session this backend opens is closed by `close()` (signers too); the last close of a
//   module calls C_Finalize.
//
// YubiKey PIV through ykcs11 (yubico-piv-tool), by configuration alone:
//   module:  TRUSTDESK_PKCS11_MODULE=/usr/lib/x86_64-linux-gnu/libykcs11.so (or ?module-path=)
//   key URI: pkcs11:token=YubiKey%20PIV%20%23<serial>;id=%02;type=private — ykcs11 maps the
//            PIV slots to CKA_ID 9a→01, 9c→02 (Digital Signature: the one to use), 9d→03, 9e→04.
//   PIN:     slot 9c's PIN policy is "always": ykcs11 sets CKA_ALWAYS_AUTHENTICATE and every
//            signature sends the PIN again (CKU_CONTEXT_SPECIFIC, pkcs11-session.ts).
//   touch:   with a touch policy C_Sign waits for the touch; the Prompter gets a `touch` notice
//            once it has waited 250 ms, and a timed-out touch is an error that says so.
//   keys:    a YubiKey writes keys only with its management key (SO login), so create the key
//            with `ykman piv keys generate -a ECCP256 9c pub.pem` + `ykman piv certificates
//            generate -s trustdesk 9c pub.pem`, then `adopt()` it to record its role and GUN.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { sha256 } from '../tuf/encoding.js';
import { TrustdeskError } from '../tuf/errors.js';
import type { PublicKey, Signer } from '../tuf/keys.js';
import { formatRfc3339 } from '../tuf/metadata.js';
import {
  CK,
  P256_PARAMS,
  Pkcs11Module,
  publicKeyFromEcPoint,
  resolveModulePath,
  type TokenSlot,
} from './pkcs11-module.js';
import { TokenSession, type Attr } from './pkcs11-session.js';
import { publicKeyOfMaterial, rawSecretOf } from './private-key.js';
import { PublicSidecar } from './public-sidecar.js';
import {
  formatKeyUri,
  throwIfAborted,
  wipe,
  type BackendFactory,
  type GenerateOptions,
  type ImportOptions,
  type KeyBackend,
  type KeyMeta,
  type KeyProblem,
  type KeyRecord,
  type KeyUri,
  type Pkcs11UriAttributes,
  type PrivateKeyMaterial,
  type Prompter,
} from './types.js';

export interface Pkcs11BackendOptions {
  trustDir: string;
  /** Module used when a URI names none, and scanned by list() (TRUSTDESK_PKCS11_MODULE). */
  modules?: readonly string[];
}

type Pkcs11Uri = Extract<KeyUri, { scheme: 'pkcs11' }>;

const YUBICO = /^Yubico/;

function isPkcs11(u: KeyUri | undefined): u is Pkcs11Uri {
  return u?.scheme === 'pkcs11';
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** The URI of a key on `token`, selected by label + serial and CKA_ID. */
export function tokenKeyUri(modulePath: string, token: TokenSlot, id: Uint8Array): Pkcs11Uri {
  return {
    scheme: 'pkcs11',
    attrs: {
      token: token.label,
      serial: token.serial,
      id: new Uint8Array(id),
      type: 'private',
      'module-path': modulePath,
    },
    vendor: {},
  };
}

interface OpenToken {
  module: Pkcs11Module;
  token: TokenSlot;
  session: TokenSession;
  modulePath: string;
}

export class Pkcs11Backend implements KeyBackend {
  readonly name = 'pkcs11' as const;
  readonly #sidecar: PublicSidecar;
  readonly #modules: readonly string[];
  readonly #signers = new Set<Pkcs11Signer>();

  constructor(opts: Pkcs11BackendOptions) {
    this.#sidecar = new PublicSidecar(opts.trustDir, 'pkcs11');
    this.#modules = opts.modules ?? [];
  }

  #modulePath(attrs: Pkcs11UriAttributes): string {
    return resolveModulePath(attrs, this.#modules[0], existsSync);
  }

  /** Opens module + token + session; the caller must `#release` it. */
  #open(attrs: Pkcs11UriAttributes): OpenToken {
    const modulePath = this.#modulePath(attrs);
    const module = Pkcs11Module.open(modulePath);
    try {
      const token = module.selectToken(attrs);
      return { module, token, session: TokenSession.open(module, token), modulePath };
    } catch (e) {
      module.release();
      throw e;
    }
  }

  async #release(t: OpenToken): Promise<void> {
    try {
      await t.session.close();
    } finally {
      t.module.release();
    }
  }

  async #withToken<T>(attrs: Pkcs11UriAttributes, fn: (t: OpenToken) => Promise<T>): Promise<T> {
    const t = this.#open(attrs);
    try {
      return await fn(t);
    } finally {
      await this.#release(t);
    }
  }

  async list(): Promise<KeyRecord[]> {
    return (await this.scan()).keys;
  }

  /** Sidecar records plus every EC key found on the tokens of the known modules (no login). */
  async scan(): Promise<{ keys: KeyRecord[]; problems: KeyProblem[] }> {
    const { keys, problems } = await this.#sidecar.scan();
    const byId = new Map(keys.map((k) => [k.id, k]));
    const modules = new Set(this.#modules);
    for (const k of keys) {
      const p = isPkcs11(k.uri) ? k.uri.attrs['module-path'] : undefined;
      if (p) modules.add(p);
    }
    for (const path of modules) {
      try {
        for (const rec of await this.#scanModule(path)) {
          if (!byId.has(rec.id)) byId.set(rec.id, rec);
        }
      } catch (e) {
        problems.push({
          backend: 'pkcs11',
          location: path,
          error: e instanceof TrustdeskError ? e : new TrustdeskError('ERR_PKCS11', String(e)),
        });
      }
    }
    return { keys: [...byId.values()], problems };
  }

  async #scanModule(modulePath: string): Promise<KeyRecord[]> {
    const module = Pkcs11Module.open(modulePath);
    const out: KeyRecord[] = [];
    try {
      for (const token of module.tokens()) {
        const session = TokenSession.open(module, token);
        try {
          await session.run((s) => {
            const pubs = session.find(s, [
              { type: CK.CKA_CLASS, value: CK.CKO_PUBLIC_KEY },
              { type: CK.CKA_KEY_TYPE, value: CK.CKK_EC },
            ]);
            for (const h of pubs) {
              const a = session.attributes(s, h, [CK.CKA_ID, CK.CKA_EC_POINT, CK.CKA_EC_PARAMS]);
              const id = a.get(CK.CKA_ID);
              const point = a.get(CK.CKA_EC_POINT);
              const params = a.get(CK.CKA_EC_PARAMS);
              if (!id || id.length === 0 || !point || !params) continue;
              let publicKey: PublicKey;
              try {
                publicKey = publicKeyFromEcPoint(point, params);
              } catch {
                continue; // another curve or key type: not a Notary key
              }
              out.push(this.#record(tokenKeyUri(modulePath, token, id), publicKey, null, null));
            }
          });
        } finally {
          await session.close();
        }
      }
    } finally {
      module.release();
    }
    return out;
  }

  #record(
    uri: Pkcs11Uri,
    publicKey: PublicKey,
    meta: KeyMeta | null,
    createdAt: string | null,
  ): KeyRecord {
    return {
      id: publicKey.canonicalId,
      tufId: publicKey.id,
      role: meta?.role ?? '',
      gun: meta?.gun ?? '',
      algorithm: 'ecdsa',
      backend: 'pkcs11',
      uri,
      location: formatKeyUri(uri),
      createdAt,
      publicKey,
    };
  }

  #target(target: KeyUri | undefined): Pkcs11Uri {
    if (!isPkcs11(target)) {
      throw new TrustdeskError(
        'ERR_USAGE',
        'a pkcs11 key needs a token: give a pkcs11: URI such as "pkcs11:token=<label>?module-path=/usr/lib/softhsm/libsofthsm2.so"',
      );
    }
    return target;
  }

  #idInUse(t: OpenToken, id: Uint8Array): Promise<boolean> {
    return t.session.run(
      (s) => t.session.find(s, [{ type: CK.CKA_ID, value: Buffer.from(id) }]).length > 0,
    );
  }

  /** Gives both objects the ID and label derived from the key; keeps the old ones if refused. */
  async #name(t: OpenToken, handles: Buffer[], publicKey: PublicKey, fallback: Uint8Array) {
    const id = Buffer.from(publicKey.canonicalId, 'hex');
    try {
      await t.session.run((s) => {
        for (const h of handles) {
          t.module.lib.C_SetAttributeValue(s, h, [
            { type: CK.CKA_ID, value: id },
            { type: CK.CKA_LABEL, value: publicKey.canonicalId },
          ]);
        }
      });
      return id;
    } catch {
      return fallback; // e.g. ykcs11: the ID is the PIV slot and cannot change
    }
  }

  async generate(opts: GenerateOptions, prompter: Prompter): Promise<KeyRecord> {
    if (opts.algorithm !== 'ecdsa') {
      throw new TrustdeskError(
        'ERR_UNSUPPORTED_KEY',
        `tokens hold ECDSA P-256 keys; cannot generate ${opts.algorithm} on a pkcs11 token`,
      );
    }
    const target = this.#target(opts.target);
    throwIfAborted(opts.signal);
    return this.#withToken(target.attrs, async (t) => {
      await t.session.login({ prompter, keyId: '', ...this.#pinOpts(target, opts.signal) });
      const given = target.attrs.id;
      if (given && (await this.#idInUse(t, given))) {
        throw new TrustdeskError(
          'ERR_KEY_EXISTS',
          `token "${t.token.label}" already holds an object with id ${hex(given)}; not overwriting it`,
        );
      }
      const tmpId = given ?? new Uint8Array(randomBytes(16));
      const label = target.attrs.object;
      const common = (): Attr[] => [
        { type: CK.CKA_KEY_TYPE, value: CK.CKK_EC },
        { type: CK.CKA_TOKEN, value: true },
        { type: CK.CKA_ID, value: Buffer.from(tmpId) },
        ...(label !== undefined ? [{ type: CK.CKA_LABEL, value: label }] : []),
      ];
      const kp = await t.session
        .run((s) =>
          t.module.lib.C_GenerateKeyPairAsync(
            s,
            { mechanism: CK.CKM_EC_KEY_PAIR_GEN },
            [
              { type: CK.CKA_CLASS, value: CK.CKO_PUBLIC_KEY },
              ...common(),
              { type: CK.CKA_PRIVATE, value: false },
              { type: CK.CKA_VERIFY, value: true },
              { type: CK.CKA_EC_PARAMS, value: P256_PARAMS },
            ],
            [
              { type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY },
              ...common(),
              { type: CK.CKA_PRIVATE, value: true },
              { type: CK.CKA_SENSITIVE, value: true },
              { type: CK.CKA_EXTRACTABLE, value: false },
              { type: CK.CKA_SIGN, value: true },
            ],
          ),
        )
        .catch((e: unknown) => {
          throw this.#tokenWriteError(e, t, 'generate a key on');
        });
      const publicKey = await this.#publicKeyOf(t, kp.publicKey);
      const id =
        given !== undefined || label !== undefined
          ? tmpId
          : await this.#name(t, [kp.publicKey, kp.privateKey], publicKey, tmpId);
      const rec = this.#record(
        tokenKeyUri(t.modulePath, t.token, id),
        publicKey,
        opts,
        formatRfc3339(opts.nowMs),
      );
      await this.#sidecar.write(rec);
      return rec;
    });
  }

  async importPrivate(
    key: PrivateKeyMaterial,
    opts: ImportOptions,
    prompter: Prompter,
  ): Promise<KeyRecord> {
    const target = this.#target(opts.target);
    const publicKey = publicKeyOfMaterial(key);
    const unsupported = (cause?: unknown) =>
      new TrustdeskError(
        'ERR_UNSUPPORTED_KEY',
        `only ECDSA P-256 keys can be imported to a token (this is ${key.algorithm})`,
        cause === undefined ? {} : { cause },
      );
    if (key.algorithm !== 'ecdsa') throw unsupported();
    let d: Uint8Array;
    try {
      d = rawSecretOf(key); // refuses P-384/P-521
    } catch (e) {
      throw unsupported(e);
    }
    const point = publicKey.cryptoKey()?.export({ format: 'jwk' });
    const ecPoint = Buffer.concat([
      Buffer.of(0x04, 0x41, 0x04),
      Buffer.from(String(point?.x), 'base64url'),
      Buffer.from(String(point?.y), 'base64url'),
    ]);
    const dBuf = Buffer.from(d);
    wipe(d);
    try {
      return await this.#withToken(target.attrs, async (t) => {
        await t.session.login({
          prompter,
          keyId: publicKey.canonicalId,
          ...this.#pinOpts(target, opts.signal),
        });
        const id = target.attrs.id ?? Buffer.from(publicKey.canonicalId, 'hex');
        if (await this.#idInUse(t, id)) {
          throw new TrustdeskError(
            'ERR_KEY_EXISTS',
            `token "${t.token.label}" already holds an object with id ${hex(id)}; not overwriting it`,
          );
        }
        const label = target.attrs.object ?? publicKey.canonicalId;
        const common: Attr[] = [
          { type: CK.CKA_KEY_TYPE, value: CK.CKK_EC },
          { type: CK.CKA_TOKEN, value: true },
          { type: CK.CKA_ID, value: Buffer.from(id) },
          { type: CK.CKA_LABEL, value: label },
          { type: CK.CKA_EC_PARAMS, value: P256_PARAMS },
        ];
        await t.session
          .run((s) => {
            const priv = t.module.lib.C_CreateObject(s, [
              { type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY },
              ...common,
              { type: CK.CKA_PRIVATE, value: true },
              { type: CK.CKA_SENSITIVE, value: true },
              { type: CK.CKA_EXTRACTABLE, value: false },
              { type: CK.CKA_SIGN, value: true },
              { type: CK.CKA_VALUE, value: dBuf },
            ]);
            try {
              t.module.lib.C_CreateObject(s, [
                { type: CK.CKA_CLASS, value: CK.CKO_PUBLIC_KEY },
                ...common,
                { type: CK.CKA_PRIVATE, value: false },
                { type: CK.CKA_VERIFY, value: true },
                { type: CK.CKA_EC_POINT, value: ecPoint },
              ]);
            } catch (e) {
              t.module.lib.C_DestroyObject(s, priv); // no half-imported key
              throw e;
            }
          })
          .catch((e: unknown) => {
            throw this.#tokenWriteError(e, t, 'import a key to');
          });
        const rec = this.#record(
          tokenKeyUri(t.modulePath, t.token, id),
          publicKey,
          opts,
          formatRfc3339(opts.nowMs),
        );
        await this.#sidecar.write(rec);
        return rec;
      });
    } finally {
      wipe(dBuf);
    }
  }

  /**
   * Records role and gun for a key already on a token (e.g. made with `ykman piv keys generate
   * 9c`), so list() shows them. `uri` names the token and the key's `id`.
   */
  async adopt(uri: KeyUri, meta: KeyMeta, nowMs: number): Promise<KeyRecord> {
    const target = this.#target(uri);
    const id = target.attrs.id;
    if (!id) throw new TrustdeskError('ERR_BAD_KEY_URI', 'adopting a token key needs its id=');
    return this.#withToken(target.attrs, async (t) => {
      const pubs = await t.session.run((s) =>
        t.session.find(s, [
          { type: CK.CKA_CLASS, value: CK.CKO_PUBLIC_KEY },
          { type: CK.CKA_ID, value: Buffer.from(id) },
        ]),
      );
      if (pubs.length !== 1) {
        throw new TrustdeskError(
          'ERR_NOT_FOUND',
          `token "${t.token.label}" has ${pubs.length} public keys with id ${hex(id)}; expected one`,
        );
      }
      const rec = this.#record(
        tokenKeyUri(t.modulePath, t.token, id),
        await this.#publicKeyOf(t, pubs[0] as Buffer),
        meta,
        formatRfc3339(nowMs),
      );
      await this.#sidecar.write(rec, 'replace');
      return rec;
    });
  }

  #pinOpts(u: Pkcs11Uri, signal: AbortSignal | undefined) {
    return {
      ...(u.attrs['pin-source'] !== undefined ? { pinSource: u.attrs['pin-source'] } : {}),
      ...(signal ? { signal } : {}),
    };
  }

  #tokenWriteError(e: unknown, t: OpenToken, what: string): TrustdeskError {
    const err =
      e instanceof TrustdeskError
        ? e
        : new TrustdeskError(
            'ERR_PKCS11',
            `cannot ${what} token "${t.token.label}": ${e instanceof Error ? e.message : String(e)}`,
            { cause: e },
          );
    if (YUBICO.test(t.token.manufacturer) && err.code === 'ERR_PKCS11') {
      return new TrustdeskError(err.code, err.message, {
        cause: e,
        hint: 'YubiKey PIV writes keys only with the management key: run `ykman piv keys generate --algorithm ECCP256 9c pub.pem` and `ykman piv certificates generate -s trustdesk 9c pub.pem` (or `ykman piv keys import 9c key.pem`), then `trustdesk key list`.',
      });
    }
    return err;
  }

  async #publicKeyOf(t: OpenToken, handle: Buffer): Promise<PublicKey> {
    return t.session.run((s) => {
      const a = t.session.attributes(s, handle, [CK.CKA_EC_POINT, CK.CKA_EC_PARAMS]);
      const point = a.get(CK.CKA_EC_POINT);
      const params = a.get(CK.CKA_EC_PARAMS);
      if (!point || !params) {
        throw new TrustdeskError(
          'ERR_PKCS11',
          `token "${t.token.label}" did not return the public key`,
        );
      }
      return publicKeyFromEcPoint(point, params);
    });
  }

  async signer(
    record: KeyRecord,
    prompter: Prompter,
    publicKey?: PublicKey,
  ): Promise<Pkcs11Signer> {
    const uri = this.#target(record.uri);
    const id = uri.attrs.id;
    if (!id) throw new TrustdeskError('ERR_BAD_KEY_URI', `${record.location}: needs id=`);
    if (publicKey && publicKey.canonicalId !== record.id) {
      throw new TrustdeskError(
        'ERR_KEY_MISMATCH',
        `public key ${publicKey.id} is not the token key ${record.id}`,
      );
    }
    const t = this.#open(uri.attrs);
    try {
      // The token's public object must still be the key the record names (slot re-used?).
      const pubs = await t.session.run((s) =>
        t.session.find(s, [
          { type: CK.CKA_CLASS, value: CK.CKO_PUBLIC_KEY },
          { type: CK.CKA_ID, value: Buffer.from(id) },
        ]),
      );
      const onToken = pubs.length === 1 ? await this.#publicKeyOf(t, pubs[0] as Buffer) : undefined;
      if (onToken && onToken.canonicalId !== record.id) {
        throw new TrustdeskError(
          'ERR_KEY_MISMATCH',
          `token "${t.token.label}" id ${hex(id)} now holds key ${onToken.canonicalId}, not ${record.id}`,
        );
      }
      await t.session.login({ prompter, keyId: record.id, ...this.#pinOpts(uri, undefined) });
      const template: Attr[] = [
        { type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY },
        { type: CK.CKA_ID, value: Buffer.from(id) },
        ...(uri.attrs.object !== undefined
          ? [{ type: CK.CKA_LABEL, value: uri.attrs.object }]
          : []),
      ];
      const alwaysAuthenticate = await t.session.run((s) => {
        const keys = t.session.find(s, template);
        if (keys.length !== 1) {
          throw new TrustdeskError(
            'ERR_MISSING_KEY',
            `token "${t.token.label}" has ${keys.length} private keys matching ${record.location}; expected one`,
          );
        }
        const a = t.session.attributes(s, keys[0] as Buffer, [CK.CKA_ALWAYS_AUTHENTICATE]);
        return a.get(CK.CKA_ALWAYS_AUTHENTICATE)?.[0] === 1;
      });
      const signer = new Pkcs11Signer(t, template, publicKey ?? record.publicKey, {
        keyId: record.id,
        prompter,
        alwaysAuthenticate,
        onClose: (sg) => this.#signers.delete(sg),
        release: () => this.#release(t),
      });
      this.#signers.add(signer);
      return signer;
    } catch (e) {
      await this.#release(t);
      throw e;
    }
  }

  /** `prompter` is optional in KeyBackend.remove; without one the PIN must come from pin-source. */
  async remove(record: KeyRecord, prompter: Prompter = refusingPrompter): Promise<void> {
    const uri = this.#target(record.uri);
    const id = uri.attrs.id;
    if (!id) throw new TrustdeskError('ERR_BAD_KEY_URI', `${record.location}: needs id=`);
    await this.#withToken(uri.attrs, async (t) => {
      await t.session.login({
        prompter,
        keyId: record.id,
        ...this.#pinOpts(uri, undefined),
      });
      await t.session.run((s) => {
        for (const h of t.session.find(s, [{ type: CK.CKA_ID, value: Buffer.from(id) }])) {
          t.module.lib.C_DestroyObject(s, h);
        }
      });
    }).catch((e: unknown) => {
      // A token that is gone still lets the user forget the key's metadata.
      if (!(e instanceof TrustdeskError && e.code === 'ERR_TOKEN_NOT_FOUND')) throw e;
    });
    await this.#sidecar.remove(record.id);
  }

  exportPrivate(record: KeyRecord): Promise<PrivateKeyMaterial> {
    return Promise.reject(
      new TrustdeskError(
        'ERR_NOT_EXTRACTABLE',
        `key ${record.id} lives on a PKCS#11 token and cannot be exported`,
      ),
    );
  }

  /** Closes every signer and session this backend opened (the last one finalises the module). */
  async close(): Promise<void> {
    await Promise.all([...this.#signers].map((s) => s.close()));
  }
}

/** remove() has no prompter parameter; it works when the PIN comes from pin-source or none is needed. */
const refusingPrompter: Prompter = {
  pin: () =>
    Promise.reject(
      new TrustdeskError('ERR_NO_TTY', 'removing a token key needs its PIN', {
        hint: 'Add pin-source=<file> to the key URI, or delete the key with the token vendor tool and `trustdesk key remove` again.',
      }),
    ),
  passphrase: () => Promise.reject(new TrustdeskError('ERR_INTERNAL', 'no passphrase on tokens')),
  confirm: () => Promise.resolve(false),
  notice: () => undefined,
};

interface SignerOptions {
  keyId: string;
  prompter: Prompter;
  alwaysAuthenticate: boolean;
  onClose: (s: Pkcs11Signer) => void;
  release: () => Promise<void>;
}

/** A Signer whose private key never leaves the token. Call `close()` when done. */
export class Pkcs11Signer implements Signer {
  #closed: Promise<void> | undefined;

  constructor(
    readonly token: { session: TokenSession; token: TokenSlot },
    readonly template: Attr[],
    readonly publicKey: PublicKey,
    readonly opts: SignerOptions,
  ) {}

  get keyId(): string {
    return this.publicKey.id;
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    if (this.#closed) throw new TrustdeskError('ERR_INTERNAL', 'signer is closed');
    const { session, token } = this.token;
    const yubikey = YUBICO.test(token.manufacturer);
    let waited = false;
    try {
      const sig = await session.signDigest(this.template, sha256(message), {
        alwaysAuthenticate: this.opts.alwaysAuthenticate,
        ...(yubikey
          ? {
              onSlow: () => {
                waited = true;
                this.opts.prompter.notice({
                  kind: 'touch',
                  keyId: this.opts.keyId,
                  tokenLabel: token.label,
                });
              },
            }
          : {}),
      });
      if (sig.length !== 64) {
        throw new TrustdeskError(
          'ERR_PKCS11',
          `token "${token.label}" returned a ${sig.length}-byte ECDSA signature; expected 64 (P-256 r‖s)`,
        );
      }
      if (!this.publicKey.verify('ecdsa', message, sig)) {
        throw new TrustdeskError(
          'ERR_KEY_MISMATCH',
          `token "${token.label}" signed with a key other than ${this.opts.keyId}`,
        );
      }
      return sig;
    } catch (e) {
      if (waited && e instanceof TrustdeskError && e.code === 'ERR_PKCS11') {
        throw new TrustdeskError(e.code, e.message, {
          cause: e,
          hint: 'The YubiKey waited for a touch that did not come (touch policy); touch it when it blinks and retry.',
        });
      }
      throw e;
    }
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.opts.onClose(this);
      await this.opts.release();
    })();
    return this.#closed;
  }
}

export const createPkcs11Backend: BackendFactory = (ctx) =>
  new Pkcs11Backend({
    trustDir: ctx.trustDir,
    modules: (ctx.env.TRUSTDESK_PKCS11_MODULE ?? '').split(delimiter).filter((p) => p !== ''),
  });
