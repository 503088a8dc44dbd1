// The on-disk changelist of one GUN, laid out as Go Notary lays it out (notary-protocol §7.2,
// §7.9; Go client/changelist/file_changelist.go):
//   <trust_dir>/tuf/<gun>/changelist/<20-digit unix nanoseconds>_<uuid v4>.change
// one change per file, applied in file-name order.
//
// Rules enforced here:
//   - a new change is written to a temp file OUTSIDE the changelist directory (in the GUN's
//     directory, `.changelist-<random>.tmp`), fsynced, renamed into place, and the directory is
//     fsynced: a crash leaves either no change or the complete one, and Go — which reads every
//     file in the directory — never sees a half-written or temp file;
//   - names sort in staging order: the timestamp is never lower than (last name in the
//     directory) + 1 ns, so a clock that steps back cannot reorder changes;
//   - every regular file in the directory is an entry (as for Go); one that does not parse is
//     listed with its problem instead of being skipped, so indices (`reset -n`) match `status`
//     and publish can refuse rather than silently drop it;
//   - removal is by file name (publish removes exactly the entries it applied, after the
//     server's 200; a change staged meanwhile survives): the files are renamed out of the
//     directory into a fresh trash directory beside it (`.changelist-trash-<random>`, which Go
//     never reads), the changelist directory is fsynced — the removal is then durable — and the
//     trash is deleted in the background. Unlinking a change file frees its fsynced blocks, which
//     costs the filesystem ~40–100 µs per file; a rename ~8 µs, so a 1000-change publish returns
//     ~30 ms sooner; trash a crash left behind is deleted, once stale, by the next such removal.
//     A few entries (a publish of one change) are simply unlinked, then the directory fsynced;
//   - directories are 0700, files 0600;
//   - change files are tiny, so reading them is done with synchronous calls: on a loaded machine
//     a thread-pool round trip per file made a 1000-change publish spend most of its time
//     waiting (about 100 ms instead of 8 ms to read them).

import { randomBytes, randomUUID } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { fsyncDir } from '../../keyring/atomic-file.js';
import { dirname, join } from 'node:path';
import { TrustdeskError } from '../../tuf/errors.js';
import { decodeChange, encodeChange, type Change } from './change.js';

/** Go's file-name pattern; other names are still entries (Go reads them), flagged as problems. */
export const CHANGE_FILE =
  /^(\d{20})_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.change$/;
/** Change files are tiny; a larger file is not one. */
const MAX_CHANGE_BYTES = 16 * 1024 * 1024;
const TEMP_PREFIX = '.changelist-';
const TRASH_PREFIX = '.changelist-trash-';
/** Up to this many entries are unlinked in place; more go through a trash directory. */
const UNLINK_MAX = 8;
/** Temp files older than this are leftovers of a crash (a live writer renames within ms). */
const STALE_TEMP_MS = 60 * 60 * 1000;

export interface ChangeEntry {
  /** Position in file-name order (what `status` shows and `reset -n` takes). */
  index: number;
  file: string;
  change?: Change;
  problem?: TrustdeskError;
}

export interface ChangelistHooks {
  /** After the temp file is written and fsynced, before the rename (crash tests). */
  beforeCommit?(tempPath: string): Promise<void>;
  /** After the rename, before the directory fsync (crash tests). */
  afterCommit?(path: string): Promise<void>;
}

export interface FileChangelistOptions {
  /** Wall clock in nanoseconds since the epoch (injected for tests). */
  nowNs?: () => bigint;
  hooks?: ChangelistHooks;
}

function defaultNowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

function ioError(what: string, e: unknown): TrustdeskError {
  return new TrustdeskError('ERR_IO', `${what}: ${(e as Error).message}`, { cause: e });
}

export class FileChangelist {
  /** `<trust_dir>/tuf/<gun>/changelist` */
  readonly dir: string;
  readonly #nowNs: () => bigint;
  readonly #hooks: ChangelistHooks;
  /** Trash directories being deleted in the background. */
  readonly #tidying = new Set<Promise<void>>();

  constructor(dir: string, opts: FileChangelistOptions = {}) {
    this.dir = dir;
    this.#nowNs = opts.nowNs ?? defaultNowNs;
    this.#hooks = opts.hooks ?? {};
  }

