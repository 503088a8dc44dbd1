// Public keys and certificates from PEM files, as Go's utils.ParsePEMPublicKey reads them
// (notary-protocol §3.4): a CERTIFICATE becomes an x509 key (ecdsa-x509 / rsa-x509, PEM
// re-encoded exactly as Go does), a PUBLIC KEY (PKIX DER) becomes an ecdsa, rsa or ed25519 key.
// Only the first PEM block counts, as in Go.

import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TrustdeskError } from '../../tuf/errors.js';
import { PublicKey } from '../../tuf/keys.js';
import { decodePemBlocks } from '../../tuf/pem.js';

const MAX_PEM_BYTES = 1024 * 1024;

export async function readSmallFile(path: string, what: string): Promise<string> {
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_PEM_BYTES)
      throw new TrustdeskError(
        'ERR_TOO_LARGE',
        `${what} ${path} is too large (${buf.length} bytes)`,
      );
    return buf.toString('utf8');
  } catch (e) {
    if (e instanceof TrustdeskError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrustdeskError(
      code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_IO',
      `cannot read the ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      { cause: e },
    );
  }
}

function badKey(path: string, msg: string, cause?: unknown): TrustdeskError {
  return new TrustdeskError('ERR_BAD_KEY', `${path}: ${msg}`, {
    hint: 'Give a PEM file holding a CERTIFICATE or a PUBLIC KEY block (e.g. from `trustdesk key generate`).',
    cause,
  });
}

/** The public key (or certificate key) in a PEM file. */
export async function readPublicKeyFile(path: string): Promise<PublicKey> {
  const text = await readSmallFile(path, 'public key file');
  let block;
  try {
    block = decodePemBlocks(text)[0];
  } catch (e) {
    throw badKey(path, (e as Error).message, e);
  }
  if (!block) throw badKey(path, 'no PEM block found');
  try {
    if (block.type === 'CERTIFICATE') {
      new X509Certificate(Buffer.from(block.bytes)); // parses, or throws
      return PublicKey.fromCertificates([block.bytes]);
    }
    if (block.type === 'PUBLIC KEY') {
      return PublicKey.fromKeyObject(
        createPublicKey({ key: Buffer.from(block.bytes), format: 'der', type: 'spki' }),
      );
    }
  } catch (e) {
    if (e instanceof TrustdeskError) throw badKey(path, e.message, e);
    throw badKey(path, `the ${block.type} does not parse: ${(e as Error).message}`, e);
  }
  throw badKey(path, `a ${block.type} block is not a public key or certificate`);
}

/** A root certificate file (--rootcert): must hold a CERTIFICATE. */
export async function readCertificateFile(path: string): Promise<PublicKey> {
  const key = await readPublicKeyFile(path);
  if (!key.isX509) throw badKey(path, 'a root certificate file must hold a CERTIFICATE block');
  return key;
}
