// The built pieces together, as a user runs them: `bin/trustdesk` → the native launcher →
// a real `trustdesk agent` process, against a trustdesk-server. A scenario runs through the
// agent; each read-only step is then repeated with the agent switched off and must print the
// same bytes with the same exit code; the agent's own counters prove the commands went through
// it and that the second publish reused the key derivations of the first.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PASSPHRASES,
  seedRootKey,
  startTrustdeskServer,
  type TestServer,
} from '../client/client-harness.js';
import { requireService } from '../support/services.js';
import { REPO_ROOT } from '../support/trustdesk-server.js';

const WRAPPER = join(REPO_ROOT, 'bin', 'trustdesk');
const CLI = join(REPO_ROOT, 'dist', 'src', 'app', 'bin', 'trustdesk.js');
const LAUNCHER = join(REPO_ROOT, 'dist', 'native', 'trustdesk');
const BUILT = existsSync(CLI) && existsSync(LAUNCHER);
const GUN = 'example.com/e2e/app';

let work: string;
let sock: string;
let server: TestServer | undefined;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { agent: boolean; stdin?: string }): Promise<Run> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: work,
    ...PASSPHRASES,
    ...(opts.agent ? { TRUSTDESK_AGENT_SOCK: sock } : { TRUSTDESK_NO_AGENT: '1' }),
  };
  const child = spawn(WRAPPER, ['-s', server?.url ?? '', '-d', join(work, 'trust'), ...args], {
    cwd: work,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // A command that exits without reading stdin makes this write fail with EPIPE; its output
  // and exit code are what the tests assert, so that is not an error here.
  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function agentStatus(): { commandsRun: number; cache: { hits: number; misses: number } } {
  const r = spawnSync(process.execPath, [CLI, 'agent', 'status', '--json'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', TRUSTDESK_AGENT_SOCK: sock },
  });
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  const agent = (doc.agent ?? doc) as {
    commandsRun: number;
    cache: { hits: number; misses: number };
  };
  return agent;
}

before(async () => {
  if (!BUILT) return;
  work = await mkdtemp(join(tmpdir(), 'trustdesk-e2e-'));
  sock = join(work, 'agent', 'agent.sock');
  server = await startTrustdeskServer();
  await seedRootKey(join(work, 'trust'));
  const r = spawnSync(process.execPath, [CLI, 'agent', 'start', '--socket', sock], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  assert.equal(r.status, 0, r.stderr);
});

after(async () => {
  if (!BUILT) return;
  spawnSync(process.execPath, [CLI, 'agent', 'stop'], {
    env: { PATH: process.env.PATH ?? '', TRUSTDESK_AGENT_SOCK: sock },
  });
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

test('a scenario through launcher and agent matches the CLI without the agent', async (t) => {
  if (!requireService(t, BUILT, 'the built CLI and native launcher (npm run build)')) return;
  const before = agentStatus();

  const init = await run(['init', GUN, '-p'], { agent: true });
  assert.equal(init.code, 0, init.stderr);
  await writeFile(join(work, 'app.txt'), 'the app, version 1\n');
  const add = await run(['add', GUN, 'v1', 'app.txt', '-p'], { agent: true });
  assert.equal(add.code, 0, add.stderr);
  const afterFirst = agentStatus();
  await writeFile(join(work, 'app2.txt'), 'the app, version 2\n');
  const add2 = await run(['add', GUN, 'v2', 'app2.txt', '-p'], { agent: true });
  assert.equal(add2.code, 0, add2.stderr);
  const afterSecond = agentStatus();

  // All three went through the agent; the second publish derived nothing new.
  assert.equal(afterSecond.commandsRun - before.commandsRun, 3);
  assert.equal(afterSecond.cache.misses, afterFirst.cache.misses);
  assert.ok(afterSecond.cache.hits > afterFirst.cache.hits);

  const same: Array<{ args: string[]; stdin?: string; code: number }> = [
    { args: ['list', GUN], code: 0 },
    { args: ['list', GUN, '--json'], code: 0 },
    { args: ['lookup', GUN, 'v2'], code: 0 },
    { args: ['status', '--gun', GUN], code: 0 },
    { args: ['verify', GUN, 'v1', '-q'], stdin: 'the app, version 1\n', code: 0 },
    { args: ['verify', GUN, 'v1'], stdin: 'tampered\n', code: 3 },
    { args: ['lookup', GUN, 'missing'], code: 6 },
    { args: ['list', 'bad gun!'], code: 2 },
    { args: ['no-such-command'], code: 2 },
    { args: ['key', 'list', '--json'], code: 0 },
  ];
  for (const c of same) {
    const viaAgent = await run(c.args, { agent: true, stdin: c.stdin });
    const direct = await run(c.args, { agent: false, stdin: c.stdin });
    assert.equal(viaAgent.code, c.code, `${c.args.join(' ')}: ${viaAgent.stderr}`);
    assert.deepEqual(viaAgent, direct, c.args.join(' '));
  }
  assert.equal(agentStatus().commandsRun, afterSecond.commandsRun + same.length);
});
