// Strict JSON parsing for Notary metadata.
//
// Why not JSON.parse: Notary signs the canonical form of the parsed value (see canonical.ts), and
// that form only exists for integers — so we must see the *lexical* number to reject `1.0`,
// `1e3`, `-0.5` and integers beyond 2^53 that JSON.parse would silently round. We also reject
// duplicate object keys (an ambiguity attack: two parsers, two meanings) and excessive nesting.
// String decoding follows Go's encoding/json: invalid UTF-8 and lone surrogate escapes become
// U+FFFD, raw control characters are errors.

import { TufError } from './errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export const MAX_JSON_DEPTH = 256;

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

export function parseJson(input: Uint8Array | string, what = 'JSON'): JsonValue {
  const text = typeof input === 'string' ? input : utf8.decode(input);
  const p = new Parser(text, what);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i !== text.length) p.fail('unexpected data after the JSON value');
  return v;
}

/**
 * parseJson, plus — when the value is an object whose `member` is written in canonical form
 * (canonical.ts) — that member's exact bytes in `input`: what canonicalBytes(value[member])
 * would produce, without re-serialising it. Undefined when the member is absent or written any
 * other way (whitespace, unsorted keys, escapes other than \" and \\, "-0", characters at or
 * above U+D800 — which also covers invalid UTF-8, decoded to U+FFFD); the caller then
 * canonicalises the parsed value as usual.
 */
