// How responses and transport failures become errors (notary-protocol §4.8, §4.11; Go
// storage/httpstore.go translateStatusToError). Only 200 is success, as in Go — even 201/204.
//   404 → ERR_NOT_FOUND; for root files (root, <v>.root, root.<sum>) ERR_REPO_NOT_FOUND
//   400 → the errcode envelope, of which at most 1 KiB is read; exactly one error is decoded:
//           INVALID_UPDATE with detail {Name, Error:{Msg, Missing?}}:
//             ErrBadRoot → ERR_BAD_ROOT, ErrBadHierarchy → ERR_BAD_HIERARCHY,
//             ErrBadTargets / ErrBadSnapshot / ErrValidation → ERR_VALIDATION
//           VERSION → ERR_VERSION_CONFLICT
//         anything else (or an unparseable body) → ERR_SERVER_REJECTED
//   401 → ERR_UNAUTHORIZED
//   any other status → ERR_SERVER_UNAVAILABLE
// Transport failures: user abort → ERR_ABORTED; connect/headers/body/overall timeouts →
// ERR_TIMEOUT; certificate problems → ERR_TLS; other socket errors → ERR_NETWORK.
// `duringBody` marks failures after the status line arrived (a truncated or stalled body): Go
// returns those as they are, whereas earlier ones count as "server unavailable" (the updater
// falls back to the cached timestamp for those only).

import { TrustdeskError, type ErrorCode } from '../../tuf/errors.js';

/** Go's MaxErrorResponseSize: error bodies are read up to this many bytes. */
export const ERROR_BODY_LIMIT = 1024;

export type GoValidationName =
  'ErrValidation' | 'ErrBadHierarchy' | 'ErrBadRoot' | 'ErrBadTargets' | 'ErrBadSnapshot';

const VALIDATION_CODES: Record<GoValidationName, ErrorCode> = {
  ErrValidation: 'ERR_VALIDATION',
  ErrBadHierarchy: 'ERR_BAD_HIERARCHY',
  ErrBadRoot: 'ERR_BAD_ROOT',
  ErrBadTargets: 'ERR_VALIDATION',
  ErrBadSnapshot: 'ERR_VALIDATION',
};

const VALIDATION_HINTS: Record<GoValidationName, string> = {
  ErrValidation: 'The server refused the update; see its reason in the message.',
  ErrBadHierarchy:
    'The update lacks a role the server needs (usually the snapshot): sign it locally or rotate the snapshot key to the server (`key rotate <gun> snapshot -r`).',
  ErrBadRoot:
    'The server refused the root: a rotation must be signed by the old and the new root keys, and root certificates must name the GUN.',
  ErrBadTargets:
    'The server refused the targets metadata: check it is signed by the keys root lists for it.',
  ErrBadSnapshot:
    'The server refused the snapshot: it must list the exact root and targets files uploaded with it.',
};

/** What the server said in its errcode envelope (for --json and the TUI). */
export interface ServerErrorDetail {
  /** errcode code, e.g. INVALID_UPDATE, VERSION, MALFORMED_UPLOAD. */
  code: string;
  message?: string;
  /** Go's validation error name for INVALID_UPDATE. */
  name?: GoValidationName;
  msg?: string;
  missing?: string;
}

export class RemoteError extends TrustdeskError {
  /** HTTP status, when a response arrived. */
  readonly status: number | undefined;
  /** What was requested: a file name (`timestamp.json`) or an operation. */
  readonly resource: string;
  /** The failure happened while reading the body, after the status line. */
  readonly duringBody: boolean;
  readonly server: ServerErrorDetail | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: {
      status?: number;
      resource: string;
      duringBody?: boolean;
      server?: ServerErrorDetail;
      hint?: string;
      cause?: unknown;
    },
  ) {
    super(code, message, { hint: opts.hint, cause: opts.cause });
    this.status = opts.status;
    this.resource = opts.resource;
    this.duringBody = opts.duringBody ?? false;
    this.server = opts.server;
  }
}

const ROOT_FILE = /^(?:\d+\.)?root(?:\.[0-9a-f]+)?\.json$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const GO_NAMES = new Set<string>(Object.keys(VALIDATION_CODES));

/** Decodes a 400 body as Go's client does (one error in the envelope); undefined otherwise. */
export function parseErrorEnvelope(body: Uint8Array): ServerErrorDetail | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body.subarray(0, ERROR_BODY_LIMIT)).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(doc) || !Array.isArray(doc.errors) || doc.errors.length !== 1) return undefined;
  const e: unknown = doc.errors[0];
  if (!isObject(e) || typeof e.code !== 'string') return undefined;
  const out: ServerErrorDetail = { code: e.code };
  if (typeof e.message === 'string') out.message = e.message;
  const d = e.detail;
  if (isObject(d) && typeof d.Name === 'string' && GO_NAMES.has(d.Name) && isObject(d.Error)) {
    out.name = d.Name as GoValidationName;
    if (typeof d.Error.Msg === 'string') out.msg = d.Error.Msg;
    if (typeof d.Error.Missing === 'string') out.missing = d.Error.Missing;
  }
  return out;
}

