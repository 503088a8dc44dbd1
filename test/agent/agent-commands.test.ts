// Repository commands through the agent against a trustdesk-server: the same bytes and exit
// codes as runCli, stdin through the agent for verify, a command waiting for stdin while another
// completes, a caller that goes away cancelling the network work of its command (against a
// server that never answers), and the derived-key cache: two publishes through one agent
// derive each key once.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeRequest } from '../../src/agent/request.js';
import { runCli } from '../../src/app/main.js';
import { configureDerivedKeyCache } from '../../src/keyring/derived-key-cache.js';
import { argon2idRuns } from '../../src/keyring/kdf.js';
import {
  PASSPHRASES,
  seedRootKey,
  startTrustdeskServer,
  type TestServer,
} from '../client/client-harness.js';
import { HostileServer } from '../support/hostile-server.js';
import { RepoSim } from '../support/repo-sim.js';
import {
  RawConn,
  deferred,
  direct,
  request,
  startRig,
  tempDir,
  viaAgent,
  type Invocation,
  type Outcome,
  type Rig,
} from './agent-rig.js';

const GUN = 'example.com/agent/app';
const CONTENT = 'the app, version 1\n';

let rig: Rig;
let root: string;
const servers: TestServer[] = [];

before(async () => {
  rig = await startRig('repo');
  root = await tempDir('repo-work');
});
after(async () => {
  await rig.dispose();
  for (const s of servers) await s.stop();
  await rm(root, { recursive: true, force: true });
});

interface World {
  dir: string;
  url: string;
  inv: (stdin?: string) => Invocation;
  argv: (...a: string[]) => string[];
}

/** A working directory with a trust dir holding a root key, and a server of its own. */
async function world(name: string): Promise<World> {
  const server = await startTrustdeskServer();
  servers.push(server);
  const dir = join(root, name);
  await mkdir(dir);
  await seedRootKey(join(dir, 'trust'));
  await writeFile(join(dir, 'app.bin'), CONTENT);
  await writeFile(join(dir, 'other.bin'), 'something else\n');
  return {
    dir,
    url: server.url,
    inv: (stdin) => ({
      cwd: dir,
      env: { ...PASSPHRASES, HOME: dir },
      ...(stdin !== undefined ? { stdin } : {}),
    }),
    // Relative trust dir: the two worlds print the same paths.
    argv: (...a) => ['-s', server.url, '-d', 'trust', ...a],
  };
}

function same(got: Outcome, want: Outcome, what: string, norm: (s: string) => string = (s) => s) {
  assert.equal(got.fallback, undefined, what);
  assert.equal(got.code, want.code, `${what}: ${got.stderr.toString()}`);
  assert.equal(norm(got.stdout.toString('latin1')), norm(want.stdout.toString('latin1')), what);
  assert.equal(norm(got.stderr.toString('latin1')), norm(want.stderr.toString('latin1')), what);
}

