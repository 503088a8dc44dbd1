// Root validation and trust pinning (notary-protocol §7.7, §7.8; Go trustpinning/certs.go
// ValidateRoot and trustpinning/trustpin.go). Pure: CA bundles arrive as PEM text.
//
// verifyRoot(candidate, { gun, nowMs, trusted?, pinning?, allowExpired? }), in order:
//   1. structure — already enforced by parseRoot;
//   2. the candidate's root-role keys → valid leaf certificates (x509.ts validRootLeaf; expiry
//      checked unless allowExpired); none → ERR_BAD_ROOT "unable to retrieve valid leaf
//      certificates";
//   3. with `trusted`: the candidate must carry valid signatures meeting the TRUSTED root's root
//      threshold, from the trusted root's root-role certificates (CN must match, expiry NOT
//      checked) → else ERR_BAD_ROOT (rotation not signed by the previous root keys);
//   4. trust pinning filter on the candidate's leaves (first match wins):
//        certs[gun] exact, else the longest `prefix*` key prefixing the GUN → the TUF ID of
//          leaf + intermediates must be listed;
//        else ca: the longest key that is a string prefix of the GUN → the leaf must chain to a
//          valid certificate of that PEM bundle (x509.ts chainProblem: serverAuth or no EKU);
//        else TOFU: every leaf passes — unless disableTofu and there is no `trusted` root →
//          ERR_TRUST_PINNING "invalid trust pinning specified";
//      no leaf passes → ERR_TRUST_PINNING. As in Go, `pinning` applies whenever it is given,
//      also with `trusted`: callers pass it on first contact and when the cached root has
//      expired (Go re-applies pinning then), and omit it for a current cached root;
//   5. the candidate must carry valid signatures meeting its OWN root threshold from its passing
//      certificates (keys = Go's re-encoding, so a signature by a non-Go-encoded PEM's ID does
//      not count) → ERR_BAD_ROOT otherwise;
//   6. unless allowExpired, an expired candidate → ERR_EXPIRED (checked last, as Go does).
// Version rules are NOT checked here: callers do (client: not below the trusted version;
// server: current or current+1).

import { type X509Certificate } from 'node:crypto';
import { TufError, isTrustdeskError } from './errors.js';
import { type PublicKey } from './keys.js';
import { type Metadata, type RootSigned } from './metadata.js';
import { type BaseRole } from './roles.js';
import { Verified, verifyThreshold, type RoleVerifier } from './verify.js';
import {
  certificateProblem,
  chainProblem,
  loadCertBundle,
  validRootLeaf,
  type RootLeaf,
} from './x509.js';

export interface TrustPinning {
  /** GUN (or `prefix*`) → TUF key IDs of the allowed root certificates (leaf + intermediates). */
  certs?: Record<string, string[]>;
  /** GUN prefix → PEM bundle text of the CA certificates. */
  ca?: Record<string, string>;
  disableTofu?: boolean;
}

export interface VerifyRootOptions {
  gun: string;
  nowMs: number;
  /** The root trusted so far; absent on first contact. */
  trusted?: Verified<RootSigned>;
  /** Applied whenever given (see the rules above). */
  pinning?: TrustPinning;
  /** Skip the expiry checks of the candidate (its `expires` and its leaf certificates). */
  allowExpired?: boolean;
}

/** Valid leaves of a root's root-role keys, and why the others were refused. */
function rootLeaves(
  root: RootSigned,
  gun: string,
  nowMs: number,
  checkExpiry: boolean,
): { leaves: RootLeaf[]; problems: string[] } {
  const leaves: RootLeaf[] = [];
  const problems: string[] = [];
  for (const id of new Set(root.roles.root.keyids)) {
    const key = root.keys.get(id);
    if (!key) continue; // parseRoot already refuses this
    try {
      leaves.push(validRootLeaf(key, gun, { nowMs, checkExpiry }));
    } catch (e) {
      if (!isTrustdeskError(e)) throw e;
      problems.push(e.message);
    }
  }
  return { leaves, problems };
}

function leafVerifier(leaves: readonly RootLeaf[], threshold: number): RoleVerifier {
  const keys = new Map<string, PublicKey>(leaves.map((l) => [l.key.id, l.key]));
  return { keys, keyids: [...keys.keys()], threshold };
}

type PinCheck = (leaf: RootLeaf) => boolean;

/** Longest `prefix*` entry of certs whose prefix starts the GUN (Go wildcardMatch). */
function wildcardCerts(certs: Record<string, string[]>, gun: string): string[] | undefined {
  let best: string | undefined;
  for (const k of Object.keys(certs)) {
    if (
      k.endsWith('*') &&
      gun.startsWith(k.slice(0, -1)) &&
      (best === undefined || k.length > best.length)
    )
      best = k;
  }
  return best === undefined ? undefined : certs[best];
}

