// `trustdesk addhash <gun> <name> <size> --sha256 <hex> [--sha512 <hex>] [--roles …] [--custom f] [-p]`:
// stages a target from its size and digests, without the file (offline).

import { TrustdeskError } from '../../tuf/errors.js';
import type { FileMeta } from '../../tuf/metadata.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { gunArg, list, opt, withSession } from './client-context.js';
import { stagedJson } from './client-output.js';
import { readCustom } from './add.js';
import { maybePublish } from './publish.js';

function digest(args: ParsedArgs, alg: 'sha256' | 'sha512', bytes: number): Uint8Array | undefined {
  const hex = opt(args, alg);
  if (hex === undefined) return undefined;
  if (!new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(hex)) {
    throw new TrustdeskError('ERR_USAGE', `invalid ${alg} hex contents provided`, {
      hint: `--${alg} takes ${bytes * 2} hex digits.`,
    });
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Go's strconv.ParseInt(s, 0, 64): decimal, 0x hex, 0o/0 octal, 0b binary. */
export function parseSize(s: string): number {
  const m = /^(?:0[xX]([0-9a-fA-F]+)|0[oO]?([0-7]+)|0[bB]([01]+)|([1-9][0-9]*|0))$/.exec(s);
  const n = m
    ? m[1] !== undefined
      ? parseInt(m[1], 16)
      : m[2] !== undefined
        ? parseInt(m[2], 8)
        : m[3] !== undefined
          ? parseInt(m[3], 2)
          : Number(m[4])
    : NaN;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new TrustdeskError('ERR_USAGE', `invalid target size ${JSON.stringify(s)}`, {
      hint: 'The size is the number of bytes of the target, e.g. 1024.',
    });
  return n;
}

export async function runAddHash(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const [, name, size] = args.positionals as [string, string, string];
  const sha256 = digest(args, 'sha256', 32);
  const sha512 = digest(args, 'sha512', 64);
  if (!sha256 && !sha512) {
    throw new TrustdeskError('ERR_USAGE', 'give at least one hash: --sha256 and/or --sha512');
  }
  const custom = await readCustom(ctx, args);
  const meta: FileMeta = {
    length: parseSize(size),
    hashes: { ...(sha256 ? { sha256 } : {}), ...(sha512 ? { sha512 } : {}) },
    ...(custom !== undefined ? { custom } : {}),
  };
  const used = [sha256 ? 'sha256' : '', sha512 ? 'sha512' : ''].filter(Boolean).join(', ');
  return withSession(ctx, args, { online: false, gun }, async (s) => {
    const staged = await s.repository(gun).addTarget(name, meta, list(args, 'roles'));
    const pub = await maybePublish(s, args, gun);
    return {
      json: { gun, staged: stagedJson(staged), ...pub.json, warnings: s.events.warnings },
      text: () =>
        `Addition of target "${name}" by ${used} hash to repository "${gun}" staged for next publish.\n${pub.text}`,
    };
  });
}
