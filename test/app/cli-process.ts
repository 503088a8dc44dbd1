// Runs the trustdesk CLI as a real process: from source through tsx, or the built
// dist/ file with plain node (what `npm start` and the installed bin run).

import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const SOURCE_CLI = join(REPO_ROOT, 'src', 'app', 'bin', 'trustdesk.ts');
export const BUILT_CLI = join(REPO_ROOT, 'dist', 'src', 'app', 'bin', 'trustdesk.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Run dist/ with plain node instead of the sources through tsx. */
  built?: boolean;
  env?: Record<string, string>;
  input?: string;
}

export function runTrustdesk(args: readonly string[], opts: CliOptions = {}): Promise<CliRun> {
  // The tsx loader by URL, so any cwd works.
  const argv = opts.built
    ? [BUILT_CLI, ...args]
    : ['--import', import.meta.resolve('tsx'), SOURCE_CLI, ...args];
  const child = spawn(process.execPath, argv, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // A command that exits without reading stdin makes this write fail with EPIPE; its output
  // and exit code are what the tests assert, so that is not an error here.
  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
