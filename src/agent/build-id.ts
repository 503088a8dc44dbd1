// The build id both sides of the agent protocol compare: the first 64 bits (16 lowercase hex
// digits) of SHA-256 of the bundled CLI file. An agent left running across an upgrade has the
// old id, so callers of the new build fall back to node instead of running old code.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export async function buildIdOf(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex')
    .slice(0, 16);
}
