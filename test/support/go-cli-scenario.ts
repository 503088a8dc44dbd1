// The full Go `notary` CLI scenario (issue 3, "Proof") as a reusable driver: three Go clients —
// the owner, a delegate with only the delegation key, and a fresh reader (TOFU) — drive a
// notary server through every command the issue names, in this order:
//   init -p · add · addhash · status · publish · list · lookup · verify (good and bad content) ·
//   key rotate snapshot -r · key rotate timestamp -r · delegation add (openssl key) + publish ·
//   the delegate publishes (key import, add -r targets/releases -p) · key rotate root (refused
//   with no answer, then "yes") · witness + publish · remove + publish · delegation remove + publish
//   · add then status/reset · delete --remote.
// Every command's exit code and output are asserted (targets listed, digests looked up, content
// verified). After every publish the server's files are walked with our core
// (verifyRepository: the root chain from 1.root.json, timestamp → snapshot → targets →
// delegations by checksum) and the verified targets must be exactly the expected ones; the
// owner's Go cache must hold the server's exact bytes after a `list`.
// Passphrases come from NOTARY_*_PASSPHRASE, TLS from the client config's root_ca (owner,
// delegate) and --tlscacert (reader), token auth from NOTARY_AUTH.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PublicKey } from '../../src/tuf/keys.js';
import { GO_PASSPHRASES, NOTARY_BIN } from './go-notary.js';
import { findExecutable } from './services.js';
import {
  errorCode,
  TufClient,
  verifyRepository,
  type Credentials,
  type RepositoryView,
} from './trustdesk-server.js';

const run = promisify(execFile);

/** The Go CLI and openssl (for the delegation key) are both needed. */
export function hasGoCliScenarioTools(): boolean {
  return NOTARY_BIN !== undefined && findExecutable('openssl') !== undefined;
}

export interface GoCliScenarioOptions {
  /** The server's base URL (http:// or https://). */
  url: string;
  gun: string;
  /** TLS: the CA the Go clients trust. */
  caFile?: string;
  /** Token auth: the owner needs `*` on the GUN (rotations, delete), the delegate push+pull. */
  auth?: { owner: Credentials; delegate: Credentials };
  /** Progress (e.g. t.diagnostic). */
  log?: (line: string) => void;
}

export interface ScenarioResult {
  steps: { name: string; ms: number }[];
  commands: number;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface Want {
  role: string;
  sha256: string;
  length: number;
}

const sha256Hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** One Go CLI identity: its trust dir and how it reaches the server. */
class GoClient {
  constructor(
    readonly who: string,
    readonly trustDir: string,
    private readonly globalArgs: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly transcript: string[],
  ) {}

