// The full notary scenario run BY TRUSTDESK (its CLI, in-process, as a script runs it): three
// identities — the owner, a delegate holding only the delegation key, a fresh TOFU reader — drive
// a server through every command of issue 5, in the order of the Go CLI scenario (issue 3):
//   init -p · add · addhash · status · publish · list · lookup · verify (good, bad) ·
//   key rotate snapshot -r · key rotate timestamp -r · delegation add + publish · the delegate
//   publishes (key import, add -r targets/releases -p) · key rotate root (refused without an
//   answer, then "yes", cross-signed) · witness + publish · remove + publish · delegation remove
//   + publish · add then status/reset · delete --remote.
// After every publish the server is walked with our core from 1.root.json (verifyRepository)
// and the verified targets must be exactly the expected ones; the Go CLI, as another reader,
// must list and verify the same.
// Servers: (a) Go notary-server with Go notary-signer as its remote trust service (mutual TLS),
// (b) trustdesk-server. Root keys are seeded with a cheap KDF (the ceremony profile costs GiBs
// per unlock); every other key is made by the CLI with its real profile.

import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { encodeGoPem } from '../../src/keyring/go-pem.js';
import { generateMaterial, publicKeyOfMaterial } from '../../src/keyring/private-key.js';
import { GoNotaryCli, NOTARY_BIN } from '../support/go-notary.js';
import { requireService } from '../support/services.js';
import { TufClient, verifyRepository, type RepositoryView } from '../support/trustdesk-server.js';
import {
  cheapKeyring,
  hasGoServerAndSigner,
  removeDir,
  runTd,
  startGoServerWithSigner,
  startTrustdeskServer,
  tempDir,
  type TdRun,
  type TestServer,
} from './client-harness.js';

const TIMEOUT = 300_000;
const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

interface Want {
  role: string;
  sha256: string;
  length: number;
}

function sorted(m: ReadonlyMap<string, Want>): [string, Want][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : 1));
}

/** Rows below the dashed line of a Go-style table. */
function tableRows(out: string, columns: number): string[][] {
  const lines = out.split('\n');
  const sep = lines.findIndex((l) => /^-+(\s+-+)+\s*$/.test(l.trim()));
  assert.ok(sep >= 0, `no table in:\n${out}`);
  return lines
    .slice(sep + 1)
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length >= columns);
}

