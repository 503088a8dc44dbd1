// The changelist: Go's on-disk format (fixtures written by Go notary 0.1/0.3 read and re-written
// byte for byte; ours listed by the Go CLI), the payload encodings, ordering, unreadable
// entries, removal, and crash safety (a SIGKILL at each point of a write leaves the old or the
// new state, never a partial change and nothing Go would choke on).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  addTargetChange,
  decodeChange,
  delegationChange,
  deleteDelegationChange,
  encodeChange,
  encodeTargetMeta,
  parseDelegationData,
  parseRootRoleData,
  parseTargetMeta,
  removeTargetChange,
  rootRoleChange,
  witnessChange,
  type Change,
} from '../../src/client/changelist/change.js';
import { CHANGE_FILE, FileChangelist } from '../../src/client/changelist/file-changelist.js';
import { fileMetaFor } from '../../src/tuf/filemeta.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { utf8Encode } from '../../src/tuf/encoding.js';
import { GoNotaryCli, NOTARY_BIN } from '../support/go-notary.js';
import { hasNotarySrc, notarySrc, requireService } from '../support/services.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

async function tempChangelistDir(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'trustdesk-changelist-'));
  return join(root, 'tuf', 'example.com', 'app', 'changelist');
}

async function goFixtureChanges(): Promise<string[]> {
  const base = join(notarySrc(), 'fixtures', 'compatibility');
  const out: string[] = [];
  for (const version of await readdir(base)) {
    const tuf = join(base, version, 'tuf');
    let entries;
    try {
      entries = await readdir(tuf, { recursive: true, withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.isFile() && e.name.endsWith('.change') && e.parentPath.endsWith('changelist'))
        out.push(join(e.parentPath, e.name));
    }
  }
  return out.sort();
}

test('Go-written change files decode, and re-encode to the same bytes', async (t) => {
  if (!requireService(t, hasNotarySrc(), 'the Go notary source tree (fixtures)')) return;
  const files = await goFixtureChanges();
  assert.ok(files.length >= 3, `expected Go fixture changelists, found ${files.length}`);
  for (const f of files) {
    const bytes = new Uint8Array(await readFile(f));
    const c = decodeChange(bytes, f);
    assert.equal(text(encodeChange(c)), text(bytes).trimEnd(), f);
    assert.match(f.slice(f.lastIndexOf('/') + 1), CHANGE_FILE);
    assert.equal(c.type, 'target');
    const meta = parseTargetMeta(c, f);
    assert.ok(meta.length > 0 && meta.hashes.sha256?.length === 32, f);
    // The payload is Go's json.Marshal of a FileMeta: we write the same bytes for it.
    assert.equal(text(encodeTargetMeta(meta)), text(c.data as Uint8Array), f);
  }
});

test('encodings are Go json.Marshal output (member order, omitempty, HTML escapes)', () => {
  const key = KeyObjectSigner.generate('ecdsa').publicKey;
  const meta = { length: 3, hashes: { sha256: new Uint8Array(32).fill(1) } };
  const table: Array<[string, Change, string]> = [
    [
      'add target',
      addTargetChange('targets/a', 'x<&>y', meta),
      `{"action":"create","role":"targets/a","type":"target","path":"x\\u003c\\u0026\\u003ey","data":"${Buffer.from('{"length":3,"hashes":{"sha256":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}}').toString('base64')}"}`,
    ],
    [
      'remove target',
      removeTargetChange('targets', 'x'),
      '{"action":"delete","role":"targets","type":"target","path":"x","data":null}',
    ],
    [
      'witness',
      witnessChange('targets/b'),
      '{"action":"update","role":"targets/b","type":"witness","path":"","data":null}',
    ],
    [
      'delete delegation',
      deleteDelegationChange('targets/b'),
      '{"action":"delete","role":"targets/b","type":"delegation","path":"","data":null}',
    ],
  ];
  for (const [what, c, want] of table) assert.equal(text(encodeChange(c)), want, what);

  const add = delegationChange('create', 'targets/r', { threshold: 1, addKeys: [key] });
  assert.equal(
    text(add.data as Uint8Array),
    `{"threshold":1,"add_keys":[{"keytype":"ecdsa","keyval":{"public":"${key.publicB64}","private":null}}]}`,
  );
  const upd = delegationChange('update', 'targets/r', {
    removeKeys: ['ab'],
    addPaths: ['p/'],
    removePaths: [''],
    clearPaths: true,
  });
  assert.equal(
    text(upd.data as Uint8Array),
    '{"remove_keys":["ab"],"add_paths":["p/"],"remove_paths":[""],"clear_paths":true}',
  );
  assert.equal(
    text(rootRoleChange('snapshot', [key]).data as Uint8Array),
    `{"keys":[{"keytype":"ecdsa","keyval":{"public":"${key.publicB64}","private":null}}],"role":"snapshot"}`,
  );
});

test('payloads round-trip through decode', () => {
  const key = KeyObjectSigner.generate('ed25519').publicKey;
  const meta = fileMetaFor(utf8Encode('content'), { release: 'v1', n: 2 });
  const c = decodeChange(encodeChange(addTargetChange('targets', 'app', meta)), 'c');
  assert.deepEqual(parseTargetMeta(c, 'c'), meta);
  const d = decodeChange(
    encodeChange(
      delegationChange('create', 'targets/r', { threshold: 1, addKeys: [key], addPaths: ['a/'] }),
    ),
    'd',
  );
  const dd = parseDelegationData(d, 'd');
  assert.equal(dd.threshold, 1);
  assert.deepEqual(dd.addPaths, ['a/']);
  assert.equal(dd.addKeys?.[0]?.id, key.id);
  const r = parseRootRoleData(
    decodeChange(encodeChange(rootRoleChange('targets', [key])), 'r'),
    'r',
  );
  assert.equal(r.role, 'targets');
  assert.equal(r.keys[0]?.id, key.id);
});

test('decoding refuses what cannot be a change, naming the file', () => {
  const bad: Array<[string, string]> = [
    ['not JSON', '{"action":'],
    ['not an object', '[1]'],
    [
      'data not base64',
      '{"action":"create","role":"targets","type":"target","path":"x","data":"%%"}',
    ],
    ['action not a string', '{"action":1,"role":"targets","type":"target","path":"x","data":null}'],
  ];
  for (const [what, s] of bad) {
    assert.throws(
      () => decodeChange(utf8Encode(s), '/cl/f.change'),
      (e: Error & { code?: string }) =>
        e.code === 'ERR_BAD_JSON' && e.message.includes('/cl/f.change'),
      what,
    );
  }
  // Go's decoder fills missing members with zero values; a target payload must still parse.
  const c = decodeChange(
    utf8Encode('{"action":"create","role":"targets","type":"target","path":"x"}'),
    'm',
  );
  assert.equal(c.data, null);
  assert.throws(() => parseTargetMeta(c, 'm'), /needs data/);
  const frac = { ...c, data: utf8Encode('{"length":1.5,"hashes":{}}') };
  assert.throws(() => parseTargetMeta(frac, 'm'), /m:/);
});

test('entries keep staging order even when the clock steps back', async () => {
  const dir = await tempChangelistDir();
  const clock = [5_000n, 4_000n, 4_000n, 1n];
  const cl = new FileChangelist(dir, { nowNs: () => clock.shift() ?? 0n });
  const names = await cl.add(['a', 'b', 'c'].map((n) => removeTargetChange('targets', n)));
  names.push(...(await cl.add([removeTargetChange('targets', 'd')])));
  assert.deepEqual(names, [...names].sort());
  for (const n of names) assert.match(n, CHANGE_FILE);
  assert.equal(names[0]?.slice(0, 20), '00000000000000005000');
  assert.equal(names[1]?.slice(0, 20), '00000000000000005001');
  const listed = await cl.list();
  assert.deepEqual(
    listed.map((e) => [e.index, e.change?.path]),
    [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
    ],
  );
  // Files are 0600 in a 0700 directory, and no temp file is left anywhere.
  const { stat } = await import('node:fs/promises');
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, names[0]))).mode & 0o777, 0o600);
  assert.deepEqual((await readdir(dirname(dir))).sort(), ['changelist']);
  await rm(dirname(dirname(dirname(dir))), { recursive: true, force: true });
});

