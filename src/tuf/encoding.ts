// Byte helpers: strict standard base64 (Go rejects unpadded or URL-safe input), hex, digests.

import { createHash } from 'node:crypto';
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

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

export const utf8Encode = (s: string): Uint8Array => new TextEncoder().encode(s);
