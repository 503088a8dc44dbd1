// trustdesk-server next to Go notary-server, started side by side in the same run on the same
// kind of storage (BENCH_STORAGE=memory, the default, or postgres: one throwaway cluster, one
// database each, both made by our migrations, which create Go's schema), local trust service,
// plain HTTP on 127.0.0.1. Not part of the tests: `npm run bench:server`.
//
//   1. The same repository (root, 20 targets; snapshot and timestamp held by the server) is
//      published to each server.
//   2. wrk (Debian `wrk`) -t2 -c32 for BENCH_SECONDS (default 5) on GET timestamp.json and GET
//      targets.json, Go first then trustdesk, after a 1 s warm-up of each; prints req/s, p50/p99
//      latency, the CPU the server process used (cores) and trustdesk/Go ratios against the
//      issue's targets (≥ 2× on targets.json, ≥ 5× on timestamp.json).
//      A third row, "node:http floor", is a bare node:http server answering the same bytes from
//      memory with the same headers: what one Node process can do at all on this machine.
//      The machine is shared, so BENCH_ROUNDS (default 3) rounds of the three rows are run in
//      turn; each row shows its median and the range, and the ratios are taken within a round
//      (rows measured seconds apart see the same load), then their median and range.
//   3. Publish latency: BENCH_PUBLISHES (default 50) sequential publishes of one new target each,
//      built and signed with our RepoBuilder (not timed), the multipart POST timed: p50/p99.
// BENCH_ONLY=timestamp.json|targets.json|publish runs one part (e.g. to profile it).
// BENCH_LOG_LEVEL (default error) is given to both servers. BENCH_NODE_ARGS (e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof") is passed to trustdesk-server's node process, so a
// profile of exactly this load can be taken. trustdesk-server runs from the sources through tsx
// (after start-up the same code as dist/, and never stale); BENCH_BUILT=1 runs dist/ instead.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetaStore } from '../server/storage/open.js';
import { utf8Encode } from '../src/tuf/encoding.js';
import { fileMetaFor } from '../src/tuf/filemeta.js';
import { startPostgres, type PostgresCluster } from '../test/support/postgres.js';
import { startNotaryServer, type GoStorage } from '../test/support/go-notary.js';
import { findExecutable } from '../test/support/services.js';
import {
  BUILT_SERVER_BIN,
  serverManagedOwner,
  startTrustdeskServer,
  TufClient,
  type RunningServer,
} from '../test/support/trustdesk-server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const PUBLISHES = Number(process.env.BENCH_PUBLISHES ?? 50);
const STORAGE = process.env.BENCH_STORAGE ?? 'memory';
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'error';
const ONLY = process.env.BENCH_ONLY;
const BUILT = process.env.BENCH_BUILT === '1';
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
const GUN = 'example.com/bench/server';
const TARGETS = 20;
const CLK_TCK = 100; // Linux USER_HZ for /proc/<pid>/stat

interface Bench {
  name: string;
  url: string;
  pid: number;
  client: TufClient;
  stop(): Promise<void>;
}

interface WrkResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cores: number;
  errors: string | undefined;
}

function fail(message: string): never {
  console.error(`bench:server: ${message}`);
  process.exit(1);
}

