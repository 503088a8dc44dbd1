// Opens the MetaStore a Go notary-server config names: `storage.backend` (memory | sqlite, or
// Go's name sqlite3 | postgres | mysql) and `storage.db_url` in Go's formats (dsn.ts). The
// schema is created or migrated before the store is returned (migrations.ts).

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { mysqlConnection, postgresConnectionString } from './dsn.js';
import { MemoryMetaStore } from './memory.js';
import { openMysqlStore } from './mysql.js';
import { openPostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import type { MetaStore } from './types.js';

/** File name of the embedded database when only a data dir is given. */
export const DEFAULT_SQLITE_FILE = 'trustdesk-server.db';

export interface OpenMetaStoreOptions {
  backend: string;
  /** storage.db_url: postgres URL, MySQL DSN or mysql:// URL, SQLite file path or file: URL. */
  dbUrl?: string;
  /** SQLite: the database file (wins over dbUrl). */
  path?: string;
  /** SQLite: with neither path nor dbUrl, the database is <dataDir>/trustdesk-server.db. */
  dataDir?: string;
  /** postgres/mysql: connections per process (default 10). */
  poolSize?: number;
  /** Longest wait for a lock (another writer of the same GUN, another SQLite process); default 10 s / 5 s. */
  lockTimeoutMs?: number;
  /** Errors outside any call (e.g. an idle database connection dropped); the store recovers by itself. */
  onBackgroundError?: (err: Error) => void;
}

function usage(message: string): TrustdeskError {
  return new TrustdeskError('ERR_USAGE', message, {
    hint: 'Set storage.backend to memory, sqlite3, postgres or mysql, and storage.db_url for the SQL ones.',
  });
}

function sqlitePath(opts: OpenMetaStoreOptions): string {
  if (opts.path) return opts.path;
  const url = opts.dbUrl;
  if (url) {
    if (url.startsWith('file://')) return fileURLToPath(url.split('?')[0]!);
    if (url.startsWith('file:')) return url.slice('file:'.length).split('?')[0]!;
    return url;
  }
  if (opts.dataDir) return join(opts.dataDir, DEFAULT_SQLITE_FILE);
  throw usage('the sqlite backend needs storage.db_url (a file path) or a data dir');
}

function requireUrl(opts: OpenMetaStoreOptions): string {
  if (!opts.dbUrl)
    throw usage(`must provide a non-empty database source for ${opts.backend} (storage.db_url)`);
  return opts.dbUrl;
}

export async function openMetaStore(opts: OpenMetaStoreOptions): Promise<MetaStore> {
  switch (opts.backend) {
    case 'memory':
      return new MemoryMetaStore();
    case 'sqlite':
    case 'sqlite3':
      return openSqliteStore({
        path: sqlitePath(opts),
        ...(opts.lockTimeoutMs !== undefined ? { busyTimeoutMs: opts.lockTimeoutMs } : {}),
      });
    case 'postgres':
      return openPostgresStore({
        ...opts,
        connectionString: postgresConnectionString(requireUrl(opts)),
      });
    case 'mysql':
      return openMysqlStore({ ...opts, connection: mysqlConnection(requireUrl(opts)) });
    case 'rethinkdb':
      throw usage('the rethinkdb backend is not supported by trustdesk-server');
    default:
      throw usage(`${opts.backend || '(empty)'} is not a supported storage backend`);
  }
}
