// `trustdesk agent start|status|forget|stop|run` as real processes (the CLI from source through
// tsx): the detached agent answers on its socket with the build id of the file it was started
// from, keeps no secrets of its starter's environment, runs commands, and stops cleanly — by
// `agent stop` or, in the foreground, by SIGTERM. Without an agent, status/stop/forget fail with
// ERR_AGENT_NOT_RUNNING.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildIdOf } from '../../src/agent/build-id.js';
import { callAgent, controlRequest } from '../../src/agent/client.js';
import { SOURCE_CLI, runTrustdesk } from '../app/cli-process.js';
import { request, tempDir } from './agent-rig.js';

let dir: string;
let socket: string;
const env = () => ({ HOME: dir, TRUSTDESK_ROOT_PASSPHRASE: 'not for the agent' });

before(async () => {
  dir = await tempDir('cli');
  // A directory start must create (0700).
  socket = join(dir, 'run', 'agent.sock');
});
after(() => rm(dir, { recursive: true, force: true }));

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 600 && !gone(pid); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(gone(pid), `process ${pid} is still running`);
}

describe('agent start / status / forget / stop', () => {
  let pid = 0;

  test('start runs a detached agent and says how to reach it', async () => {
    const r = await runTrustdesk(['agent', 'start', '--socket', socket], { env: env(), cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const m = /^Started the trustdesk agent \(pid (\d+)\) on (.+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    pid = Number(m[1]);
    assert.equal(m[2], socket);
    assert.match(r.stdout, new RegExp(`^export TRUSTDESK_AGENT_SOCK=${socket}$`, 'm'));
    assert.equal((await lstat(join(dir, 'run'))).mode & 0o777, 0o700);
    assert.equal((await lstat(socket)).mode & 0o777, 0o600);
    const log = join(dir, 'run', 'agent.log');
    assert.equal((await lstat(log)).mode & 0o777, 0o600);
    assert.match(await readFile(log, 'utf8'), /listening on/);
    assert.equal(await readFile(join(dir, 'run', 'agent.pid'), 'utf8'), `${pid}\n`);
    if (existsSync(`/proc/${pid}/environ`)) {
      const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
      assert.doesNotMatch(environ, /PASSPHRASE/, 'the agent keeps no passphrase of its starter');
      assert.match(environ, /(^|\0)HOME=/);
    }
  });

  test('a second start is refused', async () => {
    const r = await runTrustdesk(['agent', 'start', '--socket', socket], { env: env(), cwd: dir });
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /ERR_AGENT_RUNNING/);
  });

  test('status reports the build of the file it runs', async () => {
    const r = await runTrustdesk(['--json', 'agent', 'status', '--socket', socket], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { ok: boolean; agent: Record<string, unknown> };
    assert.equal(doc.ok, true);
    assert.equal(doc.agent.pid, pid);
    assert.equal(doc.agent.build, await buildIdOf(SOURCE_CLI));
    assert.equal(doc.agent.socket, socket);
    const text = await runTrustdesk(['agent', 'status', '--socket', socket], { env: env() });
    assert.match(text.stdout, new RegExp(`pid ${pid}`));
    assert.match(text.stdout, /key cache: +0 derivations/);
  });

  test('it runs commands of the same build', async () => {
    const build = await buildIdOf(SOURCE_CLI);
    const r = await callAgent(socket, { ...request(['--version'], { cwd: dir }), buildId: build });
    assert.equal(r.code, 0);
    const want = await runTrustdesk(['--version']);
    assert.equal(r.stdout.toString(), want.stdout);
    assert.equal((await controlRequest(socket, 'status')).commandsRun, 1);
  });

  test('forget, then stop', async () => {
    const f = await runTrustdesk(['agent', 'forget', '--socket', socket], { env: env() });
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /^Forgot 0 cached key derivations$/m);
    const s = await runTrustdesk(['agent', 'stop', '--socket', socket], { env: env() });
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`Stopped the trustdesk agent \\(pid ${pid}\\)`));
    assert.equal(existsSync(socket), false);
    assert.equal(existsSync(join(dir, 'run', 'agent.pid')), false);
    await waitGone(pid);
    assert.match(await readFile(join(dir, 'run', 'agent.log'), 'utf8'), /stopped/);
  });

  test('without an agent: ERR_AGENT_NOT_RUNNING', async () => {
    for (const sub of ['status', 'stop', 'forget']) {
      const r = await runTrustdesk(['agent', sub, '--socket', socket], { env: env() });
      assert.equal(r.code, 6, `${sub}: ${r.stderr}`);
      assert.match(r.stderr, /error \[ERR_AGENT_NOT_RUNNING\]/);
    }
    const j = await runTrustdesk(['--json', 'agent', 'status', '--socket', socket]);
    const doc = JSON.parse(j.stdout) as { ok: boolean; error: { code: string } };
    assert.deepEqual([doc.ok, doc.error.code], [false, 'ERR_AGENT_NOT_RUNNING']);
  });

  test('bad options are usage errors', async () => {
    const cases = [
      ['agent', 'start', '--socket', socket, '--cache-ttl', '0'],
      ['agent', 'start', '--socket', socket, '--cache-ttl', '60', '--max-cache-ttl', '30'],
      ['agent', 'status', '--socket', socket, '--cache-ttl', '60'],
      ['agent', 'restart'],
    ];
    for (const argv of cases) {
      const r = await runTrustdesk(argv, { env: env() });
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    }
    assert.equal(existsSync(socket), false);
  });
});

test('agent run: in the foreground until SIGTERM', async () => {
  const sock = join(dir, 'fg', 'agent.sock');
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), SOURCE_CLI, 'agent', 'run', '--socket', sock],
    { env: { PATH: process.env.PATH ?? '', HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    // Up once it logs that it listens.
    while (!stderr.includes('listening on')) {
      assert.equal(child.exitCode, null, stderr);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((await controlRequest(sock, 'status')).pid, child.pid);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.equal(existsSync(sock), false);
    assert.match(stderr, /SIGTERM: stopping/);
  } finally {
    child.kill('SIGKILL');
  }
});
