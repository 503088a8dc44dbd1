// An in-memory Notary repository for tests: keys per role and per delegation, root certificates,
// metadata built from plain JSON bodies and signed with signEnvelope (independent of the repo
// builder), and the files a notary-server would serve. The clock is injected and only moves
// when a test moves it.
//
//   const sim = await RepoSim.create({ gun: 'example.com/app' });
//   sim.addTarget('hello', 'hello world');
//   await sim.addDelegation('targets/releases', { paths: ['v1/'] });
//   sim.addTarget('v1/app', 'bits', 'targets/releases');
//   await sim.publish();                 // signs what changed + a new snapshot and timestamp
//   sim.serve('timestamp.json');         // bytes, or undefined (a 404)
//
// Served paths (as notary-server names them, notary-protocol §4):
//   <role>.json               current file of any role (root.json, timestamp.json, targets/x.json)
//   <role>.<sha256 hex>.json  every file ever published for the role, by checksum
//   <v>.<role>.json           every version ever published for the role (Go walks <v>.root.json)
//
// Attacks: `inject` replaces a role's file and re-signs the snapshot/timestamp above it with the
// legitimate keys — a malicious server, which in Notary usually holds those keys. `tamper`
// swaps the bytes served at a role's current addresses without touching any metadata — damage
// in storage or transit. Build the bad bytes with corrupt.ts.

import { type JsonObject } from '../../src/tuf/json.js';
import { type PublicKey } from '../../src/tuf/keys.js';
import { KeyObjectSigner, type GeneratedKeyType } from '../../src/tuf/key-object-signer.js';
import { formatRfc3339 } from '../../src/tuf/metadata.js';
import { fileMetaFor, fileMetaToJson } from '../../src/tuf/filemeta.js';
import { sha256Hex, utf8Encode } from '../../src/tuf/encoding.js';
import { signEnvelope } from '../../src/tuf/sign.js';
import { createRootCertificate } from '../../src/tuf/x509.js';
import {
  BASE_ROLES,
  compareRoleDepth,
  isDelegationName,
  parentRole,
  type BaseRole,
} from '../../src/tuf/roles.js';

export const DAY_MS = 86_400_000;
export const YEAR_MS = 365 * DAY_MS;

/** Go Notary's default lifetimes (notary-protocol §1.9); delegations use the targets one. */
export const DEFAULT_LIFETIMES: Readonly<Record<BaseRole, number>> = {
  root: 10 * YEAR_MS,
  targets: 3 * YEAR_MS,
  snapshot: 3 * YEAR_MS,
  timestamp: 14 * DAY_MS,
};

/** A fixed default start (2030-01-01Z): tests never depend on the real clock. */
export const SIM_EPOCH_MS = Date.UTC(2030, 0, 1);

export class SimClock {
  constructor(public nowMs: number = SIM_EPOCH_MS) {}

  advance(ms: number): number {
    return (this.nowMs += ms);
  }
}

export interface RepoSimOptions {
  gun?: string;
  clock?: SimClock;
  /** Threshold per base role; the role gets that many keys. Default 1. */
  thresholds?: Partial<Record<BaseRole, number>>;
  /** Key type for targets/snapshot/timestamp/delegation keys (root keys are always P-256 certs). */
  keyType?: GeneratedKeyType;
}

export interface DelegationOptions {
  /** Target-name prefixes; default [""] (all). */
  paths?: string[];
  threshold?: number;
  /** Number of keys (default = threshold). */
  keys?: number;
  keyType?: GeneratedKeyType;
}

interface State {
  versions: Map<string, number>;
  /** Targets roles: `{ targets, delegations: { keys, roles } }` without _type/expires/version. */
  bodies: Map<string, JsonObject>;
  /** The file of each role that the repository's own metadata references. */
  current: Map<string, Uint8Array>;
  files: Map<string, Uint8Array>;
  dirty: Set<string>;
  signers: Map<string, KeyObjectSigner[]>;
  thresholds: Map<BaseRole, number>;
  lifetimes: Map<string, number>;
  /** Root certificates kept in root.keys after a rotation (Go does). */
  retiredRootKeys: PublicKey[];
  /** Previous root keys that must co-sign the next root (rotation). */
  crossSigners: KeyObjectSigner[];
}

