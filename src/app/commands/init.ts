// `trustdesk init <gun> [--rootkey file] [--rootcert file] [--server-managed-snapshot] [-p]`:
// creates the repository's keys and its first root, targets and snapshot in the trust dir
// (online: the server supplies the timestamp key). Nothing is uploaded without -p.

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { cliPath, flag, gunArg, opt, withSession } from './client-context.js';
import { goTable } from './client-output.js';
import { maybePublish } from './publish.js';

export async function runInit(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const rootKey = opt(args, 'rootkey');
  const rootCert = opt(args, 'rootcert');
  return withSession(ctx, args, { online: true, gun }, async (s) => {
    const r = await s.repository(gun).init({
      ...(rootKey !== undefined ? { rootKeyFile: cliPath(ctx, rootKey) } : {}),
      ...(rootCert !== undefined ? { rootCertFile: cliPath(ctx, rootCert) } : {}),
      serverManagedSnapshot: flag(args, 'server-managed-snapshot'),
    });
    const pub = await maybePublish(s, args, gun);
    return {
      json: {
        gun,
        rootKeyId: r.rootKeyId,
        keys: r.keys,
        serverManagedSnapshot: r.serverManagedSnapshot,
        versions: r.versions,
        ...pub.json,
        warnings: s.events.warnings,
      },
      text: () =>
        `Initialized repository ${gun} (root key ${r.rootKeyId})\n\n` +
        goTable(
          ['ROLE', 'KEY ID', 'HELD BY'],
          (['root', 'targets', 'snapshot', 'timestamp'] as const).map((role) => [
            role,
            r.keys[role],
            role === 'timestamp' || (role === 'snapshot' && r.serverManagedSnapshot)
              ? 'server'
              : 'this trust dir',
          ]),
        ) +
        (pub.text ? `\n${pub.text}` : `\nRun \`trustdesk publish ${gun}\` to upload it.\n`),
    };
  });
}
