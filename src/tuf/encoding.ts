// Byte helpers: strict standard base64 (Go rejects unpadded or URL-safe input), hex, digests.

import { createHash, timingSafeEqual } from 'node:crypto';
import { TufError } from './errors.js';

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** Decodes standard, padded base64; anything else (url-safe, unpadded, junk) is an error. */
export function fromBase64(s: string, field: string): Uint8Array {
  const b = Buffer.from(s, 'base64');
  // Node's encoder gives back exactly `s` only for canonical standard padded base64, which B64
  // accepts: that check is native and costs little, where the pattern walks every character (a
  // certificate is a thousand). Other input — junk, or non-zero trailing bits that Go accepts —
  // is judged by B64.
  if (b.toString('base64') !== s && !B64.test(s))
    throw new TufError('ERR_BAD_METADATA', `${field}: not standard padded base64`);
  return new Uint8Array(b);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function sha256(b: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

export function sha512(b: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha512').update(b).digest());
}

export function sha256Hex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Equal contents, in time independent of where they differ (native: metadata is megabytes). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return a === b || timingSafeEqual(a, b);
}

export const utf8Encode = (s: string): Uint8Array => new TextEncoder().encode(s);
