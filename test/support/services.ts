// The one gate for tests that need something outside Node (Go binaries, the Go source tree,
// PostgreSQL, a keychain daemon, SoftHSM…). Locally a missing service skips the test; under
// CI=true it fails it, so CI can never pass by skipping (scripts/run-tests.mjs also fails a CI
// run whose summary counts any skipped test).

import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

export const IN_CI = process.env.CI === 'true';

/**
 * Returns true when `available`; otherwise skips the test (locally) or throws (under CI=true).
 * Use as: `if (!requireService(t, hasGo, 'Go notary-server')) return;`
 */
export function requireService(t: TestContext, available: boolean, what: string): boolean {
  if (available) return true;
  if (IN_CI) throw new Error(`${what} is required under CI=true but is not available`);
  t.skip(`${what} is not available`);
  return false;
}

/** For `test(name, { skip: serviceSkip(ok, what) }, fn)`: a skip reason locally, throws in CI. */
export function serviceSkip(available: boolean, what: string): false | string {
  if (available) return false;
  if (IN_CI) throw new Error(`${what} is required under CI=true but is not available`);
  return `${what} is not available`;
}

/** Absolute path of an executable on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The unpacked Go Notary 0.7 source tree (Debian golang-github-docker-notary-dev). */
export function notarySrc(): string {
  return (
    process.env.NOTARY_SRC ??
    '/tmp/notary-src/usr/share/gocode/src/github.com/theupdateframework/notary'
  );
}

export function hasNotarySrc(): boolean {
  return existsSync(join(notarySrc(), 'fixtures', 'compatibility'));
}
