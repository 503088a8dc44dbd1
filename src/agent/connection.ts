// One caller's connection to the agent (docs/agent-protocol.md). The first frame decides what it
// is: `H` runs one CLI invocation with the caller's argv, environment, working directory and
// terminals — or answers `F` when the invocation must run in a process of its own — and `C` is
// a control request. A protocol error closes the connection; the connection closing (or the
// caller ending its side) before `X` cancels the command through its Io's signal.

import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { TrustdeskError } from '../tuf/errors.js';
import type { Io } from '../app/context.js';
import { findCommand } from '../app/commands.js';
import { locateCommand } from '../app/main.js';
import {
  CALLER_FRAME_TYPES,
  FrameDecoder,
  MAX_FRAME_BYTES,
  encodeFrame,
  type CallerFrameType,
  type Frame,
} from './frames.js';
import { parseRequest, type AgentRequest } from './request.js';

/** What a connection needs from its agent. */
export interface ConnectionHost {
  readonly buildId: string;
  /** Runs one invocation (runCli); never throws. */
  run(argv: readonly string[], io: Io): Promise<number>;
  /** The reply to a control request, or undefined for an unknown one. */
  control(op: string): Record<string, unknown> | undefined;
  /** Called after a control reply was sent (`stop` stops the agent then). */
  afterControl(op: string): void;
  log(line: string): void;
}

/**
 * Why `req` must not run in the agent, or undefined when it may. Commands that own their process
 * (`agent …`, `demo`, and no command at all, later the TUI) and anything that could talk to a
 * terminal (stdin is one and --script is absent) fall back; so does another build's caller.
 */
export function fallbackReason(req: AgentRequest, buildId: string): string | undefined {
  if (req.buildId !== buildId)
    return `the agent runs build ${buildId}, the caller is build ${req.buildId}`;
  const { command, flags } = locateCommand(req.argv);
  if (command === undefined && !flags.version && !flags.help) return 'no command given';
  if (command === 'agent' || command === 'demo') return `\`${command}\` runs in its own process`;
  if (req.ttys.stdin && !flags.script) return 'stdin is a terminal and --script is not given';
  return undefined;
}

/** For the log: the command's name when it is one of ours, never other arguments. */
function commandName(argv: readonly string[]): string {
  const { command, flags } = locateCommand(argv);
  if (command === undefined) return flags.version ? '--version' : '--help';
  return findCommand(command) ? command : '(unknown command)';
}

export class AgentConnection {
  readonly #sock: Socket;
  readonly #host: ConnectionHost;
  readonly #decoder = new FrameDecoder<CallerFrameType>(CALLER_FRAME_TYPES);
  readonly #abort = new AbortController();
  #state: 'start' | 'command' | 'control' | 'done' = 'start';
  #stdin: Readable | undefined;
  #stdinWanted = false;
  #stdinEnded = false;
  #exited = false;
  /** Settles when this connection's command (if it runs one) has finished. */
  command: Promise<void> | undefined;

