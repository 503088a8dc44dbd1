// `trustdesk key restore --key <id>`: rebuilds a key from its 24 words (from --from-file or typed
// on the terminal with echo off), checks it against the expected id — the canonical id, or with
// --root-cert (a certificate PEM or a root.json) the certificate's TUF id — and only then stores it.

import { resolve } from 'node:path';
import { TrustdeskError } from '../../tuf/errors.js';
import { PublicKey } from '../../tuf/keys.js';
import { parseRoot } from '../../tuf/metadata.js';
import { decodePemBlocks } from '../../tuf/pem.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { readInputFile } from '../files.js';
import {
  backendName,
  makePrompter,
  onlyOptions,
  openKeyring,
  opt,
  positionalCount,
  recordJson,
} from './key-context.js';
import { TtyPrompter } from './key-tty-prompter.js';

/** The x509 root key the backup belongs to, from a certificate PEM or a root.json. */
function rootCertificate(bytes: Uint8Array, what: string, expectedId: string): PublicKey {
  const text = new TextDecoder().decode(bytes);
  if (text.trimStart().startsWith('{')) {
    const root = parseRoot(bytes);
    const keys = root.signed.roles.root.keyids
      .map((id) => root.signed.keys.get(id))
      .filter((k): k is PublicKey => k !== undefined);
    const hit = keys.find(
      (k) => k.isX509 && (k.id.startsWith(expectedId) || k.canonicalId.startsWith(expectedId)),
    );
    if (!hit)
      throw new TrustdeskError(
        'ERR_KEY_NOT_FOUND',
        `${what}: no root key ${expectedId} in the root role`,
      );
    return hit;
  }
  const certs = decodePemBlocks(text).filter((b) => b.type === 'CERTIFICATE');
  if (certs.length === 0) throw new TrustdeskError('ERR_BAD_CERT', `${what}: no CERTIFICATE block`);
  return PublicKey.fromCertificates(certs.map((c) => c.bytes));
}

export async function runKeyRestore(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  onlyOptions(args, 'restore', [
    'key',
    'root-cert',
    'from-file',
    'role',
    'gun',
    'backend',
    'passphrase-file',
    'pin-file',
  ]);
  positionalCount(args, 'restore', 0, 0);
  const expectedId = opt(args, 'key')?.toLowerCase();
  if (expectedId === undefined) {
    throw new TrustdeskError(
      'ERR_USAGE',
      'key restore needs --key <id>: the id the restored key must have',
      {
        hint: 'Use the key id from `trustdesk key list`, root.json or the backup sheet.',
      },
    );
  }
  const certFile = opt(args, 'root-cert');
  const rootCert =
    certFile === undefined
      ? undefined
      : rootCertificate(await readInputFile(ctx.io, certFile), certFile, expectedId);
  const from = opt(args, 'from-file');
  let words: string;
  if (from !== undefined) {
    words = new TextDecoder().decode(await readInputFile(ctx.io, resolve(ctx.io.cwd, from)));
  } else if (ctx.interactive) {
    words = await new TtyPrompter(process.stdin, ctx.io.stderr).readLine(
      'Type the 24 words of the paper backup (hidden), then Enter: ',
      true,
    );
  } else {
    throw new TrustdeskError('ERR_NO_TTY', 'no terminal to type the 24 words on', {
      hint: 'Give them with --from-file <file>.',
    });
  }
  const keyring = await openKeyring(ctx, args, makePrompter(ctx, args));
  try {
    const backend = backendName(args);
    const record = await keyring.restore(
      words,
      { expectedId, ...(rootCert ? { rootCertificate: rootCert } : {}) },
      {
        role: opt(args, 'role') ?? 'root',
        gun: opt(args, 'gun') ?? '',
        nowMs: ctx.io.nowMs(),
        ...(backend ? { backend } : {}),
      },
    );
    return {
      json: { key: recordJson(record), ...(rootCert ? { certificateId: rootCert.id } : {}) },
      text: () =>
        `Restored ${record.algorithm} ${record.role} key ${record.id}${rootCert ? ` (root certificate key ${rootCert.id})` : ''} into ${record.location}`,
    };
  } finally {
    await keyring.close();
  }
}
