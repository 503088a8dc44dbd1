// `trustdesk key backup <id>`: prints the key's 24-word paper backup — only after a typed
// confirmation on a terminal, or with --yes-show-mnemonic in a script. The words go to stdout
// only (never to logs or files).

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import {
  flag,
  makePrompter,
  onlyOptions,
  openKeyring,
  positionalCount,
  recordJson,
} from './key-context.js';

export async function runKeyBackup(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  onlyOptions(args, 'backup', ['yes-show-mnemonic', 'passphrase-file']);
  const [id] = positionalCount(args, 'backup', 1, 1) as [string];
  const prompter = makePrompter(ctx, args, { assumeYes: flag(args, 'yes-show-mnemonic') });
  const keyring = await openKeyring(ctx, args, prompter);
  try {
    const { record, words } = await keyring.backup(id);
    return {
      json: { key: recordJson(record), words },
      text: () =>
        [
          `Paper backup of ${record.algorithm} ${record.role} key ${record.id}:`,
          '',
          ...Array.from({ length: 6 }, (_, row) =>
            words
              .slice(row * 4, row * 4 + 4)
              .map((w, i) => `${String(row * 4 + i + 1).padStart(2)}. ${w.padEnd(9)}`)
              .join('  ')
              .trimEnd(),
          ),
          '',
          'Write these words down in order and keep them offline. Anyone who has them holds the key.',
          `Restore with: trustdesk key restore --key ${record.id.slice(0, 16)}`,
        ].join('\n'),
    };
  } finally {
    await keyring.close();
  }
}
