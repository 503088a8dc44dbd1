// `trustdesk key <subcommand>`: dispatch to the subcommand modules (each loads what it needs).

import { TrustdeskError } from '../../tuf/errors.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { KEY_SUBCOMMANDS } from './key-spec.js';

export async function runKey(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const sub = args.positionals[0] ?? '';
  switch (sub) {
    case 'list':
      return (await import('./key-list.js')).runKeyList(ctx, args);
    case 'generate':
      return (await import('./key-generate.js')).runKeyGenerate(ctx, args);
    case 'import':
      return (await import('./key-import.js')).runKeyImport(ctx, args);
    case 'export':
      return (await import('./key-export.js')).runKeyExport(ctx, args);
    case 'remove':
      return (await import('./key-remove.js')).runKeyRemove(ctx, args);
    case 'passwd':
      return (await import('./key-passwd.js')).runKeyPasswd(ctx, args);
    case 'backup':
      return (await import('./key-backup.js')).runKeyBackup(ctx, args);
    case 'restore':
      return (await import('./key-restore.js')).runKeyRestore(ctx, args);
    default:
      throw new TrustdeskError('ERR_USAGE', `unknown key subcommand ${JSON.stringify(sub)}`, {
        hint: `Use one of: ${KEY_SUBCOMMANDS.join(', ')} (trustdesk key --help).`,
      });
  }
}
