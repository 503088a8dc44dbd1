// The native launcher (native/launcher.c) and the bin/trustdesk wrapper against a protocol-level
// fake agent: the request arrives intact, output and exit statuses pass through unchanged, stdin
// is streamed on request, every unsafe or missing socket falls back to node without connecting,
// and a lost connection or a protocol violation is an error, never a re-run.

import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeFrame, scripted, startFakeAgent, type FakeHandler } from '../support/fake-agent.js';
import { findExecutable, requireService } from '../support/services.js';

const REPO = join(import.meta.dirname, '..', '..');
const LOST = 'trustdesk: lost the connection to the agent\n';
const MiB = 1024 * 1024;
// A hang (a launcher waiting on the wrong thing) fails instead of stalling the run.
const LIMIT = { timeout: 60_000 };

// One install-like tree, built once: <root>/dist/native/trustdesk (compiled by our build
// script) next to a stand-in bundle <root>/dist/src/app/bin/trustdesk.js.
const root = realpathSync(mkdtempSync(join(tmpdir(), 'td-launcher-')));
const bundle = join(root, 'dist', 'src', 'app', 'bin', 'trustdesk.js');
const launcherPath = join(root, 'dist', 'native', 'trustdesk');
const bundleText = `// stand-in bundle ${randomBytes(8).toString('hex')}\n`;
const buildId = createHash('sha256').update(bundleText).digest('hex').slice(0, 16);
// Stands in for node: prints "fake-node", its arguments and $TD_MARKER, NUL-separated.
const fakeNode = join(root, 'fake-node');
const pathBin = join(root, 'path-bin'); // holds the same script as `node`, for the PATH lookup
let built = false;

