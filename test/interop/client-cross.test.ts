// Cross-client on one Go notary-server: trustdesk and the Go `notary` CLI work on the same
// repository, each from its own trust dir, and each still lists and verifies what the other did.
//   (a) Go initialises and delegates; trustdesk (holding Go's keys, imported from Go's key files)
//       adds a target, rotates the snapshot key to the server and adds a delegation; Go lists and
//       verifies everything. Then a change staged by trustdesk in Go's own trust dir is published
//       by the Go CLI (the changelist format is shared).
//   (b) trustdesk initialises and delegates; Go (holding trustdesk's keys, exported as Go key
//       files) adds a target, rotates the snapshot key and adds a delegation; trustdesk lists and
//       verifies everything, and a change staged by Go is published by trustdesk.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GoNotaryCli,
  hasGoNotary,
  startNotaryServer,
  writeKeyPair,
  type GoNotaryServer,
} from '../support/go-notary.js';
import { requireService } from '../support/services.js';
import { cheapKeyring, removeDir, runTd, tempDir } from '../client/client-harness.js';

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** `addhash <gun> <name> <size> --sha256 <hex>` for `text`: the same arguments in both CLIs. */
const addhash = (gun: string, name: string, text: string): string[] => [
  'addhash',
  gun,
  name,
  String(Buffer.byteLength(text)),
  '--sha256',
  sha256Hex(text),
];

interface Cross {
  srv: GoNotaryServer;
  work: string;
  goDir: string;
  tdDir: string;
  go: GoNotaryCli;
  /** trustdesk against the server with its own trust dir (HOME is the work dir). */
  td: (args: string[], input?: string) => ReturnType<typeof runTd>;
}

/** A Go notary-server and a work dir holding the content files and both clients' trust dirs. */
async function withCross(
  t: TestContext,
  prefix: string,
  content: Record<string, string>,
  fn: (c: Cross) => Promise<void>,
): Promise<void> {
  if (!requireService(t, hasGoNotary(), 'Go notary and notary-server')) return;
  const srv = await startNotaryServer();
  const work = await tempDir(prefix);
  try {
    const goDir = join(work, 'go');
    const tdDir = join(work, 'td');
    const go = new GoNotaryCli(srv.url, goDir);
    const td = (args: string[], input?: string) =>
      runTd(['-s', srv.url, '-d', tdDir, ...args], {
        env: { HOME: work },
        ...(input ? { input } : {}),
      });
    for (const [k, v] of Object.entries(content)) await writeFile(join(work, k), v);
    await fn({ srv, work, goDir, tdDir, go, td });
  } finally {
    await removeDir(work);
    await srv.stop();
  }
}

/** `trustdesk list` rows as name → role. */
function listed(out: string): Record<string, string> {
  const lines = out.split('\n');
  const sep = lines.findIndex((l) => /^-+(\s+-+)+\s*$/.test(l.trim()));
  assert.ok(sep >= 0, out);
  return Object.fromEntries(
    lines
      .slice(sep + 1)
      .map((l) => l.trim().split(/\s+/))
      .filter((c) => c.length >= 4)
      .map((c) => [c[0] as string, c[3] as string]),
  );
}

async function goKeyFiles(trustDir: string): Promise<string[]> {
  const dir = join(trustDir, 'private');
  return (await readdir(dir)).filter((f) => f.endsWith('.key')).map((f) => join(dir, f));
}