test('unreadable entries are listed with their problem; removal by number and by name', async () => {
  const dir = await tempChangelistDir();
  const cl = new FileChangelist(dir);
  const [a] = await cl.add([removeTargetChange('targets', 'a')]);
  await writeFile(join(dir, '00000000000000000001_junk.change'), 'not json');
  await mkdir(join(dir, 'subdir')); // directories are not entries (as in Go)
  const [b] = await cl.add([removeTargetChange('targets', 'b')]);
  const listed = await cl.list();
  assert.equal(listed.length, 3);
  assert.equal(listed[0]?.file, '00000000000000000001_junk.change');
  assert.equal(listed[0]?.problem?.code, 'ERR_BAD_JSON');
  assert.equal(listed[1]?.file, a);
  assert.equal(listed[2]?.file, b);

  await assert.rejects(cl.removeIndices([3]), /no staged change with number 3/);
  assert.deepEqual(await cl.removeIndices([0]), ['00000000000000000001_junk.change']);
  assert.deepEqual(
    (await cl.list()).map((e) => e.change?.path),
    ['a', 'b'],
  );
  await cl.remove([a as string, 'already-gone.change']);
  assert.deepEqual(
    (await cl.list()).map((e) => e.change?.path),
    ['b'],
  );
  assert.deepEqual(await cl.clear(), [b]);
  assert.deepEqual(await cl.list(), []);
  // A changelist that was never created is empty, not an error.
  assert.deepEqual(await new FileChangelist(join(dir, 'nope')).list(), []);
});

