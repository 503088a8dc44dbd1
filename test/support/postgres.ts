// A throwaway PostgreSQL cluster on loopback for tests (the recipe in shared/docs/toolchain.md):
// initdb into a temp dir (as user `postgres` via runuser when we are root, since initdb refuses
// to run as root), a random free port, `-c fsync=off`, trust auth on 127.0.0.1 only; stopped and
// removed on teardown — and, as a safety net, when the test process exits.
//
// Use from a test file:
//   const pg = postgresAvailable() ? await startPostgres() : undefined;   // in before()
//   if (!requireService(t, pg !== undefined, 'PostgreSQL')) return;
//   const url = await pg.createDatabase();                                // a fresh database
//   await pg.teardown();                                                  // in after()

import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  chownSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/** The newest /usr/lib/postgresql/<major>/bin that has initdb and pg_ctl (or $PG_BIN). */
export function postgresBinDir(): string | undefined {
  const candidates = process.env.PG_BIN ? [process.env.PG_BIN] : [];
  try {
    const majors = readdirSync('/usr/lib/postgresql')
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...majors.map((m) => `/usr/lib/postgresql/${m}/bin`));
  } catch {
    // no Debian postgresql installed
  }
  return candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
}

function postgresUser(): { uid: number; gid: number } | undefined {
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** Whether a cluster can be started here (binaries present; as root, a `postgres` user too). */
export function postgresAvailable(): boolean {
  if (!postgresBinDir()) return false;
  return !isRoot || postgresUser() !== undefined;
}

export interface PostgresCluster {
  readonly port: number;
  /** URL of database `db` on this cluster (superuser `postgres`, no password). */
  url(db?: string): string;
  /** Creates a new, empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server but keeps its data (to test outages); startServer() brings it back. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  /** Stops the server and removes every file. */
  teardown(): Promise<void>;
}

let dbCounter = 0;

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL binaries not found');
  const owner = isRoot ? postgresUser() : undefined;
  if (isRoot && !owner) throw new Error('running as root but there is no postgres user');

  const work = mkdtempSync('/tmp/trustdesk-pg.');
  chmodSync(work, 0o755); // the postgres user must be able to traverse it
  const data = join(work, 'data');
  mkdirSync(data, { mode: 0o700 });
  if (owner) chownSync(data, owner.uid, owner.gid);

  const asOwner = (cmd: string, args: string[]) =>
    owner
      ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args])
      : run(join(bin, cmd), args);
  const ctl = (args: string[]) => asOwner('pg_ctl', ['-D', data, ...args]);

  let port = 0;
  const start = async () => {
    await ctl([
      '-l',
      join(data, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${port} -k ${data} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
      'start',
    ]);
  };
  let stopped = true;
  const stopSync = () => {
    if (!stopped) {
      const args = ['-D', data, '-m', 'immediate', 'stop'];
      if (owner) spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args]);
      else spawnSync(join(bin, 'pg_ctl'), args);
    }
    rmSync(work, { recursive: true, force: true });
  };
  process.once('exit', stopSync);

  try {
    await asOwner('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
    ]);
    // A port that was free a moment ago can be taken by the time the server binds: retry once.
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await start();
        break;
      } catch (e) {
        if (attempt >= 1) throw e;
      }
    }
    stopped = false;
  } catch (e) {
    process.removeListener('exit', stopSync);
    stopSync();
    throw e;
  }

  const url = (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}?sslmode=disable`;
  return {
    port,
    url,
    async createDatabase(name) {
      const db = name ?? `t${process.pid}_${++dbCounter}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${db}"`);
      } finally {
        await client.end();
      }
      return url(db);
    },
    async stopServer() {
      await ctl(['-m', 'immediate', '-w', 'stop']);
      stopped = true;
    },
    async startServer() {
      await start();
      stopped = false;
    },
    async teardown() {
      process.removeListener('exit', stopSync);
      if (!stopped) await ctl(['-m', 'fast', '-w', 'stop']).catch(() => undefined);
      stopped = true;
      rmSync(work, { recursive: true, force: true });
    },
  };
}