before(() => {
  mkdirSync(join(root, 'dist', 'src', 'app', 'bin'), { recursive: true });
  writeFileSync(bundle, bundleText);
  const script = [
    '#!/bin/sh',
    "printf 'fake-node\\0'",
    'for a in "$@"; do printf \'%s\\0\' "$a"; done',
    'printf \'marker=%s\\0\' "$TD_MARKER"',
    '',
  ].join('\n');
  writeFileSync(fakeNode, script, { mode: 0o755 });
  mkdirSync(pathBin);
  writeFileSync(join(pathBin, 'node'), script, { mode: 0o755 });
  const r = spawnSync(
    process.execPath,
    [
      join(REPO, 'scripts', 'build-native.mjs'),
      '--out-dir',
      join(root, 'dist', 'native'),
      '--cli',
      bundle,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  built = existsSync(launcherPath);
});

// Processes still running (only after a failure): kill them so the file can finish.
const running = new Set<ReturnType<typeof spawn>>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

function needLauncher(t: TestContext): boolean {
  return requireService(t, built, 'a C compiler (cc, gcc or clang) to build native/launcher.c');
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Bytes for a stdin pipe (ended after them), a file descriptor, or 'keep' to get the pipe. */
  stdin?: Buffer | string | number;
  /** Called once spawned: to write stdin later, signal the process, close stdout… */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
}

function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<Run> {
  const stdio: StdioOptions = [
    typeof opts.stdin === 'number' ? opts.stdin : 'pipe',
    'pipe',
    'pipe',
  ];
  const child = spawn(file, args, { env: opts.env ?? {}, cwd: opts.cwd ?? root, stdio });
  running.add(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  child.stderr?.on('data', (d: Buffer) => err.push(d));
  child.stdout?.on('error', () => undefined);
  child.stdin?.on('error', () => undefined);
  if (typeof opts.stdin === 'string' || Buffer.isBuffer(opts.stdin)) child.stdin?.end(opts.stdin);
  opts.onSpawn?.(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
}

/** The launcher with an environment naming `sock` and the fake node. */
function launch(sock: string, args: readonly string[], opts: RunOptions = {}): Promise<Run> {
  const env = {
    PATH: process.env.PATH ?? '',
    TRUSTDESK_AGENT_SOCK: sock,
    TRUSTDESK_NODE: fakeNode,
    ...opts.env,
  };
  return run(launcherPath, args, { ...opts, env });
}

/** What the fake node printed: its arguments and marker, or undefined if it did not run. */
function fakeNodeRun(stdout: Buffer): { args: string[]; marker: string } | undefined {
  const parts = stdout.toString('utf8').split('\0');
  if (parts.shift() !== 'fake-node' || parts.pop() !== '') return undefined;
  const marker = parts.pop() ?? '';
  assert.ok(marker.startsWith('marker='), marker);
  return { args: parts, marker: marker.slice('marker='.length) };
}

const exitWith = (code: number): FakeHandler =>
  scripted([{ type: 'X', payload: Buffer.from([code]) }]);

async function withAgent(
  handler: FakeHandler,
  body: (agent: Awaited<ReturnType<typeof startFakeAgent>>) => Promise<void>,
): Promise<void> {
  const agent = await startFakeAgent(handler);
  try {
    await body(agent);
  } finally {
    await agent.close();
  }
}

test(
  'the request carries argv, environment, cwd, ttys and the build id unchanged',
  LIMIT,
  async (t) => {
    if (!needLauncher(t)) return;
    const args = [
      'init',
      '',
      'a b',
      'héllo ✓ 日本',
      'k=v=w',
      '--flag=x y',
      'q\'"`$',
      'tab\tnl\n',
      '',
    ];
    const cwd = join(root, 'cwd with space ü');
    mkdirSync(cwd, { recursive: true });
    await withAgent(exitWith(0), async (agent) => {
      const env = {
        PATH: process.env.PATH ?? '',
        TRUSTDESK_AGENT_SOCK: agent.socketPath,
        EMPTY: '',
        EQ: 'a=b=c',
        UNI: 'ünï ✓ 日本',
        SPACE: ' x ',
        TRUSTDESK_PASSPHRASE: 'correct horse',
      };
      const r = await run(launcherPath, args, { env, cwd });
      assert.deepEqual([r.code, r.stdout.toString(), r.stderr.toString()], [0, '', '']);
      const conn = await agent.connection();
      assert.equal(agent.connections.length, 1);
      assert.equal(conn.protocolError, undefined);
      assert.deepEqual(conn.frames, []);
      // Byte for byte: the fields in order, every environment entry as NAME=VALUE.
      const fields = conn.raw!.toString('utf8').split('\0');
      assert.equal(fields.pop(), '');
      assert.deepEqual(fields.slice(0, 5 + args.length), [
        '1',
        buildId,
        cwd,
        '000',
        String(args.length),
        ...args,
      ]);
      assert.deepEqual(
        fields.slice(5 + args.length).sort(),
        Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .sort(),
      );
      assert.equal(conn.request?.buildId, buildId);
      assert.deepEqual(conn.request?.argv, args);
      assert.deepEqual({ ...conn.request?.env }, env);
    });
  },
);

test('ttys reports isatty of stdin, stdout and stderr', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  const script = findExecutable('script');
  if (!requireService(t, script !== undefined, 'script(1) from util-linux (a pseudo-terminal)'))
    return;
  await withAgent(exitWith(0), async (agent) => {
    const cases: [string, string][] = [
      ['', '111'],
      ['</dev/null', '011'],
      ['>/dev/null', '101'],
      ['2>/dev/null', '110'],
    ];
    for (const [i, [redirect, ttys]] of cases.entries()) {
      const env = {
        PATH: process.env.PATH ?? '',
        SHELL: '/bin/sh',
        TRUSTDESK_AGENT_SOCK: agent.socketPath,
      };
      const r = await run(script!, ['-qec', `'${launcherPath}' ${redirect}`, '/dev/null'], {
        env,
        stdin: '',
      });
      assert.equal(r.code, 0, r.stderr.toString());
      const conn = await agent.connection(i);
      assert.equal(
        conn.request?.ttys && Object.values(conn.request.ttys).map(Number).join(''),
        ttys,
      );
    }
  });
});

test(
  'O and R bytes pass through unchanged: binary, several MiB, split over frames',
  LIMIT,
  async (t) => {
    if (!needLauncher(t)) return;
    const out = randomBytes(6 * MiB + 123);
    const err = randomBytes(MiB + 7);
    const handler = scripted([
      { type: 'O', payload: out.subarray(0, 4 * MiB) }, // the largest frame allowed
      { type: 'R', payload: err.subarray(0, 1) },
      { type: 'O', payload: Buffer.alloc(0) },
      { type: 'O', payload: out.subarray(4 * MiB, 5 * MiB + 1) },
      { type: 'R', payload: err.subarray(1) },
      { type: 'O', payload: out.subarray(5 * MiB + 1) },
      { type: 'X', payload: Buffer.from([0]) },
    ]);
    await withAgent(handler, async (agent) => {
      const r = await launch(agent.socketPath, ['list', 'x']);
      assert.equal(r.code, 0);
      assert.ok(r.stdout.equals(out), 'stdout differs');
      assert.ok(r.stderr.equals(err), 'stderr differs');
    });
  },
);

test('X sets the exit status: 0, 1, 3, 255', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  for (const code of [0, 1, 3, 255]) {
    const handler = scripted([
      { type: 'O', payload: `out ${code}\n` },
      { type: 'R', payload: `err ${code}\n` },
      { type: 'X', payload: Buffer.from([code]) },
    ]);
    await withAgent(handler, async (agent) => {
      const r = await launch(agent.socketPath, ['status']);
      assert.deepEqual(
        [r.code, r.signal, r.stdout.toString(), r.stderr.toString()],
        [code, null, `out ${code}\n`, `err ${code}\n`],
      );
    });
  }
});

/** Asks for stdin, echoes it on stdout and exits 0. */
const echoStdin: FakeHandler = async (conn) => {
  conn.send('N');
  conn.send('O', await conn.stdin());
  conn.send('X', Buffer.from([0]));
};

test('N: stdin is streamed as I frames and then E (file, pipe, empty)', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  const data = randomBytes(3 * MiB + 5);
  const file = join(root, 'stdin.bin');
  writeFileSync(file, data);
  const fd = openSync(file, 'r');
  const empty = openSync('/dev/null', 'r');
  try {
    const cases: [string, number | Buffer, Buffer][] = [
      ['file', fd, data],
      ['pipe', data, data],
      ['empty pipe', Buffer.alloc(0), Buffer.alloc(0)],
      ['/dev/null', empty, Buffer.alloc(0)],
    ];
    for (const [name, stdin, expected] of cases) {
      await withAgent(echoStdin, async (agent) => {
        const r = await launch(agent.socketPath, ['verify', 'x', 'y'], { stdin });
        assert.equal(r.code, 0, name);
        assert.ok(r.stdout.equals(expected), `${name}: stdout differs`);
        const conn = await agent.connection();
        assert.equal(conn.protocolError, undefined, name);
        const types = conn.frames.map((f) => f.type);
        assert.equal(types.pop(), 'E', name);
        assert.ok(
          types.every((x) => x === 'I'),
          name,
        );
        assert.ok(
          conn.frames.every((f) =>
            f.type === 'E' ? f.payload.length === 0 : f.payload.length > 0,
          ),
          name,
        );
      });
    }
  } finally {
    closeSync(fd);
    closeSync(empty);
  }
});

test('frames are relayed while stdin is open and unread', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  const handler: FakeHandler = async (conn) => {
    conn.send('N');
    conn.send('O', 'ready\n');
    conn.send('O', await conn.stdin());
    conn.send('X', Buffer.from([0]));
  };
  await withAgent(handler, async (agent) => {
    const r = await launch(agent.socketPath, ['add'], {
      onSpawn: (child) => {
        // Only once "ready" came through does stdin get its bytes and its end.
        child.stdout?.on('data', (d: Buffer) => {
          if (d.toString().includes('ready\n')) child.stdin?.end('late');
        });
      },
    });
    assert.deepEqual([r.code, r.stdout.toString()], [0, 'ready\nlate']);
  });
});