test('removing many entries: exactly those go, durably, and nothing is left beside them', async () => {
  const dir = await tempChangelistDir();
  const gunDir = dirname(dir);
  const nowMs = Date.UTC(2030, 0, 1);
  const cl = new FileChangelist(dir, { nowNs: () => BigInt(nowMs) * 1_000_000n });
  const applied = await cl.add(
    Array.from({ length: 40 }, (_, i) => removeTargetChange('targets', `t${i}`)),
  );
  // Staged after publish listed the changelist: it must survive the removal.
  const [later] = await cl.add([removeTargetChange('targets', 'later')]);
  // A crash's leftover trash (stale) and a live remover's (fresh): only the stale one goes.
  const { utimes } = await import('node:fs/promises');
  const stale = join(gunDir, '.changelist-trash-0000000000000000');
  const live = join(gunDir, '.changelist-trash-1111111111111111');
  for (const d of [stale, live]) await mkdir(d);
  await writeFile(join(stale, 'x.change'), 'x');
  await utimes(stale, new Date(nowMs - 2 * 3_600_000), new Date(nowMs - 2 * 3_600_000));
  await utimes(live, new Date(nowMs - 60_000), new Date(nowMs - 60_000));

  await cl.remove([...applied, 'already-gone.change']);
  assert.deepEqual(
    (await cl.list()).map((e) => e.file),
    [later],
  );
  assert.deepEqual(await readdir(dir), [later]);
  await cl.tidied();
  assert.deepEqual((await readdir(gunDir)).sort(), [
    '.changelist-trash-1111111111111111',
    'changelist',
  ]);
  await assert.rejects(cl.remove(['../escape.change']), { code: 'ERR_INTERNAL' });
  // A changelist whose GUN directory does not exist has nothing to remove.
  await new FileChangelist(join(gunDir, 'nope', 'changelist')).remove(applied);
});

function runChild(dir: string, stage: string, target: string): Promise<{ paused: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'changelist-crash-child.ts'), dir, stage, target],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PAUSED (.*)\n/.exec(out);
      if (m) {
        child.kill('SIGKILL');
        child.once('exit', (_code, signal) => {
          if (signal === 'SIGKILL') resolve({ paused: m[1] as string });
          else reject(new Error(`child exited with ${String(signal)}`));
        });
      }
    });
    child.once('exit', (code) => {
      if (!/PAUSED/.test(out))
        reject(new Error(`child exited (${code}) before pausing:\n${out}\n${err}`));
    });
  });
}