/** Go NewTrustPinChecker: picks certs → ca → TOFU for the GUN. */
function pinChecker(
  pinning: TrustPinning,
  gun: string,
  nowMs: number,
  firstContact: boolean,
): PinCheck {
  const certs = pinning.certs ?? {};
  const ids = Object.hasOwn(certs, gun) ? certs[gun] : wildcardCerts(certs, gun);
  if (ids) return (l) => ids.includes(l.key.id);

  const ca = pinning.ca ?? {};
  let prefix: string | undefined;
  for (const k of Object.keys(ca)) {
    if (gun.startsWith(k) && (prefix === undefined || k.length > prefix.length)) prefix = k;
  }
  if (prefix !== undefined) {
    let bundle: X509Certificate[];
    try {
      bundle = loadCertBundle(ca[prefix] as string);
    } catch (e) {
      throw new TufError(
        'ERR_TRUST_PINNING',
        `could not load the pinned CA bundle for ${JSON.stringify(prefix)}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const roots = bundle.filter(
      (c) => certificateProblem(c, { nowMs, checkExpiry: true }) === undefined,
    );
    if (roots.length === 0) {
      throw new TufError(
        'ERR_TRUST_PINNING',
        `invalid CA certs provided for ${JSON.stringify(prefix)}: none is valid now`,
      );
    }
    return (l) => chainProblem(l.leaf, l.intermediates, roots, nowMs) === undefined;
  }

  if (pinning.disableTofu === true && firstContact) {
    throw new TufError(
      'ERR_TRUST_PINNING',
      `invalid trust pinning specified: TOFU is disabled and no certs or CA are pinned for ${JSON.stringify(gun)}`,
    );
  }
  return () => true;
}

/** Validates a candidate root (rules at the top of this file); returns it verified. */
export function verifyRoot(
  candidate: Metadata<RootSigned>,
  opts: VerifyRootOptions,
): Verified<RootSigned> {
  const { gun, nowMs } = opts;
  const root = candidate.signed;

  // 2. leaf certificates of the candidate
  const own = rootLeaves(root, gun, nowMs, opts.allowExpired !== true);
  if (own.leaves.length === 0) {
    throw new TufError(
      'ERR_BAD_ROOT',
      `unable to retrieve valid leaf certificates for ${gun}` +
        (own.problems.length ? `: ${own.problems.join('; ')}` : ': the root role has no keys'),
    );
  }

  // 3. rotation: signed by the previously trusted root's keys, at its threshold
  if (opts.trusted) {
    const prev = opts.trusted.signed;
    const prevLeaves = rootLeaves(prev, gun, nowMs, false);
    if (prevLeaves.leaves.length === 0) {
      throw new TufError(
        'ERR_BAD_ROOT',
        `could not retrieve trusted certificates from the previous root for ${gun}: ${prevLeaves.problems.join('; ')}`,
      );
    }
    try {
      verifyThreshold(
        candidate,
        'root',
        leafVerifier(prevLeaves.leaves, prev.roles.root.threshold),
      );
    } catch (e) {
      if (!isTrustdeskError(e)) throw e;
      throw new TufError(
        'ERR_BAD_ROOT',
        `root rotation failed: the new root is not signed by the previously trusted root keys (${e.message})`,
        { cause: e },
      );
    }
  }

  // 4. trust pinning
  const check = pinChecker(opts.pinning ?? {}, gun, nowMs, opts.trusted === undefined);
  const pinned = own.leaves.filter(check);
  if (pinned.length === 0) {
    throw new TufError(
      'ERR_TRUST_PINNING',
      `unable to match any root certificate of ${gun} to the trust pinning configuration`,
    );
  }

  // 5. self-consistency: signed by its own passing keys at its own threshold
  let verified: Verified<RootSigned>;
  try {
    verified = verifyThreshold(candidate, 'root', leafVerifier(pinned, root.roles.root.threshold));
  } catch (e) {
    if (!isTrustdeskError(e)) throw e;
    throw new TufError(
      'ERR_BAD_ROOT',
      `failed to validate the integrity of the root: ${e.message}`,
      {
        cause: e,
      },
    );
  }

  // 6. expiry, last
  if (opts.allowExpired !== true && candidate.isExpired(nowMs)) {
    throw new TufError('ERR_EXPIRED', `root expired at ${root.expires}`);
  }
  return verified;
}

/**
 * The keys and threshold of one base role as a root declares them. For the root role itself
 * this is the declared keys only; use verifyRoot to validate a root.
 */
export function rootRoleVerifier(
  root: RootSigned | Verified<RootSigned>,
  role: BaseRole,
): RoleVerifier {
  const signed = root instanceof Verified ? root.signed : root;
  const r = signed.roles[role];
  const keys = new Map<string, PublicKey>();
  for (const id of r.keyids) {
    const k = signed.keys.get(id);
    if (k) keys.set(id, k);
  }
  return { keys, keyids: r.keyids, threshold: r.threshold };
}