  run(args: readonly string[], input = ''): Promise<RunResult> {
    if (!NOTARY_BIN) throw new Error('notary is not installed');
    const child = spawn(NOTARY_BIN, [...this.globalArgs, ...args], {
      env: this.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A command that exits without reading stdin makes this write fail with EPIPE; what it
    // printed and its exit code are what the steps assert, so that is not an error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => {
        const r = { code: code ?? -1, stdout, stderr };
        this.transcript.push(
          `[${this.who}] $ notary ${args.join(' ')}  → exit ${r.code}\n${stdout}${stderr}`,
        );
        resolve(r);
      });
    });
  }

  /** Runs; requires exit 0 and, if given, stdout matching `out`. Returns stdout. */
  async ok(args: readonly string[], out?: RegExp, input = ''): Promise<string> {
    const r = await this.run(args, input);
    assert.equal(r.code, 0, `notary ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
    if (out) assert.match(r.stdout, out, `notary ${args.join(' ')}`);
    return r.stdout;
  }

  /** Runs; requires a non-zero exit with output matching `out`. */
  async fails(args: readonly string[], out: RegExp, input = ''): Promise<void> {
    const r = await this.run(args, input);
    assert.notEqual(r.code, 0, `notary ${args.join(' ')} should have failed:\n${r.stdout}`);
    assert.match(r.stdout + r.stderr, out, `notary ${args.join(' ')}`);
  }

  /** `notary list`: name → {digest, size, role}. */
  async list(gun: string, role?: string): Promise<Map<string, Want>> {
    const out = await this.ok(['list', gun, ...(role ? ['-r', role] : [])]);
    return parseTable(out, 4, (c) => [
      c[0] as string,
      { sha256: c[1] as string, length: Number(c[2]), role: c[3] as string },
    ]);
  }

  /** `notary status`: the staged changes as "action scope type path" strings. */
  async status(gun: string): Promise<string[]> {
    const out = await this.ok(['status', gun]);
    if (/No unpublished changes/.test(out)) return [];
    return [...parseTable(out, 5, (c) => [c[0] as string, c.slice(1).join(' ')]).values()];
  }

  /** The cached copy of a role's metadata in this client's trust dir. */
  cached(gun: string, role: string): Buffer {
    return readFileSync(join(this.trustDir, 'tuf', gun, 'metadata', `${role}.json`));
  }
}

/** Rows below the `----` separator line of a Go CLI table, split on runs of spaces. */
function parseTable<V>(
  out: string,
  columns: number,
  row: (cols: string[]) => [string, V],
): Map<string, V> {
  const lines = out.split('\n');
  const sep = lines.findIndex((l) => /^-+(\s+-+)+\s*$/.test(l.trim()));
  assert.ok(sep >= 0, `no table in:\n${out}`);
  const rows = new Map<string, V>();
  for (const line of lines.slice(sep + 1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < columns) continue;
    const [k, v] = row(cols);
    rows.set(k, v);
  }
  return rows;
}

function sortedEntries(m: ReadonlyMap<string, Want>): [string, Want][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function runGoCliScenario(opts: GoCliScenarioOptions): Promise<ScenarioResult> {
  const { gun, url } = opts;
  const log = opts.log ?? (() => undefined);
  const work = mkdtempSync(join(tmpdir(), 'trustdesk-go-scenario-'));
  const transcript: string[] = [];
  const client = new TufClient(url, {
    ...(opts.caFile ? { caFile: opts.caFile } : {}),
    ...(opts.auth ? { credentials: opts.auth.owner } : {}),
  });

  const clientFor = (who: string, creds: Credentials | undefined, viaFlags: boolean) => {
    const trustDir = join(work, who);
    mkdirSync(trustDir, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '',
      HOME: trustDir, // keeps the machine's ~/.notary/config.json out of it
      ...GO_PASSPHRASES,
      ...(creds
        ? { NOTARY_AUTH: Buffer.from(`${creds.user}:${creds.password}`).toString('base64') }
        : {}),
    };
    let args: string[];
    if (viaFlags) {
      args = ['-s', url, '-d', trustDir, ...(opts.caFile ? ['--tlscacert', opts.caFile] : [])];
    } else {
      const config = join(work, `${who}-config.json`);
      const remote: Record<string, string> = { url };
      if (opts.caFile) remote.root_ca = opts.caFile;
      writeFileSync(config, JSON.stringify({ trust_dir: trustDir, remote_server: remote }));
      args = ['-c', config];
    }
    return new GoClient(who, trustDir, args, env, transcript);
  };
  const owner = clientFor('owner', opts.auth?.owner, false);
  const delegate = clientFor('delegate', opts.auth?.delegate, false);
  const reader = clientFor('reader', opts.auth?.delegate, true);

  const want = new Map<string, Want>();
  const wantFile = (name: string, role: string, content: string) =>
    want.set(name, { role, sha256: sha256Hex(content), length: Buffer.byteLength(content) });
  const file = (name: string, content: string) => {
    const p = join(work, name);
    writeFileSync(p, content);
    return p;
  };
  const hello = 'hello from the Go notary CLI\n';
  const release = 'release 1 of the delegated role\n';
  const helloFile = file('hello.txt', hello);
  const releaseFile = file('release-1.txt', release);
  const hashed = { sha256: sha256Hex('a target added by its hash only'), length: 1234 };

  let view: RepositoryView | undefined;
  /** Walks the server with our core; the verified targets must be exactly `want`. */
  const checkServer = async (): Promise<RepositoryView> => {
    const v = await verifyRepository(client, gun, Date.now());
    const got = new Map<string, Want>();
    for (const t of v.set.listTargets()) {
      const sha = t.meta.hashes.sha256;
      assert.ok(sha, `${t.name} has a sha256`);
      got.set(t.name, {
        role: t.role,
        sha256: Buffer.from(sha).toString('hex'),
        length: t.meta.length,
      });
    }
    assert.deepEqual(sortedEntries(got), sortedEntries(want), 'verified targets on the server');
    view = v;
    return v;
  };
  const current = (): RepositoryView => {
    assert.ok(view, 'the server was checked before');
    return view;
  };
  const version = (v: RepositoryView, role: 'root' | 'targets') =>
    (role === 'root' ? v.set.root : v.set.targets)?.signed.version ?? 0;
  const published = new RegExp(
    `Successfully published changes for repository ${gun.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
  );

  const steps: { name: string; run: () => Promise<void> }[] = [
    {
      name: 'init -p',
      run: async () => {
        await owner.ok(['init', '-p', gun], published);
        const v = await checkServer();
        assert.equal(version(v, 'root'), 1);
        const tsKey = await client.serverKey(gun, 'timestamp');
        assert.deepEqual(v.set.root.signed.roles.timestamp.keyids, [tsKey.id]);
      },
    },
    {
      name: 'add, addhash, status, publish',
      run: async () => {
        const before = version(current(), 'targets');
        await owner.ok(['add', gun, 'hello', helloFile], /Addition of target "hello"/);
        await owner.ok(
          ['addhash', gun, 'hashed', String(hashed.length), '--sha256', hashed.sha256],
          /Addition of target "hashed" by sha256 hash/,
        );
        assert.deepEqual(await owner.status(gun), [
          'create targets target hello',
          'create targets target hashed',
        ]);
        await owner.ok(['publish', gun], published);
        assert.deepEqual(await owner.status(gun), []);
        wantFile('hello', 'targets', hello);
        want.set('hashed', { role: 'targets', ...hashed });
        const v = await checkServer();
        assert.ok(version(v, 'targets') > before, 'targets re-signed');
      },
    },
    {
      name: 'list, lookup, verify (owner and a fresh TOFU reader)',
      run: async () => {
        assert.deepEqual(sortedEntries(await owner.list(gun)), sortedEntries(want));
        assert.deepEqual(sortedEntries(await reader.list(gun)), sortedEntries(want));
        const w = want.get('hello') as Want;
        assert.equal(
          (await owner.ok(['lookup', gun, 'hello'])).trim(),
          `hello sha256:${w.sha256} ${w.length}`,
        );
        assert.equal(await owner.ok(['verify', gun, 'hello'], undefined, hello), hello);
        await owner.fails(['verify', gun, 'hello'], /did not match/, 'tampered content\n');
        // The Go client caches exactly the bytes the server serves.
        for (const [role, bytes] of current().files)
          assert.deepEqual(owner.cached(gun, role), Buffer.from(bytes), `owner's cached ${role}`);
      },
    },
    {
      name: 'key rotate snapshot -r (server-managed snapshot)',
      run: async () => {
        const before = version(current(), 'root');
        await owner.ok(
          ['key', 'rotate', gun, 'snapshot', '-r'],
          /Successfully rotated snapshot key/,
        );
        const v = await checkServer();
        assert.equal(version(v, 'root'), before + 1);
        const key = await client.serverKey(gun, 'snapshot');
        assert.deepEqual(v.set.root.signed.roles.snapshot.keyids, [key.id]);
        assert.deepEqual(v.set.snapshot?.validKeyIds, [key.id], 'the server signs the snapshot');
      },
    },
    {
      name: 'key rotate timestamp -r',
      run: async () => {
        const before = current().set.root.signed;
        await owner.ok(
          ['key', 'rotate', gun, 'timestamp', '-r'],
          /Successfully rotated timestamp key/,
        );
        const v = await checkServer();
        assert.equal(version(v, 'root'), before.version + 1);
        const key = await client.serverKey(gun, 'timestamp');
        assert.deepEqual(v.set.root.signed.roles.timestamp.keyids, [key.id]);
        assert.notEqual(key.id, before.roles.timestamp.keyids[0], 'a new timestamp key');
        assert.deepEqual(v.set.timestamp?.validKeyIds, [key.id]);
      },
    },
    {
      name: 'delegation add (openssl key) + publish',
      run: async () => {
        await run('openssl', [
          'genpkey',
          '-algorithm',
          'EC',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-out',
          join(work, 'releases-key.pem'),
        ]);
        await run('openssl', [
          'pkey',
          '-in',
          join(work, 'releases-key.pem'),
          '-pubout',
          '-out',
          join(work, 'releases.pem'),
        ]);
        const keyId = PublicKey.fromKeyObject(
          createPublicKey(readFileSync(join(work, 'releases.pem'))),
        ).id;
        await owner.ok(
          ['delegation', 'add', gun, 'targets/releases', join(work, 'releases.pem'), '--all-paths'],
          new RegExp(`Addition of delegation role targets/releases with keys \\[${keyId}\\]`),
        );
        await owner.ok(['publish', gun], published);
        const v = await checkServer();
        assert.deepEqual(v.set.targets?.signed.delegations.roles, [
          { name: 'targets/releases', keyids: [keyId], threshold: 1, paths: [''] },
        ]);
        assert.match(await owner.ok(['delegation', 'list', gun]), new RegExp(keyId));
      },
    },
    {
      name: 'the delegate publishes to targets/releases',
      run: async () => {
        await delegate.ok([
          'key',
          'import',
          join(work, 'releases-key.pem'),
          '--role',
          'targets/releases',
        ]);
        await delegate.ok(
          ['add', gun, 'release-1', releaseFile, '-r', 'targets/releases', '-p'],
          published,
        );
        wantFile('release-1', 'targets/releases', release);
        const v = await checkServer();
        assert.equal(v.set.delegated('targets/releases')?.signed.targets.size, 1);
        assert.deepEqual(sortedEntries(await owner.list(gun)), sortedEntries(want));
        assert.deepEqual([...(await delegate.list(gun, 'targets/releases')).keys()], ['release-1']);
        if (opts.auth) {
          // push+pull is not `*`: the server refuses the delegate a key rotation.
          await delegate.fails(['key', 'rotate', gun, 'timestamp', '-r'], /not authorized/);
          assert.deepEqual((await checkServer()).files.get('root'), v.files.get('root'));
        }
      },
    },
    {
      name: 'key rotate root (refused without an answer, then confirmed)',
      run: async () => {
        const before = current().set.root;
        await owner.ok(['key', 'rotate', gun, 'root'], /Aborting action/);
        assert.equal(version(await checkServer(), 'root'), before.signed.version);
        await owner.ok(['key', 'rotate', gun, 'root'], /Successfully rotated root key/, 'yes\n');
        const v = await checkServer();
        const after = v.set.root;
        assert.equal(after.signed.version, before.signed.version + 1);
        const oldIds = before.signed.roles.root.keyids;
        const newIds = after.signed.roles.root.keyids;
        assert.ok(!newIds.some((id) => oldIds.includes(id)), 'new root key');
        // Cross-signed: the old root key and the new one both signed (the walk checked both).
        assert.deepEqual(
          [...after.metadata.signatures.map((s) => s.keyid)].sort(),
          [...oldIds, ...newIds].sort(),
        );
      },
    },
    {
      name: 'witness + publish',
      run: async () => {
        const before = version(current(), 'targets');
        await owner.ok(['witness', gun, 'targets'], /marked for witnessing/);
        await owner.ok(['publish', gun], published);
        assert.equal(version(await checkServer(), 'targets'), before + 1);
      },
    },
    {
      name: 'remove + publish',
      run: async () => {
        await owner.ok(['remove', gun, 'hashed'], /Removal of hashed/);
        await owner.ok(['publish', gun], published);
        want.delete('hashed');
        await checkServer();
      },
    },
    {
      name: 'delegation remove + publish',
      run: async () => {
        await owner.ok(
          ['delegation', 'remove', gun, 'targets/releases'],
          /Forced removal .*targets\/releases/,
          'yes\n',
        );
        await owner.ok(['publish', gun], published);
        want.delete('release-1');
        const v = await checkServer();
        assert.deepEqual(v.set.targets?.signed.delegations.roles, []);
        assert.deepEqual(sortedEntries(await owner.list(gun)), sortedEntries(want));
      },
    },
    {
      name: 'status / reset',
      run: async () => {
        const before = current().files.get('timestamp');
        await owner.ok(['add', gun, 'scratch', helloFile], /staged for next publish/);
        assert.deepEqual(await owner.status(gun), ['create targets target scratch']);
        await owner.ok(['reset', gun, '--all'], /Successfully reset/);
        assert.deepEqual(await owner.status(gun), []);
        const v = await checkServer();
        assert.deepEqual(v.files.get('timestamp'), before, 'nothing was published');
      },
    },
    {
      name: 'delete --remote',
      run: async () => {
        await owner.ok(
          ['delete', gun, '--remote'],
          /Successfully deleted local and remote trust data/,
        );
        for (const role of ['root', 'targets', 'timestamp', 'snapshot']) {
          const res = await client.fetchMetadata(gun, role);
          assert.equal(res.status, 404, `${role}.json after delete`);
          assert.equal(errorCode(res.body), 'METADATA_NOT_FOUND');
        }
        await owner.fails(['list', gun], /does not have trust data/);
      },
    },
  ];

  const result: ScenarioResult = { steps: [], commands: 0 };
  try {
    for (const step of steps) {
      const started = performance.now();
      try {
        await step.run();
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        err.message = `Go CLI scenario, step "${step.name}": ${err.message}\n--- last commands ---\n${transcript.slice(-6).join('\n')}`;
        throw err;
      }
      const ms = Math.round(performance.now() - started);
      result.steps.push({ name: step.name, ms });
      log(`${step.name}: ok (${ms} ms)`);
    }
    result.commands = transcript.length;
    return result;
  } finally {
    await client.close();
    rmSync(work, { recursive: true, force: true });
  }
}
