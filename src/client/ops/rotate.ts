// `key rotate <gun> <role>` (notary-protocol §7.11; Go client/client.go RotateKey,
// cmd/notary/keys.go keysRotate).
//
// Rules, checked before anything is created or asked:
//   - base roles only; timestamp only server-managed (-r); root and targets only local;
//     snapshot either;
//   - root needs an explicit confirmation (Prompter, dangerous) — the old root key must sign the
//     rotation, and clients that trust the old root follow only a cross-signed new one.
// Then: the new key — from the server (POST <role>.key), from the given key files, or generated
// (ECDSA P-256); each root key wrapped in a new certificate (§3.4). The role's keys in root are
// replaced and published at once, like Go (the staged changelist is neither applied nor
// cleared). Only after the server's 200 are the old private keys of a non-root role deleted
// locally (Go deletes them before; a failed rotation here keeps them).

import { TrustdeskError } from '../../tuf/errors.js';
import type { PublicKey } from '../../tuf/keys.js';
import { isBaseRole, isDelegationName, type BaseRole } from '../../tuf/roles.js';
import { createRootCertificate } from '../../tuf/x509.js';
import type { KeyRecord } from '../../keyring/types.js';
import { rootRoleChange } from '../changelist/change.js';
import { throwIfAborted, type RepoContext } from './context.js';
import { generateRoleKey, heldKeys, importKeyFile, keyGun, lazySigner } from './keys.js';
import { publishChanges, stagedChange, type PublishResult } from './publish.js';

export interface RotateOptions {
  /** -r/--server-managed: the server holds the new key. */
  serverManaged?: boolean;
  /** -k: Go-format private key files to rotate to. */
  keyFiles?: readonly string[];
  signal?: AbortSignal;
}

export interface RotateResult extends PublishResult {
  role: BaseRole;
  /** TUF key IDs the role now lists. */
  newKeyIds: string[];
  /** Canonical IDs of local private keys deleted after the rotation. */
  removedKeyIds: string[];
}

export function checkRotation(role: string, serverManaged: boolean): BaseRole {
  if (!isBaseRole(role)) {
    throw new TrustdeskError(
      'ERR_BAD_ROLE',
      isDelegationName(role)
        ? `delegation keys cannot be rotated this way (${role})`
        : `${JSON.stringify(role)} is not a role whose key can be rotated`,
      {
        hint: isDelegationName(role)
          ? "Use `trustdesk delegation add/remove` to change a delegation's keys."
          : 'Rotate root, targets, snapshot or timestamp.',
      },
    );
  }
  if (serverManaged && role !== 'timestamp' && role !== 'snapshot') {
    throw new TrustdeskError('ERR_USAGE', `the ${role} key cannot be server-managed`, {
      hint: 'Only the timestamp and snapshot keys can be held by the server; drop -r.',
    });
  }
  if (!serverManaged && role === 'timestamp') {
    throw new TrustdeskError('ERR_USAGE', 'the timestamp key is always held by the server', {
      hint: 'Rotate it with -r/--server-managed.',
    });
  }
  return role;
}

export async function rotateKey(
  ctx: RepoContext,
  roleName: string,
  opts: RotateOptions,
): Promise<RotateResult> {
  const { signal } = opts;
  const serverManaged = opts.serverManaged === true;
  const role = checkRotation(roleName, serverManaged);
  if (serverManaged && opts.keyFiles?.length) {
    throw new TrustdeskError(
      'ERR_USAGE',
      'give either -r/--server-managed or -k key files, not both',
    );
  }
  const what = `key rotate ${ctx.gun} ${role}`;
  const remote = ctx.remote('admin', what);
  const keyring = await ctx.keyring();
  if (role === 'root') {
    const ok = await keyring.prompter.confirm({
      message: `Rotate the root key of ${ctx.gun}? The old root key signs this rotation; clients that trust the old root then follow the new one.`,
      dangerous: true,
      ...(signal ? { signal } : {}),
    });
    if (!ok)
      throw new TrustdeskError('ERR_ABORTED', 'root key rotation cancelled; nothing was changed');
  }
  throwIfAborted(signal, what);

  let newKeys: PublicKey[];
  if (serverManaged) {
    ctx.step('server-key', `asking the server for a new ${role} key`);
    newKeys = [await remote.rotateKey(role as 'timestamp' | 'snapshot', signal)];
  } else {
    let records: KeyRecord[] = [];
    for (const file of opts.keyFiles ?? [])
      records.push(...(await importKeyFile(ctx, keyring, file, role, signal ? { signal } : {})));
    if (records.length === 0) records = [await generateRoleKey(ctx, keyring, role, signal)];
    newKeys =
      role === 'root'
        ? await Promise.all(
            records.map((r) =>
              createRootCertificate(lazySigner(keyring, r, r.publicKey), ctx.gun, {
                nowMs: ctx.nowMs(),
              }),
            ),
          )
        : records.map((r) => r.publicKey);
  }

  let oldKeys: PublicKey[] = [];
  const result = await publishChanges(ctx, [stagedChange(rootRoleChange(role, newKeys), 0)], {
    access: 'admin',
    what,
    ...(signal ? { signal } : {}),
    beforeApply: (b) => {
      oldKeys = [...b.role(role).keys.values()];
    },
  });
  const removedKeyIds = role === 'root' ? [] : await removeOldKeys(ctx, role, oldKeys, newKeys);
  return { ...result, role, newKeyIds: newKeys.map((k) => k.id), removedKeyIds };
}

/** Deletes the local private keys the role no longer uses (Go's RemoveBaseKeys). */
async function removeOldKeys(
  ctx: RepoContext,
  role: BaseRole,
  oldKeys: readonly PublicKey[],
  newKeys: readonly PublicKey[],
): Promise<string[]> {
  const keyring = await ctx.keyring();
  const held = await heldKeys(keyring);
  const keep = new Set(newKeys.map((k) => k.canonicalId));
  const removed: string[] = [];
  for (const k of oldKeys) {
    const record = held.get(k.canonicalId);
    if (!record || keep.has(record.id) || record.role !== role) continue;
    if (record.gun !== keyGun(role, ctx.gun)) continue;
    try {
      await keyring.backend(record.backend).remove(record);
      removed.push(record.id);
      ctx.emit({ type: 'key-removed', role, keyId: record.id });
    } catch (e) {
      ctx.emit({
        type: 'warning',
        code: e instanceof TrustdeskError ? e.code : 'ERR_IO',
        message: `rotated, but the old ${role} key ${record.id} could not be deleted: ${(e as Error).message}`,
      });
    }
  }
  return removed;
}
