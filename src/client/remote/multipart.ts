// The upload body exactly as Go's client builds it (notary-protocol §4.2; storage/httpstore.go
// NewMultiPartMetaRequest with Go's mime/multipart writer):
//   - boundary: 30 random bytes in hex;
//   - one part per role, form field `files`, filename = the role name without `.json`, slashes
//     kept (`targets/releases`), quotes and backslashes escaped as Go's escapeQuotes does;
//   - part headers in Go's (sorted) order: Content-Disposition, then Content-Type
//     application/octet-stream;
//   - framing: `--B\r\n` before the first part, `\r\n--B\r\n` between parts, `\r\n--B--\r\n`
//     at the end; request Content-Type `multipart/form-data; boundary=B`.
// Roles are written in the order given (Go's map order is random; the server does not care).

import { randomBytes } from 'node:crypto';
import { TrustdeskError } from '../../tuf/errors.js';
import { isValidRole } from '../../tuf/roles.js';

export interface MultipartBody {
  contentType: string;
  body: Uint8Array;
}

function escapeQuotes(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

export function multipartMetadata(
  files: ReadonlyMap<string, Uint8Array>,
  boundary: string = randomBytes(30).toString('hex'),
): MultipartBody {
  if (files.size === 0) throw new TrustdeskError('ERR_USAGE', 'nothing to upload');
  const parts: Buffer[] = [];
  let first = true;
  for (const [role, bytes] of files) {
    if (!isValidRole(role))
      throw new TrustdeskError('ERR_BAD_ROLE', `cannot upload ${JSON.stringify(role)}: not a role`);
    const head =
      `${first ? '' : '\r\n'}--${boundary}\r\n` +
      `Content-Disposition: form-data; name="files"; filename="${escapeQuotes(role)}"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`;
    parts.push(
      Buffer.from(head, 'utf8'),
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
    );
    first = false;
  }
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'));
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: new Uint8Array(Buffer.concat(parts)),
  };
}
