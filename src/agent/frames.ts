// The agent protocol's frames (docs/agent-protocol.md): `type` (1 ASCII byte) ‖ `length` (uint32
// big endian) ‖ `payload`. Both directions use the same layout; each side accepts only the types
// the other may send, and anything else (an unknown type, a length over 4 MiB) is a protocol
// error after which the connection is closed.

/** Largest payload either side accepts. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
const HEADER_BYTES = 5;

/** Frames a caller sends: request, stdin bytes, stdin end, control request. */
export const CALLER_FRAME_TYPES = ['H', 'I', 'E', 'C'] as const;
/** Frames the agent sends: stdout, stderr, stdin wanted, exit, fall back, control reply. */
export const AGENT_FRAME_TYPES = ['O', 'R', 'N', 'X', 'F', 'C'] as const;

export type CallerFrameType = (typeof CALLER_FRAME_TYPES)[number];
export type AgentFrameType = (typeof AGENT_FRAME_TYPES)[number];

export interface Frame<T extends string = string> {
  type: T;
  payload: Buffer;
}

/** A malformed frame stream; the receiver closes the connection. */
export class FrameError extends Error {
  override name = 'FrameError';
}

export function encodeFrame(type: string, payload: Uint8Array | string = ''): Buffer {
  if (type.length !== 1 || type.charCodeAt(0) > 0x7f) throw new FrameError(`bad frame type`);
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${body.length} bytes`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out.write(type, 0, 'latin1');
  out.writeUInt32BE(body.length, 1);
  out.set(body, HEADER_BYTES);
  return out;
}

/**
 * Splits a byte stream into frames as chunks arrive. `push` returns the frames completed by the
 * chunk and throws FrameError as soon as a header is bad (before its payload is buffered), so
 * an oversized frame never costs memory.
 */
export class FrameDecoder<T extends string> {
  readonly #types: ReadonlySet<string>;
  /** Received bytes not yet framed, as they came (joined only once a frame is complete). */
  #chunks: Buffer[] = [];
  #length = 0;
  #failed = false;

  constructor(types: readonly T[]) {
    this.#types = new Set(types);
  }

  /** The decoder keeps (does not copy) `chunk` until its bytes are framed. */
  push(chunk: Uint8Array): Frame<T>[] {
    if (this.#failed) throw new FrameError('the frame stream already failed');
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#length += chunk.length;
    }
    const frames: Frame<T>[] = [];
    while (this.#length >= HEADER_BYTES) {
      if ((this.#chunks[0] as Buffer).length < HEADER_BYTES) this.#join();
      const head = this.#chunks[0] as Buffer;
      const type = String.fromCharCode(head[0] as number);
      const length = head.readUInt32BE(1);
      if (!this.#types.has(type)) return this.#fail(`unknown frame type 0x${hex(head[0])}`);
      if (length > MAX_FRAME_BYTES) return this.#fail(`frame of ${length} bytes (max 4 MiB)`);
      if (this.#length < HEADER_BYTES + length) break;
      const all = this.#join();
      frames.push({
        type: type as T,
        payload: Buffer.from(all.subarray(HEADER_BYTES, HEADER_BYTES + length)),
      });
      const rest = all.subarray(HEADER_BYTES + length);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#length = rest.length;
    }
    return frames;
  }

  /** Bytes of an incomplete frame still held (0 at a frame boundary). */
  get pending(): number {
    return this.#length;
  }

  /** Joins the held chunks into one (once per completed frame, so large frames cost O(n)). */
  #join(): Buffer {
    const all =
      this.#chunks.length === 1
        ? (this.#chunks[0] as Buffer)
        : Buffer.concat(this.#chunks, this.#length);
    this.#chunks = [all];
    return all;
  }

  #fail(message: string): never {
    this.#failed = true;
    this.#chunks = [];
    this.#length = 0;
    throw new FrameError(message);
  }
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}
