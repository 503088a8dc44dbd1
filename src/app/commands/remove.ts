// `trustdesk remove <gun> <name> [--roles r,…] [-p]`: stages the removal of a target (offline).

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { gunArg, list, withSession } from './client-context.js';
import { stagedJson } from './client-output.js';
import { maybePublish } from './publish.js';

export async function runRemove(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const name = args.positionals[1] as string;
  return withSession(ctx, args, { online: false, gun }, async (s) => {
    const staged = await s.repository(gun).removeTarget(name, list(args, 'roles'));
    const pub = await maybePublish(s, args, gun);
    return {
      json: { gun, staged: stagedJson(staged), ...pub.json, warnings: s.events.warnings },
      text: () => `Removal of ${name} from ${gun} staged for next publish.\n${pub.text}`,
    };
  });
}
