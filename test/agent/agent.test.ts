// The agent (src/agent) in-process: frames and the request format, socket location and directory
// rules, commands run through the agent giving the same bytes and exit code as runCli, every
// fall-back case, stdin through N/I/E, concurrent and cancelled commands, control requests,
// start-up over stale and live sockets, and malformed input that closes one connection while the
// agent keeps serving the others. Commands that need a trust server: agent-commands.test.ts;
// the CLI as real processes: agent-cli.test.ts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FrameDecoder,
  FrameError,
  MAX_FRAME_BYTES,
  encodeFrame,
  CALLER_FRAME_TYPES,
} from '../../src/agent/frames.js';
import { RequestError, encodeRequest, parseRequest } from '../../src/agent/request.js';
import {
  agentDisabled,
  checkSocketDir,
  prepareSocketDir,
  resolveSocketPath,
} from '../../src/agent/socket-path.js';
import { AgentServer } from '../../src/agent/server.js';
import { controlRequest } from '../../src/agent/client.js';
import type { Io } from '../../src/app/context.js';
import { TrustdeskError } from '../../src/tuf/errors.js';
import {
  BUILD,
  RawConn,
  deferred,
  direct,
  request,
  startRig,
  tempDir,
  viaAgent,
  type Rig,
} from './agent-rig.js';

const uid = process.getuid?.() ?? 0;

