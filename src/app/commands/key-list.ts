// `trustdesk key list`: every key in every backend, without unlocking anything.

import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { errorJson } from '../output.js';
import {
  makePrompter,
  onlyOptions,
  openKeyring,
  positionalCount,
  recordJson,
  table,
} from './key-context.js';

export async function runKeyList(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  onlyOptions(args, 'list', []);
  positionalCount(args, 'list', 0, 0);
  const keyring = await openKeyring(ctx, args, makePrompter(ctx, args));
  try {
    const { keys, problems } = await keyring.scan();
    return {
      json: {
        keys: keys.map(recordJson),
        problems: problems.map((p) => ({
          backend: p.backend,
          location: p.location,
          error: errorJson(p.error),
        })),
      },
      text: () => {
        const body = keys.length
          ? table(
              ['ROLE', 'GUN', 'KEY ID', 'BACKEND', 'ALGORITHM', 'LOCATION'],
              keys.map((k) => [k.role, k.gun, k.id, k.backend, k.algorithm, k.location]),
            )
          : 'No signing keys found.';
        const warnings = problems.map(
          (p) => `warning [${p.error.code}]: ${p.location}: ${p.error.message}`,
        );
        return [body, ...warnings].join('\n');
      },
    };
  } finally {
    await keyring.close();
  }
}
