import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import { parseTargets } from '../../src/tuf/metadata.js';
import { signEnvelope } from '../../src/tuf/sign.js';
import {
  checkSignatures,
  Verified,
  verifyThreshold,
  type RoleVerifier,
} from '../../src/tuf/verify.js';
import { TufError } from '../../src/tuf/errors.js';
import type { JsonObject } from '../../src/tuf/json.js';
import type { Signer } from '../../src/tuf/keys.js';

const body: JsonObject = {
  _type: 'Targets',
  delegations: { keys: {}, roles: [] },
  expires: '2040-01-01T00:00:00Z',
  targets: {},
  version: 3,
};

const [a, b, c] = [
  KeyObjectSigner.generate('ecdsa'),
  KeyObjectSigner.generate('ed25519'),
  KeyObjectSigner.generate('ecdsa'),
];

function role(signers: Signer[], threshold: number): RoleVerifier {
  return {
    keys: new Map(signers.map((s) => [s.keyId, s.publicKey])),
    keyids: signers.map((s) => s.keyId),
    threshold,
  };
}

const code = (c: string) => (e: unknown) => e instanceof TufError && e.code === c;

/** Rewrites the signatures array of an envelope (keeps `signed` bytes untouched). */
function withSignatures(
  raw: Uint8Array,
  edit: (sigs: Array<Record<string, string>>) => unknown[],
): Uint8Array {
  const doc = JSON.parse(Buffer.from(raw).toString()) as {
    signed: unknown;
    signatures: Array<Record<string, string>>;
  };
  doc.signatures = edit(doc.signatures) as Array<Record<string, string>>;
  return new TextEncoder().encode(JSON.stringify(doc));
}

test('threshold counts distinct valid keys of the role', async () => {
  const raw = await signEnvelope(body, [a, b]);
  const md = parseTargets(raw);
  const v = verifyThreshold(md, 'targets', role([a, b, c], 2));
  assert.ok(v instanceof Verified);
  assert.deepEqual([...v.validKeyIds].sort(), [a.keyId, b.keyId].sort());
  assert.equal(v.signed.version, 3);
  assert.throws(() => verifyThreshold(md, 'targets', role([a, b, c], 3)), code('ERR_THRESHOLD'));
});

test('the same key signing twice counts once', async () => {
  const raw = withSignatures(await signEnvelope(body, [a]), (s) => [s[0], s[0]]);
  const md = parseTargets(raw);
  assert.throws(() => verifyThreshold(md, 'targets', role([a, b], 2)), code('ERR_THRESHOLD'));
  assert.deepEqual(
    checkSignatures(md, role([a, b], 2)).map((x) => x.status),
    ['valid', 'duplicate'],
  );
});

test('signatures by keys outside the role are ignored', async () => {
  const md = parseTargets(await signEnvelope(body, [a, c]));
  const r: RoleVerifier = {
    keys: new Map([
      [a.keyId, a.publicKey],
      [c.keyId, c.publicKey],
    ]),
    keyids: [a.keyId],
    threshold: 1,
  };
  const byKey = Object.fromEntries(checkSignatures(md, r).map((x) => [x.keyid, x.status]));
  assert.deepEqual(byKey, { [a.keyId]: 'valid', [c.keyId]: 'not-in-role' });
  assert.throws(
    () => verifyThreshold(md, 'targets', { ...r, threshold: 2 }),
    code('ERR_THRESHOLD'),
  );
  const unknown = parseTargets(await signEnvelope(body, [c]));
  assert.deepEqual(
    checkSignatures(unknown, role([a], 1)).map((x) => x.status),
    ['unknown-key'],
  );
});

test('no signatures, zero threshold, tampering and method mismatch are refused with codes', async () => {
  const none = parseTargets(withSignatures(await signEnvelope(body, [a]), () => []));
  assert.throws(() => verifyThreshold(none, 'targets', role([a], 1)), code('ERR_NO_SIGNATURES'));

  const good = parseTargets(await signEnvelope(body, [a]));
  assert.throws(() => verifyThreshold(good, 'targets', role([a], 0)), code('ERR_THRESHOLD'));

  const tampered = parseTargets(
    new TextEncoder().encode(
      Buffer.from(good.raw).toString().replace('"version":3', '"version":4'),
    ),
  );
  assert.throws(
    () => verifyThreshold(tampered, 'targets', role([a], 1)),
    code('ERR_BAD_SIGNATURE'),
  );

  const flippedSig = parseTargets(
    withSignatures(good.raw, (s) =>
      s.map((x) => ({
        ...x,
        sig: Buffer.from(
          Buffer.from(x.sig as string, 'base64').map((v, i) => (i === 5 ? v ^ 1 : v)),
        ).toString('base64'),
      })),
    ),
  );
  assert.throws(
    () => verifyThreshold(flippedSig, 'targets', role([a], 1)),
    code('ERR_BAD_SIGNATURE'),
  );

  const wrongMethod = parseTargets(
    withSignatures(good.raw, (s) => s.map((x) => ({ ...x, method: 'eddsa' }))),
  );
  assert.throws(
    () => verifyThreshold(wrongMethod, 'targets', role([a], 1)),
    code('ERR_METHOD_MISMATCH'),
  );
  assert.deepEqual(
    checkSignatures(wrongMethod, role([a], 1)).map((x) => x.status),
    ['method-mismatch'],
  );

  const upper = parseTargets(
    withSignatures(good.raw, (s) => s.map((x) => ({ ...x, method: 'ECDSA' }))),
  );
  assert.ok(verifyThreshold(upper, 'targets', role([a], 1)), 'method is case-insensitive as in Go');
});

test('verification re-canonicalises the parsed value, not the file bytes', async () => {
  const raw = await signEnvelope(body, [a]);
  // Reformat the signed part with whitespace and a different key order: same value, same signature.
  const doc = JSON.parse(Buffer.from(raw).toString()) as {
    signed: Record<string, unknown>;
    signatures: unknown;
  };
  const reordered = {
    version: 3,
    targets: {},
    expires: '2040-01-01T00:00:00Z',
    delegations: { roles: [], keys: {} },
    _type: 'Targets',
  };
  const pretty = new TextEncoder().encode(
    JSON.stringify({ signed: reordered, signatures: doc.signatures }, null, 2),
  );
  assert.ok(verifyThreshold(parseTargets(pretty), 'targets', role([a], 1)));
});

test('Verified cannot be constructed outside the verifier', () => {
  const Ctor = Verified as unknown as new (...args: unknown[]) => unknown;
  assert.throws(() => new Ctor(Symbol('verified'), {}, 'targets', []), TypeError);
  assert.throws(
    () => Verified._make(Symbol('verified'), parseTargetsSync(), 'targets', []),
    TypeError,
  );
});

function parseTargetsSync() {
  return parseTargets(new TextEncoder().encode(JSON.stringify({ signed: body, signatures: [] })));
}
