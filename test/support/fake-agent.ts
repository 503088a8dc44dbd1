// A protocol-level stand-in for `trustdesk agent` (docs/agent-protocol.md) to test callers
// against: it listens on a unix socket in its own 0700 temp directory, decodes what a caller
// sends (with the agent's own frame and request codecs), records every connection and request,
// and answers as a test scripts it — well-formed frames, raw garbage, or an early close.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CALLER_FRAME_TYPES,
  encodeFrame,
  FrameDecoder,
  type CallerFrameType,
  type Frame,
} from '../../src/agent/frames.js';
import { parseRequest, type AgentRequest } from '../../src/agent/request.js';

export { encodeFrame };

/** One caller connection, as the fake saw it. */
export interface FakeConnection {
  /** The raw `H` payload (undefined if none arrived) and its decoded form. */
  readonly raw: Buffer | undefined;
  readonly request: AgentRequest | undefined;
  /** Frames after `H`, in order (I and E included). */
  readonly frames: Frame<CallerFrameType>[];
  /** Why the fake found the caller's bytes malformed, if it did. */
  readonly protocolError: string | undefined;
  /** What the handler threw, if it did (e.g. stdin() when the caller died). */
  readonly handlerError: unknown;
  /** Resolves when the caller's side closed (or the connection broke). */
  readonly closed: Promise<void>;
  /** Sends one frame. */
  send(type: string, payload?: Uint8Array | string): void;
  /** Sends bytes as they are (garbage, a bad header, half a frame). */
  sendRaw(bytes: Uint8Array): void;
  /** The bytes of the caller's `I` frames once its `E` arrived; rejects if it closed first. */
  stdin(): Promise<Buffer>;
  /** Closes our side after what was sent (an agent does this after `X`). */
  end(): void;
}

/** Answers one connection after its `H` arrived. Return (or resolve) to close it. */
export type FakeHandler = (conn: FakeConnection) => void | Promise<void>;

export type ScriptStep =
  | { type: string; payload?: Uint8Array | string }
  | { raw: Uint8Array }
  /** Send `N`, then wait for the caller's stdin up to `E`. */
  | { stdin: true }
  /** Wait until this promise settles (to order a step after something the test does). */
  | { wait: Promise<unknown> };

/** A handler that plays `steps` in order, then closes the connection. */
export function scripted(steps: readonly ScriptStep[]): FakeHandler {
  return async (conn) => {
    for (const step of steps) {
      if ('raw' in step) conn.sendRaw(step.raw);
      else if ('stdin' in step) {
        conn.send('N');
        await conn.stdin();
      } else if ('wait' in step) await step.wait;
      else conn.send(step.type, step.payload);
    }
  };
}

export interface FakeAgent {
  /** The 0700 directory holding the socket. */
  readonly dir: string;
  readonly socketPath: string;
  /** Every accepted connection, in order. */
  readonly connections: FakeConnection[];
  /** Resolves with connection `i` (0-based) once its `H` arrived (or it closed without one). */
  connection(i?: number): Promise<FakeConnection>;
  close(): Promise<void>;
}

export interface FakeAgentOptions {
  /** Listen in this existing directory instead of a fresh temp one (the caller owns it). */
  dir?: string;
}

export async function startFakeAgent(
  handler: FakeHandler,
  opts: FakeAgentOptions = {},
): Promise<FakeAgent> {
  const ownDir = opts.dir === undefined;
  // mkdtemp creates the directory 0700, as the agent does.
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'td-fake-agent-')));
  const socketPath = join(dir, 'agent.sock');
  const connections: FakeConnection[] = [];
  const waiters: ((c: FakeConnection) => void)[][] = [];
  const isReady: boolean[] = [];
  const sockets = new Set<Socket>();
  const ready = (i: number, c: FakeConnection) => {
    isReady[i] = true;
    for (const w of waiters[i] ?? []) w(c);
    waiters[i] = [];
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const index = connections.length;
    const conn = accept(socket, handler, () => ready(index, conn));
    connections.push(conn);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });

  return {
    dir,
    socketPath,
    connections,
    connection(i = 0) {
      const c = connections[i];
      if (c && isReady[i]) return Promise.resolve(c);
      return new Promise((resolve) => (waiters[i] ??= []).push(resolve));
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

function accept(socket: Socket, handler: FakeHandler, onRequest: () => void): FakeConnection {
  const decoder = new FrameDecoder(CALLER_FRAME_TYPES);
  const chunks: Buffer[] = [];
  let stdinDone: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  let stdinResult: Buffer | undefined;
  let isClosed = false;
  let announced = false;
  const announce = () => {
    if (!announced) onRequest();
    announced = true;
  };

  let askedStdin = false;

  const conn: FakeConnection & {
    raw: Buffer | undefined;
    request: AgentRequest | undefined;
    protocolError: string | undefined;
    handlerError: unknown;
  } = {
    raw: undefined,
    request: undefined,
    frames: [],
    protocolError: undefined,
    handlerError: undefined,
    closed: new Promise<void>((resolve) => socket.once('close', () => resolve())),
    send: (type, payload) => {
      if (type === 'N') askedStdin = true;
      socket.write(encodeFrame(type, payload));
    },
    sendRaw: (bytes) => void socket.write(bytes),
    stdin: () =>
      stdinResult !== undefined
        ? Promise.resolve(stdinResult)
        : isClosed
          ? Promise.reject(new Error('the caller closed before E'))
          : new Promise((resolve, reject) => (stdinDone = { resolve, reject })),
    end: () => void socket.end(),
  };

  const fail = (why: string) => {
    conn.protocolError ??= why;
    socket.destroy();
  };
  const run = async () => {
    try {
      await handler(conn);
    } finally {
      socket.end();
    }
  };

  // A caller that goes away mid-write (killed, or closing after `F`) is no test failure.
  socket.on('error', () => undefined);
  socket.on('close', () => {
    isClosed = true;
    stdinDone?.reject(new Error('the caller closed before E'));
    announce();
  });
  socket.on('data', (chunk: Buffer) => {
    let frames: Frame<CallerFrameType>[];
    try {
      frames = decoder.push(chunk);
    } catch (e) {
      return fail((e as Error).message);
    }
    for (const f of frames) {
      if (conn.raw === undefined) {
        if (f.type !== 'H') return fail(`first frame ${f.type}, not H`);
        conn.raw = f.payload;
        try {
          conn.request = parseRequest(f.payload);
        } catch (e) {
          return fail((e as Error).message);
        }
        announce();
        run().catch((e: unknown) => {
          conn.handlerError = e;
          socket.destroy();
        });
        continue;
      }
      conn.frames.push(f);
      // I and E only after our N, and nothing after E.
      if (!askedStdin || stdinResult !== undefined) return fail(`unexpected ${f.type} frame`);
      if (f.type === 'I') chunks.push(f.payload);
      else if (f.type === 'E') {
        stdinResult = Buffer.concat(chunks);
        stdinDone?.resolve(stdinResult);
      } else return fail(`unexpected ${f.type} frame`);
    }
  });
  return conn;
}
