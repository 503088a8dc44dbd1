import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_JSON_DEPTH, parseJson } from '../../src/tuf/json.js';
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
