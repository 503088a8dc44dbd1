// Private keys as the repository operations need them, all through the Keyring:
//   - signers for a role: one per role key whose canonical ID the keyring holds. They unlock
//     lazily — the passphrase/PIN is asked only when the builder actually signs with that key,
//     so a role that is not re-signed never prompts;
//   - a new role key (ECDSA P-256, as Go generates them), announced through an event;
//   - a Go-format private key file (--rootkey, key rotate -k) taken into the keyring, or the
//     already-held key when it is there (importing is then a no-op, not an error).

import { readFile } from 'node:fs/promises';
import { TrustdeskError } from '../../tuf/errors.js';
import type { PublicKey, Signer } from '../../tuf/keys.js';
import type { Keyring } from '../../keyring/keyring.js';
import type { KeyRecord } from '../../keyring/types.js';
import type { RepoContext } from './context.js';

/** Go's gun rule for key files: only targets/snapshot/timestamp keys carry the GUN. */
export function keyGun(role: string, gun: string): string {
  return role === 'targets' || role === 'snapshot' || role === 'timestamp' ? gun : '';
}

/** The keyring's records by canonical key ID (one scan per call). */
export async function heldKeys(keyring: Keyring): Promise<Map<string, KeyRecord>> {
  const out = new Map<string, KeyRecord>();
  for (const r of await keyring.list()) if (!out.has(r.id)) out.set(r.id, r);
  return out;
}

function canonicalIdOf(k: PublicKey): string | undefined {
  try {
    return k.canonicalId;
  } catch {
    return undefined; // an unparsable certificate can never be signed for
  }
}

/**
 * A Signer presenting `key` (bare or x509) for `record`; the private key is unlocked on the
 * first signature only.
 */
export function lazySigner(keyring: Keyring, record: KeyRecord, key: PublicKey): Signer {
  let unlocked: Promise<Signer> | undefined;
  return {
    keyId: key.id,
    publicKey: key,
    sign: async (message) => {
      unlocked ??= keyring.signerForRecord(record, key.isX509 ? key : undefined);
      return (await unlocked).sign(message);
    },
  };
}

/** Signers for every key in `keys` that the keyring holds. */
export function signersFor(
  keyring: Keyring,
  held: ReadonlyMap<string, KeyRecord>,
  keys: Iterable<PublicKey>,
): Signer[] {
  const out: Signer[] = [];
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.id)) continue;
    seen.add(k.id);
    const id = canonicalIdOf(k);
    const record = id === undefined ? undefined : held.get(id);
    if (record) out.push(lazySigner(keyring, record, k));
  }
  return out;
}

export async function generateRoleKey(
  ctx: RepoContext,
  keyring: Keyring,
  role: string,
  signal?: AbortSignal,
): Promise<KeyRecord> {
  const record = await keyring.generate({
    algorithm: 'ecdsa',
    role,
    gun: keyGun(role, ctx.gun),
    nowMs: ctx.nowMs(),
    ...(signal ? { signal } : {}),
  });
  ctx.emit({ type: 'key-generated', role, keyId: record.id });
  return record;
}

const MAX_KEY_FILE_BYTES = 1024 * 1024;

/**
 * The keys of a Go-notary private key PEM file, stored in the keyring (or found there already).
 * Encrypted blocks are unlocked with the passphrase for `role` (Go reads --rootkey this way).
 */
export async function importKeyFile(
  ctx: RepoContext,
  keyring: Keyring,
  path: string,
  role: string,
  opts: { requireEncrypted?: boolean; signal?: AbortSignal } = {},
): Promise<KeyRecord[]> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_KEY_FILE_BYTES)
      throw new TrustdeskError('ERR_TOO_LARGE', `${path} is too large for a key file`);
    text = buf.toString('utf8');
  } catch (e) {
    if (e instanceof TrustdeskError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrustdeskError(
      code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_IO',
      `cannot read the key file ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      { cause: e },
    );
  }
  // Only --rootkey and `key rotate -k` read Go key files: load that code then.
  const [
    { decodeGoKeyBlock, readGoKeyBlocks },
    { publicKeyOfMaterial },
    { unlockWithPassphrase },
    { wipe },
  ] = await Promise.all([
    import('../../keyring/go-pem.js'),
    import('../../keyring/private-key.js'),
    import('../../keyring/prompter.js'),
    import('../../keyring/types.js'),
  ]);
  const gun = keyGun(role, ctx.gun);
  const held = await heldKeys(keyring);
  const out: KeyRecord[] = [];
  for (const block of readGoKeyBlocks(text, path)) {
    if (opts.requireEncrypted && !block.encrypted) {
      throw new TrustdeskError('ERR_BAD_KEY', `${path}: a ${role} key file must be encrypted`, {
        hint: 'Export the key encrypted (`notary key export` / `trustdesk key export`) and retry.',
      });
    }
    const material = block.encrypted
      ? await unlockWithPassphrase(
          keyring.prompter,
          { role, gun, keyId: '', ...(opts.signal ? { signal: opts.signal } : {}) },
          (pass) => Promise.resolve(decodeGoKeyBlock(block, pass, path)),
        )
      : decodeGoKeyBlock(block, undefined, path);
    try {
      const existing = held.get(publicKeyOfMaterial(material).id);
      out.push(
        existing ??
          (await keyring.importMaterial(material, {
            role,
            gun,
            nowMs: ctx.nowMs(),
            ...(opts.signal ? { signal: opts.signal } : {}),
          })),
      );
    } finally {
      wipe(material.pkcs8);
    }
  }
  return out;
}
