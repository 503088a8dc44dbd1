// `trustdesk inspect`: parse one metadata file, describe it, and run every check the inputs
// allow. Pure (bytes and the clock come in), so tests and `demo` call it directly.
//
// Checks, in the order they are run and reported (the first failure decides the error code):
//   root file      1. self-signed: its own root role's threshold is met;
//                  2. with --root: the trusted root verifies itself, then rotation — no older
//                     version, and verifyRoot with the trusted root (old AND new thresholds,
//                     certificate rules) for --gun, or else the GUN in the trusted root's
//                     certificate; without --root but with --gun: verifyRoot on first use (TOFU);
//   other files    1. with --root: the trusted root verifies itself (and verifyRoot with --gun);
//                  2. the file meets its role's threshold under that root (targets, snapshot,
//                     timestamp) — or, for a delegation, under its entry in --parent; when the
//                     parent is the top-level targets and --root is given, the parent is checked
//                     against the root first;
//   every file     last: not expired at --now (default: the real clock).
// With nothing to check signatures against, the report says so in `notes` and no check fails.

import { TrustdeskError, asTrustdeskError, type ErrorCode } from '../../tuf/errors.js';
import { toHex, sha256Hex } from '../../tuf/encoding.js';
import type { PublicKey } from '../../tuf/keys.js';
import {
  parseAny,
  parseRoot,
  parseTargets,
  type AnySigned,
  type FileMeta,
  type Metadata,
  type RootSigned,
  type TargetsSigned,
} from '../../tuf/metadata.js';
import { rootRoleVerifier, verifyRoot } from '../../tuf/root-trust.js';
import { BASE_ROLES, isBaseRole, isValidRole, parentRole } from '../../tuf/roles.js';
import {
  checkSignatures,
  verifyThreshold,
  type RoleVerifier,
  type SignatureStatus,
  type Verified,
} from '../../tuf/verify.js';
import { certificateSummary } from '../../tuf/x509.js';
import { formatRelative, isoMs } from '../time.js';

export interface InspectFile {
  /** Shown in the report and in error messages. */
  name: string;
  bytes: Uint8Array;
}

export interface InspectInput {
  file: InspectFile;
  /** Role the file is for; required to check a delegation, defaults to the file's type. */
  role?: string;
  root?: InspectFile;
  parent?: InspectFile;
  gun?: string;
  nowMs: number;
}

export interface CertificateReport {
  subjectCN: string;
  issuerCN: string;
  notBefore: string;
  notAfter: string;
  /** Within its validity period at the inspection time. */
  current: boolean;
  isCA: boolean;
  keyAlgorithm: string;
  curve?: string;
  keyBits?: number;
  signatureAlgorithm: string;
  extKeyUsage: string[];
}

export interface KeyReport {
  id: string;
  canonicalId: string;
  keytype: string;
  /** Roles (root) or delegations (targets) that list this key. */
  usedBy: string[];
  certificate?: CertificateReport;
  /** Why the key or its certificate could not be read. */
  problem?: string;
}

export interface SignatureReport {
  keyid: string;
  method: string;
  /** 'valid' if it counted for at least one role below; 'unchecked' with no keys to check. */
  status: SignatureStatus | 'unchecked';
  keytype?: string;
  /** The roles this signature counted for (e.g. "root of this file", "targets of --root"). */
  countsFor: string[];
}

export interface CheckReport {
  name: string;
  ok: boolean;
  code?: ErrorCode;
  message: string;
}

export interface TargetReport {
  name: string;
  length: number;
  sha256?: string;
  sha512?: string;
  custom?: unknown;
}

export interface InspectReport {
  file: string;
  size: number;
  /** Hex sha256 of the exact bytes (the name under which servers serve it: <role>.<sha256>.json). */
  sha256: string;
  role: string;
  type: AnySigned['_type'];
  version: number;
  expires: string;
  expired: boolean;
  /** "in 2 years 364 days" / "3 days ago", relative to the inspection time. */
  expiresRelative: string;
  inspectedAt: string;
  consistentSnapshot?: boolean;
  keys: KeyReport[];
  roles?: { name: string; keyids: string[]; threshold: number }[];
  targets?: { count: number; items: TargetReport[] };
  delegations?: { name: string; keyids: string[]; threshold: number; paths: string[] }[];
  meta?: TargetReport[];
  signatures: SignatureReport[];
  checks: CheckReport[];
  notes: string[];
}

