// `init` (notary-protocol §7.5; Go client/client.go initialize, cmd/notary/tuf.go tufInit).
//
// Order, so that a failure leaves nothing half-made:
//   1. refuse when the GUN already has a cached root (re-initialising would replace the trust
//      anchor of an existing repository; `delete` it first);
//   2. the server's timestamp key (and snapshot key when the server manages the snapshot) is
//      fetched FIRST: a server that is down fails the command before any key is generated;
//   3. the root key: --rootkey file (imported into the keyring), else the first root key the
//      keyring holds, else a new ECDSA P-256 key; its x509 certificate is --rootcert (which
//      must belong to the key) or a new one made per §3.4 through the key's Signer;
//   4. new targets key and (unless server-managed) snapshot key, ECDSA P-256 (made alongside the
//      root certificate when no person is asked anything);
//   5. root v1, targets v1 (and snapshot v1) signed by RepoBuilder (threshold 1 everywhere,
//      consistent_snapshot false), each checked as a client would check it (root: certificate
//      rules and its own signatures; the others: signatures by the keys root lists), then
//      written to the cache (root last, so a crash never leaves a root without its targets).
// Nothing is uploaded; `publish` (or -p) does that.

import { RepoBuilder } from '../../tuf/builder.js';
import { TrustdeskError } from '../../tuf/errors.js';
import type { PublicKey } from '../../tuf/keys.js';
import { parseRoot, parseSnapshot, parseTargets } from '../../tuf/metadata.js';
import { rootRoleVerifier, verifyRoot } from '../../tuf/root-trust.js';
import { verifyThreshold } from '../../tuf/verify.js';
import { createRootCertificate } from '../../tuf/x509.js';
import type { KeyRecord } from '../../keyring/types.js';
import { throwIfAborted, type RepoContext } from './context.js';
import { generateRoleKey, heldKeys, importKeyFile, lazySigner, signersFor } from './keys.js';
import { readCertificateFile } from './pem-keys.js';

export interface InitOptions {
  /** Go-format private key file for the root key (--rootkey). */
  rootKeyFile?: string;
  /** PEM certificate of the root key (--rootcert). */
  rootCertFile?: string;
  /** Let the server hold the snapshot key (Go's library option; the CLI rotates instead). */
  serverManagedSnapshot?: boolean;
  signal?: AbortSignal;
}

export interface InitResult {
  gun: string;
  /** Canonical ID of the root key; the root role lists its certificate under `rootCertId`. */
  rootKeyId: string;
  rootCertId: string;
  /** TUF key IDs of each role, as root.json lists them. */
  keys: { root: string; targets: string; snapshot: string; timestamp: string };
  serverManagedSnapshot: boolean;
  /** Versions written to the cache. */
  versions: Record<string, number>;
}