/** The error for a non-200 response to a request for `resource`. */
export function statusError(
  status: number,
  resource: string,
  body: Uint8Array,
  gun: string,
): RemoteError {
  const base = { status, resource };
  switch (status) {
    case 404:
      if (ROOT_FILE.test(resource)) {
        return new RemoteError(
          'ERR_REPO_NOT_FOUND',
          `repository ${gun} does not exist on the trust server (${resource}: 404)`,
          base,
        );
      }
      return new RemoteError('ERR_NOT_FOUND', `${resource}: not found on the trust server`, base);
    case 400: {
      const server = parseErrorEnvelope(body);
      if (server?.code === 'VERSION') {
        return new RemoteError(
          'ERR_VERSION_CONFLICT',
          `${resource}: the server already holds a newer version (VERSION)`,
          { ...base, server },
        );
      }
      if (server?.name) {
        const detail = server.missing ? ` (missing ${server.missing})` : '';
        return new RemoteError(
          VALIDATION_CODES[server.name],
          `${resource}: the trust server rejected the update: ${server.name}: ${server.msg ?? ''}${detail}`,
          { ...base, server, hint: VALIDATION_HINTS[server.name] },
        );
      }
      const said = server ? `: ${server.code}${server.message ? ` (${server.message})` : ''}` : '';
      return new RemoteError(
        'ERR_SERVER_REJECTED',
        `${resource}: the trust server rejected the request${said}`,
        { ...base, server },
      );
    }
    case 401:
      return new RemoteError(
        'ERR_UNAUTHORIZED',
        `${resource}: not authorized (the trust server answered 401)`,
        base,
      );
    default:
      return new RemoteError(
        'ERR_SERVER_UNAVAILABLE',
        `${resource}: the trust server answered HTTP ${status}`,
        base,
      );
  }
}

const TLS_CODES =
  /^(?:CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|CERT_UNTRUSTED)/;

/** Error codes (Node/undici) of `e` and its causes, outermost first. */
function errorCodes(e: unknown): string[] {
  const out: string[] = [];
  for (let cur = e, depth = 0; cur && depth < 5; depth++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string') out.push(c);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

/** Connect/TLS-stage problems: nothing reached the server, so a GET can be retried. */
export function isRetryableTransportError(e: unknown): boolean {
  return (
    e instanceof RemoteError &&
    !e.duringBody &&
    (e.code === 'ERR_NETWORK' || e.code === 'ERR_TIMEOUT')
  );
}

/** Maps a transport failure (undici/Node error) to a RemoteError. */
export function transportError(
  e: unknown,
  resource: string,
  ctx: { aborted: boolean; timedOut: boolean; duringBody: boolean },
): RemoteError {
  if (e instanceof RemoteError) return e;
  const duringBody = ctx.duringBody;
  const msg = e instanceof Error ? e.message : String(e);
  if (ctx.aborted)
    return new RemoteError('ERR_ABORTED', `${resource}: cancelled`, { resource, duringBody });
  if (ctx.timedOut) {
    return new RemoteError(
      'ERR_TIMEOUT',
      `${resource}: the request took longer than allowed${duringBody ? ' (the body was still arriving)' : ''}`,
      { resource, duringBody, cause: e },
    );
  }
  const codes = errorCodes(e);
  if (codes.some((c) => c === 'UND_ERR_CONNECT_TIMEOUT' || c === 'UND_ERR_HEADERS_TIMEOUT'))
    return new RemoteError('ERR_TIMEOUT', `${resource}: ${msg}`, { resource, cause: e });
  if (codes.includes('UND_ERR_BODY_TIMEOUT')) {
    return new RemoteError('ERR_TIMEOUT', `${resource}: the body stalled (${msg})`, {
      resource,
      duringBody: true,
      cause: e,
    });
  }
  if (codes.some((c) => TLS_CODES.test(c)))
    return new RemoteError('ERR_TLS', `${resource}: TLS: ${msg}`, { resource, cause: e });
  return new RemoteError(
    'ERR_NETWORK',
    `${resource}: ${duringBody ? 'the response was cut off: ' : ''}${msg}${codes.length ? ` (${codes[0]})` : ''}`,
    { resource, duringBody, cause: e },
  );
}