test(
  'F: the launcher closes the connection and execs node with the same arguments',
  LIMIT,
  async (t) => {
    if (!needLauncher(t)) return;
    const args = ['delegation', 'add', '', 'a b', 'ü=✓'];
    await withAgent(scripted([{ type: 'F', payload: 'build id differs' }]), async (agent) => {
      const r = await launch(agent.socketPath, args, {
        env: { TRUSTDESK_AGENT_DEBUG: '1', TD_MARKER: 'm=1 ✓' },
      });
      assert.equal(r.code, 0, r.stderr.toString());
      assert.deepEqual(fakeNodeRun(r.stdout), { args: [bundle, ...args], marker: 'm=1 ✓' });
      assert.match(r.stderr.toString(), /build id differs/);
      await (
        await agent.connection()
      ).closed;
      assert.equal(agent.connections.length, 1);
    });
    // Without TRUSTDESK_NODE: `node` from PATH.
    await withAgent(scripted([{ type: 'F', payload: 'interactive' }]), async (agent) => {
      const r = await run(launcherPath, ['x'], {
        env: {
          PATH: `${pathBin}:/usr/bin:/bin`,
          TRUSTDESK_AGENT_SOCK: agent.socketPath,
          TD_MARKER: 'p',
        },
      });
      assert.equal(r.code, 0);
      assert.deepEqual(fakeNodeRun(r.stdout), { args: [bundle, 'x'], marker: 'p' });
      assert.equal(r.stderr.length, 0);
    });
  },
);