async function rootKeyRecord(
  ctx: RepoContext,
  opts: InitOptions,
  cert: PublicKey | undefined,
  heldById: ReadonlyMap<string, KeyRecord>,
): Promise<KeyRecord> {
  const keyring = await ctx.keyring();
  if (opts.rootKeyFile !== undefined) {
    const records = await importKeyFile(ctx, keyring, opts.rootKeyFile, 'root', {
      requireEncrypted: true,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return records[0] as KeyRecord;
  }
  const held = [...heldById.values()];
  if (cert) {
    const hit = held.find((r) => r.id === cert.canonicalId);
    if (!hit) {
      throw new TrustdeskError(
        'ERR_KEY_NOT_FOUND',
        `no private key for the root certificate (key ${cert.canonicalId}) is held`,
        { hint: 'Import the root key (`trustdesk key import`) or give it with --rootkey.' },
      );
    }
    return hit;
  }
  const root = held.find((r) => r.role === 'root');
  if (root) {
    ctx.step('root-key', `using the root key ${root.id}`);
    return root;
  }
  return generateRoleKey(ctx, keyring, 'root', opts.signal);
}

export async function initRepository(ctx: RepoContext, opts: InitOptions): Promise<InitResult> {
  const signal = opts.signal;
  if (await ctx.cache.read('root')) {
    throw new TrustdeskError(
      'ERR_USAGE',
      `${ctx.gun} is already initialised in this trust directory`,
      {
        hint: `Publish it, or remove the local copy first with \`trustdesk delete ${ctx.gun}\`.`,
      },
    );
  }
  const remote = ctx.remote('push', `init ${ctx.gun}`);
  ctx.step('server-keys', 'fetching the server-managed keys');
  // The keyring's index is read (nothing unlocked) while the server answers.
  const heldAtStart = ctx.keyring().then(heldKeys);
  heldAtStart.catch(() => {}); // awaited below
  const timestampKey = await remote.getKey('timestamp', signal);
  const serverSnapshotKey = opts.serverManagedSnapshot
    ? await remote.getKey('snapshot', signal)
    : undefined;
  throwIfAborted(signal, 'init');

  const cert =
    opts.rootCertFile === undefined ? undefined : await readCertificateFile(opts.rootCertFile);
  const held = new Map(await heldAtStart);
  const rootRecord = await rootKeyRecord(ctx, opts, cert, held);
  if (cert && cert.canonicalId !== rootRecord.id) {
    throw new TrustdeskError(
      'ERR_KEY_MISMATCH',
      `the root certificate (key ${cert.canonicalId}) does not belong to the root key ${rootRecord.id}`,
    );
  }
  const keyring = await ctx.keyring();
  const nowMs = ctx.nowMs();
  // The root certificate and the new keys are independent: with an unattended prompter they
  // are made concurrently (file writes overlap); otherwise one question at a time, in order.
  const makeCert = () =>
    cert
      ? Promise.resolve(cert)
      : createRootCertificate(lazySigner(keyring, rootRecord, rootRecord.publicKey), ctx.gun, {
          nowMs,
        });
  const makeTargets = () => generateRoleKey(ctx, keyring, 'targets', signal);
  const makeSnapshot = () =>
    serverSnapshotKey
      ? Promise.resolve(undefined)
      : generateRoleKey(ctx, keyring, 'snapshot', signal);
  const [rootCert, targetsMade, snapshotMade] = keyring.prompter.unattended
    ? await allOrFirstError([makeCert(), makeTargets(), makeSnapshot()] as const)
    : ([await makeCert(), await makeTargets(), await makeSnapshot()] as const);
  throwIfAborted(signal, 'init');

  // The keys used or made here join the index read above (no second scan of the key store).
  const note = (r: KeyRecord): KeyRecord => {
    if (!held.has(r.id)) held.set(r.id, r); // as heldKeys: the first record of an ID wins
    return r;
  };
  note(rootRecord);
  const targetsRecord = note(targetsMade);
  const snapshotKey = serverSnapshotKey ?? note(snapshotMade as KeyRecord).publicKey;
  const builder = RepoBuilder.create({
    gun: ctx.gun,
    rootKeys: [rootCert],
    targetsKeys: [targetsRecord.publicKey],
    snapshotKeys: [snapshotKey],
    timestampKeys: [timestampKey],
  });
  ctx.step('sign', 'signing root, targets and snapshot');
  const files = await builder.sign({
    nowMs,
    signers: (role) => signersFor(keyring, held, builder.role(role).keys.values()),
  });
  await cacheInitialFiles(ctx, files, nowMs);
  const versions: Record<string, number> = {};
  for (const role of files.keys()) {
    versions[role] = builder.version(role);
    ctx.emit({ type: 'signed', role, version: builder.version(role) });
  }
  return {
    gun: ctx.gun,
    rootKeyId: rootRecord.id,
    rootCertId: rootCert.id,
    keys: {
      root: rootCert.id,
      targets: targetsRecord.publicKey.id,
      snapshot: snapshotKey.id,
      timestamp: timestampKey.id,
    },
    serverManagedSnapshot: serverSnapshotKey !== undefined,
    versions,
  };
}

/** Every result, or the first failure (in task order) once all have settled: nothing runs on. */
async function allOrFirstError<T extends readonly unknown[]>(running: {
  readonly [K in keyof T]: Promise<T[K]>;
}): Promise<T> {
  const settled = await Promise.allSettled(running);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Verifies the new files as a client would, then caches them (root last). */
async function cacheInitialFiles(
  ctx: RepoContext,
  files: ReadonlyMap<string, Uint8Array>,
  nowMs: number,
): Promise<void> {
  const root = verifyRoot(parseRoot(files.get('root') as Uint8Array), { gun: ctx.gun, nowMs });
  const targets = verifyThreshold(
    parseTargets(files.get('targets') as Uint8Array),
    'targets',
    rootRoleVerifier(root, 'targets'),
  );
  const snapBytes = files.get('snapshot');
  const snapshot = snapBytes
    ? verifyThreshold(parseSnapshot(snapBytes), 'snapshot', rootRoleVerifier(root, 'snapshot'))
    : undefined;
  await ctx.cache.clear();
  await ctx.cache.writeAll([snapshot ? [targets, snapshot] : [targets], [root]]);
}
