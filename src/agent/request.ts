// The `H` frame's payload: NUL-terminated fields
//   "1" \0 build-id \0 cwd \0 ttys \0 argc \0 argv[1] \0 … argv[argc] \0 NAME=VALUE \0 …
// decoded as UTF-8 (invalid bytes become U+FFFD, as Node does for its own argv and environment).

export const PROTOCOL_VERSION = '1';

export interface AgentRequest {
  /** 16 lowercase hex digits: the caller's build of the bundled CLI. */
  buildId: string;
  /** The caller's working directory (absolute). */
  cwd: string;
  /** isatty(0), isatty(1), isatty(2) of the caller. */
  ttys: { stdin: boolean; stdout: boolean; stderr: boolean };
  /** Arguments after the program name. */
  argv: string[];
  /** The caller's environment; for a name given twice the first entry wins, as getenv(3). */
  env: Record<string, string>;
}

/** A request that does not follow the format; the agent closes the connection. */
export class RequestError extends Error {
  override name = 'RequestError';
}

const BUILD_ID = /^[0-9a-f]{16}$/;
const TTYS = /^[01]{3}$/;
const COUNT = /^(0|[1-9][0-9]{0,6})$/;

export function parseRequest(payload: Uint8Array): AgentRequest {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (bytes.length === 0 || bytes[bytes.length - 1] !== 0)
    throw new RequestError('the request does not end with a NUL');
  const fields: string[] = [];
  for (let start = 0; start < bytes.length;) {
    const end = bytes.indexOf(0, start);
    fields.push(bytes.toString('utf8', start, end));
    start = end + 1;
  }
  const [version, buildId, cwd, ttys, argc] = fields;
  if (version !== PROTOCOL_VERSION)
    throw new RequestError(`unsupported protocol version ${JSON.stringify(version)}`);
  if (buildId === undefined || !BUILD_ID.test(buildId)) throw new RequestError('bad build id');
  if (cwd === undefined || !cwd.startsWith('/')) throw new RequestError('cwd is not absolute');
  if (ttys === undefined || !TTYS.test(ttys)) throw new RequestError('bad ttys field');
  if (argc === undefined || !COUNT.test(argc)) throw new RequestError('bad argument count');
  const n = Number(argc);
  if (fields.length < 5 + n) throw new RequestError('fewer arguments than the count says');
  // No prototype: a caller's `__proto__=…` entry is just a variable.
  const env = Object.create(null) as Record<string, string>;
  for (const entry of fields.slice(5 + n)) {
    const eq = entry.indexOf('=');
    // execve(2) allows entries without a name or `=`; Node's own process.env drops them too.
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (!Object.hasOwn(env, name)) env[name] = entry.slice(eq + 1);
  }
  return {
    buildId,
    cwd,
    ttys: { stdin: ttys[0] === '1', stdout: ttys[1] === '1', stderr: ttys[2] === '1' },
    argv: fields.slice(5, 5 + n),
    env,
  };
}

/** The payload for `req` (the launcher's side; used by tests and Node callers). */
export function encodeRequest(req: AgentRequest): Buffer {
  const bit = (b: boolean) => (b ? '1' : '0');
  const fields = [
    PROTOCOL_VERSION,
    req.buildId,
    req.cwd,
    bit(req.ttys.stdin) + bit(req.ttys.stdout) + bit(req.ttys.stderr),
    String(req.argv.length),
    ...req.argv,
    ...Object.entries(req.env).map(([k, v]) => `${k}=${v}`),
  ];
  for (const f of fields) if (f.includes('\0')) throw new RequestError('a field contains a NUL');
  return Buffer.from(fields.map((f) => `${f}\0`).join(''), 'utf8');
}
