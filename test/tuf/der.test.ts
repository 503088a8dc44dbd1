import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  DerReader,
  TAG,
  contextTag,
  derBitString,
  derBoolean,
  derExplicit,
  derGeneralizedTime,
  derIa5String,
  derImplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derTime,
  derTlv,
  derUtcTime,
  derUtf8String,
  parseDer,
  readBitString,
  readBoolean,
  readInteger,
  readNull,
  readOctetString,
  readOid,
  readSmallInteger,
  readString,
  readTime,
  readUnsignedInteger,
  type DerElement,
} from '../../src/tuf/der.js';
import { TufError } from '../../src/tuf/errors.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const isCode = (c: string) => (e: unknown) => e instanceof TufError && e.code === c;

test('encoder: known encodings', () => {
  const cases: [string, Uint8Array, string][] = [
    ['INTEGER from empty bytes', derInteger(new Uint8Array(0)), '020100'],
    ['INTEGER drops leading zeros', derInteger(bytes('000001')), '020101'],
    ['INTEGER 0x7f', derInteger(bytes('7f')), '02017f'],
    ['INTEGER 0x80 gets a sign octet', derInteger(bytes('80')), '02020080'],
    ['INTEGER 0x00ff keeps one zero', derInteger(bytes('0000ff')), '020200ff'],
    ['INTEGER 0', derInteger(0), '020100'],
    ['INTEGER 127', derInteger(127), '02017f'],
    ['INTEGER 128', derInteger(128), '02020080'],
    ['INTEGER 256', derInteger(256n), '02020100'],
    ['INTEGER -1', derInteger(-1), '0201ff'],
    ['INTEGER -128', derInteger(-128), '020180'],
    ['INTEGER -129', derInteger(-129n), '0202ff7f'],
    ['OID ecPublicKey', derOid('1.2.840.10045.2.1'), '06072a8648ce3d0201'],
    ['OID anyExtendedKeyUsage', derOid('2.5.29.37.0'), '0604551d2500'],
    ['OID 2.999.3 (X.690 example)', derOid('2.999.3'), '0603883703'],
    ['NULL', derNull(), '0500'],
    ['BOOLEAN true', derBoolean(true), '0101ff'],
    ['BOOLEAN false', derBoolean(false), '010100'],
    ['BIT STRING key usage', derBitString(bytes('a0'), 5), '030205a0'],
    ['BIT STRING empty', derBitString(new Uint8Array(0)), '030100'],
    ['OCTET STRING', derOctetString(bytes('0102')), '04020102'],
    ['UTF8String', derUtf8String('é'), '0c02c3a9'],
    ['PrintableString', derPrintableString('a/b'), '1303612f62'],
    ['IA5String', derIa5String('a@b'), '1603614062'],
    ['SEQUENCE empty', derSequence(), '3000'],
    ['SET OF is sorted', derSet(derInteger(2), derInteger(1)), '3106020101020102'],
    ['[0] EXPLICIT', derExplicit(0, derInteger(2)), 'a003020102'],
    ['[1] IMPLICIT primitive', derImplicit(1, derOctetString(bytes('01'))), '810101'],
    ['[2] IMPLICIT constructed', derImplicit(2, derSequence()), 'a200'],
    ['long form length 128', derOctetString(new Uint8Array(128)).subarray(0, 3), '048180'],
    ['long form length 256', derOctetString(new Uint8Array(256)).subarray(0, 4), '04820100'],
    ['short form length 127', derOctetString(new Uint8Array(127)).subarray(0, 2), '047f'],
  ];
  for (const [name, got, want] of cases) assert.equal(hex(got), want, name);
});

test('encoder: times follow RFC 5280 and drop sub-seconds', () => {
  const ascii = (b: Uint8Array) => Buffer.from(parseDer(b).content).toString('latin1');
  const cases: [string, Uint8Array, number, string][] = [
    ['UTCTime', derUtcTime(Date.UTC(2049, 11, 31, 23, 59, 59)), TAG.UTC_TIME, '491231235959Z'],
    ['UTCTime 1950', derUtcTime(Date.UTC(1950, 0, 1)), TAG.UTC_TIME, '500101000000Z'],
    [
      'Time before 2050 is UTCTime',
      derTime(Date.UTC(2031, 5, 15, 1, 2, 3, 999)),
      TAG.UTC_TIME,
      '310615010203Z',
    ],
    [
      'Time from 2050 is GeneralizedTime',
      derTime(Date.UTC(2050, 0, 1)),
      TAG.GENERALIZED_TIME,
      '20500101000000Z',
    ],
    [
      'Time before 1950 is GeneralizedTime',
      derTime(Date.UTC(1949, 11, 31, 23, 59, 59)),
      TAG.GENERALIZED_TIME,
      '19491231235959Z',
    ],
    [
      'GeneralizedTime',
      derGeneralizedTime(Date.UTC(2116, 1, 5, 0, 58, 57, 500)),
      TAG.GENERALIZED_TIME,
      '21160205005857Z',
    ],
  ];
  for (const [name, enc, tag, text] of cases) {
    assert.equal(enc[0], tag, name);
    assert.equal(ascii(enc), text, name);
  }
  assert.throws(() => derUtcTime(Date.UTC(2050, 0, 1)), isCode('ERR_INTERNAL'));
});