test('unsafe or missing sockets fall back to node without connecting', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  const isRoot = process.getuid?.() === 0;
  type Case = { name: string; setup: (dir: string, sock: string) => Record<string, string> };
  const cases: Case[] = [
    {
      name: 'TRUSTDESK_NO_AGENT',
      setup: (_d, sock) => ({ TRUSTDESK_AGENT_SOCK: sock, TRUSTDESK_NO_AGENT: '1' }),
    },
    { name: 'no socket', setup: (dir) => ({ TRUSTDESK_AGENT_SOCK: join(dir, 'missing.sock') }) },
    {
      name: 'socket path over 103 bytes',
      setup: (dir) => ({ TRUSTDESK_AGENT_SOCK: join(dir, `${'a'.repeat(200)}.sock`) }),
    },
    {
      name: 'no directory',
      setup: (dir) => ({ TRUSTDESK_AGENT_SOCK: join(dir, 'nope', 'agent.sock') }),
    },
    {
      name: 'directory mode 0755',
      setup: (dir, sock) => {
        chmodSync(dir, 0o755);
        return { TRUSTDESK_AGENT_SOCK: sock };
      },
    },
    ...[0o710, 0o701, 0o720, 0o702].map((mode) => ({
      name: `directory mode 0${mode.toString(8)}`,
      setup: (dir: string, sock: string) => {
        chmodSync(dir, mode);
        return { TRUSTDESK_AGENT_SOCK: sock };
      },
    })),
    {
      name: 'symlinked directory',
      setup: (dir) => {
        const link = join(root, `link-${randomBytes(4).toString('hex')}`); // removed with root
        symlinkSync(dir, link);
        return { TRUSTDESK_AGENT_SOCK: join(link, 'agent.sock') };
      },
    },
    {
      name: 'socket path is a regular file',
      setup: (dir) => {
        writeFileSync(join(dir, 'file.sock'), '');
        return { TRUSTDESK_AGENT_SOCK: join(dir, 'file.sock') };
      },
    },
    {
      name: 'socket path is a symlink to the socket',
      setup: (dir, sock) => {
        symlinkSync(sock, join(dir, 'link.sock'));
        return { TRUSTDESK_AGENT_SOCK: join(dir, 'link.sock') };
      },
    },
  ];
  if (isRoot) {
    // Only root can give a file to another user; CI runs as root.
    cases.push(
      {
        name: 'directory owned by another user',
        setup: (dir, sock) => {
          chownSync(dir, 4242, 4242);
          return { TRUSTDESK_AGENT_SOCK: sock };
        },
      },
      {
        name: 'socket owned by another user',
        setup: (_dir, sock) => {
          lchownSync(sock, 4242, 4242);
          return { TRUSTDESK_AGENT_SOCK: sock };
        },
      },
    );
  }
  for (const c of cases) {
    await withAgent(exitWith(0), async (agent) => {
      const env = {
        ...c.setup(agent.dir, agent.socketPath),
        TRUSTDESK_AGENT_DEBUG: '1',
        TD_MARKER: c.name,
      };
      const r = await launch(agent.socketPath, ['list', 'g'], { env });
      assert.equal(r.code, 0, c.name);
      assert.deepEqual(
        fakeNodeRun(r.stdout),
        { args: [bundle, 'list', 'g'], marker: c.name },
        c.name,
      );
      assert.match(r.stderr.toString(), /^trustdesk: agent not used: .+\n$/, c.name);
      assert.equal(agent.connections.length, 0, c.name);
    });
  }
  // Without TRUSTDESK_AGENT_DEBUG the fallback is silent.
  await withAgent(exitWith(0), async (agent) => {
    const r = await launch(join(agent.dir, 'missing.sock'), ['x']);
    assert.deepEqual([r.code, r.stderr.toString()], [0, '']);
  });
  requireService(t, isRoot, 'root (to give a directory to another user)');
});

