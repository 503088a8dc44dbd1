// The updater (notary-protocol §7.6; Go client/tufclient.go; python-tuf ngclient's Updater):
// decides what to fetch and hands every byte to the TrustedMetadataSet, which alone decides
// what is trusted. Nothing here verifies anything itself.
//
// Order and names, as the Go client requests them:
//   bootstrap  cached root.json is the anchor (fromCachedRoot; an unloadable cached root fails
//              hard). Without one: GET root.json (≤ 100 MiB) → firstContact (trust pinning).
//              Write operations (`checkExists`) always GET root.json to prove the repository
//              exists (404 → ERR_REPO_NOT_FOUND); its content is not used. With a cached root,
//              that request and the timestamp's (step 1) are sent before the anchor is
//              verified, and the existence check's outcome is awaited before the timestamp is
//              used or replaced by the cached one; its error wins over any other.
//   1 timestamp  always GET timestamp.json (≤ 1 MiB). If the server cannot be asked (network,
//              timeout, TLS, offline, 404, 401, other non-200/400 statuses — but not a body that
//              broke off or grew too large) the cached timestamp is used instead, with a warning;
//              verification errors are never masked.
//   2 snapshot   the cached snapshot if its bytes match timestamp.meta.snapshot, else
//              GET snapshot.<sha256>.json (≤ recorded length).
//   3 targets, then delegations pre-order (children before later siblings), each only when the
//              snapshot lists it: cache if it matches, else GET <role>.<sha256>.json (≤ length).
//              A delegation that is expired or under-signed is warned about and skipped with its
//              subtree; for `targets` that is fatal.
//   4 on any failure (not an abort, not --offline): refresh the root — from the snapshot's
//              meta.root checksum if a snapshot verified (root.<sha256>.json), else root.json — and
//              accept it if the trusted root signed it; failing that, walk <v>.root.json from
//              trusted+1 up to the newest, each verified by its predecessor. Then retry 1–3
//              exactly once. If the refresh fails only because the server cannot be reached, the
//              original error is reported (it names the attack).
//   5 expiry     roles expiring within six months (calendar months, as Go) are reported.
// Cache: written only when the whole update succeeded — root first, then the other roles whose
// bytes changed, then cached delegations the snapshot no longer lists are removed. A refused
// update leaves the cache byte-for-byte as it was. `offline` reads the cache only, no network.
// The server is pinged (GET /v2/, once per server) as the update starts, while the cache is read.

import { TrustdeskError, isTrustdeskError, type ErrorCode } from '../../tuf/errors.js';
import { bytesEqual, toHex } from '../../tuf/encoding.js';
import { checkFileMeta } from '../../tuf/filemeta.js';
import { parseRoot, type AnySigned, type FileMeta } from '../../tuf/metadata.js';
import type { TrustPinning } from '../../tuf/root-trust.js';
import {
  DEFAULT_SIZE_LIMITS,
  RootChangedError,
  TrustedMetadataSet,
  type SizeLimits,
  type TrustedSetOptions,
} from '../../tuf/trusted-set.js';
import type { Verified } from '../../tuf/verify.js';
import { RemoteError } from '../remote/errors.js';
import { consistentName, type RemoteRepository } from '../remote/remote-store.js';
import type { MetadataCache } from '../trust-dir/metadata-cache.js';
import { checkGun } from '../trust-dir/gun.js';
import type { UpdateEvent } from './events.js';
import { RepositoryView, type ExpiryNotice, type SkippedRole } from './repository-view.js';

export interface UpdateOptions {
  gun: string;
  cache: MetadataCache;
  /** The server; absent means offline. */
  remote?: RemoteRepository;
  /** Work from the cache only (--offline). */
  offline?: boolean;
  pinning?: TrustPinning;
  /** The clock for this update (expiry checks). */
  nowMs: number;
  /** Write operations: prove the repository exists on the server (GET root.json). */
  checkExists?: boolean;
  limits?: Partial<SizeLimits>;
  signal?: AbortSignal;
  onEvent?: (e: UpdateEvent) => void;
}

