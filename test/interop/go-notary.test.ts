// Live interop with Go Notary 0.7 (Debian `notary`): the byte-compatibility proof.
//   (a) The Go CLI publishes to Go notary-server (targets, a delegation, a root rotation); every
//       file fetched back parses and verifies with our core, hashes in snapshot/timestamp match
//       the exact bytes, our wire encoder reproduces Go's bytes, and `trustdesk inspect` exits 0.
//   (b) A repository built by our RepoBuilder is accepted by the Go server's upload endpoint, and
//       the Go CLI (fresh trust dir, TOFU) lists its targets — also after a second publish that
//       adds a target and a delegation.
// Skips locally without the Go binaries; fails under CI=true (test/support/services.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileMetaFor, RepoBuilder } from '../../src/tuf/builder.js';
import { canonicalText, encodeEnvelope } from '../../src/tuf/canonical.js';
import { toBase64 } from '../../src/tuf/encoding.js';
import { checkFileMeta } from '../../src/tuf/filemeta.js';
import { KeyObjectSigner } from '../../src/tuf/key-object-signer.js';
import type { Signer } from '../../src/tuf/keys.js';
import {
  parseAny,
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type Metadata,
} from '../../src/tuf/metadata.js';
import { rootRoleVerifier, verifyRoot } from '../../src/tuf/root-trust.js';
import { verifyThreshold } from '../../src/tuf/verify.js';
import { createRootCertificate } from '../../src/tuf/x509.js';
import { runTrustdesk } from '../app/cli-process.js';
import {
  fetchMetadata,
  fetchRoleKey,
  GoNotaryCli,
  tempDir,
  uploadMetadata,
  withGoNotaryServer,
  writeKeyPair,
} from '../support/go-notary.js';

const utf8 = new TextEncoder();

/** Our wire encoding of a parsed file: canonical `signed` + its signatures (or a subset). */
function reencode(md: Metadata, keep: (keyid: string) => boolean = () => true): Uint8Array {
  const sigs = md.signatures
    .filter((s) => keep(s.keyid))
    .map((s) => ({ keyid: s.keyid, method: s.method, sig: toBase64(s.sig) }));
  return encodeEnvelope(canonicalText(md.signedJson), sigs);
}

