// The repository commands as scripts see them (CLI in-process, no terminal): the --json
// documents' stable fields, exit codes, `error [CODE]` + hint on stderr, NO_COLOR, global flags
// before or after the command, confirmations (--yes, "yes"/the GUN on stdin, nothing → refused),
// verify's pass-through rules, status/reset, and bad input — bad GUNs, missing files,
// unreadable config, unknown roles, wrong passphrases, a server that is down — each a clear
// error that loses nothing.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  removeDir,
  runTd,
  seedRootKey,
  startTrustdeskServer,
  tempDir,
  type TdRun,
  type TestServer,
} from './client-harness.js';

let server: TestServer;
let work: string;
let n = 0;

before(async () => {
  server = await startTrustdeskServer();
  work = await tempDir('commands');
  await writeFile(join(work, 'app.bin'), 'the app\n');
});
after(async () => {
  await server.stop();
  await removeDir(work);
});

/** A trust dir with a seeded root key; `td` runs trustdesk against the test server with it. */
async function setup(label: string) {
  const dir = join(work, `${label}-${++n}`);
  await seedRootKey(dir);
  const gun = `example.com/c2/cmd-${label}-${n}`;
  const td = (args: string[], o: { input?: string; env?: Record<string, string> } = {}) =>
    runTd(['-s', server.url, '-d', dir, ...args], {
      env: { HOME: work, ...o.env },
      cwd: work,
      ...(o.input !== undefined ? { input: o.input } : {}),
    });
  return { dir, gun, td };
}

function ok(r: TdRun, what: string): TdRun {
  assert.equal(r.code, 0, `${what}:\n${r.stdout}${r.stderr}`);
  return r;
}

