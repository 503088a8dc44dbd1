// GET /v2/<gun>/_trust/changefeed and /v2/_trust/changefeed (notary-protocol §4.6;
// server/handlers/changefeed.go, server/storage/sqldb.go GetChanges):
//   - `records` is required: Go's strconv.ParseInt(s, 10, 32); failure → 400 INVALID_PARAMETERS
//     with detail "invalid records parameter: strconv.ParseInt: parsing "<s>": <reason>";
//     0 → 100; negative → the |n| records before change_id;
//   - `change_id` optional ("" = 0), same integer rule; failure → 400 INVALID_PARAMETERS with
//     detail {} (Go's ErrBadQuery has no exported fields); results exclude that id;
//   - a negative change_id, or negative records with change_id <= 0, means "from the latest,
//     backwards";
//   - records are always oldest → newest; body {"count":n,"records":[{"ID","CreatedAt","GUN",
//     "Version","SHA256","Category"}…]} with Go's field names and encoding.

import { goJsonString } from '../../src/tuf/canonical.js';
import { formatRfc3339 } from '../../src/tuf/metadata.js';
import { goQuote } from '../auth/challenge.js';
import { type Change, type ChangefeedQuery } from '../storage/types.js';
import { HttpError } from './errors.js';

export const DEFAULT_PAGE_SIZE = 100;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Go's strconv.ParseInt(s, 10, 32): the value, or the error text Go prints. */
export function parseInt32(s: string): number | string {
  const prefix = `strconv.ParseInt: parsing ${goQuote(s)}: `;
  if (!/^[+-]?[0-9]+$/.test(s)) return prefix + 'invalid syntax';
  const n = Number(s);
  if (n < INT32_MIN || n > INT32_MAX) return prefix + 'value out of range';
  return n === 0 ? 0 : n; // no -0
}

/** The store query for the request's parameters, or the HttpError Go answers. */
export function changefeedQuery(gun: string, params: URLSearchParams): ChangefeedQuery {
  const r = parseInt32(params.get('records') ?? '');
  if (typeof r === 'string')
    throw new HttpError('INVALID_PARAMETERS', `invalid records parameter: ${r}`);
  const rawId = params.get('change_id') ?? '';
  const id = rawId === '' ? 0 : parseInt32(rawId);
  if (typeof id === 'string') throw new HttpError('INVALID_PARAMETERS', {});
  const n = Math.abs(r === 0 ? DEFAULT_PAGE_SIZE : r);
  const reversed = id < 0 || r < 0;
  return {
    gun: gun === '' ? null : gun,
    changeId: reversed && id <= 0 ? '-1' : String(id),
    records: reversed ? -n : n,
  };
}

/** The response body with Go's field names and string encoding. */
export function changefeedBody(changes: readonly Change[]): string {
  const records = changes.map(
    (c) =>
      `{"ID":${goJsonString(c.id)},"CreatedAt":"${formatRfc3339(c.createdAt.getTime())}",` +
      `"GUN":${goJsonString(c.gun)},"Version":${c.version},"SHA256":${goJsonString(c.sha256)},` +
      `"Category":${goJsonString(c.category)}}`,
  );
  return `{"count":${changes.length},"records":[${records.join(',')}]}`;
}
