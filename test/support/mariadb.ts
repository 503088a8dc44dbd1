// A throwaway MariaDB (Debian `mariadb-server`) for tests: mariadb-install-db into a temp dir,
// mariadbd on a random 127.0.0.1 port and a socket in that dir, durability traded for speed
// (no binlog, no doublewrite, log flushed once a second); stopped and removed on teardown — and,
// as a safety net, when the test process exits. As root the server runs as user `mysql`.
//
// Tests connect over TCP as user `trustdesk` with a password, through the Go DSN form the
// notary-server config uses (`user:pass@tcp(host:port)/db?parseTime=True`).

import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './free-port.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

export function mariadbBinaries(): { server: string; installDb: string } | undefined {
  const server = firstExisting(['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd']);
  const installDb = firstExisting(['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db']);
  return server && installDb ? { server, installDb } : undefined;
}

function mysqlUser(): { uid: number; gid: number } | undefined {
  const u = spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'mysql'], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export function mariadbAvailable(): boolean {
  return mariadbBinaries() !== undefined && (!isRoot || mysqlUser() !== undefined);
}

export interface MariaDbServer {
  readonly port: number;
  /** Creates a new, empty database; returns the Go DSN and the equivalent mysql:// URL. */
  createDatabase(name?: string): Promise<{ dsn: string; url: string }>;
  /** Stops the server but keeps its data (to test outages); startServer() brings it back. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  /** Stops the server and removes every file. */
  teardown(): Promise<void>;
}

let dbCounter = 0;

export async function startMariaDb(): Promise<MariaDbServer> {
  const bins = mariadbBinaries();
  if (!bins) throw new Error('MariaDB binaries not found');
  const owner = isRoot ? mysqlUser() : undefined;
  if (isRoot && !owner) throw new Error('running as root but there is no mysql user');

  const work = mkdtempSync('/tmp/trustdesk-mariadb.');
  chmodSync(work, 0o755); // the mysql user must be able to traverse it
  const data = join(work, 'data');
  const runDir = join(work, 'run'); // socket, pid and error log: written by the server's user
  // A private tmpdir: two servers bootstrapping at once in a shared /tmp collide on MariaDB's
  // temporary table names ("Could not remove temporary table … Unknown table").
  const tmp = join(work, 'tmp');
  for (const d of [data, runDir, tmp]) {
    mkdirSync(d, { mode: 0o750 });
    if (owner) chownSync(d, owner.uid, owner.gid);
  }
  const socket = join(runDir, 'mysqld.sock');
  const userArgs = owner ? ['--user=mysql'] : [];

  let port = 0;
  let child: ChildProcess | undefined;
  const killSync = () => {
    child?.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  };
  process.once('exit', killSync);

  const rootConnect = () =>
    mysql.createConnection({ socketPath: socket, user: 'root', password: '' });

  const start = async () => {
    const proc = spawn(
      bins.server,
      [
        '--no-defaults',
        `--datadir=${data}`,
        `--tmpdir=${tmp}`,
        `--socket=${socket}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--pid-file=${join(runDir, 'mysqld.pid')}`,
        `--log-error=${join(runDir, 'error.log')}`,
        '--skip-log-bin',
        '--innodb-flush-log-at-trx-commit=0',
        '--innodb-doublewrite=0',
        '--innodb-buffer-pool-size=32M',
        '--performance-schema=OFF',
        '--skip-name-resolve',
        ...userArgs,
      ],
      { stdio: 'ignore' },
    );
    proc.unref();
    child = proc;
    let exited = false;
    proc.once('exit', () => (exited = true));
    // Ready when root can connect over the socket (bounded: 60 s).
    for (let i = 0; i < 600; i++) {
      if (exited)
        throw new Error(`mariadbd exited during start-up; see ${join(runDir, 'error.log')}`);
      try {
        const c = await rootConnect();
        await c.end();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    proc.kill('SIGKILL');
    throw new Error('mariadbd did not become ready within 60 s');
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.ref(); // keep the event loop alive until it has exited
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    await exited;
  };

  const password = randomBytes(12).toString('hex');
  try {
    await run(bins.installDb, [
      '--no-defaults',
      `--datadir=${data}`,
      `--tmpdir=${tmp}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...userArgs,
    ]);
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await start();
        break;
      } catch (e) {
        await stop();
        if (attempt >= 1) throw e;
      }
    }
    const c = await rootConnect();
    try {
      await c.query(`CREATE USER 'trustdesk'@'127.0.0.1' IDENTIFIED BY '${password}'`);
      await c.query(`GRANT ALL PRIVILEGES ON *.* TO 'trustdesk'@'127.0.0.1'`);
    } finally {
      await c.end();
    }
  } catch (e) {
    process.removeListener('exit', killSync);
    await stop().catch(() => undefined);
    killSync();
    throw e;
  }

  return {
    port,
    async createDatabase(name) {
      const db = name ?? `t${process.pid}_${++dbCounter}`;
      const c = await rootConnect();
      try {
        await c.query(`CREATE DATABASE \`${db}\``);
      } finally {
        await c.end();
      }
      return {
        dsn: `trustdesk:${password}@tcp(127.0.0.1:${port})/${db}?parseTime=True`,
        url: `mysql://trustdesk:${password}@127.0.0.1:${port}/${db}`,
      };
    },
    stopServer: stop,
    startServer: start,
    async teardown() {
      process.removeListener('exit', killSync);
      await stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
