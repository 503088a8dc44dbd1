// "Current" metadata of a GUN and the in-process cache that makes reading it cost almost nothing.
//
// Resolution (notary-protocol §4.3, quirk 22): current timestamp = highest stored version; current
// snapshot = the one whose sha256 the timestamp lists; current root/targets/delegation = the
// file whose sha256 that snapshot lists (a role the snapshot does not list has no current file).
//
// Cache rules:
//   - one entry per GUN holding its timestamp → snapshot chain, plus the files served for it
//     (current roles, by-checksum and by-version hits; misses are never cached);
//   - an entry is trusted for `revalidateMs` (monotonic clock) — peek() returns it only then, so
//     the synchronous fast path (fast-path.ts) never serves past that; after it the next read asks
//     the store for the GUN's highest timestamp row and keeps the entry only if its sha256 is
//     unchanged. Every write to a GUN — upload, GET-time re-sign, delete — changes or removes
//     that row, so another replica's write is seen within `revalidateMs`, whatever order the
//     database commits changefeed ids in; this replica's own writes call invalidate() at once;
//   - an entry built while an invalidate() happened is served once but not kept (it may hold
//     the state from before that write);
//   - at most `maxEntries` GUNs and `maxBytes` of file bytes (least recently filled GUN dropped
//     first; the newest is always kept), at most MAX_FILES files per GUN.

import { toHex } from '../../src/tuf/encoding.js';
import { parseSnapshot, parseTimestamp } from '../../src/tuf/metadata.js';
import { type MetaStore, type TufFile } from '../storage/types.js';

/** A stored file ready to send: the bytes as a Buffer view and its Last-Modified value. */
export interface Served {
  file: TufFile;
  body: Buffer;
  lastModified: string;
  /** The 200 response's raw header list per cache kind, built once by fast-path.ts. */
  rawHeaders?: { current?: string[]; consistent?: string[] };
}

export interface Chain {
  timestamp?: Served;
  /** The snapshot the timestamp lists; undefined when it is not stored. */
  snapshot?: Served;
  /** role → lowercase hex sha256 listed by the snapshot. */
  snapshotMeta: ReadonlyMap<string, string>;
  /** Earliest expiry of timestamp and snapshot (ms); +Infinity without a timestamp. */
  expiresMs: number;
}

/** Go's time.RFC1123 of a UTC time: "Sat, 21 Nov 2026 22:00:15 UTC". */
export function rfc1123(d: Date): string {
  return d.toUTCString().replace(/GMT$/, 'UTC');
}

export function served(file: TufFile): Served {
  return {
    file,
    body: Buffer.from(file.data.buffer, file.data.byteOffset, file.data.byteLength),
    lastModified: rfc1123(file.createdAt),
  };
}

/** Reads the timestamp → snapshot chain of a GUN from the store (no cache). */
export async function readChain(
  store: MetaStore,
  gun: string,
  timestamp?: TufFile | null,
): Promise<Chain> {
  const ts = timestamp === undefined ? await store.getLatest(gun, 'timestamp') : timestamp;
  if (!ts) return { snapshotMeta: new Map(), expiresMs: Infinity };
  const tsMd = parseTimestamp(ts.data);
  const snapSha = tsMd.signed.meta.get('snapshot')?.hashes.sha256 as Uint8Array;
  const snap = await store.getByChecksum(gun, 'snapshot', toHex(snapSha));
  if (!snap) return { timestamp: served(ts), snapshotMeta: new Map(), expiresMs: Infinity };
  const snapMd = parseSnapshot(snap.data);
  const meta = new Map<string, string>();
  for (const [role, fm] of snapMd.signed.meta)
    if (fm.hashes.sha256) meta.set(role, toHex(fm.hashes.sha256));
  return {
    timestamp: served(ts),
    snapshot: served(snap),
    snapshotMeta: meta,
    expiresMs: Math.min(tsMd.signed.expiresMs, snapMd.signed.expiresMs),
  };
}

/** The current file of a role through the chain (root, targets, delegations). */
export async function readCurrentRole(
  store: MetaStore,
  gun: string,
  chain: Chain,
  role: string,
): Promise<TufFile | undefined> {
  if (role === 'timestamp') return chain.timestamp?.file;
  if (role === 'snapshot') return chain.snapshot?.file;
  const sha = chain.snapshotMeta.get(role);
  return sha === undefined ? undefined : store.getByChecksum(gun, role, sha);
}

const MAX_FILES = 64;

/** A file of an entry: the load in flight, and the file once it is loaded and kept. */
export interface FileSlot {
  readonly pending: Promise<Served | undefined>;
  served?: Served;
}

export interface Entry {
  readonly gun: string;
  readonly chain: Chain;
  /** sha256 of the timestamp row this entry was built from; null when the GUN had none. */
  readonly tsSha: string | null;
  checkedAt: number;
  revalidating?: Promise<Entry>;
  /** Monotonic time of the last failed GET-time re-sign (to not retry on every request). */
  refreshFailedAt?: number;
  readonly files: Map<string, FileSlot>;
  /** Bytes held: timestamp + snapshot + resolved files. */
  bytes: number;
}

