// A small, strict DER (X.690) encoder and reader for what X.509 and PKCS#8 need.
//
// Encoder: every builder returns one complete TLV. INTEGERs come from unsigned big-endian bytes
// (minimal, with a leading 0x00 when the high bit is set) or from a bigint; SET OF contents are
// sorted as DER requires; times follow RFC 5280 (UTCTime for 1950–2049, else GeneralizedTime,
// whole seconds, "Z").
//
// Reader rules (anything else throws ERR_BAD_DER):
//   - definite lengths only, in minimal form (short form below 128, no leading zero octets);
//   - low tag numbers only (0–30): X.509 and PKCS#8 never use the high-tag-number form;
//   - a parse of "one element" must consume every byte: trailing garbage is refused;
//   - lengths never run past the enclosing element;
//   - primitive values are checked to DER rules: minimal INTEGERs, BOOLEAN 0x00/0xFF, NULL empty,
//     BIT STRING unused bits 0–7 and zero, minimal OID arcs, well-formed time strings.

import { TufError } from './errors.js';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const CONSTRUCTED = 0x20;
const CONTEXT = 0x80;

function fail(what: string, msg: string): never {
  throw new TufError('ERR_BAD_DER', `${what}: ${msg}`);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------
// Encoder

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV with a single identifier octet (low tag numbers only). */
export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new TufError('ERR_INTERNAL', `DER: unsupported tag 0x${tag.toString(16)}`);
  }
  return concat([Uint8Array.of(tag), encodeLength(content.length), content]);
}

export function derSequence(...items: Uint8Array[]): Uint8Array {
  return derTlv(TAG.SEQUENCE, concat(items));
}

/** SET OF: DER orders the element encodings ascending. */
export function derSet(...items: Uint8Array[]): Uint8Array {
  return derTlv(TAG.SET, concat([...items].sort(compareBytes)));
}

/**
 * INTEGER. A Uint8Array is an unsigned big-endian magnitude (leading zeros are dropped, a 0x00
 * is prepended when the high bit is set); a bigint/number may be negative (two's complement).
 */
export function derInteger(v: Uint8Array | bigint | number): Uint8Array {
  if (v instanceof Uint8Array) {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    const mag = v.length === 0 ? Uint8Array.of(0) : v.subarray(i);
    return derTlv(TAG.INTEGER, (mag[0] as number) & 0x80 ? concat([Uint8Array.of(0), mag]) : mag);
  }
  if (typeof v === 'number' && !Number.isSafeInteger(v)) {
    throw new TufError('ERR_INTERNAL', `DER: ${v} is not a safe integer`);
  }
  let n = BigInt(v);
  const bytes: number[] = [];
  // Emit two's complement bytes until the sign bit of the top byte agrees with the sign.
  for (;;) {
    const b = Number(n & 0xffn);
    bytes.unshift(b);
    n >>= 8n;
    if ((n === 0n && (b & 0x80) === 0) || (n === -1n && (b & 0x80) !== 0)) break;
  }
  return derTlv(TAG.INTEGER, Uint8Array.from(bytes));
}

