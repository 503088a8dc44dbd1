// Go notary-server's error envelope (notary-protocol §4.8; docker/distribution errcode):
//   {"errors":[{"code":"…","message":"…","detail":…}]}\n   — `detail` omitted when absent,
// HTTP status = the code's status, Content-Type application/json; charset=utf-8, strings
// HTML-escaped as Go's encoder writes them. TOO_LARGE (Go has no size limit) and UNAVAILABLE
// (database unreachable: retry later) are trustdesk's own.

import { goJsonString } from '../../src/tuf/canonical.js';

export const ERRORS = {
  NO_STORAGE: [500, 'The server is misconfigured and has no storage.'],
  NO_FILENAME: [400, 'No file/role name provided.'],
  INVALID_ROLE: [400, 'The role you are attempting to operate on is invalid.'],
  MALFORMED_JSON: [400, 'JSON sent by the client could not be parsed by the server'],
  UPDATING: [500, 'An error has occurred while updating the TUF repository.'],
  VERSION: [400, 'A newer version of metadata is already available.'],
  METADATA_NOT_FOUND: [404, 'You have requested metadata that does not exist.'],
  INVALID_UPDATE: [400, 'Update sent by the client is invalid.'],
  MALFORMED_UPLOAD: [400, 'The body of your request is malformed.'],
  GENERIC_NOT_FOUND: [404, 'You have requested a resource that does not exist.'],
  NO_CRYPTOSERVICE: [500, 'The server does not have a signing service configured.'],
  NO_KEYALGORITHM: [500, 'The server does not have a key algorithm configured.'],
  INVALID_GUN: [400, 'The server does not support actions on images of this name.'],
  INVALID_PARAMETERS: [400, 'The parameters provided are not valid.'],
  UNKNOWN: [500, 'unknown error'],
  UNAUTHORIZED: [401, 'authentication required'],
  TOO_LARGE: [413, 'The upload is larger than the server accepts.'],
  UNAVAILABLE: [503, 'The server cannot reach its database; try again later.'],
} as const satisfies Record<string, readonly [number, string]>;

export type HttpErrorCode = keyof typeof ERRORS;

/** A JSON value for `detail`, serialised in insertion order as Go's encoder writes structs. */
export type Detail = null | boolean | number | string | Detail[] | { [k: string]: Detail };

/** An error answered with the envelope. `detail` undefined = omitted. */
export class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly code: HttpErrorCode,
    readonly detail?: Detail,
    /** Extra response headers (e.g. WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(ERRORS[code][1]);
    this.name = 'HttpError';
    this.status = ERRORS[code][0];
  }
}

/** Go encoding/json output for a Detail (HTML-safe strings, no spaces). */
export function goJson(v: Detail): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return goJsonString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return '[' + v.map(goJson).join(',') + ']';
  return (
    '{' +
    Object.entries(v)
      .map(([k, x]) => goJsonString(k) + ':' + goJson(x))
      .join(',') +
    '}'
  );
}

/** The envelope body for one error, with Go's trailing newline. */
export function envelope(code: HttpErrorCode, detail?: Detail): string {
  const d = detail === undefined ? '' : ',"detail":' + goJson(detail);
  return `{"errors":[{"code":"${code}","message":${goJsonString(ERRORS[code][1])}${d}}]}\n`;
}

export const ERROR_CONTENT_TYPE = 'application/json; charset=utf-8';