export interface InspectOutcome {
  report: InspectReport;
  /** The first failed check as an error, when any check failed. */
  failure?: TrustdeskError;
}

// ---------------------------------------------------------------------------------------------

/** Re-throws a parse error of a secondary input with its file name in front. */
function parseOther<T>(f: InspectFile, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    const err = asTrustdeskError(e);
    throw new TrustdeskError(err.code, `${what} ${f.name}: ${err.message}`, { cause: e });
  }
}

function fileMetaReport(name: string, fm: FileMeta): TargetReport {
  const r: TargetReport = { name, length: fm.length };
  if (fm.hashes.sha256) r.sha256 = toHex(fm.hashes.sha256);
  if (fm.hashes.sha512) r.sha512 = toHex(fm.hashes.sha512);
  if (fm.custom !== undefined) r.custom = fm.custom;
  return r;
}

function keyReport(id: string, key: PublicKey, usedBy: string[], nowMs: number): KeyReport {
  const r: KeyReport = { id, canonicalId: id, keytype: key.keytype, usedBy };
  try {
    r.canonicalId = key.canonicalId;
    if (key.isX509) {
      const c = certificateSummary(key);
      r.certificate = {
        subjectCN: c.subjectCN,
        issuerCN: c.issuerCN,
        notBefore: isoMs(c.notBeforeMs),
        notAfter: isoMs(c.notAfterMs),
        current: c.notBeforeMs <= nowMs && nowMs <= c.notAfterMs,
        isCA: c.isCA,
        keyAlgorithm: c.keyAlgorithm,
        ...(c.curve !== undefined ? { curve: c.curve } : {}),
        ...(c.keyBits !== undefined ? { keyBits: c.keyBits } : {}),
        signatureAlgorithm: c.signatureAlgorithm,
        extKeyUsage: c.extKeyUsage,
      };
    }
  } catch (e) {
    r.problem = asTrustdeskError(e).message;
  }
  return r;
}

interface SigContext {
  label: string;
  verifier: RoleVerifier;
}

/** Merges checkSignatures over every role the file is checked against. */
function signatureReports(md: Metadata, contexts: SigContext[]): SignatureReport[] {
  const perContext = contexts.map((c) => ({
    label: c.label,
    checks: checkSignatures(md, c.verifier),
  }));
  // Prefer the most telling status when a signature counted nowhere.
  const rank: SignatureStatus[] = [
    'valid',
    'duplicate',
    'invalid',
    'method-mismatch',
    'not-in-role',
    'unknown-key',
  ];
  return md.signatures.map((s, i) => {
    if (contexts.length === 0)
      return { keyid: s.keyid, method: s.method, status: 'unchecked', countsFor: [] };
    const statuses = perContext.map((p) => p.checks[i]?.status ?? 'unknown-key');
    const status = rank.find((r) => statuses.includes(r)) ?? 'unknown-key';
    const key = contexts.map((c) => c.verifier.keys.get(s.keyid)).find((k) => k !== undefined);
    return {
      keyid: s.keyid,
      method: s.method,
      status,
      ...(key ? { keytype: key.keytype } : {}),
      countsFor: perContext.filter((p) => p.checks[i]?.status === 'valid').map((p) => p.label),
    };
  });
}

class Checks {
  readonly list: CheckReport[] = [];
  failure: TrustdeskError | undefined;

  /** Runs `fn`; a thrown error becomes a failed check. Returns fn's value or undefined. */
  run<T>(name: string, fn: () => T, okMessage: (v: T) => string): T | undefined {
    try {
      const v = fn();
      this.list.push({ name, ok: true, message: okMessage(v) });
      return v;
    } catch (e) {
      const err = asTrustdeskError(e);
      this.list.push({ name, ok: false, code: err.code, message: err.message });
      this.failure ??= new TrustdeskError(err.code, `${name}: ${err.message}`, { cause: e });
      return undefined;
    }
  }
}

const thresholdMessage = (v: Verified, label: string, threshold: number) =>
  `${v.validKeyIds.length} valid signature${v.validKeyIds.length === 1 ? '' : 's'} by the ${label} (threshold ${threshold})`;

/** GUN from the trusted root's first root-role certificate, when --gun was not given. */
function gunFromRoot(root: RootSigned): string | undefined {
  for (const id of root.roles.root.keyids) {
    const k = root.keys.get(id);
    if (!k?.isX509) continue;
    try {
      return certificateSummary(k).subjectCN;
    } catch {
      // try the next key
    }
  }
  return undefined;
}

