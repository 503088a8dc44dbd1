// Client wall time: Go `notary` next to trustdesk run two ways, in the same run, against one Go
// notary-server on loopback:
//   - "no agent": a fresh Node process per command (`node dist/src/app/bin/trustdesk.js`,
//     TRUSTDESK_NO_AGENT=1) — start-up, config, network, verification, key unlock, signing;
//   - "agent": the `trustdesk` executable (bin/trustdesk → the native launcher) forwarding to a
//     running `trustdesk agent` (docs/agent-protocol.md): warm runtime, argon2id derivations
//     cached per passphrase (a caller still presents every passphrase).
// Operations: init -p · publish of 1 staged target · publish of 1000 staged targets · list of a
// 10,000-target repository. Staged targets are written straight into each client's changelist
// (the file format is shared — Go applies the very same change files), so only the timed command
// runs per measurement. Each number is the median of RUNS whole-command runs, after one untimed
// warm-up run per client and operation (Go's first run pays its page cache; the agent's pays the
// first argon2id derivation of each passphrase).
//
// Keys: every client holds its keys in its own key store. Go's key files use PBKDF2-SHA1 (2048
// rounds, ~1 ms); trustdesk's use argon2id, interactive profile (64 MiB, t=3, p=4) for the
// targets/snapshot keys the commands make and use. The root key is created once up front in each
// (Go reuses the first root key it holds; so does trustdesk) — trustdesk's with a cheap KDF, as
// the ceremony profile (2 GiB) would cost a fresh process seconds per init.
//
// Needs `npm run build` first (with a C compiler, for the launcher) and the Go binaries. Run:
// `node --import tsx bench/client.bench.ts` (BENCH_RUNS sets the repetitions, default 5).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileChangelist } from '../src/client/changelist/file-changelist.js';
import { addTargetChange } from '../src/client/changelist/change.js';
import { FileBackend } from '../src/keyring/file-store.js';
import { Keyring } from '../src/keyring/keyring.js';
import { ScriptPrompter } from '../src/keyring/prompter.js';
import { utf8Encode } from '../src/tuf/encoding.js';
import { fileMetaFor } from '../src/tuf/filemeta.js';
import { GO_PASSPHRASES, NOTARY_BIN, startNotaryServer } from '../test/support/go-notary.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const REPO = join(import.meta.dirname, '..');
const CLI = join(REPO, 'dist', 'src', 'app', 'bin', 'trustdesk.js');
const WRAPPER = join(REPO, 'bin', 'trustdesk');
const LAUNCHER = join(REPO, 'dist', 'native', 'trustdesk');
const TD_PASSPHRASES = {
  TRUSTDESK_ROOT_PASSPHRASE: GO_PASSPHRASES.NOTARY_ROOT_PASSPHRASE,
  TRUSTDESK_TARGETS_PASSPHRASE: GO_PASSPHRASES.NOTARY_TARGETS_PASSPHRASE,
  TRUSTDESK_SNAPSHOT_PASSPHRASE: GO_PASSPHRASES.NOTARY_SNAPSHOT_PASSPHRASE,
};

interface Client {
  name: string;
  dir: string;
  run(args: string[]): Promise<number>;
}

