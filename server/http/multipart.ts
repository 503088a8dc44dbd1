// A multipart body reader with Go's semantics (mime.ParseMediaType, mime/multipart.Reader), for
// the upload route (notary-protocol §4.2). Written here rather than taken from busboy /
// @fastify/multipart because Go's server, unlike busboy:
//   - reads the filename from the RAW Content-Disposition parameter and keeps its '/'
//     (targets/releases); busboy strips paths unless preservePath, and
//   - takes `multipart/mixed` as well as form-data, takes a part whatever its disposition type
//     (busboy skips non-"form-data" parts), and answers a part without a filename with
//     NO_FILENAME (busboy turns it into a form field and drops it).
//
// Rules, in order:
//   - request Content-Type must parse as multipart/form-data or multipart/mixed with a
//     non-empty `boundary` parameter → else MultipartError (→ 400 MALFORMED_UPLOAD);
//   - the preamble before the first `--boundary` line is skipped; a first boundary line ending
//     in a bare LF switches the body to LF line endings (as Go does); transport padding
//     (spaces/tabs) after a boundary is allowed;
//   - a part = header lines (≤ MAX_HEADER_BYTES, continuation lines folded, each `Name: value`)
//     + blank line + body up to the next CRLF--boundary (or LF--boundary);
//   - the body ends at `--boundary--`; the epilogue is ignored; a missing final boundary, a
//     malformed header or stray data between parts is a MultipartError;
//   - parts are yielded one at a time, so the caller refuses part N before part N+1 is read
//     (Go's order); a part body over `maxPartBytes` → PartTooLargeError; more than `maxParts`
//     parts → TooManyPartsError.

export class MultipartError extends Error {
  override name = 'MultipartError';
}

export class PartTooLargeError extends Error {
  override name = 'PartTooLargeError';
  constructor(
    readonly filename: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`part ${JSON.stringify(filename)} is ${size} bytes; the limit is ${limit} bytes`);
  }
}

export class TooManyPartsError extends Error {
  override name = 'TooManyPartsError';
  constructor(readonly limit: number) {
    super(`the upload has more than ${limit} parts`);
  }
}

export const MAX_HEADER_BYTES = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// mime.ParseMediaType

const TSPECIALS = '()<>@,;:\\"/[]?=';

function isTokenChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code > 0x20 && code < 0x7f && !TSPECIALS.includes(c);
}

function consumeToken(v: string): [string, string] {
  let i = 0;
  while (i < v.length && isTokenChar(v[i] as string)) i++;
  return [v.slice(0, i), v.slice(i)];
}

function trimLeftSpace(v: string): string {
  return v.replace(/^\s+/u, '');
}

function consumeValue(v: string): [string, string] {
  if (v === '') return ['', ''];
  if (v[0] !== '"') return consumeToken(v);
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i] as string;
    if (c === '"') return [out, v.slice(i + 1)];
    // A backslash escapes only a tspecial; otherwise it is literal (MSIE paths), as in Go.
    if (c === '\\' && i + 1 < v.length && TSPECIALS.includes(v[i + 1] as string)) {
      out += v[i + 1];
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') return ['', v];
    out += c;
  }
  return ['', v]; // no closing quote
}

function consumeMediaParam(v: string): [string, string, string] {
  let rest = trimLeftSpace(v);
  if (!rest.startsWith(';')) return ['', '', v];
  rest = trimLeftSpace(rest.slice(1));
  let param: string;
  [param, rest] = consumeToken(rest);
  param = param.toLowerCase();
  if (param === '') return ['', '', v];
  rest = trimLeftSpace(rest);
  if (!rest.startsWith('=')) return ['', '', v];
  rest = trimLeftSpace(rest.slice(1));
  const [value, rest2] = consumeValue(rest);
  if (value === '' && rest2 === rest) return ['', '', v];
  return [param, value, rest2];
}