describe('script output', () => {
  test('--json: one document per command with stable fields', async () => {
    const { gun, td } = await setup('json');
    const init = ok(await td(['--json', 'init', gun, '-p']), 'init').json();
    assert.equal(init.ok, true);
    assert.equal(init.gun, gun);
    assert.deepEqual(Object.keys(init.keys as object).sort(), [
      'root',
      'snapshot',
      'targets',
      'timestamp',
    ]);
    assert.deepEqual(init.versions, { root: 1, snapshot: 1, targets: 1 });
    assert.deepEqual((init.published as { uploaded: unknown }).uploaded, [
      { role: 'root', version: 1 },
      { role: 'targets', version: 2 },
      { role: 'snapshot', version: 2 },
    ]);
    const add = ok(await td(['--json', 'add', gun, 'app', 'app.bin']), 'add').json();
    assert.deepEqual(
      (add.staged as Array<Record<string, unknown>>).map(({ file: _f, ...rest }) => rest),
      [{ action: 'create', scope: 'targets', type: 'target', path: 'app' }],
    );
    const st = ok(await td(['--json', 'status', gun]), 'status').json();
    assert.equal((st.changes as Array<{ index: number }>)[0]?.index, 0);
    const pub = ok(await td(['--json', 'publish', gun]), 'publish').json();
    assert.deepEqual(Object.keys(pub).sort(), [
      'applied',
      'gun',
      'initial',
      'ok',
      'serverSignsSnapshot',
      'uploaded',
      'warnings',
    ]);
    assert.equal(pub.applied, 1);
    const list = ok(await td(['--json', 'list', gun]), 'list').json();
    assert.deepEqual(list.targets, [
      {
        name: 'app',
        role: 'targets',
        length: 8,
        hashes: {
          sha256: 'd3e65e4280149254adfdacfcf86cae5329a19461490f35a4ac5beef5a4118327',
          sha512: (list.targets as Array<{ hashes: { sha512: string } }>)[0]?.hashes.sha512,
        },
      },
    ]);
    assert.deepEqual(
      (list.roles as Array<{ role: string }>).map((r) => r.role),
      ['root', 'timestamp', 'snapshot', 'targets'],
    );
    const look = ok(await td(['--json', 'lookup', gun, 'app']), 'lookup').json();
    assert.equal((look.target as { length: number }).length, 8);
    // Errors are documents too, with the code and the hint.
    const miss = await td(['--json', 'lookup', gun, 'nope']);
    assert.equal(miss.code, 6);
    const err = miss.json();
    assert.equal(err.ok, false);
    assert.equal((err.error as { code: string }).code, 'ERR_NOT_FOUND');
    assert.match((err.error as { hint: string }).hint, /trustdesk list/);
  });

  test('Go-format text, errors with code and hint, no colour without a terminal', async () => {
    const { gun, td } = await setup('text');
    ok(await td(['init', gun, '-p']), 'init');
    const add = ok(await td(['add', gun, 'app', 'app.bin']), 'add');
    assert.equal(
      add.stdout,
      `Addition of target "app" to repository "${gun}" staged for next publish.\n`,
    );
    const st = ok(await td(['status', gun]), 'status');
    assert.equal(
      st.stdout,
      [
        `Unpublished changes for ${gun}:`,
        '',
        '#    ACTION    SCOPE      TYPE      PATH',
        '-    ------    -----      ----      ----',
        '0    create    targets    target    app',
        '',
      ].join('\n'),
    );
    const pub = ok(await td(['publish', gun]), 'publish');
    assert.match(
      pub.stdout,
      /^Pushing changes to .*\nUploaded targets v3, snapshot v3; the server signs the timestamp\.\nSuccessfully published changes for repository /,
    );
    const list = ok(await td(['list', gun]), 'list');
    const digest = 'd3e65e4280149254adfdacfcf86cae5329a19461490f35a4ac5beef5a4118327';
    const pad = (x: string) => x.padEnd(68);
    assert.equal(
      list.stdout,
      [
        `NAME    ${pad('DIGEST')}SIZE (BYTES)    ROLE`,
        `----    ${pad('------')}------------    ----`,
        `app     ${pad(digest)}8               targets`,
        '',
      ].join('\n'),
    );
    const bad = await td(['lookup', gun, 'nope']);
    assert.equal(bad.code, 6);
    assert.equal(bad.stdout, '');
    assert.match(
      bad.stderr,
      /^error \[ERR_NOT_FOUND\]: no valid trust data for nope in .*\nhint: /,
    );
    assert.ok(!bad.stderr.includes('\u001b['), 'no ANSI colour');
    // -v adds versions and expiry of every role.
    assert.match(
      ok(await td(['-v', 'list', gun]), 'list -v').stdout,
      /ROLE\s+VERSION\s+EXPIRES\n-+\s+-+\s+-+\nroot\s+1\s+\S+ \(in 9 years/m,
    );
  });

  test('global flags work before and after the command; two-word commands', async () => {
    const { dir, gun } = await setup('flags');
    const r = await runTd(['add', gun, 'x', 'app.bin', '--trustDir', dir, '-s', server.url], {
      cwd: work,
    });
    ok(r, 'flags after');
    const s = await runTd(['--trustDir', dir, 'status', gun], { cwd: work });
    assert.match(ok(s, 'flags before').stdout, /create\s+targets\s+target\s+x/);
    const help = await runTd(['key', 'rotate', '--help']);
    assert.match(ok(help, 'help').stdout, /Usage: trustdesk key rotate <gun> <role>/);
    const bad = await runTd(['-d', dir, 'key', 'rotate', gun]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /key rotate takes 2 arguments, got 1/);
  });
});

describe('verify', () => {
  test('passes content through only when it matches (stdin, -i, -o, -q)', async () => {
    const { gun, td } = await setup('verify');
    ok(await td(['init', gun]), 'init');
    ok(await td(['add', gun, 'app', 'app.bin', '-p']), 'add -p');
    assert.equal(
      ok(await td(['verify', gun, 'app'], { input: 'the app\n' }), 'stdin').stdout,
      'the app\n',
    );
    assert.equal(ok(await td(['verify', gun, 'app', '-i', 'app.bin']), '-i').stdout, 'the app\n');
    assert.equal(
      ok(await td(['verify', gun, 'app', '-q'], { input: 'the app\n' }), '-q').stdout,
      '',
    );
    ok(await td(['verify', gun, 'app', '-i', 'app.bin', '-o', 'out.bin']), '-o');
    assert.equal(await readFile(join(work, 'out.bin'), 'utf8'), 'the app\n');
    for (const input of ['the app', 'the apq\n', '']) {
      const r = await td(['verify', gun, 'app', '-o', 'bad.bin'], { input });
      assert.equal(r.code, 3, JSON.stringify(input));
      assert.equal(r.stdout, '');
      await assert.rejects(readFile(join(work, 'bad.bin')), /ENOENT/);
    }
    const missing = await td(['verify', gun, 'app', '-i', 'nope.bin']);
    assert.equal(missing.code, 6);
    assert.match(missing.stderr, /nope\.bin: no such file/);
  });
});

describe('confirmations', () => {
  test('root rotation: nothing on stdin refuses, "yes" or the GUN confirms, --yes skips', async () => {
    const { dir, gun, td } = await setup('confirm');
    ok(await td(['init', gun, '-p']), 'init');
    const { cheapKeyring } = await import('./client-harness.js');
    const keys = cheapKeyring(dir);
    for (let i = 0; i < 3; i++)
      await keys.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: Date.now() });
    // Rotations to an already-held (cheap) key: -k needs a file, so export it the Go way.
    const roots = (await keys.list()).filter((k) => k.role === 'root');
    const files: string[] = [];
    for (const [i, r] of roots.entries()) {
      const f = join(dir, `root-${i}.pem`);
      await writeFile(f, await keys.exportPem([r]));
      files.push(f);
    }
    const refused = await td(['key', 'rotate', gun, 'root', '-k', files[1] as string]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /ERR_ABORTED.*not confirmed/s);
    const declined = await td(['key', 'rotate', gun, 'root', '-k', files[1] as string], {
      input: 'no\n',
    });
    assert.equal(declined.code, 2);
    ok(
      await td(['key', 'rotate', gun, 'root', '-k', files[1] as string], { input: 'yes\n' }),
      'yes',
    );
    ok(
      await td(['key', 'rotate', gun, 'root', '-k', files[2] as string], { input: `${gun}\n` }),
      'gun',
    );
    ok(await td(['key', 'rotate', gun, 'root', '-k', files[3] as string, '--yes']), '--yes');
    const root = ok(await td(['--json', '-v', 'list', gun]), 'list').json();
    assert.equal((root.roles as Array<{ role: string; version: number }>)[0]?.version, 4);
  });

  test('delete --remote asks; delete alone removes only local data', async () => {
    const { gun, td } = await setup('delete');
    ok(await td(['init', gun, '-p']), 'init');
    assert.equal((await td(['delete', gun, '--remote'])).code, 2);
    ok(await td(['list', gun]), 'still there');
    ok(await td(['delete', gun]), 'local only');
    ok(await td(['list', gun]), 'still on the server (TOFU again)');
    ok(await td(['delete', gun, '--remote', '-y']), 'remote');
    assert.equal((await td(['list', gun])).code, 6);
  });
});

