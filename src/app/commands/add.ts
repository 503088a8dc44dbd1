// `trustdesk add <gun> <name> <file> [--roles r,…] [--custom file] [-p]`: stages a target whose
// length and sha256/sha512 are computed from the file (offline).

import { readFile } from 'node:fs/promises';
import { TrustdeskError } from '../../tuf/errors.js';
import { fileMetaFor } from '../../tuf/filemeta.js';
import { parseJson, type JsonValue } from '../../tuf/json.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { readInputFile } from '../files.js';
import { cliPath, gunArg, list, opt, withSession } from './client-context.js';
import { stagedJson } from './client-output.js';
import { maybePublish } from './publish.js';

/** --custom: a JSON file (Go takes it as raw JSON; ours must be strict, it gets signed). */
export async function readCustom(ctx: Context, args: ParsedArgs): Promise<JsonValue | undefined> {
  const path = opt(args, 'custom');
  if (path === undefined) return undefined;
  let text: Uint8Array;
  try {
    text = await readFile(cliPath(ctx, path));
  } catch (e) {
    throw new TrustdeskError(
      'ERR_NOT_FOUND',
      `cannot read the custom data file ${path}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  return parseJson(text, `custom data file ${path}`);
}

export async function runAdd(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const [, name, file] = args.positionals as [string, string, string];
  const custom = await readCustom(ctx, args);
  const meta = fileMetaFor(await readInputFile(ctx.io, file), custom);
  return withSession(ctx, args, { online: false, gun }, async (s) => {
    const staged = await s.repository(gun).addTarget(name, meta, list(args, 'roles'));
    const pub = await maybePublish(s, args, gun);
    return {
      json: { gun, staged: stagedJson(staged), ...pub.json, warnings: s.events.warnings },
      text: () =>
        `Addition of target "${name}" to repository "${gun}" staged for next publish.\n${pub.text}`,
    };
  });
}
