// The one table of process exit codes. Every failure carries an error code whose category
// (src/tuf/errors.ts) picks the exit code here, so scripts can branch on the kind of failure.
// The README's exit-code table is checked against this one by test/app/readme.test.ts.

import { ERROR_CODES, type ErrorCategory, type ErrorCode } from '../tuf/errors.js';

export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  verification: 3,
  auth: 4,
  network: 5,
  notFound: 6,
  conflict: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Exit code for each error category. */
export const CATEGORY_EXIT: Record<ErrorCategory, ExitCode> = {
  input: EXIT.error,
  internal: EXIT.error,
  usage: EXIT.usage,
  verification: EXIT.verification,
  auth: EXIT.auth,
  network: EXIT.network,
  'not-found': EXIT.notFound,
  conflict: EXIT.conflict,
};

/** What each exit code means, in the order the README documents them. */
export const EXIT_CODE_MEANINGS: readonly { code: ExitCode; meaning: string }[] = [
  { code: EXIT.ok, meaning: 'success: every check passed' },
  { code: EXIT.error, meaning: 'error: malformed input, I/O failure or an internal error' },
  { code: EXIT.usage, meaning: 'usage error (bad command, flag or argument) or cancelled' },
  { code: EXIT.verification, meaning: 'verification failed (signature, threshold, expiry, hash…)' },
  { code: EXIT.auth, meaning: 'authentication or authorisation failed' },
  { code: EXIT.network, meaning: 'network error or server unreachable' },
  { code: EXIT.notFound, meaning: 'not found (file, repository, role, key)' },
  { code: EXIT.conflict, meaning: 'conflict (the remote changed, version already exists)' },
];

export function exitCodeFor(code: ErrorCode): ExitCode {
  return CATEGORY_EXIT[ERROR_CODES[code].category];
}