describe('frames', () => {
  test('round trip, split at every byte boundary', () => {
    const stream = Buffer.concat([
      encodeFrame('H', 'hello'),
      encodeFrame('I', Buffer.from([0, 1, 2, 255])),
      encodeFrame('E'),
      encodeFrame('C', 'status'),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder(CALLER_FRAME_TYPES);
      const frames = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      assert.deepEqual(
        frames.map((f) => [f.type, f.payload.toString('hex')]),
        [
          ['H', Buffer.from('hello').toString('hex')],
          ['I', '000102ff'],
          ['E', ''],
          ['C', Buffer.from('status').toString('hex')],
        ],
      );
      assert.equal(d.pending, 0);
    }
  });

  test('the header is big-endian type ‖ length', () => {
    assert.equal(encodeFrame('X', Buffer.of(3)).toString('hex'), '58000000' + '0103');
  });

  test('unknown types and oversized frames are rejected from their header alone', () => {
    assert.throws(
      () => new FrameDecoder(CALLER_FRAME_TYPES).push(encodeFrame('O', 'x')),
      FrameError,
    );
    const big = Buffer.alloc(5);
    big.write('I');
    big.writeUInt32BE(MAX_FRAME_BYTES + 1, 1);
    assert.throws(() => new FrameDecoder(CALLER_FRAME_TYPES).push(big), /max 4 MiB/);
    // Exactly 4 MiB is allowed.
    const d = new FrameDecoder(CALLER_FRAME_TYPES);
    assert.equal(d.push(encodeFrame('I', Buffer.alloc(MAX_FRAME_BYTES))).length, 1);
    assert.throws(() => encodeFrame('I', Buffer.alloc(MAX_FRAME_BYTES + 1)), FrameError);
  });
});

describe('request payload', () => {
  test('round trip: UTF-8, = in values, empty arguments', () => {
    const req = {
      buildId: BUILD,
      cwd: '/home/ünïcode dir',
      ttys: { stdin: false, stdout: true, stderr: false },
      argv: ['add', 'example.com/app', 'näme', '', '--custom=a=b'],
      env: { HOME: '/root', EMPTY: '', EQ: 'a=b=c', ÜMLAUT: 'é' },
    };
    const parsed = parseRequest(encodeRequest(req));
    assert.deepEqual({ ...parsed, env: { ...parsed.env } }, req);
  });

  test('the layout is the documented one', () => {
    const bytes = encodeRequest(request(['--version'], { cwd: '/w', env: { A: '1' } }));
    assert.equal(
      bytes.toString('latin1'),
      `1\x00${BUILD}\x00/w\x00000\x001\x00--version\x00A=1\x00`,
    );
  });

  test('environment: first entry wins, entries without a name or = are dropped', () => {
    const raw = Buffer.from(
      `1\x00${BUILD}\x00/\x00000\x000\x00A=first\x00A=second\x00noequals\x00=nameless\x00__proto__=x\x00`,
    );
    const env = parseRequest(raw).env;
    assert.deepEqual(Object.entries(env), [
      ['A', 'first'],
      ['__proto__', 'x'],
    ]);
    assert.equal(Object.getPrototypeOf(env), null);
  });

  test('malformed requests are refused', () => {
    const bad = [
      '',
      `1\x00${BUILD}\x00/\x00000\x000`, // no final NUL
      `2\x00${BUILD}\x00/\x00000\x000\x00`,
      `1\x00NOTHEX0123456789\x00/\x00000\x000\x00`,
      `1\x00${BUILD}\x00relative\x00000\x000\x00`,
      `1\x00${BUILD}\x00/\x00012\x000\x00`,
      `1\x00${BUILD}\x00/\x00000\x002\x00only-one\x00`,
      `1\x00${BUILD}\x00/\x00000\x00-1\x00`,
      `1\x00${BUILD}\x00/\x00000\x0001\x00x\x00`, // leading zero
    ];
    for (const b of bad)
      assert.throws(() => parseRequest(Buffer.from(b)), RequestError, JSON.stringify(b));
  });
});

describe('socket location and directory', () => {
  test('resolution order', () => {
    const r = (env: Record<string, string>) => resolveSocketPath(env, '/cwd', 1234);
    assert.equal(r({}), '/tmp/trustdesk-1234/agent.sock');
    assert.equal(r({ XDG_RUNTIME_DIR: '/run/user/1234' }), '/run/user/1234/trustdesk/agent.sock');
    assert.equal(r({ XDG_RUNTIME_DIR: 'relative' }), '/tmp/trustdesk-1234/agent.sock');
    assert.equal(r({ XDG_RUNTIME_DIR: '' }), '/tmp/trustdesk-1234/agent.sock');
    assert.equal(r({ TRUSTDESK_AGENT_SOCK: '/s/a.sock', XDG_RUNTIME_DIR: '/run' }), '/s/a.sock');
    assert.equal(r({ TRUSTDESK_AGENT_SOCK: 'rel/a.sock' }), '/cwd/rel/a.sock');
    assert.equal(r({ TRUSTDESK_AGENT_SOCK: '' }), '/tmp/trustdesk-1234/agent.sock');
    assert.equal(agentDisabled({ TRUSTDESK_NO_AGENT: '1' }), true);
    assert.equal(agentDisabled({ TRUSTDESK_NO_AGENT: '' }), false);
    assert.equal(agentDisabled({}), false);
  });

  test('prepareSocketDir creates 0700 and refuses unsafe directories', async () => {
    const base = await tempDir('dir');
    try {
      const fresh = join(base, 'fresh', 'nested');
      await prepareSocketDir(fresh, uid);
      assert.equal((await lstat(fresh)).mode & 0o777, 0o700);
      assert.equal(await checkSocketDir(join(base, 'missing'), uid), 'missing');

      const open = join(base, 'open');
      await mkdir(open, { mode: 0o700 });
      await chmod(open, 0o750);
      await assert.rejects(prepareSocketDir(open, uid), agentError('ERR_AGENT_SOCKET', /mode 750/));

      const link = join(base, 'link');
      await symlink(fresh, link);
      await assert.rejects(prepareSocketDir(link, uid), agentError('ERR_AGENT_SOCKET', /symbolic/));

      const file = join(base, 'file');
      await writeFile(file, '');
      await assert.rejects(
        prepareSocketDir(file, uid),
        agentError('ERR_AGENT_SOCKET', /not a dir/),
      );

      await assert.rejects(
        prepareSocketDir(fresh, uid + 1),
        agentError('ERR_AGENT_SOCKET', /owned by uid/),
      );
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});

function agentError(code: string, message?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof TrustdeskError, String(e));
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  };
}

describe('commands through the agent', () => {
  let rig: Rig;
  let work: string;
  before(async () => {
    rig = await startRig('cmd');
    work = await tempDir('work');
    await writeFile(join(work, 'root.json'), '{"signed": 1}');
  });
  after(async () => {
    await rig.dispose();
    await rm(work, { recursive: true, force: true });
  });

  const cases: Array<{
    argv: string[];
    ttys?: { stdin?: boolean; stdout?: boolean; stderr?: boolean };
    env?: Record<string, string>;
  }> = [
    { argv: ['--version'] },
    { argv: ['--help'] },
    { argv: ['help'] },
    { argv: ['help', 'init'] },
    { argv: ['--json', 'help', 'verify'] },
    { argv: ['init', '--help'] },
    { argv: ['bogus'] },
    { argv: ['--json', 'bogus'] },
    { argv: ['inspect'] },
    { argv: ['inspect', 'root.json'] },
    // (-D is left out: its stack traces end in the caller's frames, which differ by design.)
    { argv: ['inspect', 'missing.json'] },
    { argv: ['key', 'list', '-d', 'trust'] },
    { argv: ['--json', 'key', 'list', '-d', 'trust'] },
    { argv: ['status', '-d', 'trust'] },
    { argv: ['add', 'example.com/x', 'n', 'missing.bin', '-d', 'trust'] },
    // Colour follows the caller's terminals and NO_COLOR.
    { argv: ['--script', 'bogus'], ttys: { stdout: true, stderr: true } },
    { argv: ['--script', 'bogus'], ttys: { stdout: true, stderr: true }, env: { NO_COLOR: '1' } },
    // A terminal on stdin is fine with --script.
    { argv: ['--script', '--version'], ttys: { stdin: true } },
  ];
  for (const c of cases) {
    test(`trustdesk ${c.argv.join(' ')}${c.ttys ? ` (ttys ${JSON.stringify(c.ttys)})` : ''}`, async () => {
      const inv = { cwd: work, env: { HOME: work, ...c.env }, ...(c.ttys ? { ttys: c.ttys } : {}) };
      const want = await direct(c.argv, inv);
      const got = await viaAgent(rig.socket, c.argv, inv);
      assert.equal(got.fallback, undefined);
      assert.equal(got.code, want.code);
      assert.equal(got.stdout.toString('hex'), want.stdout.toString('hex'), got.stdout.toString());
      assert.equal(got.stderr.toString('hex'), want.stderr.toString('hex'), got.stderr.toString());
      assert.ok(want.stdout.length + want.stderr.length > 0, 'the case prints something');
    });
  }

  test('every fall-back case answers F first and runs nothing', async () => {
    const before = rig.agent.status().commandsRun;
    const fb = async (argv: string[], o: Parameters<typeof request>[1] = {}, build = BUILD) => {
      const c = await RawConn.open(rig.socket);
      c.send('H', encodeRequest({ ...request(argv, o), buildId: build }));
      await c.closed;
      assert.equal(c.types(), 'F', argv.join(' '));
      return c.frames[0]?.payload.toString('utf8') ?? '';
    };
    assert.match(await fb(['--version'], {}, 'ffffffffffffffff'), /build/);
    assert.match(await fb(['list', 'example.com/x'], { ttys: { stdin: true } }), /terminal/);
    assert.match(
      await fb(['help'], { ttys: { stdin: true, stdout: true, stderr: true } }),
      /terminal/,
    );
    assert.match(await fb(['agent', 'status']), /agent/);
    assert.match(await fb(['--json', 'agent', 'stop', '--script']), /agent/);
    assert.match(await fb(['demo']), /demo/);
    assert.match(await fb([]), /no command/);
    assert.match(await fb(['--json']), /no command/);
    assert.equal(rig.agent.status().commandsRun, before);
  });

  test('stdin reaches the command through N, I… and E', async () => {
    // inspect - is not a thing; verify reads stdin first (then fails offline, as directly).
    const argv = ['verify', 'example.com/x', 'n', '--offline', '-d', 'trust'];
    const stdin = Buffer.alloc(3 * 1024 * 1024 + 7, 'stdin bytes ');
    const c = await RawConn.open(rig.socket);
    c.send('H', encodeRequest(request(argv, { cwd: work, env: { HOME: work } })));
    await c.waitFor('N');
    // More than one frame's worth, in uneven pieces.
    for (let at = 0; at < stdin.length; at += 1_000_003)
      c.send('I', stdin.subarray(at, at + 1_000_003));
    c.send('E');
    await c.closed;
    assert.equal(c.types().replace(/R+/g, 'R'), 'NRX');
    const want = await direct(argv, { cwd: work, env: { HOME: work }, stdin });
    const stderr = Buffer.concat(c.frames.filter((f) => f.type === 'R').map((f) => f.payload));
    assert.equal(stderr.toString(), want.stderr.toString());
    assert.equal(c.frames.at(-1)?.payload[0], want.code);
  });

  test('a command that never reads stdin never asks for it', async () => {
    const c = await RawConn.open(rig.socket);
    c.send('H', encodeRequest(request(['--version'])));
    await c.closed;
    assert.equal(c.types(), 'OX');
  });
});

describe('runs, cancellation and stop', () => {
  test('connections run concurrently and independently', async () => {
    const gates = new Map<string, { resolve: (v: void) => void }>();
    const rig = await startRig('conc', {
      run: async (argv, io) => {
        const gate = deferred();
        gates.set(argv[0] ?? '', gate);
        io.stdout.write(`started ${argv[0]}\n`);
        await gate.promise;
        io.stdout.write(`done ${argv[0]}\n`);
        return Number(argv[1]);
      },
    });
    try {
      const a = await RawConn.open(rig.socket);
      const b = await RawConn.open(rig.socket);
      a.send('H', encodeRequest(request(['help', '3'])));
      b.send('H', encodeRequest(request(['inspect', '4'])));
      await a.waitFor('O');
      await b.waitFor('O');
      assert.equal(rig.agent.status().running, 2);
      // b finishes while a still runs.
      gates.get('inspect')?.resolve();
      await b.closed;
      assert.equal(b.types(), 'OOX');
      assert.equal(b.frames.at(-1)?.payload[0], 4);
      assert.equal(a.sock.destroyed, false);
      assert.equal(rig.agent.status().running, 1);
      gates.get('help')?.resolve();
      await a.closed;
      assert.equal(
        Buffer.concat(a.frames.filter((f) => f.type === 'O').map((f) => f.payload)).toString(),
        'started help\ndone help\n',
      );
      assert.equal(a.frames.at(-1)?.payload[0], 3);
      assert.equal(rig.agent.status().commandsRun, 2);
    } finally {
      await rig.dispose();
    }
  });

  test('the caller closing before X cancels the command (its signal fires)', async () => {
    const seen = deferred<{ aborted: boolean; reason: unknown }>();
    const rig = await startRig('abort', {
      run: async (_argv, io) => {
        io.stdout.write('working\n');
        const signal = io.signal as AbortSignal;
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        seen.resolve({ aborted: signal.aborted, reason: signal.reason });
        return 0;
      },
    });
    try {
      const c = await RawConn.open(rig.socket);
      c.send('H', encodeRequest(request(['help'])));
      await c.waitFor('O');
      c.close();
      const s = await seen.promise;
      assert.equal(s.aborted, true);
      assert.ok(s.reason instanceof TrustdeskError && s.reason.code === 'ERR_ABORTED');
      // The agent still serves.
      assert.equal((await controlRequest(rig.socket, 'status')).running, 0);
    } finally {
      await rig.dispose();
    }
  });

  test('stop lets a running command finish, then removes socket and pid file', async () => {
    const gate = deferred();
    const rig = await startRig('stop', {
      run: async (_argv, io) => {
        io.stdout.write('working\n');
        await gate.promise;
        return 5;
      },
    });
    try {
      assert.equal(await readFile(rig.agent.pidFile, 'utf8'), `${process.pid}\n`);
      assert.equal((await lstat(rig.socket)).mode & 0o777, 0o600);
      assert.equal((await lstat(rig.agent.pidFile)).mode & 0o777, 0o600);
      const c = await RawConn.open(rig.socket);
      c.send('H', encodeRequest(request(['help'])));
      await c.waitFor('O');
      const reply = await controlRequest(rig.socket, 'stop');
      assert.equal(reply.stopping, true);
      // No new connections once stopping.
      await assert.rejects(RawConn.open(rig.socket));
      let closed = false;
      void rig.agent.closed.then(() => (closed = true));
      gate.resolve();
      await c.closed;
      assert.equal(c.types(), 'OX');
      assert.equal(c.frames.at(-1)?.payload[0], 5);
      await rig.agent.closed;
      assert.equal(closed, true);
      assert.equal(existsSync(rig.socket), false);
      assert.equal(existsSync(rig.agent.pidFile), false);
    } finally {
      await rig.dispose();
    }
  });

  test('stop cancels what does not finish within the grace period', async () => {
    const seen = deferred<boolean>();
    const rig = await startRig('grace', {
      stopGraceMs: 0,
      run: async (_argv, io) => {
        io.stdout.write('stuck\n');
        const signal = io.signal as AbortSignal;
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        seen.resolve(signal.aborted);
        return 0;
      },
    });
    try {
      const c = await RawConn.open(rig.socket);
      c.send('H', encodeRequest(request(['help'])));
      await c.waitFor('O');
      await rig.agent.stop();
      assert.equal(await seen.promise, true);
      await c.closed;
      assert.equal(c.types(), 'O', 'no X for a cancelled command');
    } finally {
      await rig.dispose();
    }
  });
});

describe('control requests', () => {
  test('status, forget and stop', async () => {
    let cleared = 0;
    let entries = 3;
    const rig = await startRig('ctl', {
      version: '9.9.9',
      cache: {
        stats: () => ({ entries, hits: 7, misses: 2 }),
        clear: () => {
          cleared++;
          entries = 0;
        },
      },
    });
    try {
      await viaAgent(rig.socket, ['--version']);
      const st = await controlRequest(rig.socket, 'status');
      assert.deepEqual(Object.keys(st).sort(), [
        'build',
        'cache',
        'commandsRun',
        'pid',
        'running',
        'socket',
        'startedAt',
        'uptimeMs',
        'version',
      ]);
      assert.equal(st.pid, process.pid);
      assert.equal(st.build, BUILD);
      assert.equal(st.version, '9.9.9');
      assert.equal(st.socket, rig.socket);
      assert.equal(st.commandsRun, 1);
      assert.equal(st.running, 0);
      assert.deepEqual(st.cache, { entries: 3, hits: 7, misses: 2 });
      assert.equal(new Date(st.startedAt as string).getTime(), rig.agent.startedAtMs);
      assert.deepEqual(await controlRequest(rig.socket, 'forget'), { forgotten: 3 });
      assert.equal(cleared, 1);
      assert.deepEqual((await controlRequest(rig.socket, 'status')).cache, {
        entries: 0,
        hits: 7,
        misses: 2,
      });
      assert.deepEqual(await controlRequest(rig.socket, 'stop'), {
        stopping: true,
        pid: process.pid,
      });
      await rig.agent.closed;
      assert.equal(existsSync(rig.socket), false);
      assert.ok(!rig.logs.join('\n').includes('HOME'), 'nothing of the environment is logged');
    } finally {
      await rig.dispose();
    }
  });

  test('an unknown control request closes the connection', async () => {
    const rig = await startRig('ctl2');
    try {
      const c = await RawConn.open(rig.socket);
      c.send('C', 'reboot');
      await c.closed;
      assert.equal(c.types(), '');
      assert.equal((await controlRequest(rig.socket, 'status')).build, BUILD);
    } finally {
      await rig.dispose();
    }
  });
});

describe('start-up', () => {
  test('a stale socket is replaced', async () => {
    const dir = await tempDir('stale');
    const socket = join(dir, 'agent.sock');
    try {
      // A listener killed with SIGKILL leaves its socket file behind.
      const child = spawn(
        process.execPath,
        [
          '-e',
          `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((r) => child.stdout.once('data', () => r()));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      assert.ok((await lstat(socket)).isSocket(), 'a stale socket file is left');
      const agent = await AgentServer.start({ socketPath: socket, buildId: BUILD, version: 't' });
      try {
        assert.equal((await controlRequest(socket, 'status')).pid, process.pid);
      } finally {
        await agent.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a live agent is never replaced; a non-socket file is never removed', async () => {
    const rig = await startRig('live');
    try {
      await assert.rejects(
        AgentServer.start({ socketPath: rig.socket, buildId: BUILD, version: 't' }),
        agentError('ERR_AGENT_RUNNING', /already running/),
      );
      assert.equal((await controlRequest(rig.socket, 'status')).build, BUILD);
      const file = join(rig.dir, 'plain');
      await writeFile(file, 'keep me');
      await assert.rejects(
        AgentServer.start({ socketPath: file, buildId: BUILD, version: 't' }),
        agentError('ERR_AGENT_SOCKET', /not a socket/),
      );
      assert.equal(await readFile(file, 'utf8'), 'keep me');
    } finally {
      await rig.dispose();
    }
  });

  test('an unsafe directory is refused', async () => {
    const dir = await tempDir('perm');
    try {
      await chmod(dir, 0o755);
      await assert.rejects(
        AgentServer.start({ socketPath: join(dir, 'agent.sock'), buildId: BUILD, version: 't' }),
        agentError('ERR_AGENT_SOCKET', /accessible to others/),
      );
      await chmod(dir, 0o700);
      await assert.rejects(
        AgentServer.start({
          socketPath: join(dir, 'agent.sock'),
          buildId: BUILD,
          version: 't',
          uid: uid + 1,
        }),
        agentError('ERR_AGENT_SOCKET', /owned by uid/),
      );
      assert.equal(existsSync(join(dir, 'agent.sock')), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('malformed input closes that connection only', () => {
  let rig: Rig;
  const aborted: boolean[] = [];
  before(async () => {
    rig = await startRig('bad', {
      run: async (argv: readonly string[], io: Io) => {
        if (argv[0] === 'read') for await (const _ of io.stdin ?? []) void _;
        const signal = io.signal as AbortSignal;
        if (!signal.aborted)
          await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        aborted.push(signal.aborted);
        return 0;
      },
    });
  });
  after(() => rig.dispose());

  const cases: Array<[string, (c: RawConn) => Promise<void> | void]> = [
    ['garbage', (c) => void c.sock.write('GET / HTTP/1.1\r\n\r\n')],
    ['an unknown frame type', (c) => c.send('Z', 'x')],
    ['an agent frame type', (c) => c.send('O', 'x')],
    [
      'an oversized frame',
      (c) => {
        const h = Buffer.alloc(5);
        h.write('H');
        h.writeUInt32BE(MAX_FRAME_BYTES + 1, 1);
        c.sock.write(h);
      },
    ],
    ['a bad request', (c) => c.send('H', 'not a request')],
    ['I before H', (c) => c.send('I', 'x')],
    ['E before H', (c) => c.send('E')],
  ];
  for (const [what, act] of cases) {
    test(what, async () => {
      const c = await RawConn.open(rig.socket);
      await act(c);
      await c.closed;
      assert.equal(c.types(), '');
      assert.equal((await controlRequest(rig.socket, 'status')).build, BUILD);
    });
  }

  const during: Array<[string, string, (c: RawConn) => Promise<void> | void]> = [
    ['H twice', 'wait', (c) => c.send('H', encodeRequest(request(['wait'])))],
    ['C during a command', 'wait', (c) => c.send('C', 'status')],
    ['I before N', 'wait', (c) => c.send('I', 'x')],
    ['E before N', 'wait', (c) => c.send('E')],
    [
      'E twice',
      'read',
      async (c) => {
        await c.waitFor('N');
        c.send('E');
        c.send('E');
      },
    ],
    [
      'I after E',
      'read',
      async (c) => {
        await c.waitFor('N');
        c.send('E');
        c.send('I', 'late');
      },
    ],
  ];
  for (const [what, cmd, act] of during) {
    test(`${what} (cancels the running command)`, async () => {
      const n = aborted.length;
      const c = await RawConn.open(rig.socket);
      c.send('H', encodeRequest(request([cmd])));
      await act(c);
      await c.closed;
      assert.doesNotMatch(c.types(), /X/);
      while (aborted.length === n) await new Promise((r) => setImmediate(r));
      assert.equal(aborted[n], true);
      assert.equal((await controlRequest(rig.socket, 'status')).build, BUILD);
    });
  }

  test('the log names the problem, not the bytes', () => {
    const log = rig.logs.join('\n');
    assert.match(log, /protocol error/);
    assert.doesNotMatch(log, /HTTP\/1\.1|late/);
  });
});