/** OBJECT IDENTIFIER from dotted text, e.g. "1.2.840.10045.2.1". */
export function derOid(dotted: string): Uint8Array {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) {
    throw new TufError('ERR_INTERNAL', `DER: invalid OID ${JSON.stringify(dotted)}`);
  }
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [a0, a1] = arcs as [bigint, bigint];
  if (a0 < 2n && a1 >= 40n) throw new TufError('ERR_INTERNAL', `DER: invalid OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a0 * 40n + a1, ...arcs.slice(2)]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...chunk);
  }
  return derTlv(TAG.OID, Uint8Array.from(out));
}

export function derNull(): Uint8Array {
  return Uint8Array.of(TAG.NULL, 0);
}

export function derBoolean(b: boolean): Uint8Array {
  return Uint8Array.of(TAG.BOOLEAN, 1, b ? 0xff : 0x00);
}

/** BIT STRING; the `unusedBits` low bits of the last byte must be zero (DER). */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  const last = bytes[bytes.length - 1] ?? 0;
  if (
    !Number.isInteger(unusedBits) ||
    unusedBits < 0 ||
    unusedBits > 7 ||
    (bytes.length === 0 && unusedBits !== 0) ||
    (last & ((1 << unusedBits) - 1)) !== 0
  ) {
    throw new TufError('ERR_INTERNAL', `DER: invalid BIT STRING (unused bits ${unusedBits})`);
  }
  return derTlv(TAG.BIT_STRING, concat([Uint8Array.of(unusedBits), bytes]));
}

export function derOctetString(bytes: Uint8Array): Uint8Array {
  return derTlv(TAG.OCTET_STRING, bytes);
}

export function derUtf8String(s: string): Uint8Array {
  if (!s.isWellFormed())
    throw new TufError('ERR_INTERNAL', 'DER: string is not well-formed UTF-16');
  return derTlv(TAG.UTF8_STRING, new TextEncoder().encode(s));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** True if `s` fits PrintableString (X.680; no `*`, `&`, `_` or `@`). */
export function isPrintableString(s: string): boolean {
  return PRINTABLE.test(s);
}

export function derPrintableString(s: string): Uint8Array {
  if (!isPrintableString(s))
    throw new TufError('ERR_INTERNAL', `DER: ${JSON.stringify(s)} is not a PrintableString`);
  return derTlv(TAG.PRINTABLE_STRING, new TextEncoder().encode(s));
}

export function derIa5String(s: string): Uint8Array {
  if (/[\u0080-\uffff]/.test(s))
    throw new TufError('ERR_INTERNAL', `DER: ${JSON.stringify(s)} is not an IA5String`);
  return derTlv(TAG.IA5_STRING, new TextEncoder().encode(s));
}

function timeDigits(ms: number): { year: number; rest: string } {
  if (!Number.isFinite(ms)) throw new TufError('ERR_INTERNAL', 'DER: invalid time');
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new TufError('ERR_INTERNAL', `DER: year ${year} out of range`);
  const two = (n: number) => String(n).padStart(2, '0');
  return {
    year,
    rest:
      two(d.getUTCMonth() + 1) +
      two(d.getUTCDate()) +
      two(d.getUTCHours()) +
      two(d.getUTCMinutes()) +
      two(d.getUTCSeconds()),
  };
}

/** UTCTime "YYMMDDHHMMSSZ" (years 1950–2049), whole seconds. */
export function derUtcTime(ms: number): Uint8Array {
  const { year, rest } = timeDigits(ms);
  if (year < 1950 || year > 2049)
    throw new TufError('ERR_INTERNAL', `DER: UTCTime cannot hold year ${year}`);
  return derTlv(
    TAG.UTC_TIME,
    new TextEncoder().encode(`${String(year % 100).padStart(2, '0')}${rest}Z`),
  );
}

/** GeneralizedTime "YYYYMMDDHHMMSSZ", whole seconds. */
export function derGeneralizedTime(ms: number): Uint8Array {
  const { year, rest } = timeDigits(ms);
  return derTlv(
    TAG.GENERALIZED_TIME,
    new TextEncoder().encode(`${String(year).padStart(4, '0')}${rest}Z`),
  );
}

/** RFC 5280 Time: UTCTime through 2049, GeneralizedTime from 2050 (and before 1950). */
export function derTime(ms: number): Uint8Array {
  const { year } = timeDigits(ms);
  return year >= 1950 && year < 2050 ? derUtcTime(ms) : derGeneralizedTime(ms);
}

/** [n] EXPLICIT: a constructed context-specific tag wrapping one complete element. */
export function derExplicit(tagNumber: number, inner: Uint8Array): Uint8Array {
  return derTlv(CONTEXT | CONSTRUCTED | contextNumber(tagNumber), inner);
}

/** [n] IMPLICIT: re-tags a complete element, keeping its content and constructed bit. */
export function derImplicit(tagNumber: number, inner: Uint8Array): Uint8Array {
  const el = parseDer(inner, 'implicit inner');
  return derTlv(
    CONTEXT | (el.constructed ? CONSTRUCTED : 0) | contextNumber(tagNumber),
    el.content,
  );
}

function contextNumber(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 30)
    throw new TufError('ERR_INTERNAL', `DER: context tag [${n}] out of range`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Reader

export type TagClass = 'universal' | 'application' | 'context' | 'private';

export interface DerElement {
  /** The identifier octet (class, constructed bit and tag number). */
  tag: number;
  tagClass: TagClass;
  constructed: boolean;
  tagNumber: number;
  /** The value octets. */
  content: Uint8Array;
  /** The whole TLV, as a view into the input. */
  raw: Uint8Array;
}

const CLASSES: readonly TagClass[] = ['universal', 'application', 'context', 'private'];

/** Reads the element starting at `offset` (within `end`); returns it and the next offset. */
function readElement(
  buf: Uint8Array,
  offset: number,
  end: number,
  what: string,
): { el: DerElement; next: number } {
  if (offset >= end) fail(what, 'unexpected end of data');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) fail(what, 'high tag numbers are not supported');
  let p = offset + 1;
  if (p >= end) fail(what, 'truncated length');
  const first = buf[p++] as number;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else if (first === 0x80) {
    fail(what, 'indefinite length is not allowed in DER');
  } else {
    const n = first & 0x7f;
    if (n > 4) fail(what, `length of ${n} octets is too large`);
    if (p + n > end) fail(what, 'truncated length');
    if (buf[p] === 0) fail(what, 'length has a leading zero octet');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p++] as number);
    if (len < 0x80) fail(what, 'length is not in minimal form');
  }
  if (len > end - p) fail(what, `length ${len} runs past the end of the data`);
  const el: DerElement = {
    tag,
    tagClass: CLASSES[tag >> 6] as TagClass,
    constructed: (tag & CONSTRUCTED) !== 0,
    tagNumber: tag & 0x1f,
    content: buf.subarray(p, p + len),
    raw: buf.subarray(offset, p + len),
  };
  return { el, next: p + len };
}

/** Parses exactly one element; trailing bytes are an error. */
export function parseDer(bytes: Uint8Array, what = 'DER'): DerElement {
  const { el, next } = readElement(bytes, 0, bytes.length, what);
  if (next !== bytes.length) fail(what, `${bytes.length - next} trailing bytes after the element`);
  return el;
}

/** Sequential reader over the children of a constructed element (or over raw bytes). */
export class DerReader {
  readonly #buf: Uint8Array;
  #pos = 0;

  constructor(
    source: Uint8Array | DerElement,
    readonly what = 'DER',
  ) {
    if (source instanceof Uint8Array) {
      this.#buf = source;
    } else {
      if (!source.constructed) fail(what, 'expected a constructed element');
      this.#buf = source.content;
    }
  }

  get done(): boolean {
    return this.#pos >= this.#buf.length;
  }

  peek(): DerElement | undefined {
    return this.done
      ? undefined
      : readElement(this.#buf, this.#pos, this.#buf.length, this.what).el;
  }

  /** The next element; `tag` (an identifier octet) is required when given. */
  next(field: string, tag?: number): DerElement {
    if (this.done) fail(this.what, `${field}: missing`);
    const { el, next } = readElement(
      this.#buf,
      this.#pos,
      this.#buf.length,
      `${this.what} ${field}`,
    );
    if (tag !== undefined && el.tag !== tag) {
      fail(this.what, `${field}: expected tag 0x${hex2(tag)}, got 0x${hex2(el.tag)}`);
    }
    this.#pos = next;
    return el;
  }

  /** Consumes and returns the next element only if it has this identifier octet. */
  optional(tag: number): DerElement | undefined {
    const el = this.peek();
    if (!el || el.tag !== tag) return undefined;
    this.#pos += el.raw.length;
    return el;
  }

  /** Every remaining element. */
  rest(field: string): DerElement[] {
    const out: DerElement[] = [];
    while (!this.done) out.push(this.next(field));
    return out;
  }

  /** Refuses unread elements. */
  end(): void {
    if (!this.done) fail(this.what, `${this.#buf.length - this.#pos} unexpected trailing bytes`);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Identifier octet of a context-specific tag: `contextTag(0, true)` is [0] constructed. */
export function contextTag(tagNumber: number, constructed: boolean): number {
  return CONTEXT | (constructed ? CONSTRUCTED : 0) | contextNumber(tagNumber);
}

function expectTag(el: DerElement, tag: number, what: string): void {
  if (el.tag !== tag) fail(what, `expected tag 0x${hex2(tag)}, got 0x${hex2(el.tag)}`);
}

/** The content of an INTEGER after the minimal-encoding check (two's complement bytes). */
function integerContent(el: DerElement, what: string, tag: number): Uint8Array {
  expectTag(el, tag, what);
  const c = el.content;
  if (c.length === 0) fail(what, 'empty INTEGER');
  if (c.length > 1) {
    const a = c[0] as number;
    const b = c[1] as number;
    if ((a === 0x00 && (b & 0x80) === 0) || (a === 0xff && (b & 0x80) !== 0)) {
      fail(what, 'INTEGER is not minimally encoded');
    }
  }
  return c;
}

/** INTEGER as a bigint. `tag` allows an IMPLICIT-tagged integer. */
export function readInteger(el: DerElement, what = 'INTEGER', tag: number = TAG.INTEGER): bigint {
  const c = integerContent(el, what, tag);
  let n = 0n;
  for (const b of c) n = (n << 8n) | BigInt(b);
  if ((c[0] as number) & 0x80) n -= 1n << BigInt(c.length * 8);
  return n;
}

/** A non-negative INTEGER as its unsigned big-endian magnitude (no sign octet). */
export function readUnsignedInteger(
  el: DerElement,
  what = 'INTEGER',
  tag: number = TAG.INTEGER,
): Uint8Array {
  const c = integerContent(el, what, tag);
  if ((c[0] as number) & 0x80) fail(what, 'INTEGER is negative');
  return c.length > 1 && c[0] === 0 ? c.subarray(1) : c;
}

/** A small non-negative INTEGER as a number (versions, iteration counts, lengths). */
export function readSmallInteger(el: DerElement, what = 'INTEGER'): number {
  const n = readInteger(el, what);
  if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) fail(what, `INTEGER ${n} out of range`);
  return Number(n);
}

export function readOid(el: DerElement, what = 'OID'): string {
  expectTag(el, TAG.OID, what);
  const c = el.content;
  if (c.length === 0) fail(what, 'empty OID');
  const arcs: bigint[] = [];
  let v = 0n;
  let start = true;
  for (let i = 0; i < c.length; i++) {
    const b = c[i] as number;
    if (start && b === 0x80) fail(what, 'OID arc is not minimally encoded');
    v = (v << 7n) | BigInt(b & 0x7f);
    start = (b & 0x80) === 0;
    if (start) {
      arcs.push(v);
      v = 0n;
    }
  }
  if (!start) fail(what, 'truncated OID');
  const first = arcs[0] as bigint;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

export function readBoolean(el: DerElement, what = 'BOOLEAN'): boolean {
  expectTag(el, TAG.BOOLEAN, what);
  if (el.content.length !== 1) fail(what, 'BOOLEAN must be one octet');
  const b = el.content[0];
  if (b === 0x00) return false;
  if (b === 0xff) return true;
  return fail(what, 'BOOLEAN must be 0x00 or 0xFF in DER');
}

export function readNull(el: DerElement, what = 'NULL'): void {
  expectTag(el, TAG.NULL, what);
  if (el.content.length !== 0) fail(what, 'NULL must be empty');
}

export function readBitString(
  el: DerElement,
  what = 'BIT STRING',
): { bytes: Uint8Array; unusedBits: number } {
  expectTag(el, TAG.BIT_STRING, what);
  const c = el.content;
  if (c.length === 0) fail(what, 'empty BIT STRING');
  const unusedBits = c[0] as number;
  const bytes = c.subarray(1);
  if (unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0))
    fail(what, 'invalid unused-bit count');
  const last = bytes[bytes.length - 1] ?? 0;
  if ((last & ((1 << unusedBits) - 1)) !== 0) fail(what, 'unused bits must be zero in DER');
  return { bytes, unusedBits };
}

export function readOctetString(
  el: DerElement,
  what = 'OCTET STRING',
  tag: number = TAG.OCTET_STRING,
): Uint8Array {
  expectTag(el, tag, what);
  return el.content;
}

/** Any of the ASN.1 string types names and certificates use, decoded to a JS string. */
export function readString(el: DerElement, what = 'string'): string {
  const c = el.content;
  const ascii = (re: RegExp, name: string) => {
    const s = Buffer.from(c).toString('latin1');
    if (!re.test(s)) fail(what, `invalid ${name}`);
    return s;
  };
  switch (el.tag) {
    case TAG.UTF8_STRING: {
      try {
        return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(c);
      } catch {
        return fail(what, 'invalid UTF8String');
      }
    }
    case TAG.PRINTABLE_STRING:
      // Go and OpenSSL also accept `*` and `&` here, which real certificates use.
      return ascii(/^[A-Za-z0-9 '()+,\-./:=?*&]*$/, 'PrintableString');
    case TAG.IA5_STRING:
      return ascii(/^[^\u0080-\u00ff]*$/, 'IA5String');
    case TAG.NUMERIC_STRING:
      return ascii(/^[0-9 ]*$/, 'NumericString');
    case TAG.T61_STRING:
      return Buffer.from(c).toString('latin1');
    case TAG.BMP_STRING: {
      if (c.length % 2 !== 0) fail(what, 'invalid BMPString');
      const units: number[] = [];
      for (let i = 0; i < c.length; i += 2)
        units.push(((c[i] as number) << 8) | (c[i + 1] as number));
      const s = String.fromCharCode(...units);
      if (!s.isWellFormed()) fail(what, 'invalid BMPString');
      return s;
    }
    default:
      return fail(what, `tag 0x${hex2(el.tag)} is not a string type`);
  }
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/;

/** UTCTime or GeneralizedTime (DER forms: seconds present, "Z") as epoch milliseconds. */
export function readTime(el: DerElement, what = 'time'): number {
  const s = Buffer.from(el.content).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  let frac = '';
  if (el.tag === TAG.UTC_TIME) {
    m = UTC_TIME.exec(s);
    if (!m) fail(what, `invalid UTCTime ${JSON.stringify(s)}`);
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (el.tag === TAG.GENERALIZED_TIME) {
    m = GENERALIZED_TIME.exec(s);
    if (!m) fail(what, `invalid GeneralizedTime ${JSON.stringify(s)}`);
    year = Number(m[1]);
    frac = m[7] ?? '';
  } else {
    return fail(what, `tag 0x${hex2(el.tag)} is not a time`);
  }
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d);
  date.setUTCHours(h, mi, se, Number(frac.padEnd(3, '0').slice(0, 3)));
  if (
    mo < 1 ||
    mo > 12 ||
    h > 23 ||
    mi > 59 ||
    se > 59 ||
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d
  ) {
    fail(what, `time ${JSON.stringify(s)} is out of range`);
  }
  return date.getTime();
}