test(
  'socket location: TRUSTDESK_AGENT_SOCK (also relative), then XDG_RUNTIME_DIR',
  LIMIT,
  async (t) => {
    if (!needLauncher(t)) return;
    const xdg = realpathSync(mkdtempSync(join(tmpdir(), 'td-xdg-')));
    mkdirSync(join(xdg, 'trustdesk'), { mode: 0o700 });
    const viaXdg = await startFakeAgent(exitWith(3), { dir: join(xdg, 'trustdesk') });
    try {
      const base = { PATH: process.env.PATH ?? '', TRUSTDESK_NODE: fakeNode };
      let r = await run(launcherPath, ['a'], { env: { ...base, XDG_RUNTIME_DIR: xdg } });
      assert.equal(r.code, 3);
      assert.equal(viaXdg.connections.length, 1);
      await withAgent(exitWith(4), async (agent) => {
        r = await run(launcherPath, ['b'], {
          env: { ...base, XDG_RUNTIME_DIR: xdg, TRUSTDESK_AGENT_SOCK: agent.socketPath },
        });
        assert.equal(r.code, 4);
        // Relative to the working directory, as connect(2) takes it; '.' is the checked directory.
        r = await run(launcherPath, ['c'], {
          env: { ...base, TRUSTDESK_AGENT_SOCK: 'agent.sock' },
          cwd: agent.dir,
        });
        assert.equal(r.code, 4);
        assert.equal(agent.connections.length, 2);
      });
      assert.equal(viaXdg.connections.length, 1);
    } finally {
      await viaXdg.close();
      rmSync(xdg, { recursive: true, force: true });
    }
  },
);

test('a connection lost before X: the message, exit 1, no re-run', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  for (const steps of [[], [{ type: 'O', payload: 'partial' }]]) {
    await withAgent(scripted(steps), async (agent) => {
      const r = await launch(agent.socketPath, ['publish', 'g']);
      assert.deepEqual(
        [r.code, r.stdout.toString(), r.stderr.toString()],
        [1, steps.length ? 'partial' : '', LOST],
      );
      assert.equal(agent.connections.length, 1);
    });
  }
});