export function parseJsonWithCanonicalMember(
  input: Uint8Array,
  member: string,
  what = 'JSON',
): { value: JsonValue; canonical: Uint8Array | undefined } {
  const text = utf8.decode(input);
  const p = new Parser(text, what, member);
  p.ws();
  const value = p.value(0);
  p.ws();
  if (p.i !== text.length) p.fail('unexpected data after the JSON value');
  const span = p.span;
  if (!span) return { value, canonical: undefined };
  // Valid UTF-8 (no U+FFFD in the span) re-encodes to exactly the bytes it was decoded from,
  // and the span starts and ends on ASCII characters, so only offsets need converting.
  const start = p.spanAscii && p.prefixAscii ? span[0] : Buffer.byteLength(text.slice(0, span[0]));
  const length = p.spanAscii ? span[1] - span[0] : Buffer.byteLength(text.slice(span[0], span[1]));
  return { value, canonical: input.subarray(start, start + length) };
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Parser {
  i = 0;
  /** Everything parsed since the last reset is in canonical form (see parseJsonWithCanonicalMember). */
  clean = true;
  /** No character at or above U+0080 in strings since the last reset. */
  ascii = true;
  /** [start, end) of the tracked top-level member's value, when it was canonical. */
  span: [number, number] | undefined;
  spanAscii = true;
  prefixAscii = true;
  constructor(
    readonly s: string,
    readonly what: string,
    /** A top-level member whose canonical-ness and extent are tracked. */
    readonly track?: string,
  ) {}

  fail(msg: string, code: 'ERR_BAD_JSON' | 'ERR_NON_CANONICAL' = 'ERR_BAD_JSON'): never {
    throw new TufError(code, `${this.what}: ${msg} at offset ${this.i}`);
  }

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    if (i !== this.i) this.clean = false;
    this.i = i;
  }

  value(depth: number): JsonValue {
    if (depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b: // {
        return this.object(depth);
      case 0x5b: // [
        return this.array(depth);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66:
        return this.literal('false', false);
      case 0x6e:
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        if (Number.isNaN(c)) this.fail('unexpected end of input');
        this.fail(`unexpected character ${JSON.stringify(this.s[this.i])}`);
    }
  }

  literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.i)) this.fail(`invalid literal`);
    this.i += word.length;
    return v;
  }

  number(): number {
    const s = this.s;
    const start = this.i;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    const d0 = s.charCodeAt(i);
    if (d0 === 0x30) i++;
    else if (d0 >= 0x31 && d0 <= 0x39) {
      while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
    } else {
      this.i = i;
      this.fail('invalid number');
    }
    const next = s.charCodeAt(i);
    if (next === 0x2e || next === 0x65 || next === 0x45) {
      this.i = start;
      this.fail('only integers are allowed (no fraction or exponent)', 'ERR_NON_CANONICAL');
    }
    const n = Number(s.slice(start, i));
    if (!Number.isSafeInteger(n)) {
      this.i = start;
      this.fail('integer outside the safe range ±(2^53-1)', 'ERR_NON_CANONICAL');
    }
    this.i = i;
    if (n === 0 && i - start > 1) this.clean = false; // "-0" is written "0"
    return n === 0 ? 0 : n; // normalise -0
  }

  string(): string {
    const s = this.s;
    let i = this.i + 1;
    let out = '';
    let chunk = i;
    for (;;) {
      if (i >= s.length) {
        this.i = i;
        this.fail('unterminated string');
      }
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        out += s.slice(chunk, i);
        this.i = i + 1;
        return out;
      }
      if (c < 0x20) {
        this.i = i;
        this.fail('raw control character in string');
      }
      if (c >= 0x80) {
        this.ascii = false;
        // Surrogates, U+FFFD (invalid UTF-8) and the range UTF-8 sorts differently from UTF-16.
        if (c >= 0xd800) this.clean = false;
      }
      if (c === 0x5c) {
        out += s.slice(chunk, i);
        const e = s.charCodeAt(i + 1);
        if (e !== 0x22 && e !== 0x5c) this.clean = false; // canonical escapes only " and \
        i += 2;
        switch (e) {
          case 0x22:
            out += '"';
            break;
          case 0x5c:
            out += '\\';
            break;
          case 0x2f:
            out += '/';
            break;
          case 0x62:
            out += '\b';
            break;
          case 0x66:
            out += '\f';
            break;
          case 0x6e:
            out += '\n';
            break;
          case 0x72:
            out += '\r';
            break;
          case 0x74:
            out += '\t';
            break;
          case 0x75: {
            const cu = this.hex4(i);
            i += 4;
            if (
              cu >= 0xd800 &&
              cu <= 0xdbff &&
              s.charCodeAt(i) === 0x5c &&
              s.charCodeAt(i + 1) === 0x75
            ) {
              const lo = this.hex4(i + 2);
              if (lo >= 0xdc00 && lo <= 0xdfff) {
                out += String.fromCharCode(cu, lo);
                i += 6;
                break;
              }
            }
            // Lone surrogates decode to U+FFFD, as in Go.
            out += cu >= 0xd800 && cu <= 0xdfff ? '\ufffd' : String.fromCharCode(cu);
            break;
          }
          default:
            this.i = i - 1;
            this.fail('invalid escape sequence');
        }
        chunk = i;
        continue;
      }
      i++;
    }
  }

  hex4(at: number): number {
    const h = this.s.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) {
      this.i = at;
      this.fail('invalid \\u escape');
    }
    return parseInt(h, 16);
  }

  array(depth: number): JsonValue[] {
    this.i++;
    const out: JsonValue[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        continue;
      }
      if (c === 0x5d) {
        this.i++;
        return out;
      }
      this.fail("expected ',' or ']'");
    }
  }

  object(depth: number): JsonObject {
    this.i++;
    const out: JsonObject = {};
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return out;
    }
    let previous: string | undefined;
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x22) this.fail('expected a string key');
      const keyAt = this.i;
      const key = this.string();
      if (Object.hasOwn(out, key)) {
        this.i = keyAt;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      // Canonical members are sorted; UTF-16 order is UTF-8 order below U+D800 (else unclean).
      if (previous !== undefined && previous > key) this.clean = false;
      previous = key;
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) this.fail("expected ':'");
      this.i++;
      this.ws();
      const tracked = depth === 0 && key === this.track;
      const outerClean = this.clean;
      const outerAscii = this.ascii;
      if (tracked) {
        this.prefixAscii = this.ascii;
        this.clean = true;
        this.ascii = true;
      }
      const start = this.i;
      const v = this.value(depth + 1);
      if (tracked) {
        this.span = this.clean ? [start, this.i] : undefined;
        this.spanAscii = this.ascii;
        this.clean = outerClean && this.clean;
        this.ascii = outerAscii && this.ascii;
      }
      // A "__proto__" key must be an ordinary own property, never a prototype; plain assignment
      // for the rest keeps V8's fast object shapes.
      if (key === '__proto__') {
        Object.defineProperty(out, key, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[key] = v;
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        continue;
      }
      if (c === 0x7d) {
        this.i++;
        return out;
      }
      this.fail("expected ',' or '}'");
    }
  }
}