test(
  '(a) a repository made and delegated by Go is modified by trustdesk; Go still lists and verifies it',
  { timeout: 180_000 },
  (t) => {
    const content = {
      a: 'from go\n',
      b: 'from trustdesk\n',
      c: 'staged by trustdesk, published by go\n',
    };
    return withCross(t, 'cross-a', content, async ({ work, goDir, tdDir, go, td }) => {
      const gun = 'example.com/c2/cross-go-first';

      // Go: init, a target, a delegation (with its key) and a delegated target.
      const rel = await writeKeyPair(work, 'releases');
      await go.ok(['init', gun, '-p']);
      await go.ok(['add', gun, 'a', join(work, 'a')]);
      await go.ok(['key', 'import', rel.priv, '--role', 'targets/releases']);
      await go.ok(['delegation', 'add', gun, 'targets/releases', rel.pub, '--all-paths']);
      await go.ok(['add', gun, 'rel/a', join(work, 'a'), '-r', 'targets/releases']);
      await go.ok(['publish', gun]);

      // trustdesk takes Go's root/targets/snapshot keys into its keyring (Go key files, as given).
      const keyring = cheapKeyring(tdDir);
      for (const f of await goKeyFiles(goDir)) {
        const text = await readFile(f, 'utf8');
        if (/role: targets\/releases/.test(text)) continue;
        await keyring.importPem(text, f, { nowMs: Date.now() });
      }
      const other = await writeKeyPair(work, 'other');
      const steps: Array<[string[], number]> = [
        [['add', gun, 'b', join(work, 'b')], 0],
        [['publish', gun], 0],
        [['key', 'rotate', gun, 'snapshot', '-r'], 0],
        [['delegation', 'add', gun, 'targets/other', other.pub, '--paths', 'other/', '-p'], 0],
      ];
      for (const [args, want] of steps) {
        const r = await td(args);
        assert.equal(r.code, want, `trustdesk ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
      }
      assert.deepEqual(listed((await td(['list', gun])).stdout), {
        a: 'targets',
        b: 'targets',
        'rel/a': 'targets/releases',
      });

      // Go (its cache still holds root v1) follows: lists, verifies, sees the delegation.
      assert.deepEqual(
        (await go.list(gun)).sort((x, y) => (x.name < y.name ? -1 : 1)),
        [
          { name: 'a', role: 'targets' },
          { name: 'b', role: 'targets' },
          { name: 'rel/a', role: 'targets/releases' },
        ],
      );
      assert.equal(await go.ok(['verify', gun, 'b'], content.b), content.b);
      assert.match(await go.ok(['delegation', 'list', gun]), /targets\/other\s+other\//);
      // Go can still publish on top (it holds the same keys; the server signs snapshots now).
      await go.ok(['add', gun, 'a2', join(work, 'a'), '-p']);

      // A change staged by trustdesk in Go's trust dir is published by Go.
      const staged = await runTd(['-d', goDir, ...addhash(gun, 'c', content.c)]);
      assert.equal(staged.code, 0, staged.stderr);
      assert.match(await go.ok(['status', gun]), /create\s+targets\s+target\s+c/);
      await go.ok(['publish', gun]);
      assert.equal(await go.ok(['verify', gun, 'c'], content.c), content.c);
      assert.deepEqual(listed((await td(['list', gun])).stdout), {
        a: 'targets',
        a2: 'targets',
        b: 'targets',
        c: 'targets',
        'rel/a': 'targets/releases',
      });
    });
  },
);

test(
  '(b) a repository made and delegated by trustdesk is modified by Go; trustdesk still lists and verifies it',
  { timeout: 180_000 },
  (t) => {
    const content = {
      a: 'from trustdesk\n',
      b: 'from go\n',
      c: 'staged by go, published by trustdesk\n',
    };
    return withCross(t, 'cross-b', content, async ({ srv, work, goDir, tdDir, go, td }) => {
      const gun = 'example.com/c2/cross-td-first';
      await mkdir(goDir, { recursive: true });

      // trustdesk: init (root key seeded cheaply), a target, a delegation with a delegated target.
      const keyring = cheapKeyring(tdDir);
      await keyring.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: Date.now() });
      const rel = await writeKeyPair(work, 'releases');
      await keyring.importPem(await readFile(rel.priv, 'utf8'), rel.priv, {
        role: 'targets/releases',
        nowMs: Date.now(),
      });
      for (const args of [
        ['init', gun, '-p'],
        ['add', gun, 'a', join(work, 'a')],
        ['delegation', 'add', gun, 'targets/releases', rel.pub, '--all-paths'],
        ['add', gun, 'rel/a', join(work, 'a'), '-r', 'targets/releases'],
        ['publish', gun],
      ]) {
        const r = await td(args);
        assert.equal(r.code, 0, `trustdesk ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
      }

      // Go gets trustdesk's root/targets/snapshot keys as Go key files (`path` headers).
      const records = (await keyring.list()).filter((r) =>
        ['root', 'targets', 'snapshot'].includes(r.role),
      );
      assert.equal(records.length, 3);
      const exported = join(work, 'exported.pem');
      await writeFile(exported, await keyring.exportPem(records));
      await go.ok(['key', 'import', exported]);
      const other = await writeKeyPair(work, 'other');
      await go.ok(['add', gun, 'b', join(work, 'b'), '-p']);
      await go.ok(['key', 'rotate', gun, 'snapshot', '-r']);
      await go.ok([
        'delegation',
        'add',
        gun,
        'targets/other',
        other.pub,
        '--paths',
        'other/',
        '-p',
      ]);

      // trustdesk (its cache at the old root) follows the rotation, lists, verifies.
      const l = await td(['list', gun]);
      assert.equal(l.code, 0, l.stderr);
      assert.deepEqual(listed(l.stdout), {
        a: 'targets',
        b: 'targets',
        'rel/a': 'targets/releases',
      });
      const v = await td(['verify', gun, 'b'], content.b);
      assert.equal(v.code, 0, v.stderr);
      assert.equal(v.stdout, content.b);
      const d = await td(['--json', 'delegation', 'list', gun]);
      assert.deepEqual(
        (d.json().delegations as Array<{ role: string; paths: string[] }>).map((x) => [
          x.role,
          x.paths,
        ]),
        [
          ['targets/other', ['other/']],
          ['targets/releases', ['']],
        ],
      );

      // A change staged by Go in trustdesk's trust dir is published by trustdesk.
      await new GoNotaryCli(srv.url, tdDir).ok(addhash(gun, 'c', content.c));
      const s = await td(['--json', 'status', gun]);
      assert.deepEqual(
        (s.json().changes as Array<{ path: string }>).map((c) => c.path),
        ['c'],
      );
      const p = await td(['publish', gun]);
      assert.equal(p.code, 0, p.stderr);
      assert.equal(await go.ok(['verify', gun, 'c'], content.c), content.c);
      assert.deepEqual((await go.list(gun)).map((x) => x.name).sort(), ['a', 'b', 'c', 'rel/a']);
    });
  },
);
