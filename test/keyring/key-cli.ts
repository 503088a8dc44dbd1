// Runs `trustdesk key …` in-process through the command spec's handler, with the same two
// flag sets main.ts parses (global + the command's). The full CLI path (exit codes, --json
// printing) is exercised by test/app once KEY_COMMAND is in the command table.

import { parseArgs } from 'node:util';
import { GLOBAL_OPTIONS, type OptionSpec } from '../../src/app/commands.js';
import type { CommandResult, Context } from '../../src/app/context.js';
import { KEY_COMMAND } from '../../src/app/commands/key-spec.js';
import { asTrustdeskError, type TrustdeskError } from '../../src/tuf/errors.js';

function toParseArgs(specs: Readonly<Record<string, OptionSpec>>) {
  return Object.fromEntries(
    Object.entries(specs).map(([n, s]) => [
      n,
      {
        type: s.type,
        ...(s.short ? { short: s.short } : {}),
        ...(s.multiple ? { multiple: true } : {}),
      },
    ]),
  );
}

export type KeyCliResult =
  | { ok: true; result: CommandResult; text: string; stderr: string }
  | { ok: false; error: TrustdeskError; stderr: string };

export async function keyCli(
  argv: string[],
  o: { env: Record<string, string>; cwd: string; nowMs: number },
): Promise<KeyCliResult> {
  let stderr = '';
  try {
    const parsed = parseArgs({
      args: ['key', ...argv],
      options: { ...toParseArgs(GLOBAL_OPTIONS), ...toParseArgs(KEY_COMMAND.options) },
      strict: true,
      allowPositionals: true,
    });
    const ctx: Context = {
      script: true,
      json: false,
      debug: false,
      verbose: false,
      interactive: false,
      color: false,
      io: {
        stdout: { write: () => true },
        stderr: { write: (s: string) => (stderr += s) },
        stdinIsTTY: false,
        env: o.env,
        cwd: o.cwd,
        nowMs: () => o.nowMs,
      },
    };
    const result = await KEY_COMMAND.handler(ctx, {
      positionals: parsed.positionals.slice(1),
      values: parsed.values,
    });
    return { ok: true, result, text: result.text(), stderr };
  } catch (e) {
    return { ok: false, error: asTrustdeskError(e), stderr };
  }
}
