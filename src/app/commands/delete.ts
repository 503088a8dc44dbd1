// `trustdesk delete <gun> [--remote] [-y]`: removes the local trust data of the GUN (cache and
// staged changes; private keys stay) and, with --remote, everything the server holds for it
// (asks first; --yes or "yes"/the GUN on stdin in scripts).

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { flag, gunArg, withSession } from './client-context.js';

export async function runDelete(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const remote = flag(args, 'remote');
  return withSession(ctx, args, { online: remote, gun }, async (s) => {
    const r = await s.repository(gun).delete({ remote });
    return {
      json: { gun, local: r.local, remote: r.remote },
      text: () =>
        `Deleting trust data for repository ${gun}\nSuccessfully deleted local${remote ? ' and remote' : ''} trust data for repository ${gun}\n`,
    };
  });
}