/** A file of the entry that CurrentCache.file() already loaded and kept, without waiting. */
export function loadedFile(e: Entry, key: string): Served | undefined {
  return e.files.get(key)?.served;
}

export interface CacheOptions {
  revalidateMs: number;
  maxEntries: number;
  /** Budget for the bytes held by all entries (the most recently used entry is always kept). */
  maxBytes: number;
  /** Monotonic milliseconds (performance.now by default). */
  monotonic: () => number;
}

export class CurrentCache {
  readonly #entries = new Map<string, Entry>();
  readonly #building = new Map<string, Promise<Entry>>();
  #invalidations = 0;
  #bytes = 0;

  constructor(
    private readonly store: MetaStore,
    private readonly opts: CacheOptions,
  ) {}

  /** Bytes currently held (for tests and diagnostics). */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The GUN's entry if it is within revalidateMs of its last check (no I/O, no promise). */
  peek(gun: string): Entry | undefined {
    const e = this.#entries.get(gun);
    return e && this.opts.monotonic() - e.checkedAt < this.opts.revalidateMs ? e : undefined;
  }

  /** The GUN's entry, revalidated against the store when older than revalidateMs. */
  get(gun: string): Promise<Entry> {
    const e = this.#entries.get(gun);
    if (e) {
      if (this.opts.monotonic() - e.checkedAt < this.opts.revalidateMs) return Promise.resolve(e);
      return (e.revalidating ??= this.#revalidate(e));
    }
    let p = this.#building.get(gun);
    if (!p) {
      p = this.#build(gun, undefined, this.opts.monotonic()).finally(() =>
        this.#building.delete(gun),
      );
      this.#building.set(gun, p);
    }
    return p;
  }

  /** Drops the GUN's entry (after a write by this process). */
  invalidate(gun: string): void {
    this.#invalidations++;
    this.#remove(gun);
    this.#building.delete(gun);
  }

  /** A file of the entry: current role, or by checksum / version; cached only when found. */
  file(
    e: Entry,
    key: string,
    load: () => Promise<TufFile | undefined>,
  ): Promise<Served | undefined> {
    const held = e.files.get(key);
    if (held) return held.pending;
    if (e.files.size >= MAX_FILES) this.#clearFiles(e);
    const slot: FileSlot = {
      pending: load().then(
        (f) => {
          if (!f) {
            e.files.delete(key);
            return undefined;
          }
          const s = served(f);
          if (e.files.get(key) === slot && this.#entries.get(e.gun) === e) {
            slot.served = s;
            e.bytes += s.body.length;
            this.#bytes += s.body.length;
            this.#evict();
          }
          return s;
        },
        (err: unknown) => {
          e.files.delete(key);
          throw err;
        },
      ),
    };
    e.files.set(key, slot);
    return slot.pending;
  }

  #chainBytes(c: Chain): number {
    return (c.timestamp?.body.length ?? 0) + (c.snapshot?.body.length ?? 0);
  }

  #clearFiles(e: Entry): void {
    const held = e.bytes - this.#chainBytes(e.chain);
    e.files.clear();
    if (this.#entries.get(e.gun) === e) this.#bytes -= held;
    e.bytes -= held;
  }

  #remove(gun: string): void {
    const e = this.#entries.get(gun);
    if (!e) return;
    this.#entries.delete(gun);
    this.#bytes -= e.bytes;
  }

  /** Drops least recently filled entries until within budget (keeps at least one). */
  #evict(): void {
    while (
      this.#entries.size > 1 &&
      (this.#entries.size > this.opts.maxEntries || this.#bytes > this.opts.maxBytes)
    ) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) return;
      this.#remove(oldest.value);
    }
  }

  async #revalidate(e: Entry): Promise<Entry> {
    try {
      const started = this.opts.monotonic();
      const ts = await this.store.getLatest(e.gun, 'timestamp');
      if ((ts?.sha256 ?? null) === e.tsSha) {
        e.checkedAt = started;
        return e;
      }
      return await this.#build(e.gun, ts ?? null, started);
    } finally {
      e.revalidating = undefined;
    }
  }

  /** `checkedAt`: a monotonic time no later than the read of the timestamp row. */
  async #build(gun: string, ts: TufFile | null | undefined, checkedAt: number): Promise<Entry> {
    const generation = this.#invalidations;
    const chain = await readChain(this.store, gun, ts);
    const entry: Entry = {
      gun,
      chain,
      tsSha: chain.timestamp?.file.sha256 ?? null,
      checkedAt,
      files: new Map(),
      bytes: this.#chainBytes(chain),
    };
    if (generation === this.#invalidations) {
      this.#remove(gun);
      this.#entries.set(gun, entry);
      this.#bytes += entry.bytes;
      this.#evict();
    }
    return entry;
  }
}
