// `trustdesk key passwd <id>`: re-encrypts a file key under a new passphrase (atomically). In a
// script the new passphrase must come from --new-passphrase-file or TRUSTDESK_NEW_PASSPHRASE.

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import {
  makePrompter,
  onlyOptions,
  openKeyring,
  positionalCount,
  recordJson,
} from './key-context.js';

export async function runKeyPasswd(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  onlyOptions(args, 'passwd', ['passphrase-file', 'new-passphrase-file']);
  const [id] = positionalCount(args, 'passwd', 1, 1) as [string];
  const keyring = await openKeyring(ctx, args, makePrompter(ctx, args, { distinctNew: true }));
  try {
    const r = await keyring.passwd(id);
    return {
      json: { key: recordJson(r) },
      text: () => `Successfully updated passphrase for key ID: ${r.id}`,
    };
  } finally {
    await keyring.close();
  }
}