function keyJson(k: PublicKey): JsonObject {
  return { keytype: k.keytype, keyval: { private: null, public: k.publicB64 } };
}

function cloneState(s: State): State {
  return {
    versions: new Map(s.versions),
    bodies: new Map([...s.bodies].map(([r, b]) => [r, structuredClone(b)])),
    current: new Map(s.current),
    files: new Map(s.files),
    dirty: new Set(s.dirty),
    signers: new Map(s.signers),
    thresholds: new Map(s.thresholds),
    lifetimes: new Map(s.lifetimes),
    retiredRootKeys: [...s.retiredRootKeys],
    crossSigners: [...s.crossSigners],
  };
}

export class RepoSim {
  readonly gun: string;
  readonly clock: SimClock;
  readonly keyType: GeneratedKeyType;
  #s: State;

  private constructor(gun: string, clock: SimClock, keyType: GeneratedKeyType, state: State) {
    this.gun = gun;
    this.clock = clock;
    this.keyType = keyType;
    this.#s = state;
  }

  /** A new repository with root, targets, snapshot and timestamp at version 1, published. */
  static async create(opts: RepoSimOptions = {}): Promise<RepoSim> {
    const state: State = {
      versions: new Map(),
      bodies: new Map([['targets', { targets: {}, delegations: { keys: {}, roles: [] } }]]),
      current: new Map(),
      files: new Map(),
      dirty: new Set(['root', 'targets']),
      signers: new Map(),
      thresholds: new Map(BASE_ROLES.map((r) => [r, opts.thresholds?.[r] ?? 1])),
      lifetimes: new Map(),
      retiredRootKeys: [],
      crossSigners: [],
    };
    const sim = new RepoSim(
      opts.gun ?? 'example.com/sim',
      opts.clock ?? new SimClock(),
      opts.keyType ?? 'ecdsa',
      state,
    );
    state.signers.set('root', await sim.#rootSigners(state.thresholds.get('root') ?? 1));
    for (const r of ['targets', 'snapshot', 'timestamp'] as const)
      state.signers.set(r, sim.#newSigners(state.thresholds.get(r) ?? 1));
    await sim.publish();
    return sim;
  }

  /** An independent copy (same keys, same clock): a diverging server or one test case. */
  clone(): RepoSim {
    return new RepoSim(this.gun, this.clock, this.keyType, cloneState(this.#s));
  }

  // -------------------------------------------------------------------------------------------
  // What a server serves / what a client cached

  /** The bytes at a notary-server path (`timestamp.json`, `targets.<hex>.json`, `2.root.json`). */
  serve(path: string): Uint8Array | undefined {
    return this.#s.files.get(path);
  }

  /** The file of `role` the repository's metadata references now. */
  current(role: string): Uint8Array {
    const b = this.#s.current.get(role);
    if (!b) throw new Error(`sim: no ${role} published`);
    return b;
  }

  /** Last signed version of a role. */
  version(role: string): number {
    return this.#s.versions.get(role) ?? 0;
  }

  /** Every role with a current file: root, timestamp, snapshot, targets, delegations. */
  roles(): string[] {
    return [...this.#s.current.keys()];
  }

  /** What a client holds after a full update: the current file of every role but root. */
  cache(): Map<string, Uint8Array> {
    return new Map([...this.#s.current].filter(([r]) => r !== 'root'));
  }

  /** The keys that legitimately sign `role` now (root: its current certificate keys). */
  signersFor(role: string): KeyObjectSigner[] {
    const s = this.#s.signers.get(role);
    if (!s) throw new Error(`sim: no keys for ${role}`);
    return s;
  }

  // -------------------------------------------------------------------------------------------
  // Content changes (take effect at the next publish)

  addTarget(
    name: string,
    content: string | Uint8Array,
    role = 'targets',
    custom?: JsonObject,
  ): void {
    const bytes = typeof content === 'string' ? utf8Encode(content) : content;
    this.#targetsMap(role)[name] = fileMetaToJson(fileMetaFor(bytes, custom));
    this.#s.dirty.add(role);
  }

  removeTarget(name: string, role = 'targets'): void {
    delete this.#targetsMap(role)[name];
    this.#s.dirty.add(role);
  }

  /** Declares `name` in its parent (which must exist) with fresh keys; returns its signers. */
  addDelegation(name: string, opts: DelegationOptions = {}): KeyObjectSigner[] {
    if (!isDelegationName(name)) throw new Error(`sim: ${name} is not a delegation name`);
    if (this.#s.bodies.has(name)) throw new Error(`sim: ${name} exists`);
    const parent = this.#body(parentRole(name));
    const threshold = opts.threshold ?? 1;
    const signers = this.#newSigners(opts.keys ?? threshold, opts.keyType);
    const d = parent.delegations as { keys: JsonObject; roles: JsonObject[] };
    for (const s of signers) d.keys[s.keyId] = keyJson(s.publicKey);
    const role: JsonObject = { keyids: signers.map((s) => s.keyId), name, threshold };
    const paths = opts.paths ?? [''];
    if (paths.length) role.paths = paths; // Go omits empty paths
    d.roles.push(role);
    this.#s.bodies.set(name, { targets: {}, delegations: { keys: {}, roles: [] } });
    this.#s.signers.set(name, signers);
    this.#s.dirty.add(parentRole(name)).add(name);
    return signers;
  }

  setDelegationPaths(name: string, paths: string[]): void {
    const role = this.#decl(name);
    if (paths.length) role.paths = paths;
    else delete role.paths;
    this.#s.dirty.add(parentRole(name));
  }

  /** Removes the delegation and its subtree from the parent and from the snapshot. */
  removeDelegation(name: string): void {
    const d = this.#body(parentRole(name)).delegations as { keys: JsonObject; roles: JsonObject[] };
    d.roles = d.roles.filter((r) => r.name !== name);
    for (const r of [...this.#s.bodies.keys()]) {
      if (r === name || r.startsWith(name + '/')) {
        this.#s.bodies.delete(r);
        this.#s.current.delete(r);
        this.#s.dirty.delete(r);
      }
    }
    this.#s.dirty.add(parentRole(name));
  }

  /** Re-sign a role at the next publish without content changes (Notary's witness). */
  touch(...roles: string[]): void {
    for (const r of roles) this.#s.dirty.add(r);
  }

  /** Lifetime (ms from signing time) used for the role's next signatures. */
  setLifetime(role: string, ms: number): void {
    this.#s.lifetimes.set(role, ms);
  }

  /** New root keys and certificates; the next root is signed by the old and the new keys. */
  async rotateRoot(opts: { threshold?: number } = {}): Promise<void> {
    const s = this.#s;
    const old = this.signersFor('root');
    if (s.crossSigners.length === 0) s.crossSigners = old;
    s.retiredRootKeys.push(...old.map((k) => k.publicKey));
    const threshold = opts.threshold ?? s.thresholds.get('root') ?? 1;
    s.thresholds.set('root', threshold);
    s.signers.set('root', await this.#rootSigners(threshold));
    s.dirty.add('root');
  }

  /** New keys for targets, snapshot or timestamp; old public keys leave root.keys (Go does). */
  rotateKey(role: 'targets' | 'snapshot' | 'timestamp'): void {
    this.#s.signers.set(role, this.#newSigners(this.#s.thresholds.get(role) ?? 1));
    this.#s.dirty.add('root');
    if (role === 'targets') this.#s.dirty.add('targets');
  }

  // -------------------------------------------------------------------------------------------
  // Publishing

  /** Signs the changed roles (root, targets roles by depth) then a new snapshot and timestamp. */
  async publish(): Promise<void> {
    const s = this.#s;
    if (s.dirty.has('root')) await this.#signRoot();
    const roles = [...s.dirty].filter((r) => s.bodies.has(r)).sort(compareRoleDepth);
    for (const r of roles) await this.#signTargets(r);
    s.dirty.clear();
    await this.#signSnapshot();
    await this.#signTimestamp();
  }

  /**
   * Makes `bytes` the file of `role` and re-signs, with the legitimate keys, the snapshot (for
   * root and targets roles) and the timestamp above it — a malicious server holding those keys.
   */
  async inject(role: string, bytes: Uint8Array): Promise<void> {
    this.#store(role, bytes);
    if (role === 'timestamp') return;
    if (role !== 'snapshot') await this.#signSnapshot();
    await this.#signTimestamp();
  }

  /** Serves `bytes` at every current address of `role`; no metadata changes. */
  tamper(role: string, bytes: Uint8Array): void {
    // The current file is stored as one object under each of its names.
    const cur = this.current(role);
    for (const [path, b] of this.#s.files) if (b === cur) this.#s.files.set(path, bytes);
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  #newSigners(n: number, type: GeneratedKeyType = this.keyType): KeyObjectSigner[] {
    return Array.from({ length: n }, () => KeyObjectSigner.generate(type));
  }

  async #rootSigners(n: number): Promise<KeyObjectSigner[]> {
    const out: KeyObjectSigner[] = [];
    for (let i = 0; i < n; i++) {
      const base = KeyObjectSigner.generate('ecdsa');
      const cert = await createRootCertificate(base, this.gun, { nowMs: this.clock.nowMs });
      out.push(new KeyObjectSigner(base.privateKey, cert));
    }
    return out;
  }

  #body(role: string): JsonObject {
    const b = this.#s.bodies.get(role);
    if (!b) throw new Error(`sim: no targets role ${role}`);
    return b;
  }

  #targetsMap(role: string): JsonObject {
    return this.#body(role).targets as JsonObject;
  }

  #decl(name: string): JsonObject {
    const d = this.#body(parentRole(name)).delegations as { roles: JsonObject[] };
    const r = d.roles.find((x) => x.name === name);
    if (!r) throw new Error(`sim: ${name} is not delegated`);
    return r;
  }

  #common(role: string, type: string): JsonObject {
    const version = this.version(role) + 1;
    this.#s.versions.set(role, version);
    const base = (isDelegationName(role) ? 'targets' : role) as BaseRole;
    const life = this.#s.lifetimes.get(role) ?? DEFAULT_LIFETIMES[base];
    return { _type: type, expires: formatRfc3339(this.clock.nowMs + life), version };
  }

  #store(role: string, bytes: Uint8Array): void {
    const s = this.#s;
    s.current.set(role, bytes);
    s.files.set(`${role}.json`, bytes);
    s.files.set(`${role}.${sha256Hex(bytes)}.json`, bytes);
  }

  async #sign(role: string, signed: JsonObject, extra: KeyObjectSigner[] = []): Promise<void> {
    const bytes = await signEnvelope(signed, [...extra, ...this.signersFor(role)]);
    this.#store(role, bytes);
    this.#s.files.set(`${signed.version as number}.${role}.json`, bytes);
  }

  async #signRoot(): Promise<void> {
    const s = this.#s;
    const keys: JsonObject = {};
    const roles: JsonObject = {};
    for (const k of s.retiredRootKeys) keys[k.id] = keyJson(k);
    for (const r of BASE_ROLES) {
      const signers = this.signersFor(r);
      for (const k of signers) keys[k.keyId] = keyJson(k.publicKey);
      roles[r] = { keyids: signers.map((k) => k.keyId), threshold: s.thresholds.get(r) ?? 1 };
    }
    const signed = { ...this.#common('root', 'Root'), consistent_snapshot: false, keys, roles };
    await this.#sign('root', signed, s.crossSigners);
    s.crossSigners = [];
  }

  async #signTargets(role: string): Promise<void> {
    await this.#sign(role, {
      ...this.#common(role, 'Targets'),
      ...structuredClone(this.#body(role)),
    });
  }

  async #signSnapshot(): Promise<void> {
    const meta: JsonObject = {};
    for (const [role, bytes] of this.#s.current) {
      if (role !== 'snapshot' && role !== 'timestamp')
        meta[role] = fileMetaToJson(fileMetaFor(bytes));
    }
    await this.#sign('snapshot', { ...this.#common('snapshot', 'Snapshot'), meta });
  }

  async #signTimestamp(): Promise<void> {
    const meta = { snapshot: fileMetaToJson(fileMetaFor(this.current('snapshot'))) };
    await this.#sign('timestamp', { ...this.#common('timestamp', 'Timestamp'), meta });
  }
}