function percentHexUnescape(s: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) return undefined;
      bytes.push(parseInt(h, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(s[i] as string, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decode2231(v: string): string | undefined {
  const parts = v.split("'");
  if (parts.length < 3) return undefined;
  const charset = (parts[0] as string).toLowerCase();
  if (charset !== 'us-ascii' && charset !== 'utf-8') return undefined;
  return percentHexUnescape(parts.slice(2).join("'"));
}

/** Go's mime.ParseMediaType: [lower-cased type, params] or undefined on a parse error. */
export function parseMediaType(v: string): [string, Map<string, string>] | undefined {
  const semi = v.indexOf(';');
  const base = semi < 0 ? v : v.slice(0, semi);
  const mediatype = base.toLowerCase().trim();
  const [typ, after] = consumeToken(mediatype);
  if (typ === '') return undefined;
  if (after !== '') {
    if (!after.startsWith('/')) return undefined;
    const [sub, rest] = consumeToken(after.slice(1));
    if (sub === '' || rest !== '') return undefined;
  }
  const params = new Map<string, string>();
  const continuation = new Map<string, Map<string, string>>();
  let rest = v.slice(base.length);
  while (rest.length > 0) {
    rest = trimLeftSpace(rest);
    if (rest === '') break;
    const [key, value, r] = consumeMediaParam(rest);
    if (key === '') {
      if (r.trim() === ';') break; // a trailing semicolon is ignored
      return undefined;
    }
    let pmap = params;
    const star = key.indexOf('*');
    if (star >= 0) {
      const baseName = key.slice(0, star);
      pmap = continuation.get(baseName) ?? new Map<string, string>();
      continuation.set(baseName, pmap);
    }
    const prev = pmap.get(key);
    if (prev !== undefined && prev !== value) return undefined; // duplicate parameter
    pmap.set(key, value);
    rest = r;
  }
  for (const [key, pieces] of continuation) {
    const single = pieces.get(key + '*');
    if (single !== undefined) {
      const d = decode2231(single);
      if (d !== undefined) params.set(key, d);
      continue;
    }
    let buf = '';
    let valid = false;
    for (let n = 0; ; n++) {
      const simple = pieces.get(`${key}*${n}`);
      if (simple !== undefined) {
        valid = true;
        buf += simple;
        continue;
      }
      const enc = pieces.get(`${key}*${n}*`);
      if (enc === undefined) break;
      valid = true;
      buf += (n === 0 ? decode2231(enc) : percentHexUnescape(enc)) ?? '';
    }
    if (valid) params.set(key, buf);
  }
  return [mediatype, params];
}

/** The boundary of a multipart request Content-Type (Go's r.MultipartReader), or throws. */
export function multipartBoundary(contentType: string | undefined): string {
  if (!contentType) throw new MultipartError('the request is not multipart (no Content-Type)');
  const parsed = parseMediaType(contentType);
  if (!parsed || (parsed[0] !== 'multipart/form-data' && parsed[0] !== 'multipart/mixed'))
    throw new MultipartError('the request is not multipart/form-data');
  const boundary = parsed[1].get('boundary');
  if (!boundary) throw new MultipartError('the multipart Content-Type has no boundary');
  return boundary;
}

// ---------------------------------------------------------------------------------------------
// Body

export interface Part {
  /** Header names lower-cased; first value wins (textproto Header.Get). */
  headers: Map<string, string>;
  /** Go's partFileName: the raw `filename` parameter of Content-Disposition, '' if none. */
  filename: string;
  body: Uint8Array;
}

export interface ReadOptions {
  maxPartBytes: number;
  maxParts: number;
}

const LWSP = new Set([0x20, 0x09]);

/** Iterates the parts of a multipart body (rules at the top of this file). */
export function* readParts(body: Uint8Array, boundary: string, opts: ReadOptions): Generator<Part> {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const dash = Buffer.from('--' + boundary);
  let nl = '\r\n';
  let pos = 0;
  let parts = 0;

  const lineEnd = (from: number): number => {
    const i = buf.indexOf(0x0a, from);
    return i < 0 ? buf.length : i + 1;
  };
  /** Whether buf[start,end) is a boundary line; 'final' for the closing one. */
  const boundaryKind = (start: number, end: number): 'part' | 'final' | null => {
    if (!buf.subarray(start, start + dash.length).equals(dash)) return null;
    let i = start + dash.length;
    let kind: 'part' | 'final' = 'part';
    if (buf[i] === 0x2d && buf[i + 1] === 0x2d) {
      kind = 'final';
      i += 2;
    }
    while (i < end && LWSP.has(buf[i] as number)) i++;
    const rest = buf.toString('latin1', i, end);
    if (kind === 'final') return rest === '' || rest === nl || rest === '\n' ? 'final' : null;
    if (rest === nl) return 'part';
    if (parts === 0 && rest === '\n') {
      nl = '\n'; // Go switches to LF line endings when the first boundary uses them
      return 'part';
    }
    return null;
  };

  // Preamble: skip lines until the first boundary.
  for (;;) {
    if (pos >= buf.length) throw new MultipartError('multipart body has no boundary');
    const end = lineEnd(pos);
    const kind = boundaryKind(pos, end);
    pos = end;
    if (kind === 'final') return;
    if (kind === 'part') break;
  }

  for (;;) {
    if (++parts > opts.maxParts) throw new TooManyPartsError(opts.maxParts);
    // Headers.
    const headers = new Map<string, string>();
    const headerStart = pos;
    // undefined: no header yet; null: continuing a duplicate header, which is ignored.
    let last: string | null | undefined;
    for (;;) {
      if (pos >= buf.length) throw new MultipartError('multipart part headers are truncated');
      const end = lineEnd(pos);
      if (end - headerStart > MAX_HEADER_BYTES)
        throw new MultipartError('multipart part headers are too large');
      const line = buf.toString('latin1', pos, end).replace(/\r?\n$/, '');
      pos = end;
      if (line === '') break;
      if (LWSP.has(line.charCodeAt(0))) {
        if (last === undefined) throw new MultipartError('malformed MIME header continuation');
        if (last !== null) headers.set(last, `${headers.get(last) ?? ''} ${line.trim()}`);
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw new MultipartError(`malformed MIME header line: ${line.slice(0, 80)}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name))
        throw new MultipartError('malformed MIME header name');
      if (headers.has(name)) {
        last = null; // the first value wins (textproto Header.Get)
      } else {
        headers.set(name, line.slice(colon + 1).trim());
        last = name;
      }
    }
    const disposition = headers.get('content-disposition');
    const parsed = disposition === undefined ? undefined : parseMediaType(disposition);
    const filename = parsed?.[1].get('filename') ?? '';

    // Body: up to the next NL--boundary that is followed by padding+NL or "--".
    const delim = Buffer.from(nl + '--' + boundary);
    let search = pos;
    let bodyEnd = -1;
    let next = -1;
    let final = false;
    while (bodyEnd < 0) {
      const i = buf.indexOf(delim, search);
      if (i < 0) throw new MultipartError('multipart body ends without a closing boundary');
      const lineStart = i + nl.length;
      const end = lineEnd(lineStart);
      const kind = boundaryKind(lineStart, end);
      if (kind) {
        bodyEnd = i;
        next = end;
        final = kind === 'final';
      } else {
        search = i + 1;
      }
    }
    if (bodyEnd - pos > opts.maxPartBytes)
      throw new PartTooLargeError(filename, bodyEnd - pos, opts.maxPartBytes);
    yield { headers, filename, body: new Uint8Array(buf.subarray(pos, bodyEnd)) };
    if (final) return;
    pos = next;
  }
}
