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

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Parser {
  i = 0;
  constructor(
    readonly s: string,
    readonly what: string,
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
      if (c === 0x5c) {
        out += s.slice(chunk, i);
        const e = s.charCodeAt(i + 1);
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
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x22) this.fail('expected a string key');
      const keyAt = this.i;
      const key = this.string();
      if (Object.hasOwn(out, key)) {
        this.i = keyAt;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) this.fail("expected ':'");
      this.i++;
      this.ws();
      const v = this.value(depth + 1);
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