function timedRun(bin: string, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  const child = spawn(bin, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${bin} ${argv.join(' ')} exited ${code}\n${err}`));
    });
  });
}

function goClient(url: string, dir: string): Client {
  return {
    name: 'Go notary',
    dir,
    run: (args) =>
      timedRun(NOTARY_BIN as string, ['-s', url, '-d', dir, ...args], {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        ...GO_PASSPHRASES,
      }),
  };
}

/** A fresh Node process per command, the agent switched off. */
function tdColdClient(url: string, dir: string): Client {
  return {
    name: 'trustdesk (no agent)',
    dir,
    run: (args) =>
      timedRun(process.execPath, [CLI, '-s', url, '-d', dir, ...args], {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        TRUSTDESK_NO_AGENT: '1',
        ...TD_PASSPHRASES,
      }),
  };
}

/** The `trustdesk` executable a user runs, with an agent listening on `sock`. */
function tdAgentClient(url: string, dir: string, sock: string): Client {
  return {
    name: 'trustdesk (agent)',
    dir,
    run: (args) =>
      timedRun(WRAPPER, ['-s', url, '-d', dir, ...args], {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        TRUSTDESK_AGENT_SOCK: sock,
        ...TD_PASSPHRASES,
      }),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * Wall time of `runs` argon2id derivations with the interactive profile, one after the other in a
 * fresh process as a CLI run makes them (its 64 MiB are new memory each time); median of 3.
 */
function kdfMs(runs: number): number {
  const kdf = pathToFileURL(join(REPO, 'dist', 'src', 'keyring', 'kdf.js')).href;
  const script =
    `const { deriveKeys, INTERACTIVE } = await import(${JSON.stringify(kdf)});\n` +
    `const t0 = performance.now();\n` +
    `for (let i = 0; i < ${runs}; i++) (await deriveKeys('p', new Uint8Array(16), INTERACTIVE)).fill(0);\n` +
    `console.log(performance.now() - t0);`;
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`the KDF timing failed: ${r.stderr}`);
    times.push(Number(r.stdout.trim()));
  }
  return median(times);
}

/** Stages `n` new targets in a client's changelist (Go's format, which both clients read). */
async function stage(c: Client, gun: string, n: number, tag: string): Promise<void> {
  const cl = new FileChangelist(join(c.dir, 'tuf', ...gun.split('/'), 'changelist'));
  const changes = [];
  for (let i = 0; i < n; i++) {
    const name = `${tag}/target-${String(i).padStart(5, '0')}`;
    changes.push(addTargetChange('targets', name, fileMetaFor(utf8Encode(name))));
  }
  await cl.add(changes);
}

/** A root key with the cheap KDF plus (optionally) targets/snapshot keys made on init. */
async function seedRoot(dir: string): Promise<void> {
  const keyring = new Keyring({
    prompter: new ScriptPrompter({ env: TD_PASSPHRASES }),
    backends: [
      new FileBackend({
        trustDir: dir,
        costFor: () => ({ profile: 'custom', memoryKiB: 8192, iterations: 1, parallelism: 1 }),
      }),
    ],
  });
  await keyring.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: Date.now() });
}

/** Starts `trustdesk agent` on `sock` (a real detached agent, as a user would). */
function startAgent(sock: string): void {
  const r = spawnSync(process.execPath, [CLI, 'agent', 'start', '--socket', sock], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  if (r.status !== 0) throw new Error(`trustdesk agent start failed: ${r.stderr}${r.stdout}`);
}

function stopAgent(sock: string): void {
  spawnSync(process.execPath, [CLI, 'agent', 'stop'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', TRUSTDESK_AGENT_SOCK: sock },
  });
}

async function main(): Promise<void> {
  if (!NOTARY_BIN) throw new Error('the Go notary CLI is not installed');
  if (!existsSync(CLI) || !existsSync(LAUNCHER))
    throw new Error('the trustdesk CLI or its launcher is not built: run `npm run build` first');
  const srv = await startNotaryServer();
  const work = mkdtempSync(join(tmpdir(), 'trustdesk-client-bench-'));
  const sock = join(work, 'agent', 'agent.sock');
  startAgent(sock);
  try {
    const go = goClient(srv.url, join(work, 'go'));
    const td = tdColdClient(srv.url, join(work, 'td'));
    const tda = tdAgentClient(srv.url, join(work, 'tda'), sock);
    const clients = [go, td, tda];
    // Root keys once: Go makes one on its first init; each trustdesk client gets one seeded.
    await go.run(['init', 'example.com/bench/warmup']);
    await seedRoot(td.dir);
    await seedRoot(tda.dir);

    const results: Array<{ op: string; ms: Record<string, number>; target: number }> = [];
    const measure = async (
      op: string,
      target: number,
      prepare: (c: Client, i: number) => Promise<string[]>,
    ) => {
      const ms: Record<string, number> = {};
      for (const c of clients) {
        await c.run(await prepare(c, -1)); // warm-up, untimed
        const times: number[] = [];
        for (let i = 0; i < RUNS; i++) times.push(await c.run(await prepare(c, i)));
        ms[c.name] = median(times);
      }
      results.push({ op, ms, target });
      console.error(`  ${op}: done`);
    };
    const gunOf = (c: Client, what: string, i: number) =>
      `example.com/bench/${c === go ? 'go' : c === td ? 'td' : 'tda'}-${what}-${i + 1}`;

    console.error(`client bench: ${RUNS} runs per number, ${cpus().length} CPUs`);
    await measure('init -p', 1.5, (c, i) => Promise.resolve(['init', gunOf(c, 'init', i), '-p']));
    // One repository per client for the publishes.
    for (const c of clients) await c.run(['init', gunOf(c, 'pub', 0), '-p']);
    await measure('publish 1 target', 1.5, async (c, i) => {
      await stage(c, gunOf(c, 'pub', 0), 1, `one-${i + 1}`);
      return ['publish', gunOf(c, 'pub', 0)];
    });
    await measure('publish 1000 targets', 1.0, async (c, i) => {
      await stage(c, gunOf(c, 'pub', 0), 1000, `thousand-${i + 1}`);
      return ['publish', gunOf(c, 'pub', 0)];
    });
    // One 10,000-target repository, listed by every client (the warm-up run fills each cache).
    const big = 'example.com/bench/ten-thousand';
    await tda.run(['init', big]);
    await stage(tda, big, 10_000, 'big');
    await tda.run(['publish', big]);
    await measure('list 10,000 targets', 1.0, () => Promise.resolve(['list', big]));

    const kdf2 = kdfMs(2);
    const names = clients.map((c) => c.name);
    console.log(`\nClient wall time against Go notary-server on loopback (median of ${RUNS}, ms)`);
    const head = ['operation', ...names, 'ratio (no agent)', 'ratio (agent)', 'target'];
    const rows = results.map((r) => {
      const g = r.ms[go.name] as number;
      return [
        r.op,
        ...names.map((n) => (r.ms[n] as number).toFixed(0)),
        `${((r.ms[td.name] as number) / g).toFixed(2)}×`,
        `${((r.ms[tda.name] as number) / g).toFixed(2)}×`,
        `≤ ${r.target.toFixed(1)}×`,
      ];
    });
    const widths = head.map((h, i) =>
      Math.max(h.length, ...rows.map((r) => (r[i] as string).length)),
    );
    for (const line of [head, ...rows])
      console.log('  ' + line.map((c, i) => c.padEnd(widths[i] as number)).join('  '));
    console.log(
      `\nratio = trustdesk / Go. Without the agent each process starts Node (\`node -e 0\` alone is ~50 ms\n` +
        `here) and pays an argon2id run (64 MiB, t=3, p=4) per key it seals or unlocks — init -p and\n` +
        `publish make two: ${kdf2.toFixed(0)} ms in a fresh process. Through the agent the launcher starts\n` +
        `in ~1 ms and each passphrase's derivation is made once.`,
    );
  } finally {
    stopAgent(sock);
    rmSync(work, { recursive: true, force: true });
    await srv.stop();
  }
}

await main();
