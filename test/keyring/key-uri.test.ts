import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatKeyUri, parseKeyUri, type KeyUri } from '../../src/keyring/types.js';
import { TrustdeskError } from '../../src/tuf/errors.js';

const ID = 'ab'.repeat(32);

test('key URIs parse to the expected structure and format back to a URI that parses the same', () => {
  const cases: [string, KeyUri][] = [
    [
      'file:/home/u/.notary/private/x.json',
      { scheme: 'file', ref: '/home/u/.notary/private/x.json' },
    ],
    [`file:${ID}`, { scheme: 'file', ref: ID }],
    [`keychain:${ID}`, { scheme: 'keychain', keyId: ID }],
    [
      'pkcs11:token=YubiKey%20PIV;id=%02;type=private?module-path=/usr/lib/libykcs11.so',
      {
        scheme: 'pkcs11',
        attrs: {
          token: 'YubiKey PIV',
          id: Uint8Array.of(2),
          type: 'private',
          'module-path': '/usr/lib/libykcs11.so',
        },
        vendor: {},
      },
    ],
    [
      'pkcs11:serial=DECC0401648;object=root%20key%3Bv1;x-slot-hint=9c',
      {
        scheme: 'pkcs11',
        attrs: { serial: 'DECC0401648', object: 'root key;v1' },
        vendor: { 'x-slot-hint': '9c' },
      },
    ],
    ['pkcs11:', { scheme: 'pkcs11', attrs: {}, vendor: {} }],
    ['PKCS11:token=T%c3%a9st', { scheme: 'pkcs11', attrs: { token: 'Tést' }, vendor: {} }],
  ];
  for (const [text, want] of cases) {
    const got = parseKeyUri(text);
    assert.deepEqual(got, want, text);
    assert.deepEqual(parseKeyUri(formatKeyUri(got)), want, `round trip of ${text}`);
  }
});

test('formatting percent-encodes separators, non-ASCII text and every id byte', () => {
  const uri = formatKeyUri({
    scheme: 'pkcs11',
    attrs: { token: 'a;b?c é', id: Uint8Array.of(0x9c, 0x41), 'module-path': '/opt/my lib/p11.so' },
    vendor: {},
  });
  assert.equal(uri, 'pkcs11:token=a%3bb%3fc%20%c3%a9;id=%9c%41?module-path=/opt/my%20lib/p11.so');
});

test('bad key URIs fail with ERR_BAD_KEY_URI and say why', () => {
  const cases: [string, RegExp][] = [
    ['foo:bar', /scheme/],
    [ID, /scheme/],
    ['file:', /path or a key ID/],
    ['keychain:XYZ', /hex key ID/],
    ['pkcs11:token=a;token=b', /given twice/],
    ['pkcs11:slot=3', /unknown path attribute "slot"/],
    ['pkcs11:token=a?pin-value=1234', /pin-value is refused/],
    ['pkcs11:token=a?token=b', /unknown query attribute "token"/],
    ['pkcs11:id=%zz', /percent-escape/],
    ['pkcs11:token=%ff', /not UTF-8/],
    ['pkcs11:type=secret', /type must be one of/],
    ['pkcs11:token', /no name=value/],
  ];
  for (const [text, why] of cases) {
    assert.throws(
      () => parseKeyUri(text),
      (e: unknown) =>
        e instanceof TrustdeskError && e.code === 'ERR_BAD_KEY_URI' && why.test(e.message),
      text,
    );
  }
});
