import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_JSON_DEPTH,
  parseJson,
  parseJsonWithCanonicalMember,
  type JsonObject,
  type JsonValue,
} from '../../src/tuf/json.js';
import { canonicalBytes, canonicalText, htmlEscapeCanonical } from '../../src/tuf/canonical.js';
import { TufError } from '../../src/tuf/errors.js';

const enc = (s: string) => new TextEncoder().encode(s);

test('parses valid JSON like JSON.parse for integer-only documents', () => {
  const cases = [
    '{}',
    '[]',
    '{"a":[1,-2,0,true,false,null,"x"],"b":{"c":"d"}}',
    ' \n\t{ "a" : 1 } \r\n',
    '"\\u00e9\\n\\t\\"\\\\\\/"',
    '9007199254740991',
    '-9007199254740991',
    '"\\ud83d\\ude00"',
  ];
  for (const c of cases) assert.deepEqual(parseJson(enc(c)), JSON.parse(c), c);
});

test('refuses malformed or non-canonical input with a coded error', () => {
  const table: Array<[string, string, RegExp?]> = [
    ['', 'ERR_BAD_JSON', /end of input/],
    ['{', 'ERR_BAD_JSON'],
    ['{"a":1,}', 'ERR_BAD_JSON'],
    ['[1,]', 'ERR_BAD_JSON'],
    ['{"a" 1}', 'ERR_BAD_JSON'],
    ['{a:1}', 'ERR_BAD_JSON'],
    ["{'a':1}", 'ERR_BAD_JSON'],
    ['{"a":1}x', 'ERR_BAD_JSON', /after the JSON value/],
    ['{"a":1}{"b":2}', 'ERR_BAD_JSON'],
    ['"\u0001"', 'ERR_BAD_JSON', /control character/],
    ['"a\nb"', 'ERR_BAD_JSON', /control character/],
    ['"\\x"', 'ERR_BAD_JSON', /escape/],
    ['"\\u12"', 'ERR_BAD_JSON', /\\u escape/],
    ['"abc', 'ERR_BAD_JSON', /unterminated/],
    ['tru', 'ERR_BAD_JSON'],
    ['nul', 'ERR_BAD_JSON'],
    ['01', 'ERR_BAD_JSON'],
    ['-', 'ERR_BAD_JSON'],
    ['+1', 'ERR_BAD_JSON'],
    ['NaN', 'ERR_BAD_JSON'],
    ['Infinity', 'ERR_BAD_JSON'],
    ['1.0', 'ERR_NON_CANONICAL', /only integers/],
    ['1.5', 'ERR_NON_CANONICAL'],
    ['1e3', 'ERR_NON_CANONICAL'],
    ['1E3', 'ERR_NON_CANONICAL'],
    ['-0.0', 'ERR_NON_CANONICAL'],
    ['9007199254740992', 'ERR_NON_CANONICAL', /safe range/],
    ['-9007199254740992', 'ERR_NON_CANONICAL'],
    ['{"a":1,"a":2}', 'ERR_BAD_JSON', /duplicate key/],
    ['\ufeff{}', 'ERR_BAD_JSON'],
  ];
  for (const [input, code, msg] of table) {
    assert.throws(
      () => parseJson(enc(input)),
      (e: unknown) => e instanceof TufError && e.code === code && (!msg || msg.test(e.message)),
      JSON.stringify(input),
    );
  }
});