export function inspectMetadata(input: InspectInput): InspectOutcome {
  const { nowMs } = input;
  if (input.role !== undefined && !isValidRole(input.role)) {
    throw new TrustdeskError(
      'ERR_BAD_ROLE',
      `--role ${JSON.stringify(input.role)} is not a valid role`,
    );
  }
  const md = parseAny(input.file.bytes, input.role === undefined ? {} : { role: input.role });
  const typeRole = md.type.toLowerCase();
  const role = input.role ?? typeRole;
  const expectedType = isBaseRole(role) ? role : 'targets';
  if (expectedType !== typeRole) {
    throw new TrustdeskError(
      'ERR_WRONG_TYPE',
      `${input.file.name} is a ${md.type} file, not ${role}`,
    );
  }

  const checks = new Checks();
  const notes: string[] = [];
  const contexts: SigContext[] = [];
  const trustedRoot = input.root
    ? parseOther(input.root, '--root', () => parseRoot(input.root!.bytes))
    : undefined;
  const signed = md.signed;
  if (input.parent && (role === 'targets' || isBaseRole(role))) {
    notes.push(`--parent is only used for delegations; ignored for ${role}`);
  }

  if (signed._type === 'Root') {
    const rootMd = md as Metadata<RootSigned>;
    const own = rootRoleVerifier(signed, 'root');
    contexts.push({ label: 'root role of this file', verifier: own });
    checks.run(
      'self-signed',
      () => verifyThreshold(rootMd, 'root', own),
      (v) => thresholdMessage(v, 'root role of this file', own.threshold),
    );
    if (trustedRoot) {
      const old = rootRoleVerifier(trustedRoot.signed, 'root');
      contexts.push({ label: 'root role of --root', verifier: old });
      const trusted = checks.run(
        'trusted root',
        () => verifyThreshold(trustedRoot, 'root', old),
        (v) => `--root verifies itself: ${thresholdMessage(v, 'its root role', old.threshold)}`,
      );
      if (trusted) {
        const gun = input.gun ?? gunFromRoot(trustedRoot.signed);
        if (gun === undefined) {
          notes.push(
            'rotation not checked: give --gun (the trusted root has no certificate to read it from)',
          );
        } else {
          checks.run(
            'rotation',
            () => {
              const from = trustedRoot.signed.version;
              if (signed.version < from) {
                throw new TrustdeskError(
                  'ERR_ROLLBACK',
                  `version ${signed.version} is older than the trusted root's version ${from}`,
                );
              }
              return verifyRoot(rootMd, { gun, nowMs, trusted });
            },
            () =>
              `valid rotation of --root v${trustedRoot.signed.version} for ${gun}: signed by the old and the new root keys`,
          );
        }
      }
    } else if (input.gun !== undefined) {
      const gun = input.gun;
      checks.run(
        'root trust',
        () => verifyRoot(rootMd, { gun, nowMs }),
        () => `trusted on first use for ${gun}: certificates and self-signatures are valid`,
      );
    }
  } else if (role === 'targets' || role === 'snapshot' || role === 'timestamp') {
    if (trustedRoot) {
      const trusted = checkTrustedRoot(checks, trustedRoot, input.gun, nowMs);
      if (trusted) {
        const verifier = rootRoleVerifier(trusted, role);
        const label = `${role} role of --root`;
        contexts.push({ label, verifier });
        checks.run(
          'signatures',
          () => verifyThreshold(md, role, verifier),
          (v) => thresholdMessage(v, label, verifier.threshold),
        );
      }
    } else {
      notes.push(
        `signatures not verified: pass --root <root.json> to check them against the ${role} role`,
      );
    }
  } else {
    // A delegation: its keys and threshold live in the parent.
    if (input.parent) {
      const parentName = parentRole(role);
      const parent = parseOther(input.parent, '--parent', () =>
        parseTargets(input.parent!.bytes, { role: parentName }),
      );
      if (trustedRoot && parentName === 'targets') {
        const trusted = checkTrustedRoot(checks, trustedRoot, input.gun, nowMs);
        if (trusted) {
          const pv = rootRoleVerifier(trusted, 'targets');
          checks.run(
            'parent signatures',
            () => verifyThreshold(parent, 'targets', pv),
            (v) => `--parent: ${thresholdMessage(v, 'targets role of --root', pv.threshold)}`,
          );
        }
      } else if (trustedRoot) {
        notes.push(
          `--parent ${parentName} is itself a delegation; its own signatures are not checked here`,
        );
      }
      const verifier = checks.run(
        'delegation',
        () => delegationVerifier(parent.signed, role, input.parent!.name),
        (v) => `${role} is delegated by ${parentName} in --parent (threshold ${v.threshold})`,
      );
      if (verifier) {
        const label = `${role} entry of --parent`;
        contexts.push({ label, verifier });
        checks.run(
          'signatures',
          () => verifyThreshold(md, role, verifier),
          (v) => thresholdMessage(v, label, verifier.threshold),
        );
      }
    } else {
      notes.push(
        `signatures not verified: pass --parent <${parentRole(role)}.json> to check them against the delegation`,
      );
    }
  }

  checks.run(
    'expiry',
    () => {
      if (md.isExpired(nowMs)) {
        throw new TrustdeskError(
          'ERR_EXPIRED',
          `${role} expired ${formatRelative(signed.expiresMs - nowMs)} (${signed.expires})`,
        );
      }
    },
    () => `valid until ${signed.expires} (${formatRelative(signed.expiresMs - nowMs)})`,
  );

  const report: InspectReport = {
    file: input.file.name,
    size: md.raw.length,
    sha256: sha256Hex(md.raw),
    role,
    type: signed._type,
    version: signed.version,
    expires: signed.expires,
    expired: md.isExpired(nowMs),
    expiresRelative: formatRelative(signed.expiresMs - nowMs),
    inspectedAt: isoMs(nowMs),
    keys: [],
    signatures: signatureReports(md, contexts),
    checks: checks.list,
    notes,
  };
  describeBody(report, signed, nowMs);
  return checks.failure ? { report, failure: checks.failure } : { report };
}

