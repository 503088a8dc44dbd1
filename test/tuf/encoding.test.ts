// Strict base64 (src/tuf/encoding.ts fromBase64): standard alphabet, padded, as Go's
// base64.StdEncoding decodes — which also accepts non-zero trailing bits.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromBase64, toBase64 } from '../../src/tuf/encoding.js';
import { TufError } from '../../src/tuf/errors.js';

/** The rule spelled out as a pattern (the reference for the fuzz below). */
const STRICT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const accepts = (s: string): boolean => {
  try {
    fromBase64(s, 'field');
    return true;
  } catch (e) {
    assert.ok(e instanceof TufError);
    assert.equal(e.code, 'ERR_BAD_METADATA');
    assert.equal(e.message, 'field: not standard padded base64');
    return false;
  }
};

describe('fromBase64', () => {
  test('decodes standard padded base64, including non-canonical trailing bits', () => {
    for (const [s, bytes] of [
      ['', []],
      ['QQ==', [0x41]],
      ['QUI=', [0x41, 0x42]],
      ['QUJD', [0x41, 0x42, 0x43]],
      ['+/+/', [0xfb, 0xff, 0xbf]],
      ['QR==', [0x41]], // trailing bits 0b0001: Go decodes it as "A"
      ['QUJ=', [0x41, 0x42]],
    ] as const) {
      const out = fromBase64(s, 'field');
      assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype, s);
      assert.deepEqual(out, new Uint8Array(bytes), s);
    }
  });

  test('refuses unpadded, url-safe, whitespace, misplaced padding and other junk', () => {
    for (const s of [
      'QQ',
      'QUI',
      'QQ=',
      'Q===',
      '====',
      '-_8=',
      'QQ==QQ==',
      'QU I=',
      'QUI=\n',
      ' QUI=',
      'QUJDé===',
      'QUJD\u0000',
      'QUJ*',
    ])
      assert.equal(accepts(s), false, JSON.stringify(s));
  });

  test('accepts exactly what the strict pattern accepts (deterministic fuzz)', () => {
    const alphabet = 'AQgw+/=-_ \n.';
    let seed = 1;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      let s = '';
      for (let n = next() % 13; n > 0; n--) s += alphabet[next() % alphabet.length];
      assert.equal(accepts(s), STRICT.test(s), JSON.stringify(s));
    }
  });

  test('round-trips with toBase64', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
      assert.deepEqual(fromBase64(toBase64(bytes), 'field'), bytes);
    }
  });
});
