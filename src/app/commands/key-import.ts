// `trustdesk key import <pem>…`: Go notary key files (any format Go reads) into a backend.
// Role/gun come from each block's headers, then --role/--gun, then Go's default role. With
// --token the keys go onto that PKCS#11 token (Go notary's "import root key to the YubiKey").

import { resolve } from 'node:path';
import { parseKeyUri, type KeyRecord } from '../../keyring/types.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { readInputFile } from '../files.js';
import {
  backendName,
  makePrompter,
  onlyOptions,
  openKeyring,
  opt,
  positionalCount,
  recordJson,
} from './key-context.js';

export async function runKeyImport(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  onlyOptions(args, 'import', ['role', 'gun', 'backend', 'token', 'passphrase-file', 'pin-file']);
  const files = positionalCount(args, 'import', 1, Infinity);
  const keyring = await openKeyring(ctx, args, makePrompter(ctx, args));
  try {
    const imported: KeyRecord[] = [];
    const token = opt(args, 'token');
    const target = token !== undefined ? parseKeyUri(token) : undefined;
    const backend = backendName(args) ?? (target ? 'pkcs11' : undefined);
    const role = opt(args, 'role');
    const gun = opt(args, 'gun');
    for (const f of files) {
      const text = new TextDecoder().decode(await readInputFile(ctx.io, f));
      imported.push(
        ...(await keyring.importPem(text, resolve(ctx.io.cwd, f), {
          nowMs: ctx.io.nowMs(),
          ...(backend ? { backend } : {}),
          ...(target ? { target } : {}),
          ...(role !== undefined ? { role } : {}),
          ...(gun !== undefined ? { gun } : {}),
        })),
      );
    }
    return {
      json: { keys: imported.map(recordJson) },
      text: () =>
        imported
          .map(
            (r) =>
              `Imported ${r.algorithm} ${r.role} key ${r.id}${r.gun ? ` (${r.gun})` : ''} into ${r.location}`,
          )
          .join('\n'),
    };
  } finally {
    await keyring.close();
  }
}