  async #names(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw ioError(this.dir, e);
    }
    // Go skips directories only; byte order of the (ASCII) names is Go's sort order.
    return entries
      .filter((e) => !e.isDirectory())
      .map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Every entry in application order; unreadable ones carry `problem`. */
  async list(): Promise<ChangeEntry[]> {
    const names = await this.#names();
    const out: ChangeEntry[] = [];
    for (const [index, file] of names.entries()) {
      const path = join(this.dir, file);
      try {
        const st = lstatSync(path);
        if (!st.isFile()) throw new TrustdeskError('ERR_IO', `${path}: not a regular file`);
        if (st.size > MAX_CHANGE_BYTES)
          throw new TrustdeskError('ERR_TOO_LARGE', `${path}: ${st.size} bytes is not a change`);
        const bytes = new Uint8Array(readFileSync(path));
        out.push({ index, file, change: decodeChange(bytes, path) });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
        const problem = e instanceof TrustdeskError ? e : ioError(path, e);
        out.push({ index, file, problem });
      }
    }
    return out;
  }

  /** Stages the changes in order, each atomically; returns their file names. */
  async add(changes: readonly Change[]): Promise<string[]> {
    const parent = dirname(this.dir);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw ioError(`cannot create ${this.dir}`, e);
    }
    const startNs = this.#nowNs();
    await this.#removeStaleTemps(parent, startNs);
    let last = 0n;
    for (const name of await this.#names()) {
      const m = /^(\d{20})_/.exec(name);
      if (m && BigInt(m[1] as string) > last) last = BigInt(m[1] as string);
    }
    const written: string[] = [];
    for (const [i, change] of changes.entries()) {
      let ns = i === 0 ? startNs : this.#nowNs();
      if (ns <= last) ns = last + 1n;
      last = ns;
      const name = `${ns.toString().padStart(20, '0')}_${randomUUID()}.change`;
      await this.#write(parent, name, encodeChange(change));
      written.push(name);
    }
    return written;
  }

  async #write(parent: string, name: string, bytes: Uint8Array): Promise<void> {
    const temp = join(parent, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}.tmp`);
    const target = join(this.dir, name);
    let committed = false;
    try {
      const fh = await open(temp, 'wx', 0o600);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.#hooks.beforeCommit?.(temp);
      await rename(temp, target);
      committed = true;
      await this.#hooks.afterCommit?.(target);
      await fsyncDir(this.dir);
    } catch (e) {
      if (!committed) await rm(temp, { force: true });
      if (e instanceof TrustdeskError) throw e;
      throw ioError(`cannot stage a change in ${this.dir}`, e);
    }
  }

  async #removeStaleTemps(parent: string, nowNs: bigint): Promise<void> {
    let names: string[];
    try {
      names = await readdir(parent);
    } catch {
      return;
    }
    const now = Number(nowNs / 1_000_000n);
    for (const n of names) {
      if (!n.startsWith(TEMP_PREFIX) || !n.endsWith('.tmp')) continue;
      const p = join(parent, n);
      try {
        if (now - (await stat(p)).mtimeMs > STALE_TEMP_MS) await unlink(p);
      } catch {
        // gone or not ours to remove: harmless
      }
    }
  }

  /** Removes the named entries (missing ones are fine); durable when it returns. */
  async remove(files: readonly string[]): Promise<void> {
    if (files.length === 0) return;
    for (const f of files) {
      if (f.includes('/') || f === '.' || f === '..')
        throw new TrustdeskError('ERR_INTERNAL', `${JSON.stringify(f)} is not a change file name`);
    }
    if (files.length <= UNLINK_MAX) {
      for (const f of files) {
        try {
          unlinkSync(join(this.dir, f));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
            throw ioError(`cannot remove ${f}`, e);
        }
      }
      try {
        await fsyncDir(this.dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(this.dir, e);
      }
      return;
    }
    const parent = dirname(this.dir);
    const nowMs = Number(this.#nowNs() / 1_000_000n);
    await this.#removeStaleTrash(parent, nowMs);
    const trash = join(parent, `${TRASH_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      mkdirSync(trash, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // no GUN directory: nothing staged
      throw ioError(`cannot remove staged changes from ${this.dir}`, e);
    }
    let failure: TrustdeskError | undefined;
    for (const f of files) {
      try {
        renameSync(join(this.dir, f), join(trash, f));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        failure = ioError(`cannot remove ${f}`, e);
        break;
      }
    }
    try {
      await fsyncDir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') failure ??= ioError(this.dir, e);
    }
    // The renamed files are no entries any more; deleting them is only tidying up.
    this.#tidy(trash);
    if (failure) throw failure;
  }

  #tidy(path: string): void {
    const done: Promise<void> = rm(path, { recursive: true, force: true }).then(
      () => undefined,
      () => undefined,
    );
    this.#tidying.add(done);
    void done.then(() => this.#tidying.delete(done));
  }

  /** Resolves once the trash this changelist is deleting in the background is gone. */
  async tidied(): Promise<void> {
    await Promise.all(this.#tidying);
  }

  /** Deletes (in the background) trash directories a crash left behind. */
  async #removeStaleTrash(parent: string, nowMs: number): Promise<void> {
    let names: string[];
    try {
      names = await readdir(parent);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.startsWith(TRASH_PREFIX)) continue;
      const p = join(parent, n);
      try {
        // A live remover fills its trash within milliseconds; an old one is a crash's leftover.
        if (nowMs - (await stat(p)).mtimeMs > STALE_TEMP_MS) this.#tidy(p);
      } catch {
        // gone meanwhile
      }
    }
  }

  /** Removes the entries at these `status` positions; unknown positions are an error. */
  async removeIndices(indices: readonly number[]): Promise<string[]> {
    const names = await this.#names();
    const bad = indices.filter((i) => !Number.isInteger(i) || i < 0 || i >= names.length);
    if (bad.length > 0) {
      throw new TrustdeskError(
        'ERR_USAGE',
        `no staged change with number ${bad.join(', ')} (there ${names.length === 1 ? 'is 1 change' : `are ${names.length} changes`})`,
        { hint: 'Run `trustdesk status <gun>` to see the numbers of the staged changes.' },
      );
    }
    const files = [...new Set(indices)].map((i) => names[i] as string);
    await this.remove(files);
    return files;
  }

  /** Removes every entry. */
  async clear(): Promise<string[]> {
    const names = await this.#names();
    await this.remove(names);
    return names;
  }
}
