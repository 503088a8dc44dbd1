// The token issuer's users file and what it grants.
//
//   { "users": { "<name>": { "password": "scrypt$N$r$p$salt$hash",
//                            "access": [ { "type": "repository", "name": "<gun or prefix*>",
//                                          "actions": ["pull", "push", "*"] } ] } },
//     "anonymous": { "access": [ … ] } }            ← optional: what requests without
//                                                      credentials get (default: nothing)
//
// Rules:
//   - the file is strict JSON (duplicate user names are an error), every hash is parsed and
//     bounds-checked at load time, `type` is repository or registry, actions are non-empty
//     strings; anything else refuses to load (ERR_CONFIG naming the entry);
//   - an entry matches a requested resource when the types are equal and the names are equal,
//     or the entry's name ends in `*` and the requested name starts with the rest (`*` alone
//     matches every name); a requested name containing `*` (never a GUN) matches nothing;
//   - granted actions = requested actions ∩ (union of the matching entries' actions), where an
//     entry action `*` covers every requested action (including a requested `*`); a requested
//     `*` is granted only through an entry action `*`;
//   - resources left with no granted action are omitted from the token.

import { readFileSync } from 'node:fs';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { isJsonObject, parseJson, type JsonValue } from '../../src/tuf/json.js';
import { type Access } from './access.js';
import {
  dummyPasswordHash,
  parsePasswordHash,
  verifyPassword,
  type ParsedHash,
} from './password.js';

export interface UserEntry {
  name: string;
  hash: ParsedHash;
  access: Access[];
}

export interface UsersDb {
  users: ReadonlyMap<string, UserEntry>;
  anonymous: Access[];
}

function configError(msg: string): TrustdeskError {
  return new TrustdeskError('ERR_CONFIG', msg);
}

function parseAccessList(v: JsonValue | undefined, where: string): Access[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw configError(`${where}: "access" must be a list`);
  return v.map((e, i) => {
    const at = `${where}.access[${i}]`;
    if (!isJsonObject(e)) throw configError(`${at}: must be an object`);
    const { type, name, actions } = e;
    if (type !== 'repository' && type !== 'registry')
      throw configError(`${at}: "type" must be "repository" or "registry"`);
    if (typeof name !== 'string' || name === '')
      throw configError(`${at}: "name" must be a non-empty string`);
    if (
      !Array.isArray(actions) ||
      actions.length === 0 ||
      !actions.every((a) => typeof a === 'string' && a !== '')
    )
      throw configError(`${at}: "actions" must be a non-empty list of strings`);
    return { type, name, actions: actions as string[] };
  });
}

export function parseUsersFile(text: string, where = 'users file'): UsersDb {
  let doc: JsonValue;
  try {
    doc = parseJson(text, where);
  } catch (e) {
    throw new TrustdeskError('ERR_CONFIG', `${where}: ${String(e)}`, { cause: e });
  }
  if (!isJsonObject(doc) || !isJsonObject(doc.users))
    throw configError(`${where}: expected {"users": {…}}`);
  const users = new Map<string, UserEntry>();
  for (const [name, u] of Object.entries(doc.users)) {
    const at = `${where}: users[${JSON.stringify(name)}]`;
    if (name === '' || name.includes(':')) throw configError(`${at}: invalid user name`);
    if (!isJsonObject(u) || typeof u.password !== 'string')
      throw configError(`${at}: needs a "password" hash`);
    users.set(name, {
      name,
      hash: parsePasswordHash(u.password, at),
      access: parseAccessList(u.access, at),
    });
  }
  let anonymous: Access[] = [];
  if (doc.anonymous !== undefined) {
    if (!isJsonObject(doc.anonymous)) throw configError(`${where}: "anonymous" must be an object`);
    anonymous = parseAccessList(doc.anonymous.access, `${where}: anonymous`);
  }
  return { users, anonymous };
}

export function loadUsersFile(path: string): UsersDb {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TrustdeskError('ERR_CONFIG', `cannot read users file ${JSON.stringify(path)}`, {
      cause: e,
    });
  }
  return parseUsersFile(text, path);
}

/**
 * The user if `password` is theirs. An unknown name is checked against a dummy hash so both
 * failures take the same time. `verify` is injectable for tests.
 */
export async function authenticate(
  db: UsersDb,
  name: string,
  password: string,
  verify: (h: ParsedHash, pw: string) => Promise<boolean> = verifyPassword,
): Promise<UserEntry | undefined> {
  const user = db.users.get(name);
  const ok = await verify(user?.hash ?? dummyPasswordHash(), password);
  return ok && user ? user : undefined;
}

function entryMatches(entry: Access, req: Access): boolean {
  if (entry.type !== req.type || req.name.includes('*')) return false;
  if (entry.name === req.name) return true;
  if (!entry.name.endsWith('*')) return false;
  return req.name.startsWith(entry.name.replace(/\*+$/, ''));
}

/** The token's `access` claim: what of `requested` the `allowed` entries grant (see top). */
export function grantAccess(allowed: readonly Access[], requested: readonly Access[]): Access[] {
  const out: Access[] = [];
  for (const req of requested) {
    const have = new Set<string>();
    for (const entry of allowed)
      if (entryMatches(entry, req)) for (const a of entry.actions) have.add(a);
    const actions = have.has('*')
      ? [...req.actions]
      : req.actions.filter((a) => a !== '*' && have.has(a));
    if (actions.length === 0) continue;
    const same = out.find((o) => o.type === req.type && o.name === req.name);
    if (same) same.actions = [...new Set([...same.actions, ...actions])];
    else out.push({ type: req.type, name: req.name, actions });
  }
  return out;
}
