// `trustdesk publish <gun>`, and the -p/--publish of the staging commands (Go's
// maybeAutoPublish): update from the server, re-apply the staged changes, sign, upload, clear
// the changelist after the server's 200.

import type { PublishResult } from '../../client/repository.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { flag, gunArg, withSession, type ClientSession } from './client-context.js';
import { publishJson, publishSummary } from './client-output.js';

export interface AutoPublished {
  json: { published?: Record<string, unknown> };
  text: string;
}

/** Publishes when -p was given; the text says so first, as Go's "Auto-publishing changes to". */
export async function maybePublish(
  s: ClientSession,
  args: ParsedArgs,
  gun: string,
): Promise<AutoPublished> {
  if (!flag(args, 'publish')) return { json: {}, text: '' };
  const r = await s.repository(gun).publish();
  return {
    json: { published: publishJson(r) },
    text: `Auto-publishing changes to ${gun}\n${publishedText(gun, r)}`,
  };
}

export function publishedText(gun: string, r: PublishResult): string {
  return `${publishSummary(r)}\nSuccessfully published changes for repository ${gun}\n`;
}

export async function runPublish(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  return withSession(ctx, args, { online: true, gun }, async (s) => {
    const r = await s.repository(gun).publish();
    return {
      json: { gun, ...publishJson(r), warnings: s.events.warnings },
      text: () => `Pushing changes to ${gun}\n${publishedText(gun, r)}`,
    };
  });
}