test('protocol violations: the same message and exit 1', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  const header = (type: string, length: number) => {
    const b = Buffer.alloc(5);
    b.write(type, 0, 'latin1');
    b.writeUInt32BE(length, 1);
    return b;
  };
  // Each bad frame is followed by a good X 0 (with stdin left open, so no I or E frame is
  // sent), and payloads are empty or X 0 themselves: whether a lax launcher skipped the bad
  // frame or read on into its payload, only the check under test keeps it from exiting 0.
  const x0 = encodeFrame('X', Buffer.from([0]));
  const cases: [string, Buffer][] = [
    ['garbage', Buffer.from('hello, this is not a frame')],
    ['length over 4 MiB', Buffer.concat([header('O', 4 * MiB + 1), Buffer.alloc(4 * MiB + 1)])],
    ['length 0xffffffff', header('R', 0xffffffff)],
    ['unknown type', encodeFrame('Z')],
    ['lowercase type', encodeFrame('o')],
    ['X without a status', encodeFrame('X')],
    ['X with two bytes', encodeFrame('X', Buffer.from([0, 0]))],
    ['N with a payload', encodeFrame('N', x0)],
    ['N twice', Buffer.concat([encodeFrame('N'), encodeFrame('N')])],
    ['F after O', Buffer.concat([encodeFrame('O', 'a'), encodeFrame('F', 'late')])],
    ['C in reply to H', encodeFrame('C')],
  ];
  // Cut off: nothing can follow.
  const cut: [string, Buffer][] = [
    ['truncated header', header('O', 10).subarray(0, 3)],
    ['truncated payload', Buffer.concat([header('O', 10), Buffer.from('abc')])],
  ];
  for (const [name, bytes] of [
    ...cases.map(([n, b]): [string, Buffer] => [n, Buffer.concat([b, x0])]),
    ...cut,
  ]) {
    await withAgent(scripted([{ raw: bytes }]), async (agent) => {
      const r = await launch(agent.socketPath, ['list', 'g']);
      assert.equal(r.code, 1, name);
      assert.ok(r.stderr.toString().endsWith(LOST), `${name}: ${r.stderr.toString()}`);
      assert.equal(fakeNodeRun(r.stdout), undefined, `${name}: must not fall back`);
    });
  }
});

test('SIGINT kills the launcher and the agent sees the connection close', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  await withAgent(
    async (conn) => {
      await conn.closed;
    },
    async (agent) => {
      const r = await launch(agent.socketPath, ['publish', 'g'], {
        onSpawn: (child) => void agent.connection().then(() => child.kill('SIGINT')),
      });
      assert.equal(r.signal, 'SIGINT');
      await (
        await agent.connection()
      ).closed;
    },
  );
});

test(
  'a closed stdout: the launcher dies of SIGPIPE and the connection closes',
  LIMIT,
  async (t) => {
    if (!needLauncher(t)) return;
    let go!: () => void;
    const stdoutClosed = new Promise<void>((resolve) => (go = resolve));
    const handler = scripted([
      { wait: stdoutClosed },
      // More than any pipe buffer, so the write meets the closed pipe.
      { type: 'O', payload: Buffer.alloc(4 * MiB) },
      { type: 'X', payload: Buffer.from([0]) },
    ]);
    await withAgent(handler, async (agent) => {
      const r = await launch(agent.socketPath, ['list', 'g'], {
        onSpawn: (child) =>
          void agent.connection().then(() => {
            child.stdout?.destroy();
            go();
          }),
      });
      assert.equal(r.signal, 'SIGPIPE');
      await (
        await agent.connection()
      ).closed;
    });
  },
);

test('node cannot be run: a message naming what was tried, exit 1', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  const r = await run(launcherPath, ['x'], {
    env: { TRUSTDESK_NO_AGENT: '1', TRUSTDESK_NODE: '/nonexistent/node' },
  });
  assert.equal(r.code, 1);
  const err = r.stderr.toString();
  assert.ok(err.includes('/nonexistent/node') && err.includes(bundle), err);
});

test('build-native writes the build id it compiled in', LIMIT, (t) => {
  if (!needLauncher(t)) return;
  assert.equal(readFileSync(join(root, 'dist', 'native', 'build-id'), 'utf8'), buildId);
});