test('encoder: refuses values DER cannot hold', () => {
  const cases: [string, () => unknown][] = [
    ['bad OID text', () => derOid('1.2.')],
    ['OID first arc 3', () => derOid('3.1')],
    ['OID second arc ≥ 40 under 0/1', () => derOid('1.40')],
    ['OID leading zero arc', () => derOid('1.02')],
    ['PrintableString with *', () => derPrintableString('a*')],
    ['PrintableString with _', () => derPrintableString('a_b')],
    ['IA5String non-ASCII', () => derIa5String('é')],
    ['BIT STRING non-zero unused bits', () => derBitString(bytes('a1'), 5)],
    ['BIT STRING unused bits 8', () => derBitString(bytes('00'), 8)],
    ['unsafe number', () => derInteger(2 ** 60)],
    ['high tag number', () => derTlv(0x1f, new Uint8Array(0))],
    ['context tag 31', () => derExplicit(31, derNull())],
    ['lone surrogate', () => derUtf8String('\ud800')],
  ];
  for (const [name, f] of cases) assert.throws(f, isCode('ERR_INTERNAL'), name);
});

test('reader: round-trips every encoder', () => {
  const el = (b: Uint8Array) => parseDer(b);
  for (const v of [0n, 1n, 127n, 128n, 255n, 256n, -1n, -128n, -129n, 2n ** 127n, -(2n ** 100n)])
    assert.equal(readInteger(el(derInteger(v))), v);
  const serial = bytes('80112233445566778899aabbccddeeff');
  assert.equal(hex(readUnsignedInteger(el(derInteger(serial)))), hex(serial));
  assert.equal(hex(readUnsignedInteger(el(derInteger(bytes('00'))))), '00');
  assert.equal(readSmallInteger(el(derInteger(2048))), 2048);
  for (const o of [
    '1.2.840.10045.2.1',
    '2.5.29.37.0',
    '2.999.3',
    '0.0',
    '1.3.6.1.4.1.311.10.3.3',
    '2.25.329800735698586629295641978511506172918',
  ])
    assert.equal(readOid(el(derOid(o))), o);
  assert.equal(readBoolean(el(derBoolean(true))), true);
  assert.equal(readBoolean(el(derBoolean(false))), false);
  readNull(el(derNull()));
  assert.deepEqual(readBitString(el(derBitString(bytes('a0'), 5))), {
    bytes: bytes('a0'),
    unusedBits: 5,
  });
  assert.equal(hex(readOctetString(el(derOctetString(bytes('beef'))))), 'beef');
  assert.equal(readString(el(derUtf8String('docker.io/ä'))), 'docker.io/ä');
  assert.equal(readString(el(derPrintableString("A-z0 9'()+,./:=?"))), "A-z0 9'()+,./:=?");
  assert.equal(readString(el(derIa5String('a@b'))), 'a@b');
  assert.equal(readString(el(derTlv(TAG.BMP_STRING, bytes('00610062')))), 'ab');
  for (const t of [
    Date.UTC(2031, 5, 15, 1, 2, 3),
    Date.UTC(2050, 0, 1),
    Date.UTC(1950, 0, 1),
    Date.UTC(9999, 11, 31, 23, 59, 59),
  ])
    assert.equal(readTime(el(derTime(t))), t);
  const gt = derTlv(TAG.GENERALIZED_TIME, new TextEncoder().encode('20310615010203.25Z'));
  assert.equal(readTime(el(gt)), Date.UTC(2031, 5, 15, 1, 2, 3, 250));
  const implicit = el(derImplicit(0, derInteger(5)));
  assert.equal(implicit.tag, contextTag(0, false));
  assert.equal(readInteger(implicit, 'tagged', contextTag(0, false)), 5n);
});

