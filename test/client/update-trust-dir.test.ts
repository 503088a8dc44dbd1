// The metadata cache in the trust dir: safe GUN → path mapping, exact bytes, atomic private
// writes of verified metadata only, capped reads, listing and removal.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustedMetadataSet } from '../../src/tuf/trusted-set.js';
import { checkGun, gunProblem } from '../../src/client/trust-dir/gun.js';
import { MetadataCache, gunDir } from '../../src/client/trust-dir/metadata-cache.js';
import { atomicWrite, ensurePrivateDir } from '../../src/keyring/atomic-file.js';
import { RepoSim } from '../support/repo-sim.js';
import { loadAll } from '../support/sim-client.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trustdesk-cache-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('GUNs', () => {
  const good = [
    'docker.io/library/alpine',
    'a',
    'example.com:5000/team/app',
    'x_y-z.w/v~1',
    'ünïcode/名前',
  ];
  for (const g of good) test(`accepts ${JSON.stringify(g)}`, () => assert.equal(checkGun(g), g));

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['../up', /"\." or "\.\." path segment/],
    ['a/../../b', /"\." or "\.\." path segment/],
    ['a/./b', /"\." or "\.\." path segment/],
    ['a//b', /empty path segment/],
    ['a/b/', /empty path segment/],
    ['nul\0byte', /U\+0000/],
    ['tab\there', /U\+0009/],
    ['new\nline', /U\+000A/],
    ['del\x7f', /U\+007F/],
    ['sp ace', /U\+0020/],
    ['back\\slash', /"\\\\"/],
    ['q?x', /"\?"/],
    ['h#x', /"#"/],
    ['p%2e%2e', /"%"/],
    ['star/*', /"\*"/],
    ['lone\ud800', /not valid Unicode/],
    ['x'.repeat(256), /longer than 255/],
  ];
  for (const [g, why] of bad) {
    test(`refuses ${JSON.stringify(g.length > 20 ? g.slice(0, 20) + '…' : g)}`, () => {
      assert.match(gunProblem(g) ?? '', why);
      assert.throws(() => checkGun(g), { code: 'ERR_BAD_GUN' });
      assert.throws(() => new MetadataCache(dir, g), { code: 'ERR_BAD_GUN' });
    });
  }

  test('the GUN directory is <trust_dir>/tuf/<gun>', () => {
    assert.equal(gunDir('/td', 'example.com/org/app'), '/td/tuf/example.com/org/app');
    assert.equal(
      new MetadataCache('/td', 'example.com/app').pathOf('targets/releases/beta'),
      '/td/tuf/example.com/app/metadata/targets/releases/beta.json',
    );
    for (const role of ['../root', 'targets/../../x', 'Root', 'targets/', 'foo'])
      assert.throws(() => new MetadataCache('/td', 'a/b').pathOf(role), { code: 'ERR_BAD_ROLE' });
  });
});

