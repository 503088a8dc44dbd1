// `trustdesk key rotate <gun> <role> [-r/--server-managed] [-k key.pem]… [-y]`: replaces a base
// role's keys and publishes at once (root: new key and certificate, cross-signed by the old and
// new root keys, after a confirmation — type "yes" at a terminal; in scripts --yes, or "yes" or
// the GUN on stdin).

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { cliPath, flag, gunArg, list, withSession } from './client-context.js';
import { publishJson, publishSummary } from './client-output.js';

export async function runRotate(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const role = args.positionals[1] as string;
  const keyFiles = (list(args, 'key') ?? []).map((f) => cliPath(ctx, f));
  return withSession(ctx, args, { online: true, gun }, async (s) => {
    const r = await s.repository(gun).rotateKey(role, {
      serverManaged: flag(args, 'server-managed'),
      keyFiles,
    });
    return {
      json: {
        gun,
        role: r.role,
        newKeyIds: r.newKeyIds,
        removedKeyIds: r.removedKeyIds,
        ...publishJson(r),
        warnings: s.events.warnings,
      },
      text: () =>
        `${publishSummary(r)}\n` +
        (r.removedKeyIds.length
          ? `Deleted the old local ${role} key ${r.removedKeyIds.join(', ')}\n`
          : '') +
        `Successfully rotated ${r.role} key for repository ${gun}\n`,
    };
  });
}