/** Statuses and transport failures after which the cached timestamp is used (Go's list). */
const SERVER_UNREACHABLE = new Set<ErrorCode>([
  'ERR_NOT_FOUND',
  'ERR_UNAUTHORIZED',
  'ERR_SERVER_UNAVAILABLE',
  'ERR_OFFLINE',
  'ERR_NETWORK',
  'ERR_TIMEOUT',
  'ERR_TLS',
]);

/** The set refuses bytes that do not match their recorded length/hashes with these. */
const STALE = new Set<ErrorCode>(['ERR_HASH_MISMATCH', 'ERR_TOO_LARGE']);

/** A delegation failing with one of these is skipped with its subtree (top-level targets: fatal). */
const SKIPPABLE = new Set<ErrorCode>([
  'ERR_EXPIRED',
  'ERR_THRESHOLD',
  'ERR_BAD_SIGNATURE',
  'ERR_METHOD_MISMATCH',
  'ERR_NO_SIGNATURES',
]);

/** Go's nearExpiry: now + 6 calendar months (time.AddDate(0, 6, 0), overflow normalised). */
export function sixMonthsFrom(nowMs: number): number {
  const d = new Date(nowMs);
  d.setUTCMonth(d.getUTCMonth() + 6);
  return d.getTime();
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TrustdeskError('ERR_ABORTED', 'the update was cancelled');
}

function unreachable(e: unknown): boolean {
  return e instanceof RemoteError && !e.duringBody && SERVER_UNREACHABLE.has(e.code);
}

function matches(bytes: Uint8Array | undefined, fm: FileMeta): bytes is Uint8Array {
  if (!bytes) return false;
  try {
    checkFileMeta(bytes, fm, 'cached');
    return true;
  } catch {
    return false;
  }
}

interface Loaded {
  usedCachedTimestamp: boolean;
  skipped: SkippedRole[];
}

/** One update session (a fresh instance per call of updateRepository). */
class Session {
  readonly #o: UpdateOptions;
  readonly #online: boolean;
  readonly #cached: Map<string, Uint8Array>;
  readonly #setOpts: TrustedSetOptions;
  readonly #limits: SizeLimits;
  readonly #emit: (e: UpdateEvent) => void;
  /** The anchor came from the server on first contact (pinning applies to its successors). */
  #firstContact = false;
  /** checkExists: GET root.json in flight (see the top of this file). */
  #exists: Promise<void> | undefined;
  /** GET timestamp.json, sent while the cached root is verified; taken by the first load(). */
  #timestamp: Promise<Uint8Array> | undefined;

