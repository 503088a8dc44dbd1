// What validateUpdate (src/tuf/upload.ts) reuses instead of redoing: a part its caller parsed
// with parseUploadPart, and the verified stored root (kept per GUN and content). Reuse must never
// change a decision: metadata that is not the parse of the part's bytes is not trusted, and a
// root verified for one GUN says nothing about another.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RepoBuilder, fileMetaFor, type SignerLookup } from '../../src/tuf/builder.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { type Signer } from '../../src/tuf/keys.js';
import { parseTargets } from '../../src/tuf/metadata.js';
import {
  UploadValidationError,
  parseUploadPart,
  validateUpdate,
  type ServerKeys,
  type UploadPart,
} from '../../src/tuf/upload.js';
import { createRootCertificate } from '../../src/tuf/x509.js';

const GUN = 'example.com/trustdesk/parts';
const NOW = Date.UTC(2031, 5, 15, 12, 0, 0);
const utf8 = new TextEncoder();

const offer =
  (...signers: Signer[]): SignerLookup =>
  () =>
    signers;

interface Repo {
  builder: RepoBuilder;
  targetsKey: KeyObjectSigner;
  keys: ServerKeys;
  /** root v1 and targets, as a client's first publish uploads them. */
  first: Map<string, Uint8Array>;
}

async function repo(gun = GUN): Promise<Repo> {
  const bare = KeyObjectSigner.generate('ecdsa');
  const root = new KeyObjectSigner(
    bare.privateKey,
    await createRootCertificate(bare, gun, { nowMs: NOW }),
  );
  const targetsKey = KeyObjectSigner.generate('ecdsa');
  const snapshot = KeyObjectSigner.generate('ed25519');
  const timestamp = KeyObjectSigner.generate('ed25519');
  const builder = RepoBuilder.create({
    gun,
    rootKeys: [root.publicKey],
    targetsKeys: [targetsKey.publicKey],
    snapshotKeys: [snapshot.publicKey],
    timestampKeys: [timestamp.publicKey],
  });
  builder.addTarget('targets', 'hello', fileMetaFor(utf8.encode('hello')));
  const first = await builder.sign({ nowMs: NOW, signers: offer(root, targetsKey) });
  const held = [snapshot, timestamp];
  const keys: ServerKeys = {
    signers: (_role, ids) => Promise.resolve(held.filter((s) => ids.includes(s.keyId))),
  };
  return { builder, targetsKey, keys, first };
}

const parts = (files: ReadonlyMap<string, Uint8Array>, parsed: boolean): UploadPart[] =>
  [...files].map(([role, bytes]) => {
    const metadata = parsed ? parseUploadPart(role, bytes) : undefined;
    return metadata ? { role, bytes, metadata } : { role, bytes };
  });

const storedOf = (files: ReadonlyMap<string, Uint8Array>) => ({
  root: files.get('root'),
  snapshot: files.get('snapshot'),
  timestamp: files.get('timestamp'),
  targets: (role: string) => files.get(role),
});

describe('parseUploadPart', () => {
  test('parses each role as validateUpdate does; timestamp is not parsed', async () => {
    const r = await repo();
    const root = r.first.get('root') as Uint8Array;
    const targets = r.first.get('targets') as Uint8Array;
    assert.equal(parseUploadPart('root', root)?.type, 'Root');
    assert.equal(parseUploadPart('targets', targets)?.type, 'Targets');
    assert.equal(parseUploadPart('targets/releases', targets)?.type, 'Targets');
    assert.equal(parseUploadPart('timestamp', targets), undefined);
    assert.throws(() => parseUploadPart('root', targets), /expected "Root"/);
    assert.throws(() => parseUploadPart('snapshot', utf8.encode('{}')));
  });
});

describe('validateUpdate with parsed parts', () => {
  test('gives the same result as parsing the bytes itself', async () => {
    const r = await repo();
    const run = (parsed: boolean) =>
      validateUpdate({
        gun: GUN,
        nowMs: NOW,
        stored: storedOf(new Map()),
        updates: parts(r.first, parsed),
        keys: r.keys,
      });
    assert.deepEqual(await run(true), await run(false));
  });

  test('metadata that is not the parse of the bytes is not trusted', async () => {
    const r = await repo();
    const out = await validateUpdate({
      gun: GUN,
      nowMs: NOW,
      stored: storedOf(new Map()),
      updates: parts(r.first, true),
      keys: r.keys,
    });
    const stored = new Map(out.map((u) => [u.role, u.bytes]));
    // The good file with one target renamed: its signature no longer verifies.
    r.builder.addTarget('targets', 'good', fileMetaFor(utf8.encode('good')));
    const good = (await r.builder.sign({ nowMs: NOW, signers: offer(r.targetsKey) })).get(
      'targets',
    ) as Uint8Array;
    const forged = utf8.encode(Buffer.from(good).toString().replace('"good"', '"evil"'));
    assert.notDeepEqual(forged, good);
    await assert.rejects(
      validateUpdate({
        gun: GUN,
        nowMs: NOW,
        stored: storedOf(stored),
        updates: [
          {
            role: 'targets',
            bytes: forged,
            metadata: parseTargets(good),
          },
        ],
        keys: r.keys,
      }),
      (e: unknown) => e instanceof UploadValidationError && e.goName === 'ErrBadTargets',
    );
  });

  test('a stored root verified for one GUN is not trusted for another', async () => {
    const r = await repo();
    const out = await validateUpdate({
      gun: GUN,
      nowMs: NOW,
      stored: storedOf(new Map()),
      updates: parts(r.first, true),
      keys: r.keys,
    });
    const stored = storedOf(new Map(out.map((u) => [u.role, u.bytes])));
    r.builder.addTarget('targets', 'next', fileMetaFor(utf8.encode('next')));
    const next = await r.builder.sign({ nowMs: NOW, signers: offer(r.targetsKey) });
    const update = (gun: string) =>
      validateUpdate({ gun, nowMs: NOW, stored, updates: parts(next, true), keys: r.keys });
    assert.deepEqual(
      (await update(GUN)).map((u) => u.role),
      ['targets', 'snapshot', 'timestamp'],
    );
    await assert.rejects(update('example.com/other'), /does not match the GUN/);
    assert.equal((await update(GUN)).length, 3, 'and still for its own');
  });
});
