// PEM blocks exactly as Go's encoding/pem writes them: headers sorted by name ("Proc-Type"
// first), a blank line after headers, base64 in 64-column lines, LF endings, trailing newline.
// Root-certificate key IDs depend on these exact bytes (notary-protocol §3.4).

import { TufError } from './errors.js';

export interface PemBlock {
  type: string;
  headers: Record<string, string>;
  bytes: Uint8Array;
}

export function encodePem(block: PemBlock): string {
  let out = `-----BEGIN ${block.type}-----\n`;
  const names = Object.keys(block.headers);
  if (names.length) {
    const ordered = names.filter((n) => n !== 'Proc-Type').sort();
    if (names.includes('Proc-Type')) ordered.unshift('Proc-Type');
    for (const n of ordered) out += `${n}: ${block.headers[n]}\n`;
    out += '\n';
  }
  const b64 = Buffer.from(block.bytes).toString('base64');
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + '\n';
  return out + `-----END ${block.type}-----\n`;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Decodes every PEM block in the text; text outside blocks is ignored (as Go's pem.Decode does). */
export function decodePemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const type = m[1] as string;
    const body = m[2] as string;
    const lines = body.split(/\r?\n/);
    const headers: Record<string, string> = {};
    let i = 0;
    if (lines.some((l) => l.includes(':'))) {
      for (; i < lines.length; i++) {
        const line = lines[i] as string;
        if (line.trim() === '') {
          i++;
          break;
        }
        const colon = line.indexOf(':');
        if (colon < 0) break;
        headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
      }
    }
    const b64 = lines.slice(i).join('').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
      throw new TufError('ERR_BAD_KEY', `PEM block ${type}: invalid base64 body`);
    }
    out.push({ type, headers, bytes: new Uint8Array(Buffer.from(b64, 'base64')) });
  }
  return out;
}
