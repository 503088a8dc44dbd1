// Help text, generated from the command table (commands.ts) and the exit-code table.

import {
  COMMANDS,
  GLOBAL_OPTIONS,
  findCommand,
  type CommandSpec,
  type OptionSpec,
} from './commands.js';
import type { CommandResult, Context, ParsedArgs } from './context.js';
import { EXIT_CODE_MEANINGS } from './exit-codes.js';
import { TrustdeskError } from '../tuf/errors.js';

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    return [flag, o.description] as const;
  });
  const width = Math.max(0, ...rows.map(([f]) => f.length));
  return rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`);
}

export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'trustdesk — Notary (TUF) trust management, wire-compatible with Go Notary 0.7',
    '',
    'Usage: trustdesk [global options] <command> [options] [arguments]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Exit codes:',
    ...EXIT_CODE_MEANINGS.map((e) => `  ${e.code}  ${e.meaning}`),
    '',
    'Run `trustdesk help <command>` for the options of a command.',
    '',
  ].join('\n');
}

export function commandHelp(c: CommandSpec): string {
  const opts = optionLines(c.options);
  return [
    `Usage: trustdesk ${c.usage}`,
    '',
    c.summary,
    ...(c.details ? ['', ...c.details] : []),
    ...(opts.length ? ['', 'Options:', ...opts] : []),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
  ].join('\n');
}

export function runHelp(_ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const name = args.positionals[0];
  let text = generalHelp();
  if (name !== undefined) {
    const c = findCommand(name);
    if (!c) throw new TrustdeskError('ERR_USAGE', `unknown command ${JSON.stringify(name)}`);
    text = commandHelp(c);
  }
  return Promise.resolve({ json: { help: text }, text: () => text });
}
