// Go notary-server `storage.db_url` values → what our drivers take. Messages never echo the
// value (it may hold a password).
//
// PostgreSQL (Go's lib/pq): a postgres:// or postgresql:// URL. lib/pq follows libpq's sslmode
// meanings and defaults to `require` (encrypt, do not verify); pg would default to no TLS and
// reads `require` as verify-full. So a missing sslmode becomes `require`, and
// `uselibpqcompat=true` makes pg read every sslmode as lib/pq does.
//
// MySQL (go-sql-driver): `[user[:password]@][net[(addr)]]/dbname[?params]`, parsed as Go does —
// the LAST '/' ends the address part, the LAST '@' before it ends the credentials, the FIRST ':'
// splits user and password; net is tcp (default, addr host[:port], default 127.0.0.1:3306) or
// unix (addr = socket path). Params used: tls (true | skip-verify | preferred | false) and
// timeout (a Go duration: connect timeout); parseTime, charset, collation, loc and the rest are
// accepted and ignored (times and text are always handled as UTF-8/UTC here). Also accepted:
// mysql://user:pass@host:port/dbname?params (percent-encoded credentials).

import { TrustdeskError } from '../../src/tuf/errors.js';
import type { MysqlConnection } from './mysql.js';

function bad(what: string, why: string): TrustdeskError {
  return new TrustdeskError('ERR_USAGE', `storage.db_url: ${why}`, {
    hint: `Check storage.db_url in the server config: ${what}.`,
  });
}

export function postgresConnectionString(dbUrl: string): string {
  let url: URL;
  try {
    url = new URL(dbUrl);
  } catch {
    throw bad(
      'expected postgres://user:password@host:port/dbname?sslmode=disable',
      'not a valid URL',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw bad(
      'expected postgres://user:password@host:port/dbname?sslmode=disable',
      'not a postgres:// URL',
    );
  }
  if (!url.searchParams.has('sslmode')) url.searchParams.set('sslmode', 'require');
  if (!url.searchParams.has('uselibpqcompat')) url.searchParams.set('uselibpqcompat', 'true');
  return url.toString();
}

const MYSQL_HINT =
  'expected user:password@tcp(host:port)/dbname?parseTime=True or mysql://user:password@host:port/dbname';

/** Go duration ("5s", "1m30s", "500ms") → milliseconds. */
function goDurationMs(s: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) return undefined;
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  for (const [, n, , u] of s.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    total += Number(n) * unit[u!]!;
  return Math.round(total);
}

function applyParams(conn: MysqlConnection, params: URLSearchParams): void {
  const tls = params.get('tls');
  if (tls !== null) {
    if (tls === 'true') conn.ssl = { rejectUnauthorized: true };
    else if (tls === 'skip-verify' || tls === 'preferred') conn.ssl = { rejectUnauthorized: false };
    else if (tls !== 'false')
      throw bad(MYSQL_HINT, `tls=${tls} is not supported (use true, skip-verify or false)`);
  }
  const timeout = params.get('timeout');
  if (timeout !== null) {
    const ms = goDurationMs(timeout);
    if (ms === undefined) throw bad(MYSQL_HINT, 'timeout is not a Go duration such as 5s');
    conn.connectTimeoutMs = ms;
  }
}

function hostPort(addr: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:]*)(?::(\d+))?$/.exec(addr);
  if (!m) throw bad(MYSQL_HINT, 'the address is not host:port');
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw bad(MYSQL_HINT, 'the port is out of range');
  return { host: m[1] || '127.0.0.1', port };
}

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw bad(MYSQL_HINT, `the ${what} is not valid percent-encoding`);
  }
}

export function mysqlConnection(dbUrl: string): MysqlConnection {
  if (/^mysql:\/\//i.test(dbUrl)) {
    let url: URL;
    try {
      url = new URL(dbUrl);
    } catch {
      throw bad(MYSQL_HINT, 'not a valid URL');
    }
    const database = decode(url.pathname.replace(/^\//, ''), 'database name');
    if (!database || database.includes('/')) throw bad(MYSQL_HINT, 'the URL names no database');
    const { host, port } = hostPort(url.host, 3306);
    const conn: MysqlConnection = { host, port, database };
    if (url.username) conn.user = decode(url.username, 'user name');
    if (url.password) conn.password = decode(url.password, 'password');
    applyParams(conn, url.searchParams);
    return conn;
  }

  const slash = dbUrl.lastIndexOf('/');
  if (slash < 0) throw bad(MYSQL_HINT, 'missing the slash before the database name');
  const head = dbUrl.slice(0, slash);
  const tail = dbUrl.slice(slash + 1);
  const q = tail.indexOf('?');
  const database = decode(q < 0 ? tail : tail.slice(0, q), 'database name');
  if (!database) throw bad(MYSQL_HINT, 'the DSN names no database');
  const conn: MysqlConnection = { database };

  const at = head.lastIndexOf('@');
  let addrPart = head;
  if (at >= 0) {
    const creds = head.slice(0, at);
    addrPart = head.slice(at + 1);
    const colon = creds.indexOf(':');
    conn.user = colon < 0 ? creds : creds.slice(0, colon);
    if (colon >= 0) conn.password = creds.slice(colon + 1);
  }
  const m = /^([a-z0-9]*)(?:\((.*)\))?$/.exec(addrPart);
  if (!m) throw bad(MYSQL_HINT, 'the address part is not net(address)');
  const net = m[1] || 'tcp';
  const addr = m[2] ?? '';
  if (net === 'unix') {
    conn.socketPath = addr || '/tmp/mysql.sock';
  } else if (net === 'tcp' || net === 'tcp6') {
    Object.assign(conn, hostPort(addr, 3306));
  } else {
    throw bad(MYSQL_HINT, `network "${net}" is not supported (use tcp or unix)`);
  }
  if (q >= 0) applyParams(conn, new URLSearchParams(tail.slice(q + 1)));
  return conn;
}
