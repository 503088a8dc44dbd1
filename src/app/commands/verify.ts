// `trustdesk verify <gun> <name> [-i in] [-o out] [-q]`: checks content (stdin or -i) against the
// target's trusted size and hashes. The content is passed on (stdout or -o) ONLY when it
// matches; a mismatch writes nothing and exits 3. With --json stdout carries the report, so the
// content is written only to -o.

import { writeFile } from 'node:fs/promises';
import { TrustdeskError } from '../../tuf/errors.js';
import type { CommandResult, Context, Io, ParsedArgs } from '../context.js';
import { MAX_INPUT_BYTES, readInputFile } from '../files.js';
import { cliPath, flag, gunArg, opt, withSession } from './client-context.js';
import { targetJson } from './client-output.js';

async function readStdin(io: Io): Promise<Uint8Array> {
  const stdin = io.stdin;
  if (!stdin) return new Uint8Array(0);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stdin) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    n += b.length;
    if (n > MAX_INPUT_BYTES)
      throw new TrustdeskError('ERR_TOO_LARGE', `stdin is larger than ${MAX_INPUT_BYTES} bytes`);
    chunks.push(b);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

export async function runVerify(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const name = args.positionals[1] as string;
  const input = opt(args, 'input');
  const output = opt(args, 'output');
  const quiet = flag(args, 'quiet');
  const content =
    input === undefined ? await readStdin(ctx.io) : await readInputFile(ctx.io, input);
  return withSession(ctx, args, { online: true, gun }, async (s) => {
    const { target } = await s.repository(gun).verify(name, content);
    if (output !== undefined) {
      try {
        await writeFile(cliPath(ctx, output), content);
      } catch (e) {
        throw new TrustdeskError('ERR_IO', `cannot write ${output}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    } else if (!quiet && !ctx.json) {
      // Raw bytes, not text: process.stdout takes a Buffer (Io declares strings for reports).
      ctx.io.stdout.write(content as unknown as string);
    }
    return {
      json: { gun, verified: true, target: targetJson(target), warnings: s.events.warnings },
      text: () => '',
    };
  });
}
