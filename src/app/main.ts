// The CLI entry: `trustdesk [global options] <command> [options] [arguments]`.
//
// Parsing is two passes of node:util parseArgs: the first (lenient, global options only) finds
// the command — the first positional — and the flags that shape error output (--json, -D); the
// second parses everything else strictly against the global options plus the command's own, so
// global flags may appear before or after the command. Every failure ends as a TrustdeskError:
// `error [CODE]: message` + `hint:` on stderr, or with --json one document
// `{"ok":false,"error":{code,message,hint}}` on stdout; the exit code comes from the error's
// category (exit-codes.ts).

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TrustdeskError, asTrustdeskError } from '../tuf/errors.js';
import { GLOBAL_OPTIONS, findCommand, type CommandSpec, type OptionSpec } from './commands.js';
import type { CommandResult, Context, GlobalFlags, Io, ParsedArgs } from './context.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { commandHelp, generalHelp } from './help.js';
import { errorJson, formatErrorText, makeStyle, wantColor } from './output.js';
import { packageVersion } from './version.js';

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

function toParseArgs(specs: Readonly<Record<string, OptionSpec>>): ParseOptions {
  const out: ParseOptions = {};
  for (const [name, s] of Object.entries(specs)) {
    out[name] = {
      type: s.type,
      ...(s.short ? { short: s.short } : {}),
      ...(s.multiple ? { multiple: true } : {}),
    };
  }
  return out;
}

function usageError(e: unknown): TrustdeskError {
  // parseArgs throws TypeErrors with codes ERR_PARSE_ARGS_*; their messages are user-facing.
  if (
    e instanceof TypeError &&
    String((e as { code?: string }).code).startsWith('ERR_PARSE_ARGS')
  ) {
    return new TrustdeskError('ERR_USAGE', e.message, { cause: e });
  }
  return asTrustdeskError(e);
}

interface Located {
  command?: string;
  rest: string[];
  early: GlobalFlags & { help: boolean; version: boolean };
}

/** Pass 1: the command name and the global flags given so far, never throwing. */
function locate(argv: readonly string[]): Located {
  const { values, tokens } = parseArgs({
    args: [...argv],
    options: toParseArgs(GLOBAL_OPTIONS),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const [first, second] = tokens.filter((t) => t.kind === 'positional');
  // Two-word commands (`key rotate`) take both words when the table has them.
  const pair = first && second ? `${first.value} ${second.value}` : undefined;
  const words = pair !== undefined && findCommand(pair) ? [first, second] : first ? [first] : [];
  const rest = argv.filter((_, i) => !words.some((w) => w?.index === i));
  const flag = (n: string) => values[n] === true;
  return {
    command: words.length === 2 ? pair : first?.value,
    rest,
    early: {
      script: flag('script'),
      json: flag('json'),
      debug: flag('debug'),
      verbose: flag('verbose'),
      help: flag('help'),
      version: flag('version'),
    },
  };
}

/**
 * The command an argv names (`key rotate` for two-word ones; undefined for none) and the global
 * flags given, found exactly as runCli finds them. Never throws. (The agent decides with it
 * which invocations it may run.)
 */
export function locateCommand(argv: readonly string[]): {
  command: string | undefined;
  flags: Located['early'];
} {
  const { command, early } = locate(argv);
  return { command, flags: early };
}

function parseCommandArgs(
  spec: CommandSpec,
  rest: string[],
): ParsedArgs & { flags: Located['early'] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...toParseArgs(GLOBAL_OPTIONS), ...toParseArgs(spec.options) },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw usageError(e);
  }
  const v = parsed.values as Record<string, unknown>;
  const flags = {
    script: v.script === true,
    json: v.json === true,
    debug: v.debug === true,
    verbose: v.verbose === true,
    help: v.help === true,
    version: v.version === true,
  };
  return { positionals: parsed.positionals, values: parsed.values, flags };
}

function makeContext(io: Io, flags: GlobalFlags): Context {
  return {
    ...flags,
    io,
    interactive: !flags.script && io.stdinIsTTY,
    color: !flags.json && wantColor(io.stdout, io.env),
  };
}

function printResult(ctx: Context, r: CommandResult): number {
  if (ctx.json) {
    const doc = r.failure
      ? { ok: false, error: errorJson(r.failure), ...r.json }
      : { ok: true, ...r.json };
    ctx.io.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  } else {
    const text = r.text();
    if (text) ctx.io.stdout.write(text.endsWith('\n') ? text : text + '\n');
    if (r.failure) printErrorText(ctx.io, r.failure, ctx.debug);
  }
  return r.failure ? exitCodeFor(r.failure.code) : EXIT.ok;
}

function printErrorText(io: Io, e: TrustdeskError, debug: boolean): void {
  io.stderr.write(formatErrorText(e, makeStyle(wantColor(io.stderr, io.env)), debug));
}

function printError(io: Io, flags: GlobalFlags, e: TrustdeskError): number {
  if (flags.json)
    io.stdout.write(JSON.stringify({ ok: false, error: errorJson(e) }, null, 2) + '\n');
  else printErrorText(io, e, flags.debug);
  return exitCodeFor(e.code);
}

/** Runs one CLI invocation; returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const loc = locate(argv);
  let flags: GlobalFlags = loc.early;
  try {
    if (loc.command === undefined) {
      if (loc.early.version) {
        io.stdout.write(`trustdesk ${packageVersion()}\n`);
        return EXIT.ok;
      }
      if (loc.early.help) {
        io.stdout.write(generalHelp());
        return EXIT.ok;
      }
      // Later: the TUI when interactive. Until then, say what there is.
      if (!flags.json) io.stderr.write(generalHelp());
      throw new TrustdeskError('ERR_USAGE', 'no command given', {
        hint: 'Run `trustdesk demo` for a tour, or `trustdesk help`.',
      });
    }
    const spec = findCommand(loc.command);
    if (!spec) {
      throw new TrustdeskError('ERR_USAGE', `unknown command ${JSON.stringify(loc.command)}`, {
        hint: 'Run `trustdesk help` to list the commands.',
      });
    }
    const args = parseCommandArgs(spec, loc.rest);
    flags = args.flags;
    if (args.flags.help) {
      io.stdout.write(commandHelp(spec));
      return EXIT.ok;
    }
    const { min, max } = spec.positionals;
    const n = args.positionals.length;
    if (n < min || n > max) {
      throw new TrustdeskError(
        'ERR_USAGE',
        `${spec.name} takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${n}`,
        { hint: `Usage: trustdesk ${spec.usage}` },
      );
    }
    const ctx = makeContext(io, flags);
    return printResult(ctx, await spec.handler(ctx, args));
  } catch (e) {
    return printError(io, flags, asTrustdeskError(e));
  }
}

/** The real process's Io. */
export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: process.stdin.isTTY === true,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    nowMs: () => Date.now(),
  };
}