function checkTrustedRoot(
  checks: Checks,
  root: Metadata<RootSigned>,
  gun: string | undefined,
  nowMs: number,
): Verified<RootSigned> | undefined {
  if (gun !== undefined) {
    // Expiry of a trusted root does not matter for checking what it delegates to.
    return checks.run(
      'trusted root',
      () => verifyRoot(root, { gun, nowMs, allowExpired: true }),
      () => `--root is a valid root for ${gun} (certificates and self-signatures)`,
    );
  }
  const own = rootRoleVerifier(root.signed, 'root');
  return checks.run(
    'trusted root',
    () => verifyThreshold(root, 'root', own),
    (v) => `--root verifies itself: ${thresholdMessage(v, 'its root role', own.threshold)}`,
  );
}

function delegationVerifier(parent: TargetsSigned, role: string, parentFile: string): RoleVerifier {
  const entry = parent.delegations.roles.find((r) => r.name === role);
  if (!entry) {
    throw new TrustdeskError('ERR_BAD_DELEGATION', `${parentFile} does not delegate to ${role}`);
  }
  return { keys: parent.delegations.keys, keyids: entry.keyids, threshold: entry.threshold };
}

function describeBody(report: InspectReport, signed: AnySigned, nowMs: number): void {
  switch (signed._type) {
    case 'Root': {
      report.consistentSnapshot = signed.consistentSnapshot;
      const names = [...BASE_ROLES, ...Object.keys(signed.roles).filter((r) => !isBaseRole(r))];
      report.roles = names.map((name) => {
        const r = signed.roles[name]!;
        return { name, keyids: [...r.keyids], threshold: r.threshold };
      });
      report.keys = [...signed.keys].map(([id, k]) =>
        keyReport(
          id,
          k,
          names.filter((n) => signed.roles[n]!.keyids.includes(id)),
          nowMs,
        ),
      );
      break;
    }
    case 'Targets': {
      const { keys, roles } = signed.delegations;
      report.targets = {
        count: signed.targets.size,
        items: [...signed.targets].map(([name, fm]) => fileMetaReport(name, fm)),
      };
      report.delegations = roles.map((r) => ({
        name: r.name,
        keyids: [...r.keyids],
        threshold: r.threshold,
        paths: [...r.paths],
      }));
      report.keys = [...keys].map(([id, k]) =>
        keyReport(
          id,
          k,
          roles.filter((r) => r.keyids.includes(id)).map((r) => r.name),
          nowMs,
        ),
      );
      break;
    }
    case 'Snapshot':
    case 'Timestamp':
      report.meta = [...signed.meta].map(([name, fm]) => fileMetaReport(name, fm));
      break;
  }
}
