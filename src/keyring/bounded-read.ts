// Reading a local file that must be a regular file of bounded size (key files, cached metadata).
//
// Synchronous on purpose: these files are small and local, and the commands read several of
// them on every run — one open/fstat/read/close in the calling thread beats four thread-pool
// round trips each. The checks are made on the open descriptor (no lstat-then-open race), the
// open never waits (O_NONBLOCK: a planted FIFO without a writer is refused, not waited on), and
// nothing larger than the limit is read into memory. errno failures (ENOENT…) are thrown as fs
// throws them; the caller names the other outcomes in its own error codes.

import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';

export type BoundedRead =
  { kind: 'ok'; bytes: Uint8Array } | { kind: 'not-regular' } | { kind: 'too-large'; size: number };

/** `noFollow`: a symlink at `path` itself counts as not a regular file (O_NOFOLLOW). */
export function readBoundedFileSync(
  path: string,
  maxBytes: number,
  opts: { noFollow?: boolean } = {},
): BoundedRead {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK | (opts.noFollow ? fsc.O_NOFOLLOW : 0));
  } catch (e) {
    if (opts.noFollow && (e as NodeJS.ErrnoException).code === 'ELOOP')
      return { kind: 'not-regular' };
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: 'not-regular' };
    if (st.size > maxBytes) return { kind: 'too-large', size: st.size };
    // One byte more than fstat said, so a file growing past the limit meanwhile is caught.
    const buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    if (n > maxBytes) return { kind: 'too-large', size: n };
    return { kind: 'ok', bytes: new Uint8Array(buf.buffer, buf.byteOffset, n) };
  } finally {
    closeSync(fd);
  }
}