test('kill -9 during a write leaves the old or the new state, never a partial change', async () => {
  const dir = await tempChangelistDir();
  const cl = new FileChangelist(dir);
  await cl.add([removeTargetChange('targets', 'before')]);
  const old = await cl.list();

  // Temp file complete, not renamed: the changelist is exactly as before.
  const r1 = await runChild(dir, 'before-commit', 'crash-1');
  assert.ok(!r1.paused.startsWith(dir), 'the temp file must not live in the changelist dir');
  assert.deepEqual(await cl.list(), old);
  assert.deepEqual(
    await readdir(dir),
    old.map((e) => e.file),
  );

  // Renamed, directory not yet fsynced: the complete new change is there.
  const r2 = await runChild(dir, 'after-commit', 'crash-2');
  const now = await cl.list();
  assert.equal(now.length, 2);
  assert.equal(now[1]?.file, r2.paused.slice(dir.length + 1));
  assert.deepEqual(now[1]?.change, removeTargetChange('targets', 'crash-2'));
  assert.equal(
    now.every((e) => e.problem === undefined),
    true,
  );

  // The next write still works; the stale temp file is never read as a change.
  await cl.add([removeTargetChange('targets', 'after')]);
  assert.deepEqual(
    (await cl.list()).map((e) => e.change?.path),
    ['before', 'crash-2', 'after'],
  );
});

test("leftover temp files of a crash are removed once stale; a live writer's are kept", async () => {
  const dir = await tempChangelistDir();
  const gunDir = dirname(dir);
  await mkdir(gunDir, { recursive: true });
  const { utimes } = await import('node:fs/promises');
  const old = join(gunDir, '.changelist-0000000000000000.tmp');
  const live = join(gunDir, '.changelist-1111111111111111.tmp');
  await writeFile(old, 'partial');
  await writeFile(live, 'partial');
  const nowMs = Date.UTC(2030, 0, 1);
  await utimes(old, new Date(nowMs - 2 * 3_600_000), new Date(nowMs - 2 * 3_600_000));
  await utimes(live, new Date(nowMs - 60_000), new Date(nowMs - 60_000));
  const cl = new FileChangelist(dir, { nowNs: () => BigInt(nowMs) * 1_000_000n });
  await cl.add([removeTargetChange('targets', 'x')]);
  assert.deepEqual((await readdir(gunDir)).sort(), [
    '.changelist-1111111111111111.tmp',
    'changelist',
  ]);
});

test('the Go CLI reads changes staged by trustdesk (notary status)', async (t) => {
  if (!requireService(t, NOTARY_BIN !== undefined, 'the Go notary CLI')) return;
  const trustDir = await mkdtemp(join(tmpdir(), 'trustdesk-go-status-'));
  const gun = 'example.com/c2/status';
  const cl = new FileChangelist(join(trustDir, 'tuf', ...gun.split('/'), 'changelist'));
  const key = KeyObjectSigner.generate('ecdsa').publicKey;
  await cl.add([
    addTargetChange('targets', 'app<1>', fileMetaFor(utf8Encode('x'))),
    delegationChange('create', 'targets/releases', { threshold: 1, addKeys: [key] }),
    witnessChange('targets/releases'),
  ]);
  const go = new GoNotaryCli('http://127.0.0.1:1', trustDir);
  const out = await go.ok(['status', gun]);
  const rows = out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((r) => /^\d+$/.test(r[0] ?? ''));
  assert.deepEqual(rows, [
    ['0', 'create', 'targets', 'target', 'app<1>'],
    ['1', 'create', 'targets/releases', 'delegation'],
    ['2', 'update', 'targets/releases', 'witness'],
  ]);
  await rm(trustDir, { recursive: true, force: true });
});
