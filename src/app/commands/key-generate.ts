// `trustdesk key generate [ecdsa|ed25519]`: a new key in a backend, or (with -o F) Go notary's
// `F-key.pem` (encrypted PKCS#8, role header) and `F.pem` (PUBLIC KEY, role header), not stored.

import { resolve } from 'node:path';
import { TrustdeskError } from '../../tuf/errors.js';
import { encodePem } from '../../tuf/pem.js';
import { atomicWrite } from '../../keyring/atomic-file.js';
import { encodeGoPem } from '../../keyring/go-pem.js';
import { normaliseRoleGun } from '../../keyring/keyring.js';
import { generateMaterial, publicKeyOfMaterial } from '../../keyring/private-key.js';
import { askNewPassphrase } from '../../keyring/prompter.js';
import { parseKeyUri, wipe, type GenerateAlgorithm } from '../../keyring/types.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import {
  backendName,
  makePrompter,
  onlyOptions,
  openKeyring,
  opt,
  positionalCount,
  recordJson,
} from './key-context.js';

function algorithmOf(arg: string | undefined): GenerateAlgorithm {
  const a = (arg ?? 'ecdsa').toLowerCase();
  if (a !== 'ecdsa' && a !== 'ed25519') {
    throw new TrustdeskError('ERR_USAGE', `cannot generate ${JSON.stringify(arg)} keys`, {
      hint: 'Use ecdsa (the default) or ed25519.',
    });
  }
  return a;
}

export async function runKeyGenerate(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  onlyOptions(args, 'generate', [
    'role',
    'gun',
    'backend',
    'token',
    'output',
    'passphrase-file',
    'pin-file',
  ]);
  const [algArg] = positionalCount(args, 'generate', 0, 1);
  const algorithm = algorithmOf(algArg);
  const { role, gun } = normaliseRoleGun(opt(args, 'role') ?? 'root', opt(args, 'gun') ?? '');
  const out = opt(args, 'output');
  const prompter = makePrompter(ctx, args);
  if (out !== undefined) {
    if (opt(args, 'backend') !== undefined || opt(args, 'token') !== undefined) {
      throw new TrustdeskError(
        'ERR_USAGE',
        '-o writes key files; it cannot be combined with --backend or --token',
      );
    }
    const material = generateMaterial(algorithm);
    try {
      const pk = publicKeyOfMaterial(material);
      const passphrase = await askNewPassphrase(prompter, { role, gun, keyId: pk.id });
      const base = resolve(ctx.io.cwd, out);
      const enc = new TextEncoder();
      await atomicWrite(
        `${base}-key.pem`,
        enc.encode(encodeGoPem(material, { role, gun, passphrase })),
        'create',
      );
      // As Go: the key's `public` bytes (DER SPKI for ecdsa, raw 32 bytes for ed25519).
      const pubPem = encodePem({ type: 'PUBLIC KEY', headers: { role }, bytes: pk.publicBytes });
      await atomicWrite(`${base}.pem`, enc.encode(pubPem), 'create');
      return {
        json: {
          key: {
            id: pk.id,
            role,
            gun,
            algorithm,
            privateKeyFile: `${base}-key.pem`,
            publicKeyFile: `${base}.pem`,
          },
        },
        text: () =>
          `Generated new ${algorithm} ${role} key with keyID: ${pk.id}\nWrote ${base}-key.pem and ${base}.pem`,
      };
    } finally {
      wipe(material.pkcs8);
    }
  }
  const token = opt(args, 'token');
  const keyring = await openKeyring(ctx, args, prompter);
  try {
    const backend = backendName(args) ?? (token !== undefined ? 'pkcs11' : undefined);
    const record = await keyring.generate({
      algorithm,
      role,
      gun,
      nowMs: ctx.io.nowMs(),
      ...(backend ? { backend } : {}),
      ...(token !== undefined ? { target: parseKeyUri(token) } : {}),
    });
    return {
      json: { key: recordJson(record) },
      text: () =>
        `Generated new ${algorithm} ${role} key with keyID: ${record.id}\nStored in ${record.location}`,
    };
  } finally {
    await keyring.close();
  }
}
