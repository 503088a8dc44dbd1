// `delete <gun> [--remote]` (Go client/client.go DeleteTrustData): removes the GUN's local trust
// data (cached metadata and staged changes; private keys are kept, as in Go) and, with
// --remote, every version of every role on the server.
//
// Unlike Go, the server is asked first: if that fails (or is not confirmed), the local copy is
// still there. --remote needs an explicit confirmation (Prompter, dangerous).

import { rm } from 'node:fs/promises';
import { TrustdeskError } from '../../tuf/errors.js';
import { gunDir } from '../trust-dir/metadata-cache.js';
import { throwIfAborted, type RepoContext } from './context.js';

export interface DeleteResult {
  gun: string;
  local: true;
  remote: boolean;
}

export async function deleteRepository(
  ctx: RepoContext,
  opts: { remote?: boolean; signal?: AbortSignal },
): Promise<DeleteResult> {
  const { signal } = opts;
  if (opts.remote) {
    const remote = ctx.remote('admin', `delete ${ctx.gun} --remote`);
    const keyring = await ctx.keyring();
    const ok = await keyring.prompter.confirm({
      message: `Delete ALL trust data of ${ctx.gun} on ${remote.serverUrl}? Clients can no longer verify it and this cannot be undone.`,
      dangerous: true,
      ...(signal ? { signal } : {}),
    });
    if (!ok) throw new TrustdeskError('ERR_ABORTED', 'deletion cancelled; nothing was deleted');
    throwIfAborted(signal, 'delete');
    ctx.step('delete-remote', `deleting ${ctx.gun} on the server`);
    await remote.deleteAll(signal);
  }
  throwIfAborted(signal, 'delete');
  const dir = gunDir(ctx.trustDir, ctx.gun);
  ctx.step('delete-local', `deleting the local trust data in ${dir}`);
  // Only our two subdirectories: a GUN that is a prefix of others (a and a/b) shares the dir.
  try {
    await rm(ctx.cache.dir, { recursive: true, force: true });
    await rm(ctx.changelist.dir, { recursive: true, force: true });
  } catch (e) {
    throw new TrustdeskError('ERR_IO', `cannot remove ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return { gun: ctx.gun, local: true, remote: opts.remote === true };
}
