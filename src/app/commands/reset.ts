// `trustdesk reset <gun> (-n <number>[,…] | --all)`: drops staged changes (offline), by the
// numbers `status` shows, or all of them.

import { TrustdeskError } from '../../tuf/errors.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { flag, gunArg, list, withSession } from './client-context.js';

export async function runReset(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const all = flag(args, 'all');
  const numbers = list(args, 'number');
  if (all === (numbers !== undefined)) {
    throw new TrustdeskError(
      'ERR_USAGE',
      'give the changes to reset with -n <number> or --all (one of them)',
      {
        hint: `Run \`trustdesk status ${gun}\` to see the numbers.`,
      },
    );
  }
  const indices = (numbers ?? []).map((n) => {
    if (!/^\d+$/.test(n))
      throw new TrustdeskError('ERR_USAGE', `-n ${JSON.stringify(n)} is not a change number`);
    return Number(n);
  });
  return withSession(ctx, args, { online: false, gun }, async (s) => {
    const removed = await s.repository(gun).reset(all ? { all: true } : { indices });
    return {
      json: { gun, removed },
      text: () => `Successfully reset specified changes for repository ${gun}\n`,
    };
  });
}
