// The on-disk metadata cache of one GUN: <trust_dir>/tuf/<gun>/metadata/<role>.json, delegations
// in sub-directories (targets/releases → metadata/targets/releases.json), notary-protocol §7.2.
//
// Rules enforced here:
//   - the GUN is validated (gun.ts) and role names must be valid Notary roles, so no path built
//     here can leave the GUN's metadata directory;
//   - files hold the EXACT bytes the server sent (hashes in snapshot/timestamp cover them);
//   - only metadata the trusted set verified can be written: `write` takes a Verified<T>, which
//     only src/tuf/verify.ts can construct;
//   - writes are atomic (temp + fsync + rename + dir fsync); directories 0700, files 0600;
//     several files are written as one batch (atomic-batch.ts), in groups that order them;
//   - reads are capped and never wait (bounded-read.ts): a planted huge file is refused with
//     ERR_TOO_LARGE, a symlink, FIFO or directory with ERR_IO; none is read.

import { readdir, rm } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { TrustdeskError } from '../../tuf/errors.js';
import type { AnySigned } from '../../tuf/metadata.js';
import { isValidRole } from '../../tuf/roles.js';
import type { Verified } from '../../tuf/verify.js';
import { atomicWrite, ensurePrivateDir, fsyncDir } from '../../keyring/atomic-file.js';
import { readBoundedFileSync } from '../../keyring/bounded-read.js';
import { atomicWriteGroups } from './atomic-batch.js';
import { checkGun } from './gun.js';

/** Go's cap for files of unknown size (root); no cached file may be larger. */
export const MAX_CACHED_FILE_BYTES = 100 * 1024 * 1024;

/** `<trust_dir>/tuf/<gun>`: the GUN's directory (metadata/ and changelist/ live below it). */
export function gunDir(trustDir: string, gun: string): string {
  return join(trustDir, 'tuf', ...checkGun(gun).split('/'));
}

function checkRole(role: string): string {
  if (!isValidRole(role))
    throw new TrustdeskError('ERR_BAD_ROLE', `${JSON.stringify(role)} is not a valid role name`);
  return role;
}

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

export class MetadataCache {
  readonly gun: string;
  /** `<trust_dir>/tuf/<gun>/metadata` */
  readonly dir: string;

  constructor(trustDir: string, gun: string) {
    this.gun = gun;
    this.dir = join(gunDir(trustDir, gun), 'metadata');
  }

  pathOf(role: string): string {
    return join(this.dir, ...checkRole(role).split('/')) + '.json';
  }

  /** The cached bytes of `role`, or undefined when there are none. */
  read(role: string): Promise<Uint8Array | undefined> {
    // The read itself is synchronous (bounded-read.ts); a throw here becomes the rejection.
    return new Promise((resolve) => resolve(this.#readNow(this.pathOf(role))));
  }

  #readNow(path: string): Uint8Array | undefined {
    let r;
    try {
      r = readBoundedFileSync(path, MAX_CACHED_FILE_BYTES, { noFollow: true });
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw new TrustdeskError('ERR_IO', `${path}: ${(e as Error).message}`, { cause: e });
    }
    if (r.kind === 'not-regular')
      throw new TrustdeskError('ERR_IO', `${path}: not a regular file; remove it`);
    if (r.kind === 'too-large') {
      throw new TrustdeskError(
        'ERR_TOO_LARGE',
        `${path}: ${r.size} bytes exceeds the limit of ${MAX_CACHED_FILE_BYTES}`,
      );
    }
    return r.bytes;
  }

  /** Every cached role (base roles and delegations) → bytes; the files are read concurrently. */
  async readAll(): Promise<Map<string, Uint8Array>> {
    const roles = await this.roles();
    const all = await Promise.all(roles.map((role) => this.read(role)));
    const out = new Map<string, Uint8Array>();
    roles.forEach((role, i) => {
      const bytes = all[i];
      if (bytes) out.set(role, bytes);
    });
    return out;
  }

  /** Names of the roles with a cached file, sorted. Stray files are ignored. */
  async roles(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.dir, { recursive: true, withFileTypes: true });
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw new TrustdeskError('ERR_IO', `${this.dir}: ${(e as Error).message}`, { cause: e });
    }
    const roles: string[] = [];
    for (const ent of entries) {
      if (!ent.isFile() || !ent.name.endsWith('.json')) continue;
      const rel = join(ent.parentPath, ent.name).slice(this.dir.length + 1, -'.json'.length);
      const role = rel.split(sep).join('/');
      if (isValidRole(role)) roles.push(role);
    }
    return roles.sort();
  }

  /** Replaces the cached file of the verified role with its exact bytes. */
  async write(v: Verified<AnySigned>): Promise<void> {
    const path = this.pathOf(v.role);
    try {
      await ensurePrivateDir(dirname(path));
      await atomicWrite(path, v.raw, 'replace');
    } catch (e) {
      throw new TrustdeskError('ERR_IO', `cannot write ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /**
   * Replaces the cached files of several verified roles. Groups are written in order, each
   * durable before the next is renamed into place (e.g. root first, or root last).
   */
  async writeAll(groups: ReadonlyArray<ReadonlyArray<Verified<AnySigned>>>): Promise<void> {
    const files = groups.map((g) => g.map((v) => ({ path: this.pathOf(v.role), data: v.raw })));
    try {
      await atomicWriteGroups(files);
    } catch (e) {
      const paths = files.flat().map((f) => f.path);
      throw new TrustdeskError(
        'ERR_IO',
        `cannot write ${paths.join(', ')}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  async remove(role: string): Promise<void> {
    const path = this.pathOf(role);
    try {
      await rm(path, { force: true });
      await fsyncDir(dirname(path)).catch(() => undefined);
    } catch (e) {
      throw new TrustdeskError('ERR_IO', `cannot remove ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** Removes every cached file of the GUN (`delete`). */
  async clear(): Promise<void> {
    try {
      await rm(this.dir, { recursive: true, force: true });
    } catch (e) {
      throw new TrustdeskError('ERR_IO', `cannot remove ${this.dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}
