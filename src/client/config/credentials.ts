// NOTARY_AUTH: base64(`user:password`) for the token flow (notary-protocol §4.9). As Go's
// passwordStore does: standard base64, split at the first `:`, the username must not be empty,
// surrounding whitespace is trimmed from the password. Unlike Go (which logs and carries on
// without credentials), a malformed value is an error: a script that set it meant to use it.

import { TrustdeskError } from '../../tuf/errors.js';

export interface BasicCredentials {
  username: string;
  password: string;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function authError(why: string): TrustdeskError {
  return new TrustdeskError('ERR_USAGE', `NOTARY_AUTH: ${why}`, {
    hint: 'Set NOTARY_AUTH to the base64 encoding of "user:password", e.g. $(printf %s user:pass | base64).',
  });
}

/** Credentials from NOTARY_AUTH, or undefined when it is unset or empty. */
export function credentialsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): BasicCredentials | undefined {
  const raw = env.NOTARY_AUTH?.trim();
  if (!raw) return undefined;
  if (!B64.test(raw)) throw authError('not standard base64');
  const plain = Buffer.from(raw, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  if (i < 0) throw authError('the decoded value has no ":" between user and password');
  if (i === 0) throw authError('the user name is empty');
  return { username: plain.slice(0, i), password: plain.slice(i + 1).trim() };
}