  constructor(o: UpdateOptions, cached: Map<string, Uint8Array>) {
    this.#o = o;
    this.#online = !o.offline && o.remote !== undefined;
    this.#cached = cached;
    this.#limits = { ...DEFAULT_SIZE_LIMITS, ...o.limits };
    this.#emit = o.onEvent ?? (() => {});
    const previous = new Map([...cached].filter(([role]) => role !== 'root'));
    this.#setOpts = {
      gun: o.gun,
      nowMs: o.nowMs,
      pinning: o.pinning,
      limits: this.#limits,
      previous,
    };
  }

  async #fetch(name: string, maxBytes: number): Promise<Uint8Array> {
    const remote = this.#o.remote as RemoteRepository;
    const bytes = await remote.getMetadata(name, maxBytes, this.#o.signal);
    this.#emit({ type: 'fetched', name, bytes: bytes.length });
    return bytes;
  }

  #notCached(what: string): TrustdeskError {
    return new TrustdeskError(
      'ERR_NOT_FOUND',
      `${this.#o.gun}: no cached ${what}; working offline, there is nothing to verify`,
      { hint: 'Run the command online once (without --offline) so the metadata is cached.' },
    );
  }

  async bootstrap(): Promise<TrustedMetadataSet> {
    const cachedRoot = this.#cached.get('root');
    if (cachedRoot) {
      // Both requests are sent now and awaited in load(): the anchor is verified meanwhile.
      if (this.#online && this.#o.checkExists) {
        this.#exists = this.#fetch('root', this.#limits.root).then(() => undefined);
        this.#exists.catch(() => {}); // awaited by load() or existence()
      }
      if (this.#online) {
        this.#timestamp = this.#fetch('timestamp', this.#limits.timestamp);
        this.#timestamp.catch(() => {}); // awaited by load()
      }
      let set: TrustedMetadataSet;
      try {
        set = TrustedMetadataSet.fromCachedRoot(cachedRoot, this.#setOpts);
      } catch (e) {
        if (!isTrustdeskError(e)) throw e;
        const path = this.#o.cache.pathOf('root');
        throw new TrustdeskError(e.code, `the cached ${path} cannot be trusted: ${e.message}`, {
          cause: e,
          hint: `The cached root is the trust anchor: restore it from a backup, or remove ${path} to trust the server's root again on next contact.`,
        });
      }
      return set;
    }
    if (!this.#online) throw this.#notCached('root.json');
    const bytes = await this.#fetch('root', this.#limits.root);
    const set = TrustedMetadataSet.firstContact(bytes, this.#setOpts);
    this.#firstContact = true;
    this.#emit({
      type: 'verified',
      role: 'root',
      version: set.root.signed.version,
      source: 'remote',
    });
    return set;
  }

  /**
   * Loads `role` into the set from the cached bytes if they match `fm`, else from the server's
   * copy by checksum. The set checks the cached bytes against `fm` itself (length and hashes come
   * first there, and a failure leaves it unchanged), so they are hashed once: a mismatch means
   * "stale cache", anything else is the verdict on those bytes, as for a fetched copy.
   */
  async #loadPinned<V>(
    role: string,
    fm: FileMeta,
    update: (bytes: Uint8Array) => V,
    got: { bytes?: Uint8Array } = {},
  ): Promise<{ v: V; fromCache: boolean }> {
    const cached = this.#cached.get(role);
    if (cached) {
      got.bytes = cached;
      try {
        return { v: update(cached), fromCache: true };
      } catch (e) {
        // Offline, the set names the mismatch.
        if (!this.#online || !isTrustdeskError(e) || !STALE.has(e.code)) throw e;
      }
      got.bytes = undefined;
    } else if (!this.#online) {
      throw this.#notCached(`${role}.json`);
    }
    const sum = fm.hashes.sha256 ? toHex(fm.hashes.sha256) : undefined;
    const bytes = await this.#fetch(consistentName(role, sum), fm.length);
    got.bytes = bytes;
    return { v: update(bytes), fromCache: false };
  }

  #verified(v: Verified<AnySigned>, fromCache: boolean): void {
    this.#emit({
      type: 'verified',
      role: v.role,
      version: v.signed.version,
      source: fromCache ? 'cache' : 'remote',
    });
  }

  /** Throws what the existence check (checkExists) failed with, if it failed. */
  async existence(): Promise<void> {
    await this.#exists;
  }

  /** Steps 1–3. */
  async load(set: TrustedMetadataSet): Promise<Loaded> {
    const out: Loaded = { usedCachedTimestamp: false, skipped: [] };
    const cachedTs = this.#cached.get('timestamp');
    if (this.#online) {
      let bytes: Uint8Array | undefined;
      const sent = this.#timestamp;
      this.#timestamp = undefined; // a retry asks again
      try {
        bytes = await (sent ?? this.#fetch('timestamp', this.#limits.timestamp));
        await this.existence();
      } catch (e) {
        await this.existence(); // a repository that does not exist is the error to report
        if (!unreachable(e) || !cachedTs) throw e;
        this.#emit({
          type: 'warning',
          code: (e as RemoteError).code,
          role: 'timestamp',
          message: `using the cached timestamp, which may not be the latest: ${(e as Error).message}`,
        });
        out.usedCachedTimestamp = true;
      }
      this.#verified(set.updateTimestamp(bytes ?? (cachedTs as Uint8Array)), bytes === undefined);
    } else {
      if (!cachedTs) throw this.#notCached('timestamp.json');
      try {
        this.#verified(set.updateTimestamp(cachedTs), true);
      } catch (e) {
        if (isTrustdeskError(e) && e.code === 'ERR_EXPIRED' && e.message.startsWith('timestamp')) {
          throw new TrustdeskError(
            'ERR_EXPIRED',
            `${e.message}; the cached timestamp is stale — update online to refresh it`,
            { cause: e },
          );
        }
        throw e;
      }
    }
    checkAborted(this.#o.signal);

    const tsMeta = (set.timestamp as NonNullable<typeof set.timestamp>).signed.meta;
    const snap = await this.#loadPinned('snapshot', tsMeta.get('snapshot') as FileMeta, (b) =>
      set.updateSnapshot(b),
    );
    this.#verified(snap.v, snap.fromCache);

    const meta = (set.snapshot as NonNullable<typeof set.snapshot>).signed.meta;
    const queue = ['targets'];
    for (let role = queue.shift(); role !== undefined; role = queue.shift()) {
      checkAborted(this.#o.signal);
      const fm = meta.get(role);
      if (!fm) continue; // Go skips roles the snapshot does not list
      const got: { bytes?: Uint8Array } = {};
      try {
        const r = await this.#loadPinned(
          role,
          fm,
          (b) => (role === 'targets' ? set.updateTargets(b) : set.updateDelegatedTargets(b, role)),
          got,
        );
        this.#verified(r.v, r.fromCache);
      } catch (e) {
        if (role === 'targets' || !isTrustdeskError(e) || !SKIPPABLE.has(e.code)) throw e;
        this.#emit({
          type: 'warning',
          code: e.code,
          role,
          message: `skipping ${role} and its delegations: ${e.message}`,
        });
        out.skipped.push({ role, error: e, raw: got.bytes });
        continue;
      }
      queue.unshift(...set.childRoles(role).map((d) => d.name));
    }
    return out;
  }

  /** Step 4: a new set whose root is the newest the trusted root leads to. */
  async refreshRoot(set: TrustedMetadataSet, cause: unknown): Promise<TrustedMetadataSet> {
    const trusted = set.root;
    const fresh = this.#firstContact
      ? TrustedMetadataSet.firstContact(trusted.raw, this.#setOpts)
      : TrustedMetadataSet.fromCachedRoot(trusted.raw, this.#setOpts);
    const expected =
      cause instanceof RootChangedError ? cause.expected : set.snapshot?.signed.meta.get('root');
    let newest: Uint8Array;
    if (expected) {
      if (matches(trusted.raw, expected)) return fresh;
      const sum = expected.hashes.sha256 ? toHex(expected.hashes.sha256) : undefined;
      newest = await this.#fetch(consistentName('root', sum), expected.length);
      checkFileMeta(newest, expected, 'root');
    } else {
      newest = await this.#fetch('root', this.#limits.root);
    }
    if (bytesEqual(newest, trusted.raw)) return fresh;
    const from = trusted.signed.version;
    try {
      fresh.updateRoot(newest, { allowVersionJump: true });
    } catch (e) {
      // Not signed by the trusted root: maybe several rotations behind — walk the chain.
      if (!isTrustdeskError(e) || e.code !== 'ERR_BAD_ROOT') throw e;
      let to: number;
      try {
        to = parseRoot(newest).signed.version;
      } catch {
        throw e;
      }
      if (to <= from + 1) throw e;
      for (let v = from + 1; v < to; v++) {
        checkAborted(this.#o.signal);
        fresh.updateRoot(await this.#fetch(`${v}.root`, this.#limits.root));
      }
      fresh.updateRoot(newest);
    }
    this.#emit({ type: 'root-updated', from, to: fresh.root.signed.version });
    return fresh;
  }

  /** Writes what changed (root first), then drops delegations the snapshot no longer lists. */
  async commit(set: TrustedMetadataSet, skipped: readonly SkippedRole[]): Promise<void> {
    const cache = this.#o.cache;
    const changed = (v: Verified<AnySigned> | undefined): v is Verified<AnySigned> => {
      if (!v) return false;
      const old = this.#cached.get(v.role);
      return !old || !bytesEqual(old, v.raw);
    };
    const rest: Array<Verified<AnySigned> | undefined> = [
      set.targets,
      ...set.delegatedRoles.map((r) => set.delegated(r)),
      set.snapshot,
      set.timestamp,
    ];
    const others = rest.filter(changed);
    const warn = (e: unknown) =>
      this.#emit({
        type: 'warning',
        code: isTrustdeskError(e) ? e.code : 'ERR_IO',
        message: `could not update the cache: ${(e as Error).message}`,
      });
    try {
      await cache.writeAll(changed(set.root) ? [[set.root], others] : [others]);
    } catch (e) {
      warn(e);
      return;
    }
    const listed = set.snapshot?.signed.meta;
    const keep = new Set(skipped.map((s) => s.role));
    for (const role of this.#cached.keys()) {
      if (!role.startsWith('targets/') || keep.has(role) || listed?.has(role)) continue;
      try {
        await cache.remove(role);
      } catch (e) {
        warn(e);
      }
    }
  }

  expiring(set: TrustedMetadataSet): ExpiryNotice[] {
    const now = this.#o.nowMs;
    return set.expiryReport(sixMonthsFrom(now) - now).map((x) => {
      const v =
        x.role === 'root'
          ? set.root
          : x.role === 'snapshot'
            ? set.snapshot
            : x.role === 'targets'
              ? set.targets
              : set.delegated(x.role);
      return {
        role: x.role,
        expires: v?.signed.expires ?? '',
        expiresMs: x.expiresMs,
        leftMs: x.expiresMs - now,
        expired: x.expired,
      };
    });
  }

  get online(): boolean {
    return this.#online;
  }
}

/** Brings the GUN's trusted metadata up to date (or loads it from the cache when offline). */
export async function updateRepository(opts: UpdateOptions): Promise<RepositoryView> {
  checkGun(opts.gun);
  checkAborted(opts.signal);
  const emit = opts.onEvent ?? (() => {});
  if (!opts.offline && opts.remote) opts.remote.connect(opts.signal);
  const session = new Session(opts, await opts.cache.readAll());
  let set = await session.bootstrap();
  let loaded: Loaded;
  try {
    loaded = await session.load(set);
  } catch (first) {
    await session.existence();
    if (!session.online || (isTrustdeskError(first) && first.code === 'ERR_ABORTED')) throw first;
    checkAborted(opts.signal);
    const f = first as TrustdeskError;
    emit({ type: 'retrying', code: f.code ?? 'ERR_INTERNAL', message: f.message });
    try {
      set = await session.refreshRoot(set, first);
    } catch (e) {
      if (unreachable(e)) throw first;
      throw e;
    }
    loaded = await session.load(set);
  }
  await session.commit(set, loaded.skipped);
  const expiring = session.expiring(set);
  for (const x of expiring) {
    emit({
      type: 'expiry',
      role: x.role,
      expires: x.expires,
      leftMs: x.leftMs,
      expired: x.expired,
    });
  }
  return new RepositoryView(opts.gun, set, opts.nowMs, {
    offline: !session.online,
    usedCachedTimestamp: loaded.usedCachedTimestamp,
    skipped: loaded.skipped,
    expiring,
  });
}