async function inspectOk(args: string[]): Promise<void> {
  const r = await runTrustdesk(['inspect', ...args, '--json']);
  assert.equal(r.code, 0, `trustdesk inspect ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { ok: boolean; report: { checks: { ok: boolean }[] } };
  assert.equal(doc.ok, true);
  assert.ok(doc.report.checks.every((c) => c.ok));
}

test(
  '(a) metadata published by the Go CLI verifies with our core and inspect',
  { timeout: 180_000 },
  (t) =>
    withGoNotaryServer(t, async (srv) => {
      const gun = 'example.com/interop/go-published';
      const work = await tempDir('interop-a');
      try {
        const go = new GoNotaryCli(srv.url, join(work, 'trust'));
        await writeFile(join(work, 'hello.txt'), 'hello from go\n');
        await go.ok(['init', gun]);
        await go.ok(['add', gun, 'hello', join(work, 'hello.txt')]);
        await go.ok(['publish', gun]);

        // A delegation whose key we make and import into the Go key store (unencrypted PKCS#8).
        const rel = await writeKeyPair(work, 'releases');
        await go.ok(['key', 'import', rel.priv, '--role', 'targets/releases']);
        await go.ok(['delegation', 'add', gun, 'targets/releases', rel.pub, '--all-paths']);
        await go.ok(['add', gun, 'release-1', join(work, 'hello.txt'), '-r', 'targets/releases']);
        await go.ok(['publish', gun]);

        const roles = ['root', 'timestamp', 'snapshot', 'targets', 'targets/releases'] as const;
        const bytes = new Map<string, Uint8Array>();
        for (const r of roles) bytes.set(r, await fetchMetadata(srv.url, gun, r));
        const get = (r: string) => bytes.get(r)!;
        const nowMs = Date.now();

        const root = parseRoot(get('root'));
        const trusted = verifyRoot(root, { gun, nowMs });
        const timestamp = parseTimestamp(get('timestamp'));
        const snapshot = parseSnapshot(get('snapshot'));
        const targets = parseTargets(get('targets'));
        const releases = parseTargets(get('targets/releases'), { role: 'targets/releases' });
        verifyThreshold(timestamp, 'timestamp', rootRoleVerifier(trusted, 'timestamp'));
        verifyThreshold(snapshot, 'snapshot', rootRoleVerifier(trusted, 'snapshot'));
        verifyThreshold(targets, 'targets', rootRoleVerifier(trusted, 'targets'));
        const entry = targets.signed.delegations.roles.find((d) => d.name === 'targets/releases');
        assert.ok(entry, 'targets delegates to targets/releases');
        assert.deepEqual(entry.paths, ['']);
        verifyThreshold(releases, 'targets/releases', {
          keys: targets.signed.delegations.keys,
          keyids: entry.keyids,
          threshold: entry.threshold,
        });
        assert.deepEqual([...targets.signed.targets.keys()], ['hello']);
        assert.deepEqual([...releases.signed.targets.keys()], ['release-1']);
        checkFileMeta(utf8.encode('hello from go\n'), targets.signed.targets.get('hello'), 'hello');

        // Hashes over the exact bytes: timestamp → snapshot → root, targets, delegation.
        checkFileMeta(get('snapshot'), timestamp.signed.meta.get('snapshot'), 'snapshot');
        for (const r of ['root', 'targets', 'targets/releases']) {
          checkFileMeta(get(r), snapshot.signed.meta.get(r), r);
        }

        // Byte compatibility: re-serialising the parsed `signed` value gives Go's exact bytes.
        for (const r of roles) {
          const md = parseAny(get(r), { role: r });
          assert.equal(Buffer.from(reencode(md)).toString(), Buffer.from(get(r)).toString(), r);
        }

        // trustdesk inspect exits 0 on every file.
        const file = (r: string) => join(work, `${r.replace('/', '-')}.json`);
        for (const r of roles) await writeFile(file(r), get(r));
        await inspectOk([file('root'), '--gun', gun]);
        for (const r of ['timestamp', 'snapshot', 'targets']) {
          await inspectOk([file(r), '--root', file('root'), '--gun', gun]);
        }
        await inspectOk([
          file('targets/releases'),
          '--role',
          'targets/releases',
          '--parent',
          file('targets'),
          '--root',
          file('root'),
        ]);

        // Root rotation, confirmed on stdin: v2 is signed by the old and the new root key.
        await go.ok(['key', 'rotate', gun, 'root'], 'yes\n');
        const v1 = await fetchMetadata(srv.url, gun, '1.root');
        assert.deepEqual(v1, get('root'));
        const v2 = await fetchMetadata(srv.url, gun, 'root');
        const root2 = parseRoot(v2);
        assert.equal(root2.signed.version, 2);
        assert.equal(root2.signatures.length, 2);
        assert.notDeepEqual(root2.signed.roles.root.keyids, root.signed.roles.root.keyids);
        const rotated = verifyRoot(root2, { gun, nowMs, trusted });
        assert.equal(rotated.signed.version, 2);
        assert.equal(Buffer.from(reencode(root2)).toString(), Buffer.from(v2).toString());
        await writeFile(file('root-v2'), v2);
        await inspectOk([file('root-v2'), '--root', file('root'), '--gun', gun]);
        // Without the old root's signature the rotation would not be trusted.
        const newOnly = new Set(root2.signed.roles.root.keyids);
        const forged = parseRoot(reencode(root2, (id) => newOnly.has(id)));
        assert.equal(forged.signatures.length, 1);
        assert.throws(() => verifyRoot(forged, { gun, nowMs, trusted }));
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }),
);

test(
  '(b) a repository built by our builder is accepted by Go notary-server and listed by the Go CLI',
  { timeout: 180_000 },
  (t) =>
    withGoNotaryServer(t, async (srv) => {
      const gun = 'example.com/interop/trustdesk-built';
      const work = await tempDir('interop-b');
      try {
        const nowMs = Date.now();
        const rootKey = KeyObjectSigner.generate('ecdsa');
        const rootCert = await createRootCertificate(rootKey, gun, { nowMs });
        const timestampKey = await fetchRoleKey(srv.url, gun, 'timestamp');
        const signers: Record<string, Signer> = {
          root: rootKey,
          targets: KeyObjectSigner.generate('ecdsa'),
          snapshot: KeyObjectSigner.generate('ecdsa'),
          'targets/releases': KeyObjectSigner.generate('ed25519'),
        };
        const repo = RepoBuilder.create({
          gun,
          rootKeys: [rootCert],
          targetsKeys: [signers.targets!.publicKey],
          snapshotKeys: [signers.snapshot!.publicKey],
          timestampKeys: [timestampKey],
        });
        repo.addTarget('targets', 'app-1.0.tar.gz', fileMetaFor(utf8.encode('app 1.0\n')));
        repo.addTarget('targets', 'docs<&>€.txt', fileMetaFor(utf8.encode('docs\n')));
        const lookup = (role: string) => (signers[role] ? [signers[role]] : []);

        const first = await repo.sign({ nowMs, signers: lookup });
        assert.deepEqual([...first.keys()].sort(), ['root', 'snapshot', 'targets']);
        const up1 = await uploadMetadata(srv.url, gun, first);
        assert.equal(up1.status, 200, up1.body);

        // The Go client, trusting on first use, sees our targets.
        const goA = new GoNotaryCli(srv.url, join(work, 'trust-a'));
        const listed1 = await goA.list(gun);
        assert.deepEqual(listed1.map((x) => x.name).sort(), ['app-1.0.tar.gz', 'docs<&>€.txt']);
        // The server stores our bytes verbatim and times them with its own key.
        for (const r of ['root', 'targets', 'snapshot']) {
          assert.deepEqual(await fetchMetadata(srv.url, gun, r), first.get(r), r);
        }
        const ts = parseTimestamp(await fetchMetadata(srv.url, gun, 'timestamp'));
        verifyThreshold(
          ts,
          'timestamp',
          rootRoleVerifier(parseRoot(first.get('root')!).signed, 'timestamp'),
        );
        checkFileMeta(first.get('snapshot')!, ts.signed.meta.get('snapshot'), 'snapshot');

        // Second publish: a new target and a delegation with one of its own.
        repo.addTarget('targets', 'app-1.1.tar.gz', fileMetaFor(utf8.encode('app 1.1\n')));
        repo.addDelegation(
          'targets/releases',
          [signers['targets/releases']!.publicKey],
          ['releases/'],
        );
        repo.addTarget(
          'targets/releases',
          'releases/app-2.0.tar.gz',
          fileMetaFor(utf8.encode('app 2.0\n')),
        );
        const second = await repo.sign({ nowMs, signers: lookup });
        assert.deepEqual([...second.keys()].sort(), ['snapshot', 'targets', 'targets/releases']);
        const up2 = await uploadMetadata(srv.url, gun, second);
        assert.equal(up2.status, 200, up2.body);

        const goB = new GoNotaryCli(srv.url, join(work, 'trust-b'));
        for (const go of [goA, goB]) {
          const listed = await go.list(gun);
          const byName = new Map(listed.map((x) => [x.name, x.role]));
          assert.equal(byName.get('app-1.0.tar.gz'), 'targets');
          assert.equal(byName.get('app-1.1.tar.gz'), 'targets');
          assert.equal(byName.get('releases/app-2.0.tar.gz'), 'targets/releases');
        }

        // A version the server already holds is refused (rollback protection on upload).
        const replay = await uploadMetadata(
          srv.url,
          gun,
          new Map([['targets', first.get('targets')!]]),
        );
        assert.equal(replay.status, 400, replay.body);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }),
);
