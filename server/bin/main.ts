// The trustdesk-server command line (Go notary-server's flags, plus the token issuer tools):
//
//   trustdesk-server [-config <file.json>] [-debug] [-logf json|logfmt] [-version]
//   trustdesk-server hash-password          password from $TRUSTDESK_PASSWORD or stdin → hash
//   trustdesk-server token-issuer -issuer <iss> -key <pem> -cert <pem> -users <file.json>
//                    [-service <svc>] [-addr host:port] [-ttl <s>] [-no-anonymous]
//                    [-tls-cert <pem> -tls-key <pem>]
//
// Without -config: 127.0.0.1:4443, SQLite + local trust service in the data dir, said on stderr.
// Start-up failures print "trustdesk-server: <message>" (+ a hint) and exit 1. SIGTERM/SIGINT
// stop gracefully (in-flight requests finish, database and trust service close; a second signal
// or SHUTDOWN_TIMEOUT_MS ends the process at once).

import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { dirname, join } from 'node:path';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { createServer, type TrustdeskServer } from '../app.js';
import { loadTokenIssuer } from '../auth/issuer.js';
import { hashPassword } from '../auth/password.js';
import { defaultConfig, loadConfigFile, parseAddr, type ServerConfig } from '../config/config.js';
import { startDebugServer, type DebugServer } from '../http/debug.js';
import { boolFlag, parseFlags, stringFlag } from './flags.js';

export const SHUTDOWN_TIMEOUT_MS = 30_000;

export interface CliIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readStdin: () => Promise<string>;
  /** Registers the shutdown handler for SIGTERM/SIGINT. */
  onSignal: (handler: (signal: string) => void) => void;
  exit: (code: number) => void;
}

function serverVersion(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'trustdesk' && pkg.version) return pkg.version;
    } catch {
      // not here
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

const USAGE = `usage: trustdesk-server [-config <file.json>] [-debug] [-logf json|logfmt] [-version]
       trustdesk-server hash-password
       trustdesk-server token-issuer -issuer <iss> -key <pem> -cert <pem> -users <file.json> [-service <svc>] [-addr host:port] [-ttl <s>] [-no-anonymous] [-tls-cert <pem> -tls-key <pem>]
`;

async function runHashPassword(io: CliIo): Promise<number> {
  const password = io.env.TRUSTDESK_PASSWORD ?? (await io.readStdin()).replace(/\r?\n$/, '');
  if (!password)
    throw new TrustdeskError('ERR_USAGE', 'no password given (stdin or $TRUSTDESK_PASSWORD)');
  io.stdout((await hashPassword(password)) + '\n');
  return 0;
}

async function runTokenIssuer(argv: readonly string[], io: CliIo): Promise<number> {
  const f = parseFlags(argv, {
    issuer: 'string',
    service: 'string',
    key: 'string',
    cert: 'string',
    users: 'string',
    addr: 'string',
    ttl: 'string',
    'no-anonymous': 'boolean',
    'tls-cert': 'string',
    'tls-key': 'string',
  });
  const need = (name: string): string => {
    const v = stringFlag(f, name);
    if (!v) throw new TrustdeskError('ERR_USAGE', `token-issuer needs -${name}`);
    return v;
  };
  const ttl = stringFlag(f, 'ttl');
  const issuer = loadTokenIssuer({
    issuer: need('issuer'),
    keyFile: need('key'),
    certFile: need('cert'),
    usersFile: need('users'),
    ...(stringFlag(f, 'service') ? { service: stringFlag(f, 'service') } : {}),
    ...(ttl ? { ttlSeconds: Number(ttl) } : {}),
    allowAnonymous: !boolFlag(f, 'no-anonymous'),
  });
  const { host, port } = parseAddr(stringFlag(f, 'addr') ?? '127.0.0.1:4000');
  const tlsCert = stringFlag(f, 'tls-cert');
  const tlsKey = stringFlag(f, 'tls-key');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new TrustdeskError(
      'ERR_USAGE',
      'token-issuer: give both -tls-cert and -tls-key, or neither',
    );
  const server =
    tlsCert && tlsKey
      ? createHttpsServer(
          { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) },
          issuer.handler,
        )
      : createHttpServer(issuer.handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host ?? '::', resolve);
  });
  const a = server.address();
  const bound = typeof a === 'object' && a ? a.port : port;
  io.stderr(
    `trustdesk-server token-issuer: listening on ${tlsCert ? 'https' : 'http'}://${host ?? 'localhost'}:${bound}\n`,
  );
  await new Promise<void>((resolve) =>
    io.onSignal(() => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  );
  return 0;
}

async function runServer(argv: readonly string[], io: CliIo): Promise<number> {
  const f = parseFlags(argv, {
    config: 'string',
    debug: 'boolean',
    logf: 'string',
    version: 'boolean',
    help: 'boolean',
    h: 'boolean',
  });
  if (boolFlag(f, 'help') || boolFlag(f, 'h')) {
    io.stdout(USAGE);
    return 0;
  }
  if (boolFlag(f, 'version')) {
    io.stdout(`trustdesk-server ${serverVersion()}\n`);
    return 0;
  }
  if (f.rest.length > 0)
    throw new TrustdeskError('ERR_USAGE', `unexpected argument ${JSON.stringify(f.rest[0])}`);
  const logf = stringFlag(f, 'logf') ?? 'json';
  if (logf !== 'json' && logf !== 'logfmt')
    throw new TrustdeskError(
      'ERR_USAGE',
      `-logf ${JSON.stringify(logf)}: only json and logfmt are supported`,
    );
  const file = stringFlag(f, 'config');
  let config: ServerConfig;
  if (file) {
    config = loadConfigFile(file, io.env);
  } else {
    config = defaultConfig(io.env);
    io.stderr(
      `trustdesk-server: no -config given: using ${config.dataDir} ` +
        `(SQLite ${config.storage.dbUrl}, local trust service; set TRUSTDESK_DATA_DIR to move it)\n`,
    );
  }
  const server: TrustdeskServer = await createServer(config, {
    logFormat: logf,
    env: io.env,
    notice: (msg) => io.stderr(`trustdesk-server: ${msg}\n`),
  });
  let debug: DebugServer | undefined;
  try {
    const { url } = await server.start();
    io.stderr(`trustdesk-server: listening on ${url}\n`);
    if (boolFlag(f, 'debug')) {
      debug = await startDebugServer();
      io.stderr(`trustdesk-server: debug server on http://localhost:${debug.port}/debug/vars\n`);
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    io.onSignal((signal) => {
      if (stopping) {
        io.stderr(`trustdesk-server: ${signal} again, exiting now\n`);
        io.exit(1);
        return;
      }
      stopping = true;
      server.logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        io.stderr('trustdesk-server: shutdown took too long, exiting\n');
        io.exit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      timer.unref();
      void Promise.all([server.stop(), debug?.close()]).finally(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  });
  return 0;
}

/** Runs the command; returns the exit code (errors are printed, not thrown). */
export async function runCli(io: CliIo): Promise<number> {
  try {
    const [first, ...rest] = io.argv;
    if (first === 'hash-password') return await runHashPassword(io);
    if (first === 'token-issuer') return await runTokenIssuer(rest, io);
    return await runServer(io.argv, io);
  } catch (e) {
    if (e instanceof TrustdeskError) {
      io.stderr(`trustdesk-server: ${e.message}\n`);
      if (e.code === 'ERR_USAGE') io.stderr(USAGE);
      else if (e.hint) io.stderr(`hint: ${e.hint}\n`);
      return e.code === 'ERR_USAGE' ? 2 : 1;
    }
    io.stderr(`trustdesk-server: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
