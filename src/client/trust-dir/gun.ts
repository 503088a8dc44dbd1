// GUN validation: a GUN becomes both a directory path under the trust dir (its `/` are
// directories, notary-protocol §7.2) and part of a URL built by plain concatenation (§4.11), so
// anything that could escape either is refused before it reaches the file system or the network:
//   - empty, longer than 255 characters, or not valid UTF-16 (lone surrogates);
//   - a leading `/` (absolute path), a trailing `/`, `//` (empty segment), a `.` or `..` segment;
//   - NUL or any control character, whitespace, `\` (a Windows separator);
//   - URL syntax that would change the request: `?`, `#`, `%`;
//   - `*`, which notary-server's route regex (`[^*]+`) and trust pinning's `prefix*` reserve.

import { TrustdeskError } from '../../tuf/errors.js';

const MAX_GUN_LENGTH = 255;
// Controls (C0, DEL, C1), whitespace, and the characters listed above.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0020\u007f-\u009f\s\\?#%*]/u;

/** Why `gun` is not acceptable, or undefined when it is. */
export function gunProblem(gun: string): string | undefined {
  if (gun.length === 0) return 'it is empty';
  if (gun.length > MAX_GUN_LENGTH) return `it is longer than ${MAX_GUN_LENGTH} characters`;
  if (!gun.isWellFormed()) return 'it is not valid Unicode text';
  const bad = FORBIDDEN.exec(gun);
  if (bad) {
    const ch = bad[0];
    const shown = /^[\x21-\x7e]$/.test(ch)
      ? JSON.stringify(ch)
      : `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    return `it contains the character ${shown}`;
  }
  if (gun.startsWith('/')) return 'it starts with "/" (an absolute path)';
  const segments = gun.split('/');
  if (segments.some((s) => s === ''))
    return 'it has an empty path segment ("//" or a trailing "/")';
  if (segments.some((s) => s === '.' || s === '..')) return 'it has a "." or ".." path segment';
  return undefined;
}

/** Throws ERR_BAD_GUN naming the problem; returns the GUN unchanged. */
export function checkGun(gun: string): string {
  const problem = gunProblem(gun);
  if (problem !== undefined) {
    throw new TrustdeskError('ERR_BAD_GUN', `invalid GUN ${JSON.stringify(gun)}: ${problem}`);
  }
  return gun;
}