/** utime + stime of a process in seconds (Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

async function wrk(url: string, seconds: number, pid: number): Promise<WrkResult> {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', ['-t2', '-c32', `-d${seconds}s`, '--latency', url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}\n${text}`)),
    );
  });
  const cores = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  if (!rps || !p50 || !p99) throw new Error(`cannot read wrk's output:\n${out}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socketErrors = /Socket errors: (.*)/.exec(out);
  return {
    reqPerSec: Number(rps[1]),
    p50Ms: toMs(p50[1] as string, p50[2] as string),
    p99Ms: toMs(p99[1] as string, p99[2] as string),
    cores,
    errors: non2xx ? `${non2xx[1]} non-2xx` : socketErrors ? socketErrors[1] : undefined,
  };
}

async function startGo(storage: GoStorage): Promise<Bench> {
  const go = await startNotaryServer({ storage, logLevel: LOG_LEVEL });
  const client = new TufClient(go.url);
  return {
    name: 'Go notary-server',
    url: go.url,
    pid: go.pid,
    client,
    stop: async () => {
      await go.stop();
      await client.close();
    },
  };
}

async function startOurs(storage: Record<string, unknown>): Promise<Bench> {
  const srv: RunningServer = await startTrustdeskServer({
    mode: 'process',
    built: BUILT,
    nodeArgs: NODE_ARGS,
    config: { storage, trust_service: { type: 'local' }, logging: { level: LOG_LEVEL } },
  });
  return {
    name: 'trustdesk-server',
    url: srv.url,
    pid: srv.pid as number,
    client: srv.client,
    stop: async () => {
      await srv.stop();
    },
  };
}

const FLOOR_SCRIPT = `
const http = require('node:http');
const fs = require('node:fs');
const dir = process.argv[1];
const files = new Map(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(dir + '/' + f)]));
const server = http.createServer((req, res) => {
  const body = files.get(req.url.slice(req.url.lastIndexOf('/') + 1));
  if (!body) { res.statusCode = 404; res.end(); return; }
  res.writeHead(200, {
    'cache-control': 'public, max-age=300, s-maxage=300, must-revalidate',
    'last-modified': 'Sat, 21 Nov 2026 22:00:15 UTC',
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
  });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

/** A bare node:http server answering `files` (name → bytes) from memory. */
async function startFloor(files: ReadonlyMap<string, Uint8Array>): Promise<Bench> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-floor-'));
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
  const child = spawn(process.execPath, ['-e', FLOOR_SCRIPT, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`floor server exited ${code}`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const client = new TufClient(url);
  return {
    name: 'node:http floor',
    url,
    pid: child.pid as number,
    client,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Publishes root + TARGETS targets; returns a function that publishes one more target. */
async function publishRepo(client: TufClient): Promise<() => Promise<number>> {
  const { repo, signers } = await serverManagedOwner(
    GUN,
    {
      snapshot: await client.serverKey(GUN, 'snapshot'),
      timestamp: await client.serverKey(GUN, 'timestamp'),
    },
    Date.now(),
  );
  for (let i = 0; i < TARGETS; i++) {
    const name = `releases/app-${i}.tar.gz`;
    repo.addTarget('targets', name, fileMetaFor(utf8Encode(name)));
  }
  const upload = async (): Promise<number> => {
    const files = await repo.sign({ nowMs: Date.now(), signers });
    const t0 = performance.now();
    const res = await client.upload(GUN, files);
    const ms = performance.now() - t0;
    if (res.status !== 200) fail(`publish failed: ${res.status} ${res.body.toString()}`);
    return ms;
  };
  await upload();
  let n = 0;
  return () => {
    const name = `releases/extra-${++n}.tar.gz`;
    repo.addTarget('targets', name, fileMetaFor(utf8Encode(name)));
    return upload();
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  if (!findExecutable('wrk')) fail('wrk is not installed (Debian package wrk)');
  if (!findExecutable('notary-server'))
    fail('notary-server is not installed (Debian package notary)');

  let pg: PostgresCluster | undefined;
  let goStorage: GoStorage = { backend: 'memory' };
  let ourStorage: Record<string, unknown> = { backend: 'memory' };
  if (STORAGE === 'postgres') {
    pg = await startPostgres();
    const goDb = await pg.createDatabase();
    const ourDb = await pg.createDatabase();
    for (const dbUrl of [goDb, ourDb])
      await (await openMetaStore({ backend: 'postgres', dbUrl })).close(); // Go's schema
    goStorage = { backend: 'postgres', dbUrl: goDb };
    ourStorage = { backend: 'postgres', db_url: ourDb };
  } else if (STORAGE !== 'memory') {
    fail(`BENCH_STORAGE=${STORAGE}: use memory or postgres`);
  }

  const servers: Bench[] = [];
  let floor: Bench | undefined;
  try {
    servers.push(await startGo(goStorage));
    servers.push(await startOurs(ourStorage));
    const publishers = [];
    for (const s of servers) publishers.push(await publishRepo(s.client));
    const served = new Map<string, Uint8Array>();
    for (const file of ['timestamp.json', 'targets.json'])
      served.set(file, await (servers[1] as Bench).client.metadata(GUN, file.slice(0, -5)));
    floor = await startFloor(served);

    console.log(
      `trustdesk-server vs Go notary-server — storage ${STORAGE}, wrk -t2 -c32 -d${SECONDS}s, ` +
        `127.0.0.1, log level ${LOG_LEVEL}, trustdesk from ${BUILT ? BUILT_SERVER_BIN : 'sources (tsx)'}`,
    );
    const goals = { 'timestamp.json': 5, 'targets.json': 2 } as const;
    for (const [file, goal] of Object.entries(goals)) {
      if (ONLY && ONLY !== file) continue;
      const rows = [...servers, floor];
      const rounds: WrkResult[][] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const results: WrkResult[] = [];
        for (const s of rows) {
          const url = `${s.url}/v2/${GUN}/_trust/tuf/${file}`;
          await wrk(url, 1, s.pid); // warm-up
          results.push(await wrk(url, SECONDS, s.pid));
        }
        rounds.push(results);
      }
      console.log(
        `\nGET ${file} (${fmt((served.get(file) as Uint8Array).length)} bytes)` +
          (ROUNDS > 1 ? `, median [range] of ${ROUNDS} rounds` : ''),
      );
      const spread = (values: number[], digits = 0) => {
        const sorted = [...values].sort((a, b) => a - b);
        const mid = fmt(percentile(sorted, 50), digits);
        return ROUNDS > 1
          ? `${mid} [${fmt(sorted[0] as number, digits)}–${fmt(sorted.at(-1) as number, digits)}]`
          : mid;
      };
      for (const [i, row] of rows.entries()) {
        const rs = rounds.map((r) => r[i] as WrkResult);
        const errors = rs.flatMap((r) => (r.errors ? [r.errors] : []));
        console.log(
          `  ${row.name.padEnd(17)} ${spread(rs.map((r) => r.reqPerSec)).padStart(8)} req/s` +
            `  p50 ${spread(
              rs.map((r) => r.p50Ms),
              2,
            )} ms  p99 ${spread(
              rs.map((r) => r.p99Ms),
              2,
            )} ms` +
            `  server CPU ${spread(
              rs.map((r) => r.cores),
              2,
            )} cores` +
            (errors.length ? `  ERRORS: ${errors.join(', ')}` : ''),
        );
      }
      const ratio = (a: number, b: number) =>
        rounds.map((r) => (r[a] as WrkResult).reqPerSec / (r[b] as WrkResult).reqPerSec);
      const vsGo = ratio(1, 0).sort((a, b) => a - b);
      const met = percentile(vsGo, 50) >= goal;
      console.log(
        `  trustdesk/Go: ${spread(vsGo, 2)}× req/s (target ≥ ${goal}×: ${met ? 'met' : 'NOT met'}),` +
          ` ${spread(
            rounds.map((r) => (r[1] as WrkResult).p99Ms / (r[0] as WrkResult).p99Ms),
            2,
          )}× p99; trustdesk at ${spread(ratio(1, 2).map((x) => 100 * x))}% of the floor`,
      );
    }

    if (ONLY && ONLY !== 'publish') return;
    console.log(`\npublish latency (${PUBLISHES} sequential publishes of one target, POST only)`);
    const p50s: number[] = [];
    for (const [i, s] of servers.entries()) {
      const publish = publishers[i] as () => Promise<number>;
      const times: number[] = [];
      for (let n = 0; n < PUBLISHES; n++) times.push(await publish());
      times.sort((a, b) => a - b);
      p50s.push(percentile(times, 50));
      console.log(
        `  ${s.name.padEnd(17)} p50 ${fmt(percentile(times, 50), 2).padStart(6)} ms` +
          `  p99 ${fmt(percentile(times, 99), 2).padStart(6)} ms`,
      );
    }
    console.log(
      `  trustdesk/Go: ${fmt((p50s[1] as number) / (p50s[0] as number), 2)}× p50 latency`,
    );
  } finally {
    for (const s of [...servers, ...(floor ? [floor] : [])]) await s.stop();
    await pg?.teardown();
  }
}

await main();
