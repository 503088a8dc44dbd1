// Throwaway PKI for the token-auth tests, built at run time with node:crypto and a few lines of
// DER: ECDSA P-256 certificates with ecdsa-with-SHA256 signatures, any validity window, CA or
// leaf. Nothing here is committed, so nothing can expire in the repository.

import {
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...items: Buffer[]) => tlv(0x30, ...items);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const v of rest) {
    const groups: number[] = [];
    for (let x = v; ; x = Math.floor(x / 128)) {
      groups.unshift((x % 128) | (groups.length ? 0x80 : 0));
      if (x < 128) break;
    }
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(ms: number): Buffer {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  return y < 2050
    ? tlv(0x17, Buffer.from(`${p(y % 100)}${rest}`))
    : tlv(0x18, Buffer.from(`${y}${rest}`));
}

const name = (cn: string) => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

/** KeyUsage bits as in the BIT STRING: digitalSignature = 0x80, keyCertSign = 0x04. */
export const KU = { digitalSignature: 0x80, keyCertSign: 0x04, cRLSign: 0x02 } as const;

export interface CertSpec {
  cn: string;
  key: KeyObject;
  issuer?: { cn: string; key: KeyObject };
  notBeforeMs: number;
  notAfterMs: number;
  ca: boolean;
  keyUsage?: number;
}

export interface TestCert {
  der: Buffer;
  pem: string;
  x509: X509Certificate;
}

export function makeCert(spec: CertSpec): TestCert {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01;
  const bc = spec.ca ? seq(tlv(0x01, Buffer.from([0xff]))) : seq();
  const ku = spec.keyUsage ?? (spec.ca ? KU.keyCertSign | KU.cRLSign : KU.digitalSignature);
  let unused = 0;
  while (unused < 7 && !(ku & (1 << unused))) unused++;
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, bc)),
      seq(
        oid('2.5.29.15'),
        tlv(0x01, Buffer.from([0xff])),
        tlv(0x04, tlv(0x03, Buffer.from([unused, ku]))),
      ),
    ),
  );
  const issuer = spec.issuer ?? { cn: spec.cn, key: spec.key };
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_SHA256,
    name(issuer.cn),
    seq(time(spec.notBeforeMs), time(spec.notAfterMs)),
    name(spec.cn),
    (spec.key.type === 'public' ? spec.key : createPublicKey(spec.key)).export({
      type: 'spki',
      format: 'der',
    }),
    extensions,
  );
  const sig = sign('sha256', tbs, issuer.key);
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), sig));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  const pem = `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
  return { der, pem, x509: new X509Certificate(der) };
}

export function p256(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}
