// Shared by the agent tests: an in-process AgentServer on a socket in a fresh 0700 directory, a
// raw frame-level client (for malformed input and for closing mid-command), and the same
// invocation run two ways — through the agent (src/agent/client.ts callAgent, what the launcher
// does) and with runCli directly — with stdout/stderr captured as bytes.

import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AgentServer, type AgentServerOptions } from '../../src/agent/server.js';
import { callAgent } from '../../src/agent/client.js';
import {
  AGENT_FRAME_TYPES,
  FrameDecoder,
  encodeFrame,
  type AgentFrameType,
  type Frame,
} from '../../src/agent/frames.js';
import type { AgentRequest } from '../../src/agent/request.js';
import type { Io } from '../../src/app/context.js';
import { runCli } from '../../src/app/main.js';

export const BUILD = '0123456789abcdef';

export interface Rig {
  agent: AgentServer;
  dir: string;
  socket: string;
  logs: string[];
  /** Stops the agent (if still running) and removes the directory. */
  dispose(): Promise<void>;
}

export async function tempDir(label: string): Promise<string> {
  // Short: unix socket paths are limited to ~100 bytes.
  return mkdtemp(join(tmpdir(), `tda-${label}-`));
}

export async function startRig(label: string, o: Partial<AgentServerOptions> = {}): Promise<Rig> {
  const dir = await tempDir(label);
  const socket = join(dir, 'agent.sock');
  const logs: string[] = [];
  const agent = await AgentServer.start({
    socketPath: socket,
    buildId: BUILD,
    version: 'test',
    log: (l) => logs.push(l),
    ...o,
  });
  return {
    agent,
    dir,
    socket,
    logs,
    dispose: async () => {
      await agent.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Invocation {
  env?: Record<string, string>;
  cwd?: string;
  stdin?: Uint8Array | string;
  ttys?: { stdin?: boolean; stdout?: boolean; stderr?: boolean };
}

export interface Outcome {
  code: number | undefined;
  stdout: Buffer;
  stderr: Buffer;
  fallback?: string;
}

export function request(argv: readonly string[], inv: Invocation = {}): AgentRequest {
  return {
    buildId: BUILD,
    cwd: inv.cwd ?? process.cwd(),
    ttys: {
      stdin: inv.ttys?.stdin ?? false,
      stdout: inv.ttys?.stdout ?? false,
      stderr: inv.ttys?.stderr ?? false,
    },
    argv: [...argv],
    env: inv.env ?? {},
  };
}

export async function viaAgent(
  socket: string,
  argv: readonly string[],
  inv: Invocation = {},
): Promise<Outcome> {
  const stdin = inv.stdin === undefined ? new Uint8Array(0) : Buffer.from(inv.stdin);
  const r = await callAgent(socket, request(argv, inv), stdin);
  return {
    code: r.code,
    stdout: r.stdout,
    stderr: r.stderr,
    ...(r.fallback !== undefined ? { fallback: r.fallback } : {}),
  };
}

/** runCli in this process with the same inputs (what `node trustdesk.js` would do). */
export async function direct(argv: readonly string[], inv: Invocation = {}): Promise<Outcome> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (into: Buffer[], isTTY: boolean) => ({
    write: (s: string | Uint8Array) => into.push(Buffer.from(s)),
    isTTY,
  });
  const io: Io = {
    stdout: sink(out, inv.ttys?.stdout ?? false),
    stderr: sink(err, inv.ttys?.stderr ?? false),
    stdinIsTTY: inv.ttys?.stdin ?? false,
    stdin: Readable.from(inv.stdin === undefined ? [] : [Buffer.from(inv.stdin)]),
    env: inv.env ?? {},
    cwd: inv.cwd ?? process.cwd(),
    nowMs: () => Date.now(),
  };
  const code = await runCli(argv, io);
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}

/** A frame-level connection: send anything, see every frame, close whenever. */
export class RawConn {
  readonly frames: Frame<AgentFrameType>[] = [];
  readonly closed: Promise<void>;
  #waiters: Array<() => void> = [];

  private constructor(readonly sock: Socket) {
    const decoder = new FrameDecoder<AgentFrameType>(AGENT_FRAME_TYPES);
    sock.on('data', (c: Buffer) => {
      this.frames.push(...decoder.push(c));
      for (const w of this.#waiters.splice(0)) w();
    });
    sock.on('error', () => undefined);
    this.closed = new Promise((r) =>
      sock.on('close', () => {
        r();
        for (const w of this.#waiters.splice(0)) w();
      }),
    );
  }

  static open(path: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  send(type: string, payload: Uint8Array | string = ''): void {
    this.sock.write(encodeFrame(type, payload));
  }

  /** Resolves once a frame of `type` has arrived; rejects if the connection closes first. */
  async waitFor(type: AgentFrameType): Promise<Frame<AgentFrameType>> {
    for (;;) {
      const f = this.frames.find((x) => x.type === type);
      if (f) return f;
      if (this.sock.destroyed || this.sock.readableEnded)
        throw new Error(`connection closed before a ${type} frame`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  types(): string {
    return this.frames.map((f) => f.type).join('');
  }

  close(): void {
    this.sock.destroy();
  }
}

/** A promise with its resolve function (for commands a test lets finish when it wants). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