test('reader: structure and DerReader', () => {
  const seq = derSequence(derInteger(1), derExplicit(0, derOid('1.2.3')), derNull());
  const root = parseDer(seq);
  assert.equal(root.tag, TAG.SEQUENCE);
  assert.equal(root.tagClass, 'universal');
  assert.equal(root.constructed, true);
  assert.equal(hex(root.raw), hex(seq));
  const r = new DerReader(root, 'test');
  assert.equal(readInteger(r.next('a', TAG.INTEGER)), 1n);
  assert.equal(r.optional(contextTag(1, true)), undefined);
  const tagged = r.optional(contextTag(0, true)) as DerElement;
  assert.equal(tagged.tagClass, 'context');
  assert.equal(tagged.tagNumber, 0);
  assert.equal(readOid(new DerReader(tagged).next('oid')), '1.2.3');
  assert.throws(() => r.end(), isCode('ERR_BAD_DER'), 'unread NULL');
  assert.throws(() => r.next('n', TAG.INTEGER), isCode('ERR_BAD_DER'), 'wrong tag');
  readNull(r.next('n'));
  r.end();
  assert.throws(() => r.next('past the end'), isCode('ERR_BAD_DER'));
  assert.throws(() => new DerReader(parseDer(derNull())), isCode('ERR_BAD_DER'), 'primitive');
});

test('reader: refuses non-DER input', () => {
  const cases: [string, string, (e: DerElement) => unknown][] = [
    ['indefinite length', '3080020100 0000', () => 0],
    ['trailing garbage', '020100 00', () => 0],
    ['length in long form below 128', '048101 00', () => 0],
    ['length with a leading zero octet', '04820080' + '00'.repeat(128), () => 0],
    ['length of 5 octets', '04850000000001 00', () => 0],
    ['length past the end', '020500', () => 0],
    ['truncated header', '30', () => 0],
    ['empty input', '', () => 0],
    ['high tag number', '1f2200', () => 0],
    ['child runs past parent', '3003 020201', (e) => new DerReader(e).rest('child')],
    ['non-minimal INTEGER 00', '0202007f', readInteger],
    ['non-minimal INTEGER ff', '0202ff80', readInteger],
    ['empty INTEGER', '0200', readInteger],
    ['negative where unsigned', '0201ff', readUnsignedInteger],
    ['BOOLEAN 0x01', '010101', readBoolean],
    ['BOOLEAN two octets', '0102ff00', readBoolean],
    ['NULL with content', '050100', readNull],
    ['BIT STRING unused bits set', '03020101', readBitString],
    ['BIT STRING unused bits 8', '03020800', readBitString],
    ['BIT STRING empty content', '0300', readBitString],
    ['BIT STRING unused bits without data', '030101', readBitString],
    ['OID non-minimal arc', '06028001', readOid],
    ['OID truncated', '060181', readOid],
    ['OID empty', '0600', readOid],
    ['UTCTime month 13', '170d' + Buffer.from('491331235959Z').toString('hex'), readTime],
    ['UTCTime Feb 30', '170d' + Buffer.from('490230235959Z').toString('hex'), readTime],
    ['UTCTime without seconds', '170b' + Buffer.from('4912312359Z').toString('hex'), readTime],
    ['UTCTime with offset', '1711' + Buffer.from('491231235959+0100').toString('hex'), readTime],
    [
      'GeneralizedTime trailing zero fraction',
      '1812' + Buffer.from('20310615010203.50Z').toString('hex'),
      readTime,
    ],
    ['GeneralizedTime without Z', '180e' + Buffer.from('20310615010203').toString('hex'), readTime],
    ['time with the wrong tag', '0401 00', readTime],
    ['PrintableString with @', '1301 40', readString],
    ['UTF8String invalid', '0c01 ff', readString],
    ['BMPString odd length', '1e01 00', readString],
    ['not a string', '0201 00', readString],
    ['INTEGER where OID wanted', '020100', readOid],
  ];
  for (const [name, h, read] of cases) {
    assert.throws(() => read(parseDer(bytes(h))), isCode('ERR_BAD_DER'), name);
  }
});

test('reader: parses what OpenSSL encodes (SPKI, PKCS#8)', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const r = new DerReader(parseDer(spki), 'spki');
  const alg = new DerReader(r.next('algorithm', TAG.SEQUENCE));
  assert.equal(readOid(alg.next('oid')), '1.2.840.10045.2.1');
  assert.equal(readOid(alg.next('curve')), '1.2.840.10045.3.1.7');
  alg.end();
  const point = readBitString(r.next('key'));
  assert.equal(point.unusedBits, 0);
  assert.equal(point.bytes.length, 65);
  r.end();
  // Re-encoding the parts gives back OpenSSL's bytes exactly.
  const again = derSequence(
    derSequence(derOid('1.2.840.10045.2.1'), derOid('1.2.840.10045.3.1.7')),
    derBitString(point.bytes),
  );
  assert.equal(hex(again), hex(spki));

  const p8 = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
  const pr = new DerReader(parseDer(p8), 'pkcs8');
  assert.equal(readSmallInteger(pr.next('version')), 0);
  pr.next('algorithm', TAG.SEQUENCE);
  const inner = parseDer(readOctetString(pr.next('privateKey')));
  assert.equal(readSmallInteger(new DerReader(inner).next('version')), 1);
  pr.end();
});
