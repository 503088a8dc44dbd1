// The 401 answer of token auth, byte for byte as Go notary-server sends it (notary-protocol
// §4.9; utils/http.go doAuth + distribution token authChallenge + errcode.ServeJSON):
//
//   WWW-Authenticate: Bearer realm="<realm>",service="<service>",scope="<type>:<name>:<a1,a2>"
//                     [,error="invalid_token" | ,error="insufficient_scope"]
//   {"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[
//     {"Type":"repository","Class":"","Name":"<gun>","Action":"pull"},…]}]}\n
//
// Values are quoted like Go's %q; several resources are joined by a space inside one scope
// parameter; `error` is absent when no token was presented at all.

import { goJsonString } from '../../src/tuf/canonical.js';
import { scopeString, type Access } from './access.js';

export type ChallengeError = 'invalid_token' | 'insufficient_scope' | undefined;

export const UNAUTHORIZED_CONTENT_TYPE = 'application/json; charset=utf-8';

const SHORT_ESCAPES: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
  0x22: '\\"',
  0x5c: '\\\\',
};

/** Go strconv.Quote for the characters a header can carry (ASCII controls escaped). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) out += short;
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0x80 && c < 0xa0) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

export function challengeHeader(
  realm: string,
  service: string,
  required: readonly Access[],
  error: ChallengeError,
): string {
  let h = `Bearer realm=${goQuote(realm)},service=${goQuote(service)}`;
  const scope = required
    .filter((a) => a.actions.length > 0)
    .map(scopeString)
    .join(' ');
  if (scope !== '') h += `,scope=${goQuote(scope)}`;
  if (error !== undefined) h += `,error=${goQuote(error)}`;
  return h;
}

/** Go's errcode body for UNAUTHORIZED with one detail record per required (resource, action). */
export function unauthorizedBody(required: readonly Access[]): Buffer {
  const detail = required.flatMap((a) =>
    a.actions.map(
      (action) =>
        `{"Type":${goJsonString(a.type)},"Class":"","Name":${goJsonString(a.name)},"Action":${goJsonString(action)}}`,
    ),
  );
  return Buffer.from(
    `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[${detail.join(',')}]}]}\n`,
  );
}