describe('MetadataCache', () => {
  test('writes verified metadata verbatim, atomically, 0600 in 0700 directories', async () => {
    const sim = await RepoSim.create({ gun: 'example.com/cache' });
    sim.addDelegation('targets/releases');
    await sim.publish();
    const set = TrustedMetadataSet.firstContact(sim.current('root'), {
      gun: sim.gun,
      nowMs: sim.clock.nowMs,
    });
    loadAll(set, (p) => sim.serve(p));
    const cache = new MetadataCache(dir, sim.gun);
    assert.equal(await cache.read('root'), undefined);
    for (const v of [
      set.root,
      set.timestamp,
      set.snapshot,
      set.targets,
      set.delegated('targets/releases'),
    ]) {
      await cache.write(v!);
    }
    for (const role of ['root', 'timestamp', 'snapshot', 'targets', 'targets/releases']) {
      assert.deepEqual(await cache.read(role), sim.current(role), role);
      assert.equal((await stat(cache.pathOf(role))).mode & 0o777, 0o600, role);
    }
    for (const d of [join(dir, 'tuf'), cache.dir, join(cache.dir, 'targets')])
      assert.equal((await stat(d)).mode & 0o777, 0o700, d);
    assert.deepEqual(await cache.roles(), [
      'root',
      'snapshot',
      'targets',
      'targets/releases',
      'timestamp',
    ]);
    const all = await cache.readAll();
    assert.deepEqual([...all.keys()].sort(), await cache.roles());
    // no temp files left behind
    const names = await readdir(cache.dir, { recursive: true });
    assert.ok(
      names.every((n) => !n.endsWith('.tmp')),
      names.join(','),
    );
    // replacing keeps the file private and exact
    await cache.write(set.root);
    assert.deepEqual(await cache.read('root'), sim.current('root'));

    await cache.remove('targets/releases');
    assert.equal(await cache.read('targets/releases'), undefined);
    await cache.clear();
    assert.deepEqual(await cache.roles(), []);
  });

  test('writeAll writes verified roles in groups; a failure is ERR_IO naming the files', async () => {
    const sim = await RepoSim.create({ gun: 'example.com/cache-all' });
    sim.addDelegation('targets/releases');
    await sim.publish();
    const set = TrustedMetadataSet.firstContact(sim.current('root'), {
      gun: sim.gun,
      nowMs: sim.clock.nowMs,
    });
    loadAll(set, (p) => sim.serve(p));
    const cache = new MetadataCache(dir, sim.gun);
    await cache.writeAll([
      [set.root],
      [set.targets!, set.delegated('targets/releases')!, set.snapshot!, set.timestamp!],
    ]);
    for (const role of ['root', 'timestamp', 'snapshot', 'targets', 'targets/releases']) {
      assert.deepEqual(await cache.read(role), sim.current(role), role);
      assert.equal((await stat(cache.pathOf(role))).mode & 0o777, 0o600, role);
    }
    const all = await cache.readAll();
    assert.deepEqual([...all.keys()], await cache.roles());
    for (const [role, bytes] of all) assert.deepEqual(bytes, sim.current(role), role);
    // targets.json replaced by a non-empty directory: the batch fails as one ERR_IO.
    await rm(cache.pathOf('targets'));
    await mkdir(join(cache.pathOf('targets'), 'x'), { recursive: true });
    await assert.rejects(cache.writeAll([[set.targets!]]), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_IO');
      assert.match(e.message, /targets\.json/);
      return true;
    });
  });

  test('stray files are ignored; symlinks and oversized files are refused on read', async () => {
    const cache = new MetadataCache(dir, 'example.com/stray');
    await mkdir(join(cache.dir, 'targets'), { recursive: true });
    await writeFile(join(cache.dir, 'notes.txt'), 'x');
    await writeFile(join(cache.dir, '.root.json.abc.tmp'), 'x');
    await writeFile(join(cache.dir, 'Weird.json'), 'x');
    await writeFile(join(cache.dir, 'targets', 'ok.json'), '{}');
    assert.deepEqual(await cache.roles(), ['targets/ok']);
    await symlink('/etc/hostname', join(cache.dir, 'timestamp.json'));
    await assert.rejects(cache.read('timestamp'), { code: 'ERR_IO' });
    await writeFile(cache.pathOf('snapshot'), '');
    await truncate(cache.pathOf('snapshot'), 100 * 1024 * 1024 + 1); // sparse
    await assert.rejects(cache.read('snapshot'), { code: 'ERR_TOO_LARGE' });
    // A FIFO with no writer is refused at once (never waited on), a directory too.
    execFileSync('mkfifo', [cache.pathOf('root')]);
    await assert.rejects(cache.read('root'), { code: 'ERR_IO', message: /not a regular file/ });
    await mkdir(cache.pathOf('targets/ok2'));
    await assert.rejects(cache.read('targets/ok2'), { code: 'ERR_IO' });
    // At the cache's limit exactly, a file is read.
    await writeFile(cache.pathOf('targets'), '');
    await truncate(cache.pathOf('targets'), 100 * 1024 * 1024);
    assert.equal((await cache.read('targets'))?.length, 100 * 1024 * 1024);
  });

  test('a failed write leaves the old file and no temp file', async () => {
    const target = join(dir, 'atomic', 'file.json');
    await ensurePrivateDir(join(dir, 'atomic'));
    await atomicWrite(target, new TextEncoder().encode('old'), 'replace');
    // a directory where the temp file's rename target is cannot be replaced by a file
    const blocked = join(dir, 'atomic', 'blocked');
    await mkdir(blocked);
    await writeFile(join(blocked, 'inner'), 'x');
    await assert.rejects(atomicWrite(blocked, new TextEncoder().encode('new'), 'replace'));
    const names = await readdir(join(dir, 'atomic'));
    assert.deepEqual(names.sort(), ['blocked', 'file.json']);
  });
});
