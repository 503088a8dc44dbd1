// `trustdesk witness <gun> <role>… [-p]`: stages a re-sign of each targets role at the next
// publish (new version and expiry, even without changes; revives an invalid delegation).

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { gunArg, withSession } from './client-context.js';
import { stagedJson } from './client-output.js';
import { maybePublish } from './publish.js';

export async function runWitness(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const roles = args.positionals.slice(1);
  return withSession(ctx, args, { online: false, gun }, async (s) => {
    const staged = await s.repository(gun).witness(roles);
    const pub = await maybePublish(s, args, gun);
    return {
      json: { gun, staged: stagedJson(staged), ...pub.json, warnings: s.events.warnings },
      text: () =>
        `The following roles were successfully marked for witnessing on the next publish:\n\t- ${[...new Set(roles)].join('\n\t- ')}\n${pub.text}`,
    };
  });
}
