// Canonical JSON exactly as Go Notary's docker/go `MarshalCanonical` writes it, and the
// HTML-escaping "wire" encoder Go uses for the envelope around it.
//
// Canonical (what is signed and hashed into key IDs):
//   - no whitespace; object members sorted by the UTF-8 bytes of their keys (Go string order —
//     differs from JS's UTF-16 order for astral vs U+E000..U+FFFF characters);
//   - strings escape only `"` and `\`; everything else (control chars, <>&, U+2028) is raw UTF-8;
//   - numbers must be safe integers, printed in plain base 10.
// Wire (what Go puts in a file): `{"signed":…,"signatures":[…]}` — `signed` first — where the
// canonical bytes pass through Go's HTML-escaping compactor (<>& U+2028 U+2029 → \uXXXX).
// Go cannot write control characters inside strings at all, so neither do we.

import { TufError } from './errors.js';
import type { JsonValue } from './json.js';

const utf8 = new TextEncoder();

/** Compares two strings by their UTF-8 byte sequences without encoding them. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        // Surrogates (astral code points) sort after U+E000..U+FFFF in UTF-8.
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

const SURROGATE = /[\ud800-\udfff]/;

/** Native sort is UTF-16 order, which equals UTF-8 byte order unless a key has astral characters. */
function sortKeys(keys: string[]): string[] {
  keys.sort();
  return keys.some((k) => SURROGATE.test(k)) ? keys.sort(compareUtf8) : keys;
}

const NEEDS_ESCAPE = /["\\]/;

function canonicalString(s: string): string {
  if (!s.isWellFormed())
    throw new TufError('ERR_NON_CANONICAL', 'string contains a lone surrogate');
  return NEEDS_ESCAPE.test(s) ? `"${s.replace(/["\\]/g, '\\$&')}"` : `"${s}"`;
}

function write(v: JsonValue, depth: number): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return canonicalString(v);
    case 'number':
      if (!Number.isSafeInteger(v)) {
        throw new TufError('ERR_NON_CANONICAL', `number ${String(v)} is not a safe integer`);
      }
      return v === 0 ? '0' : String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (depth > 512) throw new TufError('ERR_NON_CANONICAL', 'value nested too deeply');
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (i) out += ',';
          out += write(v[i] as JsonValue, depth + 1);
        }
        return out + ']';
      }
      const keys = sortKeys(Object.keys(v));
      let out = '{';
      let first = true;
      for (const k of keys) {
        const item = v[k];
        if (item === undefined) continue; // absent optional fields built in code
        if (!first) out += ',';
        first = false;
        out += canonicalString(k) + ':' + write(item, depth + 1);
      }
      return out + '}';
    }
    default:
      throw new TufError('ERR_NON_CANONICAL', `cannot encode a ${typeof v} as JSON`);
  }
}

/** Canonical JSON text of a value. */
export function canonicalText(v: JsonValue): string {
  return write(v, 0);
}

/** Canonical JSON bytes of a value (what Notary signs). */
export function canonicalBytes(v: JsonValue): Uint8Array {
  return utf8.encode(write(v, 0));
}

// Control characters (which Go refuses) and the HTML-sensitive characters Go escapes.
// eslint-disable-next-line no-control-regex
const WIRE_SPECIAL = /[\u0000-\u001f<>&\u2028\u2029]/;
const HTML_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/**
 * Go's compactor with HTML escaping applied to already-canonical JSON text. Only strings can
 * contain the special characters, so a character-level replacement is exact.
 */
export function htmlEscapeCanonical(canonical: string): string {
  if (!WIRE_SPECIAL.test(canonical)) return canonical;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(canonical)) {
    throw new TufError(
      'ERR_UNENCODABLE',
      'a string contains a control character, which Go Notary cannot serialise',
    );
  }
  return canonical.replace(/[<>&\u2028\u2029]/g, (c) => HTML_ESCAPES[c] as string);
}

/** Go's `encoding/json` string encoder (HTML-safe), for non-canonical output such as envelopes and API bodies. */
export function goJsonString(s: string): string {
  let out = '"';
  let chunk = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20) {
      rep =
        c === 0x0a
          ? '\\n'
          : c === 0x0d
            ? '\\r'
            : c === 0x09
              ? '\\t'
              : '\\u00' + c.toString(16).padStart(2, '0');
    } else if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = '\\\\';
    else if (c === 0x3c) rep = '\\u003c';
    else if (c === 0x3e) rep = '\\u003e';
    else if (c === 0x26) rep = '\\u0026';
    else if (c === 0x2028) rep = '\\u2028';
    else if (c === 0x2029) rep = '\\u2029';
    else if (c >= 0xd800 && c <= 0xdfff) {
      const hi = c <= 0xdbff;
      const lo = s.charCodeAt(i + 1);
      if (hi && lo >= 0xdc00 && lo <= 0xdfff) {
        i++;
        continue;
      }
      rep = '\ufffd'; // Go replaces invalid UTF-8 / lone surrogates
    }
    if (rep !== undefined) {
      out += s.slice(chunk, i) + rep;
      chunk = i + 1;
    }
  }
  return out + s.slice(chunk) + '"';
}

export interface WireSignature {
  keyid: string;
  method: string;
  sig: string;
}

/**
 * The bytes Go Notary writes for a signed metadata file: `{"signed":<canonical, HTML-escaped>,
 * "signatures":[{"keyid","method","sig"}…]}`. Takes the canonical text already computed for
 * signing (see `canonicalText`), so nothing is canonicalised twice.
 */
export function encodeEnvelope(
  signedCanonical: string,
  signatures: readonly WireSignature[],
): Uint8Array {
  let out = '{"signed":' + htmlEscapeCanonical(signedCanonical) + ',"signatures":[';
  signatures.forEach((s, i) => {
    if (i) out += ',';
    out += `{"keyid":${goJsonString(s.keyid)},"method":${goJsonString(s.method)},"sig":${goJsonString(s.sig)}}`;
  });
  return utf8.encode(out + ']}');
}
