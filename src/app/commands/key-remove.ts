// `trustdesk key remove <id>`: deletes a key after a typed confirmation (--yes in scripts).

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import {
  flag,
  makePrompter,
  onlyOptions,
  openKeyring,
  positionalCount,
  recordJson,
} from './key-context.js';

export async function runKeyRemove(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  onlyOptions(args, 'remove', ['yes', 'pin-file']);
  const [id] = positionalCount(args, 'remove', 1, 1) as [string];
  const keyring = await openKeyring(
    ctx,
    args,
    makePrompter(ctx, args, { assumeYes: flag(args, 'yes') }),
  );
  try {
    const r = await keyring.remove(id);
    return {
      json: { removed: recordJson(r) },
      text: () => `Deleted ${r.role} key ${r.id}${r.gun ? ` (${r.gun})` : ''} from ${r.location}`,
    };
  } finally {
    await keyring.close();
  }
}
