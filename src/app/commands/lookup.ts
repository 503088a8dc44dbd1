// `trustdesk lookup <gun> <name>`: one target as the trusted metadata records it, printed as Go
// prints it (`<name> sha256:<hex> <size>`).

import type { RepositoryView } from '../../client/update/repository-view.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { formatRelative } from '../time.js';
import { gunArg, withSession } from './client-context.js';
import { goTable, targetJson } from './client-output.js';

export function rolesJson(view: RepositoryView): Record<string, unknown>[] {
  return view.roles().map((r) => ({
    role: r.role,
    version: r.version,
    expires: r.expires,
    expired: r.leftMs < 0,
  }));
}

/** Versions and expiry of every verified role (-v). */
export function rolesTable(view: RepositoryView): string {
  return goTable(
    ['ROLE', 'VERSION', 'EXPIRES'],
    view
      .roles()
      .map((r) => [r.role, String(r.version), `${r.expires} (${formatRelative(r.leftMs)})`]),
  );
}

export async function runLookup(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const name = args.positionals[1] as string;
  return withSession(ctx, args, { online: true, gun }, async (s) => {
    const { target } = await s.repository(gun).lookup(name);
    return {
      json: { gun, target: targetJson(target), warnings: s.events.warnings },
      text: () => `${target.name} sha256:${target.hashes.sha256 ?? ''} ${target.length}\n`,
    };
  });
}