async function scenario(t: TestContext, srv: TestServer): Promise<void> {
  const gun = `example.com/c2/scenario-${srv.kind.replace(/[^a-z]+/gi, '-').toLowerCase()}`;
  const work = await tempDir('scenario');
  const transcript: string[] = [];
  const homes = {
    owner: join(work, 'owner'),
    delegate: join(work, 'delegate'),
    reader: join(work, 'reader'),
  };
  for (const h of Object.values(homes)) await mkdir(h, { recursive: true });
  const trustDir = (who: keyof typeof homes) => join(homes[who], '.trustdesk');

  const td = async (who: keyof typeof homes, args: string[], input?: string): Promise<TdRun> => {
    // owner/delegate: trust dir from HOME (~/.trustdesk); the reader passes -d explicitly.
    const flags = who === 'reader' ? ['-s', srv.url, '-d', trustDir('reader')] : ['-s', srv.url];
    const r = await runTd([...flags, ...args], {
      env: { HOME: homes[who] },
      ...(input !== undefined ? { input } : {}),
    });
    transcript.push(`[${who}] $ trustdesk ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
    return r;
  };
  const ok = async (who: keyof typeof homes, args: string[], out?: RegExp, input?: string) => {
    const r = await td(who, args, input);
    assert.equal(r.code, 0, `trustdesk ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
    if (out) assert.match(r.stdout, out, `trustdesk ${args.join(' ')}`);
    return r.stdout;
  };
  const list = async (who: keyof typeof homes, role?: string) => {
    const out = await ok(who, ['list', gun, ...(role ? ['-r', role] : [])]);
    return new Map(
      tableRows(out, 4).map((c): [string, Want] => [
        c[0] as string,
        { sha256: c[1] as string, length: Number(c[2]), role: c[3] as string },
      ]),
    );
  };
  const status = async () => {
    const out = await ok('owner', ['status', gun]);
    return /No unpublished changes/.test(out)
      ? []
      : tableRows(out, 5).map((c) => c.slice(1).join(' '));
  };

  const client = new TufClient(srv.url);
  const want = new Map<string, Want>();
  const wantFile = (name: string, role: string, content: string) =>
    want.set(name, { role, sha256: sha256Hex(content), length: Buffer.byteLength(content) });
  let view: RepositoryView | undefined;
  const checkServer = async (): Promise<RepositoryView> => {
    const v = await verifyRepository(client, gun, Date.now());
    const got = new Map<string, Want>();
    for (const x of v.set.listTargets())
      got.set(x.name, {
        role: x.role,
        sha256: Buffer.from(x.meta.hashes.sha256 ?? []).toString('hex'),
        length: x.meta.length,
      });
    assert.deepEqual(sorted(got), sorted(want), 'verified targets on the server');
    return (view = v);
  };
  const version = (role: 'root' | 'targets') =>
    (role === 'root' ? view?.set.root : view?.set.targets)?.signed.version ?? 0;
  const published = new RegExp(`Successfully published changes for repository ${gun}`);

  const hello = 'hello from the trustdesk CLI\n';
  const release = 'release 1 of the delegated role\n';
  const helloFile = join(work, 'hello.txt');
  const releaseFile = join(work, 'release-1.txt');
  await writeFile(helloFile, hello);
  await writeFile(releaseFile, release);
  const hashed = { sha256: sha256Hex('a target added by its hash only'), length: 1234 };

  // Root keys with a cheap KDF: the first for init, the second (also as a Go PEM) for rotation.
  const ownerKeys = cheapKeyring(trustDir('owner'));
  await ownerKeys.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: Date.now() });
  const nextRoot = generateMaterial('ecdsa');
  await ownerKeys.importMaterial(nextRoot, { role: 'root', gun: '', nowMs: Date.now() });
  const nextRootFile = join(work, 'next-root.pem');
  await writeFile(
    nextRootFile,
    encodeGoPem(nextRoot, { role: 'root', passphrase: 'root-passphrase-1' }),
  );

  const steps: Array<[string, () => Promise<void>]> = [
    [
      'init -p',
      async () => {
        await ok('owner', ['init', gun, '-p'], published);
        await checkServer();
        assert.equal(version('root'), 1);
      },
    ],
    [
      'add, addhash, status, publish',
      async () => {
        const before = version('targets');
        await ok('owner', ['add', gun, 'hello', helloFile], /Addition of target "hello"/);
        await ok(
          'owner',
          ['addhash', gun, 'hashed', String(hashed.length), '--sha256', hashed.sha256],
          /by sha256 hash/,
        );
        assert.deepEqual(await status(), [
          'create targets target hello',
          'create targets target hashed',
        ]);
        await ok('owner', ['publish', gun], published);
        assert.deepEqual(await status(), []);
        wantFile('hello', 'targets', hello);
        want.set('hashed', { role: 'targets', ...hashed });
        await checkServer();
        assert.ok(version('targets') > before);
      },
    ],
    [
      'list, lookup, verify (owner and a fresh reader)',
      async () => {
        assert.deepEqual(sorted(await list('owner')), sorted(want));
        assert.deepEqual(sorted(await list('reader')), sorted(want));
        const w = want.get('hello') as Want;
        assert.equal(
          (await ok('owner', ['lookup', gun, 'hello'])).trim(),
          `hello sha256:${w.sha256} ${w.length}`,
        );
        assert.equal(await ok('owner', ['verify', gun, 'hello'], undefined, hello), hello);
        const bad = await td('owner', ['verify', gun, 'hello'], 'tampered content\n');
        assert.equal(bad.code, 3);
        assert.equal(bad.stdout, '', 'nothing passes through on a mismatch');
        assert.match(bad.stderr, /ERR_HASH_MISMATCH/);
      },
    ],
    [
      'key rotate snapshot -r',
      async () => {
        const before = version('root');
        await ok(
          'owner',
          ['key', 'rotate', gun, 'snapshot', '-r'],
          /Successfully rotated snapshot key/,
        );
        const v = await checkServer();
        assert.equal(version('root'), before + 1);
        const key = await client.serverKey(gun, 'snapshot');
        assert.deepEqual(v.set.root.signed.roles.snapshot.keyids, [key.id]);
        assert.deepEqual(v.set.snapshot?.validKeyIds, [key.id]);
      },
    ],
    [
      'key rotate timestamp -r',
      async () => {
        const before = view?.set.root.signed;
        await ok(
          'owner',
          ['key', 'rotate', gun, 'timestamp', '-r'],
          /Successfully rotated timestamp key/,
        );
        const v = await checkServer();
        const key = await client.serverKey(gun, 'timestamp');
        assert.deepEqual(v.set.root.signed.roles.timestamp.keyids, [key.id]);
        assert.notEqual(key.id, before?.roles.timestamp.keyids[0]);
      },
    ],
    [
      'delegation add + publish',
      async () => {
        const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        await writeFile(
          join(work, 'releases-key.pem'),
          kp.privateKey.export({ format: 'pem', type: 'pkcs8' }),
        );
        await writeFile(
          join(work, 'releases.pem'),
          kp.publicKey.export({ format: 'pem', type: 'spki' }),
        );
        const out = await ok('owner', [
          'delegation',
          'add',
          gun,
          'targets/releases',
          join(work, 'releases.pem'),
          '--all-paths',
        ]);
        assert.match(
          out,
          /Addition of delegation role targets\/releases with keys \[[0-9a-f]{64}\]/,
        );
        await ok('owner', ['publish', gun], published);
        const v = await checkServer();
        assert.equal(v.set.targets?.signed.delegations.roles[0]?.name, 'targets/releases');
        assert.match(
          await ok('owner', ['delegation', 'list', gun]),
          /targets\/releases\s+"" <all paths>\s+[0-9a-f]{64}\s+1/,
        );
      },
    ],
    [
      'the delegate publishes to targets/releases',
      async () => {
        // The delegate's keyring holds only the delegation key (imported from the openssl PEM).
        const { readFile } = await import('node:fs/promises');
        const pem = await readFile(join(work, 'releases-key.pem'), 'utf8');
        await cheapKeyring(trustDir('delegate')).importPem(pem, 'releases-key.pem', {
          role: 'targets/releases',
          nowMs: Date.now(),
        });
        await ok(
          'delegate',
          ['add', gun, 'release-1', releaseFile, '-r', 'targets/releases', '-p'],
          published,
        );
        wantFile('release-1', 'targets/releases', release);
        await checkServer();
        assert.deepEqual(sorted(await list('owner')), sorted(want));
        assert.deepEqual([...(await list('delegate', 'targets/releases')).keys()], ['release-1']);
      },
    ],
    [
      'key rotate root (refused without an answer, then confirmed)',
      async () => {
        const before = view?.set.root;
        const refused = await td('owner', ['key', 'rotate', gun, 'root', '-k', nextRootFile]);
        assert.equal(refused.code, 2, refused.stderr);
        assert.match(refused.stderr, /ERR_ABORTED/);
        assert.equal((await checkServer()).set.root.signed.version, before?.signed.version);
        await ok(
          'owner',
          ['key', 'rotate', gun, 'root', '-k', nextRootFile],
          /Successfully rotated root key/,
          'yes\n',
        );
        const after = (await checkServer()).set.root;
        assert.equal(after.signed.version, (before?.signed.version ?? 0) + 1);
        const oldIds = before?.signed.roles.root.keyids ?? [];
        const newIds = after.signed.roles.root.keyids;
        assert.ok(!newIds.some((id) => oldIds.includes(id)), 'a new root key');
        assert.deepEqual(
          after.metadata.signatures.map((s) => s.keyid).sort(),
          [...oldIds, ...newIds].sort(),
        );
        assert.equal(after.signed.roles.root.keyids.length, 1);
        const certKey = after.signed.keys.get(newIds[0] as string);
        assert.equal(certKey?.canonicalId, publicKeyOfMaterial(nextRoot).id);
      },
    ],
    [
      'witness + publish',
      async () => {
        const before = version('targets');
        await ok('owner', ['witness', gun, 'targets'], /marked for witnessing/);
        await ok('owner', ['publish', gun], published);
        await checkServer();
        assert.equal(version('targets'), before + 1);
      },
    ],
    [
      'remove + publish',
      async () => {
        await ok('owner', ['remove', gun, 'hashed'], /Removal of hashed/);
        await ok('owner', ['publish', gun], published);
        want.delete('hashed');
        await checkServer();
      },
    ],
    [
      'delegation remove + publish',
      async () => {
        await ok(
          'owner',
          ['delegation', 'remove', gun, 'targets/releases'],
          /Forced removal .*targets\/releases/,
          'yes\n',
        );
        await ok('owner', ['publish', gun], published);
        want.delete('release-1');
        const v = await checkServer();
        assert.deepEqual(v.set.targets?.signed.delegations.roles, []);
        assert.deepEqual(sorted(await list('owner')), sorted(want));
      },
    ],
    [
      'Go CLI reads what trustdesk published',
      async () => {
        if (!NOTARY_BIN) return;
        const go = new GoNotaryCli(srv.url, join(work, 'go-reader'));
        const rows = await go.list(gun);
        assert.deepEqual(
          rows,
          [...want].map(([name, w]) => ({ name, role: w.role })),
        );
        assert.equal(await go.ok(['verify', gun, 'hello'], hello), hello);
      },
    ],
    [
      'status / reset',
      async () => {
        const before = view?.files.get('timestamp');
        await ok('owner', ['add', gun, 'scratch', helloFile], /staged for next publish/);
        assert.deepEqual(await status(), ['create targets target scratch']);
        await ok('owner', ['reset', gun, '--all'], /Successfully reset/);
        assert.deepEqual(await status(), []);
        assert.deepEqual(
          (await checkServer()).files.get('timestamp'),
          before,
          'nothing was published',
        );
      },
    ],
    [
      'delete --remote',
      async () => {
        await ok(
          'owner',
          ['delete', gun, '--remote'],
          /Successfully deleted local and remote trust data/,
          'yes\n',
        );
        for (const role of ['root', 'targets', 'timestamp', 'snapshot'])
          assert.equal(
            (await client.fetchMetadata(gun, role)).status,
            404,
            `${role}.json after delete`,
          );
        const gone = await td('owner', ['list', gun]);
        assert.equal(gone.code, 6, gone.stderr);
        assert.match(gone.stderr, /ERR_REPO_NOT_FOUND/);
      },
    ],
  ];

  try {
    for (const [name, run] of steps) {
      const started = performance.now();
      try {
        await run();
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        err.message = `trustdesk scenario (${srv.kind}), step "${name}": ${err.message}\n--- last commands ---\n${transcript.slice(-5).join('\n')}`;
        throw err;
      }
      t.diagnostic(`${name}: ${Math.round(performance.now() - started)} ms`);
    }
  } finally {
    await client.close();
    await removeDir(work);
  }
}

describe('the notary scenario run by trustdesk', () => {
  test('(a) Go notary-server with Go notary-signer', { timeout: TIMEOUT }, async (t) => {
    if (!requireService(t, hasGoServerAndSigner(), 'Go notary-server and notary-signer')) return;
    const srv = await startGoServerWithSigner();
    try {
      await scenario(t, srv);
    } catch (e) {
      if (e instanceof Error) e.message += `\n--- notary-server log ---\n${srv.log().slice(-3000)}`;
      throw e;
    } finally {
      await srv.stop();
    }
  });

  test('(b) trustdesk-server', { timeout: TIMEOUT }, async (t) => {
    const srv = await startTrustdeskServer();
    try {
      await scenario(t, srv);
    } finally {
      await srv.stop();
    }
  });
});
