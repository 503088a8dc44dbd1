// Crash-safe file replacement: a reader sees the old bytes or the new bytes, never a mix.
//   1. write to a fresh temp file in the same directory (created exclusively: an existing file
//      or a symlink planted at that name is never followed), mode `fileMode`;
//   2. fsync it, close it;
//   3. rename over the target (atomic on POSIX within one file system);
//   4. fsync the directory so the rename itself survives a crash.
// On any failure the temp file is removed and the target is untouched.

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` and its missing parents with mode 0700. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function atomicWriteFile(
  path: string,
  bytes: Uint8Array,
  fileMode: number = PRIVATE_FILE_MODE,
): Promise<void> {
  const dir = dirname(path);
  await ensurePrivateDir(dir);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const fh = await open(tmp, 'wx', fileMode);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    renamed = true;
    await fsyncDir(dir);
  } finally {
    if (!renamed) await rm(tmp, { force: true });
  }
}
