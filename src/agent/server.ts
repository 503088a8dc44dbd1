// The agent: a unix socket server that runs CLI invocations for its user in this warm process
// (docs/agent-protocol.md). Start-up makes the socket's directory safe (0700, ours), replaces a
// stale socket, refuses a live one, binds with mode 0600 and writes agent.pid beside it.
// Connections are independent and run concurrently (connection.ts). stop() stops accepting,
// lets running commands finish for a bounded time (then cancels them), removes the socket and
// the pid file and resolves `closed`.

import { chmod, lstat, open, readFile, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { TrustdeskError } from '../tuf/errors.js';
import type { Io } from '../app/context.js';
import { AgentConnection } from './connection.js';
import { checkSocketPathLength, currentUid, pidFileOf, prepareSocketDir } from './socket-path.js';

/** The derived-key cache as the agent reports and clears it. */
export interface AgentCache {
  stats(): { entries: number };
  clear(): void;
}

export interface AgentServerOptions {
  socketPath: string;
  /** 16 hex digits; callers of another build are told to fall back (build-id.ts). */
  buildId: string;
  /** The trustdesk version reported by `status`. */
  version: string;
  /** Runs one invocation (default runCli). */
  run?: (argv: readonly string[], io: Io) => Promise<number>;
  /** The derived-key cache (default: the process-wide one of src/keyring). */
  cache?: AgentCache;
  /** How long stop() lets running commands finish before cancelling them (default 30 s). */
  stopGraceMs?: number;
  uid?: number;
  /** One line per event; never secrets (no environment, no arguments). */
  log?: (line: string) => void;
}

export interface AgentStatus {
  pid: number;
  build: string;
  version: string;
  socket: string;
  startedAt: string;
  uptimeMs: number;
  commandsRun: number;
  running: number;
  cache: Record<string, unknown>;
}

/** Connects to `path`: 'live' when something accepts, 'stale' when nothing listens. */
function probe(path: string): Promise<'live' | 'stale'> {
  return new Promise((resolve, reject) => {
    const s: Socket = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve('live');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT') resolve('stale');
      else reject(e);
    });
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) {
    throw new TrustdeskError('ERR_AGENT_SOCKET', `${path} exists and is not a socket`, {
      hint: 'Remove it, or choose another --socket.',
    });
  }
  if ((await probe(path)) === 'live') throw running(path);
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

function running(path: string): TrustdeskError {
  return new TrustdeskError('ERR_AGENT_RUNNING', `an agent is already running on ${path}`);
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(e.code === 'EADDRINUSE' ? running(path) : e);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(path);
  });
}

export class AgentServer {
  readonly socketPath: string;
  readonly pidFile: string;
  readonly startedAtMs = Date.now();
  readonly closed: Promise<void>;
  readonly #o: AgentServerOptions;
  readonly #server: Server;
  readonly #run: (argv: readonly string[], io: Io) => Promise<number>;
  readonly #connections = new Set<AgentConnection>();
  readonly #pidText = `${process.pid}\n`;
  #cache: AgentCache | undefined;
  #commandsRun = 0;
  #stopping: Promise<void> | undefined;
  #resolveClosed!: () => void;

  private constructor(o: AgentServerOptions, run: NonNullable<AgentServerOptions['run']>) {
    this.#o = o;
    this.#run = run;
    this.socketPath = o.socketPath;
    this.pidFile = pidFileOf(o.socketPath);
    this.#cache = o.cache;
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    this.#server = createServer((sock) => this.#accept(sock));
  }

