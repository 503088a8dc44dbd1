// `trustdesk key export [--key id,…] [--gun G] [-o file]`: Go notary PEM (encrypted PKCS#8,
// `path`/`role`/`gun` headers) that `notary key import` accepts. As in Go, --key and --gun are
// exclusive, and with neither every key is exported. Keys that cannot leave their backend (token
// keys) fail with ERR_NOT_EXTRACTABLE. Each key is re-encrypted under a passphrase asked for as
// a new one for its role (script mode: the role's passphrase source).

import { resolve } from 'node:path';
import { TrustdeskError } from '../../tuf/errors.js';
import { atomicWrite } from '../../keyring/atomic-file.js';
import type { KeyRecord } from '../../keyring/types.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import {
  list,
  makePrompter,
  onlyOptions,
  openKeyring,
  opt,
  positionalCount,
} from './key-context.js';

export async function runKeyExport(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  onlyOptions(args, 'export', ['key', 'gun', 'output', 'passphrase-file', 'pin-file']);
  positionalCount(args, 'export', 0, 0);
  const ids = list(args, 'key');
  const gun = opt(args, 'gun');
  if (ids !== undefined && gun !== undefined) {
    throw new TrustdeskError('ERR_USAGE', 'only one of --key or --gun may be given');
  }
  const keyring = await openKeyring(ctx, args, makePrompter(ctx, args));
  try {
    let records: KeyRecord[];
    if (ids !== undefined) {
      records = [];
      for (const id of ids) records.push(await keyring.findUnique(id));
    } else {
      records = (await keyring.list()).filter((k) => gun === undefined || k.gun === gun);
    }
    if (records.length === 0)
      throw new TrustdeskError(
        'ERR_KEY_NOT_FOUND',
        gun !== undefined ? `no keys for ${gun}` : 'no keys to export',
      );
    const pem = await keyring.exportPem(records);
    const out = opt(args, 'output');
    if (out !== undefined)
      await atomicWrite(resolve(ctx.io.cwd, out), new TextEncoder().encode(pem), 'replace');
    const ids_ = records.map((r) => r.id);
    return {
      json:
        out !== undefined
          ? { exported: ids_, file: resolve(ctx.io.cwd, out) }
          : { exported: ids_, pem },
      text: () =>
        out !== undefined
          ? `Exported ${records.length} key(s) to ${resolve(ctx.io.cwd, out)}`
          : pem,
    };
  } finally {
    await keyring.close();
  }
}
