// `trustdesk status [<gun>] [--gun <gun>]`: the staged, unpublished changes (offline). Without a
// GUN: every repository of the trust dir that has staged changes. Go's table; unreadable change
// files are listed with their problem (drop them with `reset -n`).

import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { ChangeEntry } from '../../client/changelist/file-changelist.js';
import { checkGun, gunProblem } from '../../client/trust-dir/gun.js';
import { TrustdeskError } from '../../tuf/errors.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { opt, withSession } from './client-context.js';
import { goTable, statusJson } from './client-output.js';

/** GUNs under <trust_dir>/tuf that have a changelist directory. */
async function gunsWithChangelists(trustDir: string): Promise<string[]> {
  const root = join(trustDir, 'tuf');
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new TrustdeskError('ERR_IO', `${root}: ${(e as Error).message}`, { cause: e });
  }
  const guns = entries
    .filter((e) => e.isDirectory() && e.name === 'changelist')
    .map((e) => relative(root, e.parentPath).split(sep).join('/'))
    .filter((g) => g !== '' && gunProblem(g) === undefined);
  return [...new Set(guns)].sort();
}

function statusText(gun: string, entries: readonly ChangeEntry[]): string {
  if (entries.length === 0) return `No unpublished changes for ${gun}\n`;
  return (
    `Unpublished changes for ${gun}:\n\n` +
    goTable(
      ['#', 'ACTION', 'SCOPE', 'TYPE', 'PATH'],
      entries.map((e) =>
        e.change
          ? [String(e.index), e.change.action, e.change.scope, e.change.type, e.change.path]
          : [String(e.index), '?', '?', '?', `${e.file}: unreadable [${e.problem?.code ?? ''}]`],
      ),
    )
  );
}

export async function runStatus(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const given = args.positionals[0] ?? opt(args, 'gun');
  if (args.positionals[0] !== undefined && opt(args, 'gun') !== undefined)
    throw new TrustdeskError('ERR_USAGE', 'give the GUN once: as an argument or with --gun');
  return withSession(ctx, args, { online: false }, async (s) => {
    const guns =
      given !== undefined ? [checkGun(given)] : await gunsWithChangelists(s.config.trustDir);
    const all: Array<{ gun: string; entries: ChangeEntry[] }> = [];
    for (const gun of guns) all.push({ gun, entries: await s.repository(gun).status() });
    const shown = given !== undefined ? all : all.filter((g) => g.entries.length > 0);
    if (given !== undefined) {
      const one = shown[0] as { gun: string; entries: ChangeEntry[] };
      return {
        json: { gun: one.gun, changes: statusJson(one.entries) },
        text: () => statusText(one.gun, one.entries),
      };
    }
    return {
      json: { repositories: shown.map((g) => ({ gun: g.gun, changes: statusJson(g.entries) })) },
      text: () =>
        shown.length === 0
          ? 'No unpublished changes in this trust directory\n'
          : shown.map((g) => statusText(g.gun, g.entries)).join('\n'),
    };
  });
}
