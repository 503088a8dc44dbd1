// What a command gets to work with. All process I/O goes through `Io`, so the whole CLI runs
// in-process in tests (test/app) exactly as it does from the shell.

import type { TrustdeskError } from '../tuf/errors.js';

export interface Io {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  stdinIsTTY: boolean;
  /** Content for commands that read stdin (verify, script-mode confirmations); none = empty. */
  stdin?: NodeJS.ReadableStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Wall clock in epoch ms; the only clock commands may read (they pass it to src/tuf). */
  nowMs(): number;
  /**
   * Cancels the command's network work when it fires (the agent: its caller went away). A
   * process of its own has none: the process ending cancels everything.
   */
  signal?: AbortSignal;
}

/** Flags every command understands. */
export interface GlobalFlags {
  script: boolean;
  json: boolean;
  debug: boolean;
  verbose: boolean;
}

export interface Context extends GlobalFlags {
  io: Io;
  /** False with --script or when stdin is not a terminal: never prompt then. */
  interactive: boolean;
  /** ANSI colour on stdout (a TTY, not --json, NO_COLOR unset). */
  color: boolean;
}

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface ParsedArgs {
  positionals: string[];
  values: OptionValues;
}

/**
 * What a command hands back. `json` is merged into the `--json` document; `text` is the human
 * report (stdout). A `failure` still prints the report, then the error, and sets the exit code.
 */
export interface CommandResult {
  json: Record<string, unknown>;
  text: () => string;
  failure?: TrustdeskError;
}