  constructor(sock: Socket, host: ConnectionHost) {
    this.#sock = sock;
    this.#host = host;
    sock.on('data', (chunk: Buffer) => this.#onData(chunk));
    sock.on('end', () => this.#onGone());
    sock.on('close', () => this.#onGone());
    // A write to a caller that went away; 'close' follows and cancels the command.
    sock.on('error', () => undefined);
  }

  /** Runs a command now (not waiting for input or for the control phase). */
  get running(): boolean {
    return this.#state === 'command' && !this.#exited;
  }

  /** Cancels the command, if one runs, and closes the connection. */
  close(): void {
    this.#cancel('the agent is stopping');
    // A reply being sent (control, F, X) is flushed first.
    if (this.#sock.writableEnded && !this.#sock.writableFinished)
      this.#sock.once('finish', () => this.#sock.destroy());
    else this.#sock.destroy();
  }

  #onData(chunk: Buffer): void {
    let frames: Frame<CallerFrameType>[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (e) {
      return this.#protocolError((e as Error).message);
    }
    for (const f of frames) {
      if (this.#sock.destroyed) return;
      this.#onFrame(f);
    }
  }

  #onFrame(f: Frame<CallerFrameType>): void {
    switch (this.#state) {
      case 'start':
        if (f.type === 'H') return this.#start(f.payload);
        if (f.type === 'C') return this.#control(f.payload.toString('latin1'));
        return this.#protocolError(`${f.type} frame before the request`);
      case 'command':
        if (f.type === 'I' && this.#stdinWanted && !this.#stdinEnded) {
          this.#stdin?.push(f.payload);
          return;
        }
        if (f.type === 'E' && this.#stdinWanted && !this.#stdinEnded) {
          this.#stdinEnded = true;
          this.#stdin?.push(null);
          return;
        }
        return this.#protocolError(`unexpected ${f.type} frame during a command`);
      default:
        // After a control reply or a fall back the connection is ending; ignore what comes.
        return;
    }
  }

  #protocolError(message: string): void {
    this.#host.log(`protocol error: ${message}; closing the connection`);
    this.#state = this.#state === 'start' ? 'done' : this.#state;
    this.#sock.destroy();
  }

  #send(type: 'O' | 'R' | 'N' | 'X' | 'F' | 'C', data: string | Uint8Array = ''): void {
    if (this.#sock.destroyed || !this.#sock.writable) return;
    const bytes =
      typeof data === 'string'
        ? Buffer.from(data, 'utf8')
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.length === 0 && (type === 'O' || type === 'R')) return;
    let at = 0;
    do {
      const end = Math.min(bytes.length, at + MAX_FRAME_BYTES);
      this.#sock.write(encodeFrame(type, bytes.subarray(at, end)));
      at = end;
    } while (at < bytes.length);
  }

  #control(op: string): void {
    this.#state = 'control';
    const reply = this.#host.control(op);
    if (reply === undefined) return this.#protocolError('unknown control request');
    this.#sock.end(encodeFrame('C', JSON.stringify(reply)), () => undefined);
    this.#host.afterControl(op);
  }

  #start(payload: Buffer): void {
    let req: AgentRequest;
    try {
      req = parseRequest(payload);
    } catch (e) {
      return this.#protocolError((e as Error).message);
    }
    const reason = fallbackReason(req, this.#host.buildId);
    if (reason !== undefined) {
      this.#state = 'done';
      // Terminal commands fall back every time; only a stale build is worth a line.
      if (req.buildId !== this.#host.buildId) this.#host.log(`fall back: ${reason}`);
      this.#sock.end(encodeFrame('F', reason));
      return;
    }
    this.#state = 'command';
    const name = commandName(req.argv);
    const started = Date.now();
    this.command = (async () => {
      let code: number;
      try {
        code = await this.#host.run(req.argv, this.#io(req));
      } catch (e) {
        this.#host.log(`${name}: runCli threw: ${(e as Error).message}`);
        code = 1;
      }
      this.#exited = true;
      this.#stdin?.destroy();
      const cancelled = this.#abort.signal.aborted;
      // Successes only count (status); a long-lived agent's log must not grow per command.
      if (code !== 0 || cancelled)
        this.#host.log(
          `${name}: exit ${code} in ${Date.now() - started} ms${cancelled ? ' (cancelled)' : ''}`,
        );
      if (!cancelled && this.#sock.writable)
        this.#sock.end(encodeFrame('X', Buffer.of(code & 0xff)));
    })();
  }

  #io(req: AgentRequest): Io {
    this.#stdin = new Readable({
      // The command reads stdin: ask the caller for it, once.
      read: () => {
        if (this.#stdinWanted) return;
        this.#stdinWanted = true;
        this.#send('N');
      },
    });
    // Cancelling destroys stdin with an error; a command that never read it must not crash us.
    this.#stdin.on('error', () => undefined);
    return {
      stdout: {
        write: (s: string | Uint8Array) => (this.#send('O', s), true),
        isTTY: req.ttys.stdout,
      },
      stderr: {
        write: (s: string | Uint8Array) => (this.#send('R', s), true),
        isTTY: req.ttys.stderr,
      },
      stdinIsTTY: req.ttys.stdin,
      stdin: this.#stdin,
      env: req.env,
      cwd: req.cwd,
      nowMs: () => Date.now(),
      signal: this.#abort.signal,
    };
  }

  #onGone(): void {
    if (this.#state === 'command' && !this.#exited) this.#cancel('the caller went away');
    if (!this.#sock.destroyed && this.#state !== 'command') this.#sock.destroy();
  }

  #cancel(why: string): void {
    if (this.#abort.signal.aborted) return;
    const err = new TrustdeskError('ERR_ABORTED', `cancelled: ${why}`);
    this.#abort.abort(err);
    this.#stdin?.destroy(err);
  }
}
