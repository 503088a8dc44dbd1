// Crash-safe file writes (key files; the client's metadata cache writes several at once with
// client/trust-dir/atomic-batch.ts, built from the pieces here; the changelist reuses fsyncDir
// for its out-of-directory temp files): the new bytes go to a temp file in the same directory
// (created 0600, exclusive), which is fsynced, then moved into place (rename to replace, link
// to create without clobbering), then the directory is fsynced so the rename itself is durable.
// At any crash point the target is either the old file or the complete new one; a leftover temp
// file (".<name>.<random>.tmp") is never read as a key and is removed by the next write.

import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TrustdeskError } from '../tuf/errors.js';

export interface AtomicWriteHooks {
  /** Runs after the temp file is complete and fsynced, before it is moved into place (tests). */
  beforeCommit?(tempPath: string): Promise<void>;
}

export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/** Creates `dir` (and parents) with mode 0700, and tightens an existing one that is looser. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  // Usually the directory is there: one stat, and mkdir only when it is missing.
  let st = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!st) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    st = await stat(dir);
  }
  if (!st.isDirectory()) {
    throw new TrustdeskError('ERR_IO', `${dir} is not a directory`, {
      hint: 'Move that file out of the way, then retry.',
    });
  }
  if ((st.mode & 0o077) !== 0 && process.getuid?.() === st.uid) await chmod(dir, 0o700);
}

/** fsync a directory so renames/unlinks inside it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Removes leftover temp files of the given file names in `dir` (a missing dir has none). */
export async function removeStaleTemps(dir: string, names: Iterable<string>): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  const prefixes = [...names].map((n) => `.${n}.`);
  await Promise.all(
    entries
      .filter((e) => isTempName(e) && prefixes.some((p) => e.startsWith(p)))
      .map((e) => unlink(join(dir, e)).catch(() => {})),
  );
}

/** A fresh temp path beside `path` (".<name>.<random>.tmp"). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Creates `temp` (0600, exclusive) holding `data`, fsynced. */
export async function writeDurableTemp(temp: string, data: Uint8Array): Promise<void> {
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `data` to `path` atomically. `mode: 'replace'` overwrites, `'create'` fails with
 * ERR_KEY_EXISTS if `path` exists.
 */
export async function atomicWrite(
  path: string,
  data: Uint8Array,
  mode: 'replace' | 'create',
  hooks: AtomicWriteHooks = {},
): Promise<void> {
  const dir = dirname(path);
  await removeStaleTemps(dir, [basename(path)]);
  const temp = tempPathFor(path);
  try {
    await writeDurableTemp(temp, data);
    await hooks.beforeCommit?.(temp);
    if (mode === 'replace') {
      await rename(temp, path);
    } else {
      try {
        await link(temp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new TrustdeskError('ERR_KEY_EXISTS', `${path} already exists`, { cause: e });
        }
        throw e;
      }
      await unlink(temp);
    }
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  }
  await fsyncDir(dir);
}