describe('repository commands: the agent prints what runCli prints', () => {
  let a: World;
  let b: World;
  before(async () => {
    a = await world('a');
    b = await world('b');
  });

  test('init, add, publish, status (twin repositories; only fresh key IDs differ)', async () => {
    // Both worlds run the same commands, one through the agent and one directly. The keys are
    // generated afresh in each, so their IDs are masked — and so are the two servers' URLs and
    // the changelist's (time- and UUID-named) files.
    const norm = (s: string) =>
      s
        .replaceAll(a.url, '<server>')
        .replaceAll(b.url, '<server>')
        .replace(/\b[0-9a-f]{64}\b/g, '<id>')
        .replace(/\b[0-9]+_[0-9a-f-]{36}\.change\b/g, '<change file>');
    const steps = [
      ['init', GUN, '-p'],
      ['add', GUN, 'app', 'app.bin'],
      ['--json', 'add', GUN, 'other', 'other.bin', '--roles', 'targets'],
      ['status', GUN],
      ['publish', GUN],
      ['publish', GUN],
      ['init', GUN],
      ['add', GUN, 'x', 'missing.bin'],
    ];
    for (const s of steps) {
      const got = await viaAgent(rig.socket, a.argv(...s), a.inv());
      const want = await direct(b.argv(...s), b.inv());
      same(got, want, s.join(' '), norm);
    }
  });

  test('read-only commands give identical bytes on one repository', async () => {
    const cases: Array<[string[], string?]> = [
      [['list', GUN]],
      [['-v', 'list', GUN]],
      [['--json', 'list', GUN]],
      [['lookup', GUN, 'app']],
      [['lookup', GUN, 'nope']],
      [['--json', 'lookup', GUN, 'nope']],
      [['delegation', 'list', GUN]],
      [['key', 'list']],
      [['status', GUN]],
      [['--offline', 'list', GUN]],
      [['verify', GUN, 'app'], CONTENT],
      [['verify', GUN, 'app', '-q'], CONTENT],
      [['verify', GUN, 'app'], 'tampered content\n'],
      [['--json', 'verify', GUN, 'app'], CONTENT],
      [['verify', GUN, 'app', '-i', 'app.bin']],
    ];
    for (const [argv, stdin] of cases) {
      const got = await viaAgent(rig.socket, a.argv(...argv), a.inv(stdin));
      const want = await direct(a.argv(...argv), a.inv(stdin));
      same(got, want, argv.join(' '));
    }
    // The pass-through really carried the content both ways.
    const v = await viaAgent(rig.socket, a.argv('verify', GUN, 'app'), a.inv(CONTENT));
    assert.equal(v.code, 0);
    assert.equal(v.stdout.toString(), CONTENT);
    const bad = await viaAgent(rig.socket, a.argv('verify', GUN, 'app'), a.inv('tampered\n'));
    assert.equal(bad.code, 3);
    assert.equal(bad.stdout.length, 0);
  });

  test('a command waiting for stdin does not hold up another', async () => {
    const c = await RawConn.open(rig.socket);
    c.send('H', encodeRequest(request(a.argv('verify', GUN, 'app'), a.inv())));
    await c.waitFor('N');
    const list = await viaAgent(rig.socket, a.argv('list', GUN), a.inv());
    assert.equal(list.code, 0);
    assert.match(list.stdout.toString(), /\bapp\b/);
    assert.equal(c.sock.destroyed, false);
    c.send('I', CONTENT.slice(0, 5));
    c.send('I', CONTENT.slice(5));
    c.send('E');
    await c.closed;
    const out = Buffer.concat(c.frames.filter((f) => f.type === 'O').map((f) => f.payload));
    assert.equal(out.toString(), CONTENT);
    assert.equal(c.frames.at(-1)?.type, 'X');
    assert.equal(c.frames.at(-1)?.payload[0], 0);
  });
});

test('a caller going away cancels its command’s network work', async () => {
  const gun = 'example.com/agent/hang';
  const sim = await RepoSim.create({ gun });
  sim.addTarget('hello', 'hello world');
  await sim.publish();
  const srv = await HostileServer.start({ sim });
  srv.when(/\.json$/, { kind: 'hang' });
  const result = deferred<{ code: number; aborted: boolean; stderr: string }>();
  const hangRig = await startRig('hang', {
    run: async (argv, io) => {
      let stderr = '';
      const code = await runCli(argv, {
        ...io,
        stderr: { write: (s: string) => (stderr += s), isTTY: false },
      });
      result.resolve({ code, aborted: io.signal?.aborted === true, stderr });
      return code;
    },
  });
  const dir = await tempDir('hang-work');
  try {
    const c = await RawConn.open(hangRig.socket);
    c.send(
      'H',
      encodeRequest(
        request(['-s', srv.url, '-d', join(dir, 'trust'), 'list', gun], {
          cwd: dir,
          env: { HOME: dir },
        }),
      ),
    );
    // Wait until the command is stuck on the server, then hang up.
    while (!srv.requests.some((r) => r.file?.endsWith('.json')))
      await new Promise((r) => setTimeout(r, 5));
    c.close();
    const r = await result.promise;
    assert.equal(r.aborted, true);
    assert.match(r.stderr, /ERR_ABORTED/);
    assert.equal(r.code, 2);
  } finally {
    await hangRig.dispose();
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('two publishes through one agent derive each key once', async () => {
  const w = await world('cache');
  const run = async (...argv: string[]) => {
    const r = await viaAgent(rig.socket, w.argv(...argv), w.inv());
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr.toString()}`);
  };
  await run('init', GUN, '-p');
  const start = argon2idRuns();
  await run('add', GUN, 'one', 'app.bin', '-p');
  await run('add', GUN, 'two', 'other.bin', '-p');
  // The targets and snapshot keys: at most one derivation each over both publishes.
  assert.ok(argon2idRuns() - start <= 2, `${argon2idRuns() - start} argon2id runs`);
  const cached = argon2idRuns();
  await run('publish', GUN);
  await run('remove', GUN, 'one', '-p');
  assert.equal(argon2idRuns(), cached, 'no derivation once both keys are cached');
  // The same with the cache off derives again (so the assertions above can fail).
  configureDerivedKeyCache({ enabled: false });
  try {
    await run('remove', GUN, 'two', '-p');
    assert.ok(argon2idRuns() - cached >= 2, 'without the cache both keys are derived');
  } finally {
    configureDerivedKeyCache({ enabled: true });
  }
});