describe('status and reset', () => {
  test('status lists every GUN with staged changes; reset -n and --all', async () => {
    const { gun, td } = await setup('status');
    ok(await td(['add', gun, 'a', 'app.bin']), 'a');
    ok(await td(['add', gun, 'b', 'app.bin', '-r', 'targets/x,targets/y']), 'b');
    ok(await td(['add', `${gun}/sub`, 'c', 'app.bin']), 'c');
    const all = ok(await td(['--json', 'status']), 'status').json();
    assert.deepEqual(
      (all.repositories as Array<{ gun: string; changes: unknown[] }>).map((r) => [
        r.gun,
        r.changes.length,
      ]),
      [
        [gun, 3],
        [`${gun}/sub`, 1],
      ],
    );
    ok(await td(['reset', gun, '-n', '0,2']), 'reset -n');
    const one = ok(await td(['--json', 'status', '--gun', gun]), 'status --gun').json();
    assert.deepEqual(
      (one.changes as Array<{ scope: string }>).map((c) => c.scope),
      ['targets/x'],
    );
    const bad = await td(['reset', gun, '-n', '7']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no staged change with number 7/);
    assert.equal((await td(['reset', gun])).code, 2);
    ok(await td(['reset', gun, '--all']), 'reset --all');
    assert.match(ok(await td(['status', gun]), 'status').stdout, /^No unpublished changes for /);
  });
});

