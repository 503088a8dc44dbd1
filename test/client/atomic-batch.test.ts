// Batched crash-safe writes (the metadata cache's): exact bytes, 0600 files in 0700 directories,
// no temp files left behind, stale temps of the same names removed, and groups in order.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicWriteGroups } from '../../src/client/trust-dir/atomic-batch.js';

const enc = (s: string) => new TextEncoder().encode(s);
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trustdesk-batch-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('writes every file of every group exactly, private, without leftovers', async () => {
  const base = join(dir, 'ok');
  await mkdir(base, { recursive: true });
  // A crash's leftover temp of one of the names, and an unrelated dot-file that must stay.
  await writeFile(join(base, '.root.json.0123456789ab.tmp'), 'stale');
  await writeFile(join(base, '.other.tmp'), 'keep');
  await writeFile(join(base, 'root.json'), 'old root');
  await atomicWriteGroups([
    [
      { path: join(base, 'targets.json'), data: enc('T') },
      { path: join(base, 'targets', 'a', 'b.json'), data: enc('B') },
    ],
    [{ path: join(base, 'root.json'), data: enc('R') }],
  ]);
  assert.equal(await readFile(join(base, 'targets.json'), 'utf8'), 'T');
  assert.equal(await readFile(join(base, 'targets', 'a', 'b.json'), 'utf8'), 'B');
  assert.equal(await readFile(join(base, 'root.json'), 'utf8'), 'R');
  for (const f of ['targets.json', 'targets/a/b.json', 'root.json'])
    assert.equal((await stat(join(base, f))).mode & 0o777, 0o600, f);
  for (const d of ['targets', 'targets/a'])
    assert.equal((await stat(join(base, d))).mode & 0o777, 0o700, d);
  assert.deepEqual((await readdir(base)).sort(), [
    '.other.tmp',
    'root.json',
    'targets',
    'targets.json',
  ]);
  await atomicWriteGroups([]); // nothing to do
});

test('a failing group leaves earlier groups written and no temp file anywhere', async () => {
  const base = join(dir, 'fail');
  await mkdir(join(base, 'blocked'), { recursive: true });
  await writeFile(join(base, 'blocked', 'inner'), 'x'); // a non-empty directory: rename fails
  await writeFile(join(base, 'second.json'), 'old');
  await assert.rejects(
    atomicWriteGroups([
      [{ path: join(base, 'first.json'), data: enc('1') }],
      [
        { path: join(base, 'blocked'), data: enc('2') },
        { path: join(base, 'second.json'), data: enc('new') },
      ],
    ]),
  );
  assert.equal(await readFile(join(base, 'first.json'), 'utf8'), '1');
  assert.equal(await readFile(join(base, 'second.json'), 'utf8'), 'old'); // never renamed
  assert.deepEqual((await readdir(base)).sort(), ['blocked', 'first.json', 'second.json']);
});

test('a temp file that cannot be written stops the batch before any rename', async () => {
  const base = join(dir, 'temp-fails');
  await mkdir(base, { recursive: true });
  await writeFile(join(base, 'a.json'), 'old');
  // A legal name whose temp name (".<name>.<12 hex>.tmp") exceeds NAME_MAX: open() fails.
  const long = 'l'.repeat(245) + '.json';
  await assert.rejects(
    atomicWriteGroups([
      [
        { path: join(base, 'a.json'), data: enc('new') },
        { path: join(base, long), data: enc('b') },
      ],
    ]),
    { code: 'ENAMETOOLONG' },
  );
  assert.equal(await readFile(join(base, 'a.json'), 'utf8'), 'old');
  assert.deepEqual(await readdir(base), ['a.json']);
});