  static async start(o: AgentServerOptions): Promise<AgentServer> {
    checkSocketPathLength(o.socketPath);
    await prepareSocketDir(dirname(o.socketPath), o.uid ?? currentUid());
    const run = o.run ?? (await import('../app/main.js')).runCli;
    const cache =
      o.cache ?? (await import('../keyring/derived-key-cache.js')).defaultDerivedKeyCache();
    const agent = new AgentServer({ ...o, cache }, run);
    await removeStaleSocket(o.socketPath);
    await listen(agent.#server, o.socketPath);
    try {
      // The directory is ours and 0700 already; 0600 is the socket's own promise.
      await chmod(o.socketPath, 0o600);
      await agent.#writePidFile();
    } catch (e) {
      await agent.stop();
      throw e;
    }
    agent.#log(`listening on ${o.socketPath} (pid ${process.pid}, build ${o.buildId})`);
    return agent;
  }

  get buildId(): string {
    return this.#o.buildId;
  }

  get running(): number {
    let n = 0;
    for (const c of this.#connections) if (c.running) n++;
    return n;
  }

  status(): AgentStatus {
    return {
      pid: process.pid,
      build: this.#o.buildId,
      version: this.#o.version,
      socket: this.socketPath,
      startedAt: new Date(this.startedAtMs).toISOString(),
      uptimeMs: Date.now() - this.startedAtMs,
      commandsRun: this.#commandsRun,
      running: this.running,
      cache: { ...(this.#cache?.stats() ?? { entries: 0 }) },
    };
  }

  /** Drops every cached key derivation; returns how many there were. */
  forget(): number {
    const n = this.#cache?.stats().entries ?? 0;
    this.#cache?.clear();
    this.#log(`forgot ${n} cached key derivation${n === 1 ? '' : 's'}`);
    return n;
  }

  /** Stops accepting, lets commands finish (bounded), removes socket and pid file. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#log('stopping');
    const listening = this.#server.listening;
    const serverClosed = new Promise<void>((r) => this.#server.close(() => r()));
    const commands = [...this.#connections].flatMap((c) => (c.command ? [c.command] : []));
    // Connections that run nothing (idle, or just answered) are closed at once.
    for (const c of this.#connections) if (!c.command) c.close();
    if (commands.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), this.#o.stopGraceMs ?? 30_000);
      });
      const outcome = await Promise.race([Promise.allSettled(commands), grace]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.#log('running commands did not finish in time; cancelling them');
        for (const c of this.#connections) c.close();
        await Promise.allSettled(commands);
      }
    }
    for (const c of this.#connections) c.close();
    if (listening) await serverClosed;
    // Node removes the socket when the server closes; a leftover would only be stale.
    await this.#removeOwnPidFile();
    this.#log('stopped');
    this.#resolveClosed();
  }

  // Connections -----------------------------------------------------------------------------

  #accept(sock: Socket): void {
    if (this.#stopping) {
      sock.destroy();
      return;
    }
    const host = {
      buildId: this.#o.buildId,
      run: (argv: readonly string[], io: Io) => {
        this.#commandsRun++;
        return this.#run(argv, io);
      },
      control: (op: string) => this.#control(op),
      afterControl: (op: string) => {
        if (op === 'stop') void this.stop();
      },
      log: (line: string) => this.#log(line),
    };
    const conn = new AgentConnection(sock, host);
    this.#connections.add(conn);
    sock.once('close', () => {
      // Keep a cancelled command tracked until it has really finished (stop waits for it).
      void (conn.command ?? Promise.resolve()).finally(() => this.#connections.delete(conn));
    });
  }

  #control(op: string): Record<string, unknown> | undefined {
    switch (op) {
      case 'status':
        return { ...this.status() };
      case 'forget':
        return { forgotten: this.forget() };
      case 'stop':
        return { stopping: true, pid: process.pid };
      default:
        return undefined;
    }
  }

  // Pid file --------------------------------------------------------------------------------

  async #writePidFile(): Promise<void> {
    await unlink(this.pidFile).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    const f = await open(this.pidFile, 'wx', 0o600);
    try {
      await f.writeFile(this.#pidText);
    } finally {
      await f.close();
    }
  }

  /** Removes the pid file only if it is still ours (another agent may own the path by now). */
  async #removeOwnPidFile(): Promise<void> {
    try {
      if ((await readFile(this.pidFile, 'utf8')) === this.#pidText) await unlink(this.pidFile);
    } catch {
      // gone already
    }
  }

  #log(line: string): void {
    this.#o.log?.(line);
  }
}
