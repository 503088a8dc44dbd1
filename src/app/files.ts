// Reading files named on the command line, with errors users can act on.

import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TrustdeskError } from '../tuf/errors.js';
import type { Io } from './context.js';

/** Go Notary's largest download cap (root, unknown sizes): nothing legitimate is bigger. */
export const MAX_INPUT_BYTES = 100 * 1024 * 1024;

export async function readInputFile(io: Io, path: string): Promise<Uint8Array> {
  const full = resolve(io.cwd, path);
  try {
    const st = await stat(full);
    if (st.isDirectory()) throw new TrustdeskError('ERR_IO', `${path} is a directory`);
    if (st.size > MAX_INPUT_BYTES) {
      throw new TrustdeskError(
        'ERR_TOO_LARGE',
        `${path} is ${st.size} bytes (limit ${MAX_INPUT_BYTES})`,
      );
    }
    return new Uint8Array(await readFile(full));
  } catch (e) {
    if (e instanceof TrustdeskError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new TrustdeskError('ERR_NOT_FOUND', `${path}: no such file`, { cause: e });
    throw new TrustdeskError('ERR_IO', `${path}: ${(e as Error).message}`, { cause: e });
  }
}
