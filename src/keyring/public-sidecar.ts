// Public metadata of keys whose private half lives outside the trust dir (OS keychain, PKCS#11
// token): `<trustDir>/keyring/<backend>/<canonical key id>.json`. Keychains cannot list their
// items cheaply everywhere, and tokens do not know a key's role or GUN, so `list()` reads these
// files and never touches the keychain or logs in to a token.
//
// Rules: the file holds no secret (public key, role, gun, location, createdAt); it is written
// atomically, 0600 in a 0700 directory (it still reveals which keys exist); a file whose name,
// keyId and public key disagree, or that does not parse strictly, is a problem, never a key.

import { readFile, readdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TrustdeskError } from '../tuf/errors.js';
import { isJsonObject, parseJson, type JsonObject } from '../tuf/json.js';
import { PublicKey } from '../tuf/keys.js';
import { parseRfc3339 } from '../tuf/metadata.js';
import { atomicWrite, ensurePrivateDir, isTempName } from './atomic-file.js';
import {
  parseKeyUri,
  type KeyAlgorithm,
  type KeyBackendName,
  type KeyProblem,
  type KeyRecord,
} from './types.js';

const FORMAT = 'trustdesk-key-sidecar';
const VERSION = 1;
const NAME = /^([0-9a-f]{64})\.json$/;
const ALGORITHMS: readonly KeyAlgorithm[] = ['ecdsa', 'ed25519', 'rsa'];
const MEMBERS = [
  'algorithm',
  'createdAt',
  'format',
  'gun',
  'keyId',
  'location',
  'publicKey',
  'role',
  'version',
];

export class PublicSidecar {
  readonly dir: string;

  constructor(
    trustDir: string,
    readonly backend: Exclude<KeyBackendName, 'file'>,
  ) {
    this.dir = resolve(trustDir, 'keyring', backend);
  }

  pathFor(keyId: string): string {
    return join(this.dir, `${keyId}.json`);
  }

  async write(rec: KeyRecord, mode: 'create' | 'replace' = 'create'): Promise<void> {
    const doc = {
      format: FORMAT,
      version: VERSION,
      keyId: rec.id,
      role: rec.role,
      gun: rec.gun,
      algorithm: rec.algorithm,
      location: rec.location,
      createdAt: rec.createdAt,
      publicKey: rec.publicKey.toJSON(),
    };
    await ensurePrivateDir(this.dir);
    await atomicWrite(
      this.pathFor(rec.id),
      new TextEncoder().encode(JSON.stringify(doc, null, 2) + '\n'),
      mode,
    );
  }

  async remove(keyId: string): Promise<void> {
    await unlink(this.pathFor(keyId)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  async read(keyId: string): Promise<KeyRecord | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathFor(keyId));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return this.#parse(bytes, keyId);
  }

  /** Every readable record, plus a problem for each file that is not one. */
  async scan(): Promise<{ keys: KeyRecord[]; problems: KeyProblem[] }> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [], problems: [] };
      throw e;
    }
    const keys: KeyRecord[] = [];
    const problems: KeyProblem[] = [];
    for (const name of names.sort()) {
      if (isTempName(name)) continue;
      const location = join(this.dir, name);
      const m = NAME.exec(name);
      try {
        if (!m) throw this.#corrupt(location, 'file name is not <key id>.json');
        keys.push(this.#parse(await readFile(location), m[1] as string));
      } catch (e) {
        problems.push({
          backend: this.backend,
          location,
          error:
            e instanceof TrustdeskError
              ? e
              : new TrustdeskError('ERR_IO', `cannot read ${location}`, { cause: e }),
        });
      }
    }
    return { keys, problems };
  }

  #corrupt(where: string, why: string): TrustdeskError {
    return new TrustdeskError('ERR_KEYFILE_CORRUPT', `${where}: ${why}`, {
      hint: `This file only names a ${this.backend} key; remove it and re-add the key's metadata (the private key is not in it).`,
    });
  }

  #parse(bytes: Uint8Array, keyId: string): KeyRecord {
    const where = this.pathFor(keyId);
    let parsed;
    try {
      parsed = parseJson(bytes, where);
    } catch (e) {
      throw this.#corrupt(where, `not valid JSON (${(e as Error).message})`);
    }
    if (!isJsonObject(parsed)) throw this.#corrupt(where, 'not a JSON object');
    const doc: JsonObject = parsed;
    const keys = Object.keys(doc).sort();
    if (keys.join() !== MEMBERS.join()) {
      throw this.#corrupt(where, `members must be exactly ${MEMBERS.join(', ')}`);
    }
    if (doc.format !== FORMAT || doc.version !== VERSION) {
      throw new TrustdeskError(
        'ERR_UNSUPPORTED_FORMAT',
        `${where}: not a version ${VERSION} ${FORMAT} file`,
      );
    }
    const s = (k: string): string => {
      const v = doc[k];
      if (typeof v !== 'string') throw this.#corrupt(where, `"${k}" must be a string`);
      return v;
    };
    const algorithm = s('algorithm') as KeyAlgorithm;
    if (!ALGORITHMS.includes(algorithm)) throw this.#corrupt(where, 'unknown algorithm');
    const createdAt = doc.createdAt === null ? null : s('createdAt');
    if (createdAt !== null) {
      try {
        parseRfc3339(createdAt, 'createdAt');
      } catch {
        throw this.#corrupt(where, '"createdAt" is not an RFC 3339 time');
      }
    }
    let publicKey: PublicKey;
    try {
      publicKey = PublicKey.fromJSON(doc.publicKey, 'publicKey');
    } catch (e) {
      throw this.#corrupt(where, (e as Error).message);
    }
    if (publicKey.canonicalId !== keyId || s('keyId') !== keyId) {
      throw this.#corrupt(where, 'keyId, file name and public key disagree');
    }
    const location = s('location');
    const uri = parseKeyUri(location);
    if (uri.scheme !== this.backend)
      throw this.#corrupt(where, `location is not a ${this.backend}: URI`);
    return {
      id: keyId,
      tufId: publicKey.id,
      role: s('role'),
      gun: s('gun'),
      algorithm,
      backend: this.backend,
      uri,
      location,
      createdAt,
      publicKey,
    };
  }
}