describe('bad input: clear errors, nothing lost', () => {
  test('bad GUNs, roles, names, sizes and hashes', async () => {
    const { gun, td } = await setup('badinput');
    const cases: Array<[string[], number, RegExp]> = [
      [['add', '../etc', 'x', 'app.bin'], 2, /ERR_BAD_GUN/],
      [['add', 'a//b', 'x', 'app.bin'], 2, /ERR_BAD_GUN/],
      [['list', 'a b'], 2, /ERR_BAD_GUN/],
      [['add', gun, 'x', 'app.bin', '-r', 'Targets/Bad'], 1, /ERR_BAD_ROLE/],
      [['add', gun, 'x', 'missing.bin'], 6, /missing\.bin: no such file/],
      [['add', gun, 'x', 'app.bin', '--custom', 'missing.json'], 6, /custom data file/],
      [['addhash', gun, 'x', '12'], 2, /at least one hash/],
      [['addhash', gun, 'x', '-1', '--sha256', 'ab'.repeat(32)], 2, /ERR_USAGE/],
      [['addhash', gun, 'x', '12', '--sha256', 'abc'], 2, /invalid sha256/],
      [['witness', gun, 'snapshot'], 1, /only targets roles can be witnessed/],
      [['key', 'rotate', gun, 'targets/x'], 1, /cannot be rotated/],
      [['key', 'rotate', gun, 'timestamp'], 2, /always held by the server/],
      [['delegation', 'frob', gun], 2, /unknown delegation subcommand/],
      [['delegation', 'add', gun, 'releases', 'app.bin'], 1, /ERR_BAD_KEY|ERR_BAD_ROLE/],
      [['delegation', 'add', gun, 'targets/r', 'missing.pem'], 6, /missing\.pem/],
      [['delegation', 'purge', gun], 2, /--key/],
    ];
    for (const [args, code, err] of cases) {
      const r = await td(args);
      assert.equal(r.code, code, `${args.join(' ')}:\n${r.stderr}`);
      assert.match(r.stderr, err, args.join(' '));
      assert.match(r.stderr, /\nhint: /, args.join(' '));
    }
    assert.match(ok(await td(['status', gun]), 'status').stdout, /No unpublished changes/);
  });

  test('unreadable or invalid config, a server that is down, wrong passphrases', async () => {
    const { gun, td } = await setup('faults');
    await writeFile(join(work, 'bad-config.json'), '{ not json');
    const cfg = await runTd(['-c', join(work, 'bad-config.json'), 'status', gun]);
    assert.equal(cfg.code, 2);
    assert.match(cfg.stderr, /ERR_BAD_CONFIG.*bad-config\.json.*not valid JSON/);
    const noCfg = await runTd(['-c', join(work, 'nope.json'), 'status', gun]);
    assert.match(noCfg.stderr, /ERR_BAD_CONFIG.*no such file/);

    // init against a server that is down fails before any key is made.
    const deadDir = join(work, `faults-dead-${n}`);
    const dead = await runTd(['-s', 'http://127.0.0.1:1', '-d', deadDir, 'init', gun]);
    assert.equal(dead.code, 5, dead.stderr);
    assert.match(dead.stderr, /ERR_OFFLINE/);
    await assert.rejects(readFile(join(deadDir, 'private')), /ENOENT/);

    ok(await td(['init', gun, '-p']), 'init');
    ok(await td(['add', gun, 'app', 'app.bin']), 'add');
    const down = await runTd([
      '-s',
      'http://127.0.0.1:1',
      '-d',
      join(work, `faults-${n}`),
      'publish',
      gun,
    ]);
    assert.equal(down.code, 5, down.stderr);
    assert.match(down.stderr, /ERR_OFFLINE/);
    const wrong = await td(['publish', gun], {
      env: { TRUSTDESK_TARGETS_PASSPHRASE: 'wrong', TRUSTDESK_SNAPSHOT_PASSPHRASE: 'wrong' },
    });
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.match(wrong.stderr, /ERR_BAD_PASSPHRASE/);
    const missing = await td(['publish', gun], {
      env: { TRUSTDESK_TARGETS_PASSPHRASE: '', TRUSTDESK_SNAPSHOT_PASSPHRASE: '' },
    });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /ERR_NO_TTY[\s\S]*TRUSTDESK_TARGETS_PASSPHRASE/);
    // Every failure kept the staged change; the right passphrase publishes it.
    assert.match(
      ok(await td(['status', gun]), 'status').stdout,
      /0\s+create\s+targets\s+target\s+app/,
    );
    ok(await td(['publish', gun]), 'publish');
    // --offline: reads the cache (as the last online update left it), refuses to publish.
    ok(await td(['list', gun]), 'online list');
    assert.match(ok(await td(['--offline', 'list', gun]), 'offline list').stdout, /^app /m);
    const off = await td(['--offline', 'publish', gun]);
    assert.equal(off.code, 5);
    assert.match(off.stderr, /--offline/);
  });
});
