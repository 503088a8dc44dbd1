// `trustdesk inspect <file>`: reads the files named on the command line and reports.

import { TrustdeskError } from '../../tuf/errors.js';
import { parseRfc3339 } from '../../tuf/metadata.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { readInputFile } from '../files.js';
import { renderInspect } from '../inspect/render.js';
import { inspectMetadata, type InspectFile } from '../inspect/report.js';
import { makeStyle } from '../output.js';

function opt(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export async function runInspect(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const read = async (path: string | undefined): Promise<InspectFile | undefined> =>
    path === undefined ? undefined : { name: path, bytes: await readInputFile(ctx.io, path) };
  const now = opt(args, 'now');
  let nowMs = ctx.io.nowMs();
  if (now !== undefined) {
    try {
      nowMs = parseRfc3339(now, '--now');
    } catch (e) {
      throw new TrustdeskError(
        'ERR_USAGE',
        `--now ${JSON.stringify(now)} is not an RFC 3339 time`,
        {
          cause: e,
        },
      );
    }
  }
  const [file, root, parent] = await Promise.all([
    read(args.positionals[0]),
    read(opt(args, 'root')),
    read(opt(args, 'parent')),
  ]);
  const gun = opt(args, 'gun');
  const role = opt(args, 'role');
  const { report, failure } = inspectMetadata({
    file: file!,
    nowMs,
    ...(root ? { root } : {}),
    ...(parent ? { parent } : {}),
    ...(gun !== undefined ? { gun } : {}),
    ...(role !== undefined ? { role } : {}),
  });
  return {
    json: { report },
    text: () => renderInspect(report, makeStyle(ctx.color), ctx.verbose),
    ...(failure ? { failure } : {}),
  };
}
