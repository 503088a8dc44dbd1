// The caller's side of the agent protocol in Node: control requests for `trustdesk agent
// status|stop|forget` (and start's readiness check), and whole invocations (`callAgent`, what the
// native launcher does; tests and benchmarks use it). Before talking to a socket it is checked as
// the launcher checks it: the directory is ours with mode 0700, the socket is a socket of ours.

import { lstat } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { TrustdeskError } from '../tuf/errors.js';
import {
  AGENT_FRAME_TYPES,
  FrameDecoder,
  MAX_FRAME_BYTES,
  encodeFrame,
  type AgentFrameType,
  type Frame,
} from './frames.js';
import { encodeRequest, type AgentRequest } from './request.js';
import { checkSocketDir, currentUid } from './socket-path.js';

export type ControlOp = 'status' | 'stop' | 'forget';

/** How long a control request waits for its reply. */
export const CONTROL_TIMEOUT_MS = 10_000;

export function notRunning(socketPath: string): TrustdeskError {
  return new TrustdeskError('ERR_AGENT_NOT_RUNNING', `no trustdesk agent runs on ${socketPath}`);
}

/**
 * Checks the socket and its directory; throws ERR_AGENT_NOT_RUNNING when there is no socket and
 * ERR_AGENT_SOCKET when either is not safe to send a request to.
 */
export async function checkAgentSocket(
  socketPath: string,
  uid: number = currentUid(),
): Promise<void> {
  if ((await checkSocketDir(dirname(socketPath), uid)) === 'missing') throw notRunning(socketPath);
  let st;
  try {
    st = await lstat(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notRunning(socketPath);
    throw new TrustdeskError('ERR_AGENT_SOCKET', `cannot read ${socketPath}: ${String(e)}`);
  }
  if (!st.isSocket()) throw new TrustdeskError('ERR_AGENT_SOCKET', `${socketPath} is not a socket`);
  if (st.uid !== uid)
    throw new TrustdeskError('ERR_AGENT_SOCKET', `${socketPath} is owned by uid ${st.uid}`);
}

function connect(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socketPath);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ECONNREFUSED' || e.code === 'ENOENT'
          ? notRunning(socketPath)
          : new TrustdeskError('ERR_AGENT_FAILED', `cannot connect to ${socketPath}: ${e.message}`),
      );
    });
  });
}

/** Reads frames until the agent closes the connection. */
function collect(
  s: Socket,
  onFrame: (f: Frame<AgentFrameType>) => void,
): Promise<{ error?: Error }> {
  const decoder = new FrameDecoder<AgentFrameType>(AGENT_FRAME_TYPES);
  return new Promise((resolve) => {
    let error: Error | undefined;
    s.on('data', (chunk: Buffer) => {
      try {
        for (const f of decoder.push(chunk)) onFrame(f);
      } catch (e) {
        error = e as Error;
        s.destroy();
      }
    });
    s.on('error', (e) => (error ??= e));
    s.on('close', () => resolve(error ? { error } : {}));
  });
}

/** Sends one control request and returns the agent's JSON reply. */
export async function controlRequest(
  socketPath: string,
  op: ControlOp,
  timeoutMs: number = CONTROL_TIMEOUT_MS,
): Promise<Record<string, unknown>> {
  const s = await connect(socketPath);
  let reply: Buffer | undefined;
  const timer = setTimeout(() => s.destroy(), timeoutMs);
  s.write(encodeFrame('C', op));
  const { error } = await collect(s, (f) => {
    if (f.type === 'C' && reply === undefined) reply = f.payload;
  });
  clearTimeout(timer);
  if (reply === undefined) {
    throw new TrustdeskError(
      'ERR_AGENT_FAILED',
      `the agent on ${socketPath} did not answer \`${op}\`${error ? `: ${error.message}` : ''}`,
    );
  }
  try {
    return JSON.parse(reply.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new TrustdeskError('ERR_AGENT_FAILED', `the agent's reply to \`${op}\` is not JSON`, {
      cause: e,
    });
  }
}

export interface AgentOutcome {
  stdout: Buffer;
  stderr: Buffer;
  /** The exit status from `X`; undefined when the agent fell back or the connection was lost. */
  code?: number;
  /** The reason of an `F` frame. */
  fallback?: string;
  /** Whether the agent asked for stdin (`N`). */
  readStdin: boolean;
}

/** Runs one invocation through the agent, streaming `stdin` when asked for it. */
export async function callAgent(
  socketPath: string,
  req: AgentRequest,
  stdin: AsyncIterable<Uint8Array> | Uint8Array = new Uint8Array(0),
): Promise<AgentOutcome> {
  const s = await connect(socketPath);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const outcome: AgentOutcome = {
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    readStdin: false,
  };
  const sendStdin = async () => {
    const chunks = stdin instanceof Uint8Array ? [stdin] : stdin;
    for await (const c of chunks) {
      for (let at = 0; at < c.length; at += MAX_FRAME_BYTES)
        s.write(encodeFrame('I', c.subarray(at, at + MAX_FRAME_BYTES)));
    }
    s.write(encodeFrame('E'));
  };
  s.write(encodeFrame('H', encodeRequest(req)));
  await collect(s, (f) => {
    if (f.type === 'O') out.push(f.payload);
    else if (f.type === 'R') err.push(f.payload);
    else if (f.type === 'X') outcome.code = f.payload[0] ?? 1;
    else if (f.type === 'F') outcome.fallback = f.payload.toString('utf8');
    else if (f.type === 'N' && !outcome.readStdin) {
      outcome.readStdin = true;
      sendStdin().catch(() => s.destroy());
    }
  });
  outcome.stdout = Buffer.concat(out);
  outcome.stderr = Buffer.concat(err);
  return outcome;
}
