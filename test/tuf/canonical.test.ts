import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalBytes,
  canonicalText,
  compareUtf8,
  encodeEnvelope,
  goJsonString,
  htmlEscapeCanonical,
} from '../../src/tuf/canonical.js';
import { parseJson, type JsonValue } from '../../src/tuf/json.js';
import { TufError } from '../../src/tuf/errors.js';

// Vectors: input value → exact canonical text (docker/go MarshalCanonical rules, spec §2).
const VECTORS: Array<[string, JsonValue, string]> = [
  ['empty object', {}, '{}'],
  ['empty array', [], '[]'],
  [
    'no whitespace, sorted keys',
    { b: 1, a: [1, 2], c: { z: null, y: true } },
    '{"a":[1,2],"b":1,"c":{"y":true,"z":null}}',
  ],
  ['arrays keep order', [3, 1, 2], '[3,1,2]'],
  ['null members kept', { private: null }, '{"private":null}'],
  ['only quote and backslash escaped', { s: 'a"b\\c' }, '{"s":"a\\"b\\\\c"}'],
  ['control chars raw', { s: '\n\t\u0001\u001f' }, '{"s":"\n\t\u0001\u001f"}'],
  ['DEL raw', { s: '\u007f' }, '{"s":"\u007f"}'],
  ['html chars raw', { s: '<>&' }, '{"s":"<>&"}'],
  ['U+2028/2029 raw', { s: '\u2028\u2029' }, '{"s":"\u2028\u2029"}'],
  ['non-ASCII raw', { s: 'é漢😀' }, '{"s":"é漢😀"}'],
  ['slash not escaped', { s: 'a/b' }, '{"s":"a/b"}'],
  ['negative integers', { n: -42 }, '{"n":-42}'],
  ['zero and negative zero', [0, -0], '[0,0]'],
  ['max safe integer', [9007199254740991], '[9007199254740991]'],
  ['large integers plain, no exponent', [1e15, -1e15], '[1000000000000000,-1000000000000000]'],
  [
    'keys sorted by UTF-8 bytes, not UTF-16',
    { '\uffff': 1, '😀': 2, a: 3 },
    '{"a":3,"\uffff":1,"😀":2}',
  ],
  ['uppercase before lowercase', { b: 1, B: 2, a: 3, A: 4 }, '{"A":4,"B":2,"a":3,"b":1}'],
  ['prefix sorts first', { ab: 1, a: 2 }, '{"a":2,"ab":1}'],
  ['keys with escapes', { 'a"': 1, 'a\\': 2 }, '{"a\\"":1,"a\\\\":2}'],
  ['nested', { x: [{ b: 1, a: 2 }] }, '{"x":[{"a":2,"b":1}]}'],
];

test('canonical JSON vectors', () => {
  for (const [name, value, expected] of VECTORS) {
    assert.equal(canonicalText(value), expected, name);
    assert.deepEqual(Buffer.from(canonicalBytes(value)), Buffer.from(expected, 'utf8'), name);
  }
});

test('canonicalisation refuses values Go cannot canonicalise', () => {
  const bad: JsonValue[] = [
    [1.5],
    [NaN],
    [Infinity],
    [2 ** 53],
    [1e21],
    { s: 'a\ud800' },
    { ['\udc00']: 1 },
  ];
  for (const v of bad) {
    assert.throws(
      () => canonicalText(v),
      (e: unknown) => e instanceof TufError && e.code === 'ERR_NON_CANONICAL',
    );
  }
});

test('parse → canonicalise is stable and idempotent', () => {
  const text = '{ "z": [ 1, {"b":"<&>", "a": "\\u2028"} ], "a": "\\u00e9", "m": null }';
  const once = canonicalText(parseJson(text));
  assert.equal(once, '{"a":"é","m":null,"z":[1,{"a":"\u2028","b":"<&>"}]}');
  assert.equal(canonicalText(parseJson(once.replace('\u2028', '\\u2028'))), once);
});

test('compareUtf8 agrees with Buffer.compare on UTF-8 bytes', () => {
  const samples = [
    '',
    'a',
    'b',
    'A',
    'ab',
    '\u007f',
    '\u0080',
    'é',
    '\ud7ff',
    '\ue000',
    '\uffff',
    '😀',
    '𝄞',
    'a😀',
    'a\uffff',
  ];
  for (const a of samples) {
    for (const b of samples) {
      const want = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.equal(
        Math.sign(compareUtf8(a, b)),
        want,
        `${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
      );
    }
  }
});

test('wire encoding HTML-escapes like Go and refuses control characters', () => {
  assert.equal(
    htmlEscapeCanonical('{"s":"<a>&b\u2028\u2029"}'),
    '{"s":"\\u003ca\\u003e\\u0026b\\u2028\\u2029"}',
  );
  assert.equal(htmlEscapeCanonical('{"s":"plain"}'), '{"s":"plain"}');
  assert.throws(
    () => htmlEscapeCanonical('{"s":"a\nb"}'),
    (e: unknown) => e instanceof TufError && e.code === 'ERR_UNENCODABLE',
  );
  // DEL is not a control character for Go's encoder.
  assert.equal(htmlEscapeCanonical('{"s":"\u007f"}'), '{"s":"\u007f"}');
});

test('envelope puts signed first and signature members in Go struct order', () => {
  const bytes = encodeEnvelope(canonicalText({ b: '<', a: 1 }), [
    { keyid: 'k1', method: 'ecdsa', sig: 'AAAA' },
    { keyid: 'k2', method: 'eddsa', sig: 'BBBB' },
  ]);
  assert.equal(
    Buffer.from(bytes).toString('utf8'),
    '{"signed":{"a":1,"b":"\\u003c"},"signatures":[{"keyid":"k1","method":"ecdsa","sig":"AAAA"},{"keyid":"k2","method":"eddsa","sig":"BBBB"}]}',
  );
  assert.equal(Buffer.from(encodeEnvelope('{}', [])).toString(), '{"signed":{},"signatures":[]}');
});

test('goJsonString matches Go encoding/json (HTML-safe, Go 1.19 escapes)', () => {
  const table: Array<[string, string]> = [
    ['plain', '"plain"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['\n\r\t', '"\\n\\r\\t"'],
    ['\u0000\u0008\u000c\u001f', '"\\u0000\\u0008\\u000c\\u001f"'],
    ['<>&', '"\\u003c\\u003e\\u0026"'],
    ['\u2028\u2029', '"\\u2028\\u2029"'],
    ['é😀', '"é😀"'],
    ['x\ud800y', '"x\ufffdy"'],
    ['\u007f', '"\u007f"'],
  ];
  for (const [input, want] of table) assert.equal(goJsonString(input), want, JSON.stringify(input));
});
