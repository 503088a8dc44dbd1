// The command table: one entry per command, feeding argument parsing, `--help` and the README
// (test/app/readme.test.ts checks the README names every command). Handlers import their module
// on first use, so `trustdesk inspect` never loads what `demo` (or, later, the TUI) needs.

import type { CommandResult, Context, ParsedArgs } from './context.js';
import { CLIENT_COMMANDS, CLIENT_GLOBAL_OPTIONS } from './commands/client-spec.js';
import { KEY_COMMAND } from './commands/key-spec.js';
import { AGENT_COMMAND } from './commands/agent-spec.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder shown in help for string options, e.g. `<file>`. */
  value?: string;
  /** May be given several times (the value is then an array). */
  multiple?: boolean;
  description: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Synopsis after `trustdesk`, e.g. `inspect <file> [--root <root.json>]`. */
  usage: string;
  /** Longer help text (plain lines). */
  details?: readonly string[];
  positionals: { min: number; max: number };
  options: Readonly<Record<string, OptionSpec>>;
  handler(ctx: Context, args: ParsedArgs): Promise<CommandResult>;
}

/** Flags accepted before and after every command. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  script: {
    type: 'boolean',
    description: 'non-interactive: never prompt (implied when stdin is not a terminal)',
  },
  json: { type: 'boolean', description: 'print one JSON document on stdout (errors included)' },
  debug: { type: 'boolean', short: 'D', description: 'print stack traces and causes of errors' },
  verbose: { type: 'boolean', short: 'v', description: 'print more detail (e.g. every target)' },
  help: { type: 'boolean', short: 'h', description: 'show help for trustdesk or a command' },
  version: { type: 'boolean', description: 'print the trustdesk version' },
  ...CLIENT_GLOBAL_OPTIONS,
};

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'help',
    summary: 'show help for trustdesk or a command',
    usage: 'help [<command>]',
    positionals: { min: 0, max: 1 },
    options: {},
    handler: async (ctx, args) => (await import('./help.js')).runHelp(ctx, args),
  },
  {
    name: 'inspect',
    summary: 'show and verify one Notary metadata file (any role)',
    usage:
      'inspect <file> [--root <root.json>] [--gun <gun>] [--role <role>] [--parent <targets.json>] [--now <RFC3339>]',
    details: [
      'Prints role, version, expiry, keys (TUF and canonical IDs, certificate subject and validity),',
      'roles and thresholds, targets, delegations, snapshot/timestamp meta, and for every signature',
      'whether it verifies and against which key.',
      'A root is checked against itself (threshold of its own root role; with --gun also the',
      'certificate rules and trust on first use). With --root, a root is checked as a rotation of',
      'that root, and any other file against its role in that root. A delegation (give its name',
      'with --role) is checked against its parent given with --parent.',
      'Exits 0 only when every check passes.',
    ],
    positionals: { min: 1, max: 1 },
    options: {
      root: { type: 'string', value: '<root.json>', description: 'trusted root to check against' },
      gun: { type: 'string', value: '<gun>', description: 'repository name (root certificate CN)' },
      role: {
        type: 'string',
        value: '<role>',
        description: 'role the file is for (needed for delegations, e.g. targets/releases)',
      },
      parent: {
        type: 'string',
        value: '<targets.json>',
        description: 'the delegating targets file, to check a delegation',
      },
      now: {
        type: 'string',
        value: '<RFC3339>',
        description: 'check expiry at this time instead of now',
      },
    },
    handler: async (ctx, args) => (await import('./commands/inspect.js')).runInspect(ctx, args),
  },
  {
    name: 'demo',
    summary: 'build a fresh repository in memory and inspect every file of it',
    usage: 'demo [--gun <gun>]',
    details: [
      'Creates root (with an x509 root certificate), targets with a few targets and a delegation,',
      'the delegation file, snapshot and timestamp with freshly generated keys, then prints the',
      'inspect report of each file. Nothing is written to disk and no server is needed.',
    ],
    positionals: { min: 0, max: 0 },
    options: {
      gun: {
        type: 'string',
        value: '<gun>',
        description: 'repository name (default example.com/trustdesk/demo)',
      },
    },
    handler: async (ctx, args) => (await import('./commands/demo.js')).runDemo(ctx, args),
  },
  KEY_COMMAND,
  ...CLIENT_COMMANDS,
  AGENT_COMMAND,
];

/** A command by name; two-word commands (`key rotate`) are named with a space. */
export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
