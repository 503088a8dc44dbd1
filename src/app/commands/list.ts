// `trustdesk list <gun> [--roles r,…]`: the targets of the repository, verified (online: updated
// from the server; --offline: from the cache). Go's table on stdout; expiry warnings on stderr.

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { gunArg, list, withSession } from './client-context.js';
import { goTable, targetJson } from './client-output.js';
import { rolesJson, rolesTable } from './lookup.js';

export async function runList(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  return withSession(ctx, args, { online: true, gun }, async (s) => {
    const { view, targets } = await s.repository(gun).list({ roles: list(args, 'roles') ?? [] });
    return {
      json: {
        gun,
        targets: targets.map(targetJson),
        roles: rolesJson(view),
        offline: view.info.offline,
        warnings: s.events.warnings,
      },
      text: () => {
        const body =
          targets.length === 0
            ? '\nNo targets present in this repository.\n\n'
            : goTable(
                ['NAME', 'DIGEST', 'SIZE (BYTES)', 'ROLE'],
                targets.map((t) => [t.name, t.hashes.sha256 ?? '', String(t.length), t.role]),
              );
        return ctx.verbose ? `${body}\n${rolesTable(view)}` : body;
      },
    };
  });
}
