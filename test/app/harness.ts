// In-process CLI runs with captured output and a fixed clock.

import { runCli } from '../../src/app/main.js';
import type { Io } from '../../src/app/context.js';

export interface CapturedRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface FakeIoOptions {
  nowMs: number;
  cwd?: string;
  env?: Record<string, string>;
  tty?: boolean;
}

export async function cli(argv: string[], opts: FakeIoOptions): Promise<CapturedRun> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s), isTTY: opts.tty ?? false },
    stderr: { write: (s: string) => (stderr += s), isTTY: opts.tty ?? false },
    stdinIsTTY: opts.tty ?? false,
    env: opts.env ?? {},
    cwd: opts.cwd ?? process.cwd(),
    nowMs: () => opts.nowMs,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}