// bin/trustdesk: an install-like tree with the wrapper reached through npm's symlink.
function wrapperTree(): { dir: string; link: string; cli: string } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'td-wrapper-')));
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(REPO, 'bin', 'trustdesk'), join(dir, 'bin', 'trustdesk'));
  chmodSync(join(dir, 'bin', 'trustdesk'), 0o755);
  mkdirSync(join(dir, 'dist', 'src', 'app', 'bin'), { recursive: true });
  mkdirSync(join(dir, 'dist', 'native'));
  writeFileSync(join(dir, 'dist', 'src', 'app', 'bin', 'trustdesk.js'), bundleText);
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync('../../bin/trustdesk', join(dir, 'node_modules', '.bin', 'trustdesk'));
  return {
    dir,
    link: join(dir, 'node_modules', '.bin', 'trustdesk'),
    cli: join(dir, 'dist', 'src', 'app', 'bin', 'trustdesk.js'),
  };
}

test('bin/trustdesk runs the launcher when it is executable, else node', LIMIT, async () => {
  const { dir, link, cli } = wrapperTree();
  try {
    const args = ['init', '', 'a b', 'ü=✓'];
    const env = {
      PATH: `${join(dir, 'node_modules', '.bin')}:/usr/bin:/bin`,
      TRUSTDESK_NODE: fakeNode,
      TD_MARKER: 'w',
    };
    const viaNode = (r: Run, cwd = root) => {
      const ran = fakeNodeRun(r.stdout);
      assert.ok(ran, r.stderr.toString());
      assert.equal(realpathSync(resolve(cwd, ran.args[0]!)), cli);
      assert.deepEqual(ran.args.slice(1), args);
    };
    // No launcher: node, through the symlink, the real file, and a PATH lookup by name.
    for (const file of [link, join(dir, 'bin', 'trustdesk'), 'trustdesk']) {
      const r = await run(file, args, { env });
      assert.equal(r.code, 0);
      viaNode(r);
    }
    // Run as `sh trustdesk` from its own directory: $0 has no slash.
    const r0 = await run('/bin/sh', ['trustdesk', ...args], { env, cwd: join(dir, 'bin') });
    assert.equal(r0.code, 0);
    viaNode(r0, join(dir, 'bin'));
    // A launcher that is not executable is ignored.
    const stub = join(dir, 'dist', 'native', 'trustdesk');
    writeFileSync(stub, "#!/bin/sh\nprintf 'launcher\\0'; printf '%s\\0' \"$@\"\n", {
      mode: 0o644,
    });
    viaNode(await run(link, args, { env }));
    // An executable one runs, with the arguments unchanged.
    chmodSync(stub, 0o755);
    const r = await run(link, args, { env });
    assert.equal(r.code, 0);
    assert.deepEqual(r.stdout.toString().split('\0'), ['launcher', ...args, '']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bin/trustdesk with the real launcher: to the agent, or to node', LIMIT, async (t) => {
  if (!needLauncher(t)) return;
  const { dir, link, cli } = wrapperTree();
  try {
    copyFileSync(launcherPath, join(dir, 'dist', 'native', 'trustdesk'));
    chmodSync(join(dir, 'dist', 'native', 'trustdesk'), 0o755);
    const env = { PATH: process.env.PATH ?? '', TRUSTDESK_NODE: fakeNode, TD_MARKER: 'real' };
    let r = await run(link, ['a', ''], { env: { ...env, TRUSTDESK_NO_AGENT: '1' } });
    assert.deepEqual(fakeNodeRun(r.stdout), { args: [cli, 'a', ''], marker: 'real' });
    await withAgent(exitWith(7), async (agent) => {
      r = await run(link, ['a', ''], { env: { ...env, TRUSTDESK_AGENT_SOCK: agent.socketPath } });
      assert.equal(r.code, 7);
      assert.deepEqual((await agent.connection()).request?.argv, ['a', '']);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