test('depth is bounded (no stack exhaustion on hostile nesting)', () => {
  assert.doesNotThrow(() => parseJson('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)));
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  assert.throws(
    () => parseJson(deep),
    (e: unknown) => e instanceof TufError && /nesting/.test(e.message),
  );
});

test('__proto__ keys become plain own properties', () => {
  const v = parseJson('{"__proto__":{"polluted":1},"a":1}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.keys(v), ['__proto__', 'a']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('strings decode like Go: lone surrogates and invalid UTF-8 become U+FFFD', () => {
  assert.equal(parseJson('"\\ud800x"'), '\ufffdx');
  assert.equal(parseJson('"\\udc00"'), '\ufffd');
  assert.equal(parseJson('"\\ud800\\u0041"'), '\ufffdA');
  assert.equal(parseJson(new Uint8Array([0x22, 0xff, 0x22])), '\ufffd');
  assert.equal(parseJson('"<>&\u2028\u007f"'), '<>&\u2028\u007f');
});

test('negative zero is normalised', () => {
  assert.ok(Object.is(parseJson('-0'), 0));
});

// --- parseJsonWithCanonicalMember: the bytes of `signed` when they are its canonical form ------

const member = (text: string | Uint8Array) =>
  parseJsonWithCanonicalMember(typeof text === 'string' ? enc(text) : text, 'signed');

/** What the fast path promises: its bytes are canonicalBytes of the parsed member, or nothing. */
function checkMember(text: string | Uint8Array): Uint8Array | undefined {
  const { value, canonical } = member(text);
  const signed = (value as JsonObject).signed;
  if (canonical !== undefined && signed !== undefined)
    assert.deepEqual(Buffer.from(canonical), Buffer.from(canonicalBytes(signed)));
  return canonical;
}

test('canonical member: the exact bytes of a canonically written `signed`', () => {
  const signed = '{"_type":"Targets","a":[1,-2,0,true,null],"b":{"x\\"y":"q\\\\"}}';
  for (const doc of [
    `{"signed":${signed},"signatures":[]}`,
    ` { "signatures" : [ {"keyid":"é"} ] ,\n "signed":${signed} } `, // layout outside is free
    `{"signatures":[{"keyid":"漢字"}],"signed":${signed}}`, // non-ASCII before the member
  ]) {
    const got = checkMember(doc);
    assert.ok(got, doc);
    assert.equal(Buffer.from(got).toString('utf8'), signed);
  }
  // Non-ASCII below U+D800 inside the member: byte offsets, not UTF-16 offsets.
  const wide = '{"z":"ü","é":"漢字"}';
  assert.equal(Buffer.from(checkMember(`{"x":"ß","signed":${wide}}`) ?? []).toString(), wide);
  // Absent or not an object member: nothing.
  assert.equal(checkMember('{"signatures":[]}'), undefined);
  assert.equal(member('[1]').canonical, undefined);
});

test('canonical member: any other way of writing it falls back to re-canonicalising', () => {
  for (const signed of [
    '{"a": 1}', // whitespace
    '{ "a":1}',
    '{"b":1,"a":2}', // unsorted keys
    '{"a":[1 ,2]}',
    '{"s":"\\u003c"}', // escapes other than \" and \\ (Go's HTML escaping)
    '{"s":"a\\/b"}',
    '{"s":"\\n"}',
    '{"n":-0}', // written "0"
    '{"s":"😀"}', // astral: UTF-8 order differs from UTF-16
    '{"\uffff":1,"😀":2}',
    '{"s":"\uffff"}',
  ]) {
    assert.equal(checkMember(`{"signed":${signed}}`), undefined, signed);
  }
  // Invalid UTF-8 decodes to U+FFFD: the raw bytes are not what would be signed.
  const bad = enc('{"signed":{"s":"xx"}}');
  bad[16] = 0xff;
  assert.equal(checkMember(bad), undefined);
  // Go's wire form of a canonical text with HTML characters.
  const html = canonicalText({ s: '<a&b>', t: 'ok' });
  assert.equal(checkMember(`{"signed":${htmlEscapeCanonical(html)}}`), undefined);
  assert.ok(checkMember(`{"signed":${html}}`));
});

test('canonical member: random documents never yield bytes other than canonicalBytes', () => {
  let seed = 0x2545f491;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const chars = ['a', 'Z', '0', '"', '\\', '/', '<', '&', 'é', '漢', '😀', '\u2028', '\uffff', ' '];
  const str = () => Array.from({ length: rand(5) }, () => chars[rand(chars.length)]).join('');
  const value = (depth: number): JsonValue => {
    switch (depth > 3 ? rand(4) : rand(6)) {
      case 0:
        return rand(2000) - 1000;
      case 1:
        return str();
      case 2:
        return [true, false, null][rand(3)] as JsonValue;
      case 3:
        return rand(3) === 0 ? 0 : -rand(50);
      case 4:
        return Array.from({ length: rand(4) }, () => value(depth + 1));
      default: {
        const o: JsonObject = {};
        for (let i = rand(5); i > 0; i--) o[str()] = value(depth + 1);
        return o;
      }
    }
  };
  let fast = 0;
  for (let i = 0; i < 2000; i++) {
    const v = { _type: 'x', body: value(0) };
    const text = canonicalText(v);
    const doc = `{"signed":${text},"signatures":[]}`;
    const got = checkMember(doc);
    // Written canonically and free of characters at or above U+D800: always taken.
    if (!/[\ud800-\uffff]/.test(text)) assert.ok(got, text);
    if (got) fast++;
    // Re-written by JSON.stringify (escapes, other key order): never wrong.
    checkMember(`{"signed":${JSON.stringify(v, null, rand(2) ? 1 : undefined)}}`);
    checkMember(`{"signed":${htmlEscapeCanonical(text)}}`);
  }
  assert.ok(fast > 1000, `fast path taken ${fast} times`);
});
