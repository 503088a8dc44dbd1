// Key interop with the real Go Notary 0.7 CLI and notary-server (skips locally without them,
// fails under CI=true):
//   (a) keys made by Go (`notary init`, `notary key generate -o`) import into our keyring with
//       Go's ids, and sign a new root (as the x509 root key), targets, a delegation and snapshot
//       that our verifier and Go's server and client accept;
//   (b) keys made by trustdesk and exported in Go's format are imported by `notary key import`,
//       listed by `notary key list`, decrypted by `notary key passwd`, and used by Go to publish
//       (`notary init --rootkey`, `notary key rotate … --key`).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TrustdeskError } from '../../src/tuf/errors.js';
import type { PublicKey, Signer } from '../../src/tuf/keys.js';
import { fileMetaFor, RepoBuilder } from '../../src/tuf/builder.js';
import { parseRoot, parseSnapshot, parseTargets, parseTimestamp } from '../../src/tuf/metadata.js';
import { rootRoleVerifier } from '../../src/tuf/root-trust.js';
import { verifyThreshold } from '../../src/tuf/verify.js';
import { Keyring } from '../../src/keyring/keyring.js';
import { ScriptPrompter } from '../../src/keyring/prompter.js';
import { encodePem } from '../../src/tuf/pem.js';
import {
  fetchMetadata,
  GO_PASSPHRASES,
  GoNotaryCli,
  hasGoNotary,
  startNotaryServer,
  tempDir,
  uploadMetadata,
  type GoNotaryServer,
} from '../support/go-notary.js';
import { requireService } from '../support/services.js';
import { fileBackend, NOW } from './helpers.js';

const utf8 = new TextEncoder();

async function withServer(
  t: TestContext,
  fn: (srv: GoNotaryServer, work: string) => Promise<void>,
): Promise<void> {
  if (!requireService(t, hasGoNotary(), 'Go notary + notary-server')) return;
  const srv = await startNotaryServer();
  const work = await tempDir('keyring-interop');
  try {
    await fn(srv, work);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- notary-server log ---\n${srv.log()}`, {
      cause: e,
    });
  } finally {
    await srv.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** Our keyring reading passphrases from Go's environment variables (script mode). */
function goKeyring(trustDir: string): Keyring {
  return new Keyring({
    prompter: new ScriptPrompter({ env: GO_PASSPHRASES }),
    backends: [fileBackend(trustDir)],
  });
}

test(
  '(a) Go-made keys import with their ids and sign metadata Go accepts',
  { timeout: 180_000 },
  (t) =>
    withServer(t, async (srv, work) => {
      const gun = 'example.com/keyring/go-made';
      const go = new GoNotaryCli(srv.url, join(work, 'go'));
      await go.ok(['init', gun, '-p']);
      await go.ok(['key', 'generate', '--role', 'targets/releases', '-o', join(work, 'deleg')]);
      await go.ok([
        'delegation',
        'add',
        gun,
        'targets/releases',
        join(work, 'deleg.pem'),
        '--all-paths',
        '-p',
      ]);

      // Import every Go key file: Go named each by the key's canonical id.
      const kr = goKeyring(join(work, 'ours'));
      const privDir = join(work, 'go', 'private');
      const goFiles = (await readdir(privDir)).filter((f) => f.endsWith('.key')).sort();
      assert.equal(goFiles.length, 3, goFiles.join(', '));
      for (const f of goFiles) {
        const [rec] = await kr.importPem(await readFile(join(privDir, f), 'utf8'), f, {
          nowMs: NOW,
        });
        assert.equal(rec!.id, f.slice(0, -'.key'.length), f);
      }
      const [deleg] = await kr.importPem(
        await readFile(join(work, 'deleg-key.pem'), 'utf8'),
        'deleg-key.pem',
        { nowMs: NOW },
      );
      assert.equal(deleg!.role, 'targets/releases');
      assert.deepEqual(
        (await kr.list()).map((k) => [k.role, k.gun]),
        [
          ['root', ''],
          ['targets', gun],
          ['snapshot', gun],
          ['targets/releases', ''],
        ],
      );

      // Re-sign root (as its x509 certificate key), add targets to targets and the delegation.
      const root = parseRoot(await fetchMetadata(srv.url, gun, 'root'));
      const rootCert = root.signed.keys.get(root.signed.roles.root.keyids[0]!) as PublicKey;
      assert.equal(rootCert.keytype, 'ecdsa-x509');
      assert.notEqual(rootCert.id, rootCert.canonicalId);
      const delegKey = parseTargets(await fetchMetadata(srv.url, gun, 'targets')).signed.delegations
        .keys;
      assert.ok(delegKey.has(deleg!.tufId), 'Go delegated to the key we imported');
      const repo = RepoBuilder.load({
        gun,
        root,
        targets: parseTargets(await fetchMetadata(srv.url, gun, 'targets')),
        snapshot: parseSnapshot(await fetchMetadata(srv.url, gun, 'snapshot')),
        timestamp: parseTimestamp(await fetchMetadata(srv.url, gun, 'timestamp')),
      });
      repo.markRootDirty();
      repo.addTarget(
        'targets',
        'signed-by-trustdesk',
        fileMetaFor(utf8.encode('from trustdesk\n')),
      );
      repo.addTarget(
        'targets/releases',
        'release-by-trustdesk',
        fileMetaFor(utf8.encode('release\n')),
      );
      const lookup = async (role: string): Promise<Signer[]> => {
        try {
          if (role === 'root') return [await kr.signerFor('root', '', rootCert)];
          return [await kr.signerFor(role, gun)];
        } catch (e) {
          if (e instanceof TrustdeskError && e.code === 'ERR_MISSING_KEY') return [];
          throw e;
        }
      };
      const files = await repo.sign({ nowMs: Date.now(), signers: lookup });
      assert.deepEqual([...files.keys()].sort(), [
        'root',
        'snapshot',
        'targets',
        'targets/releases',
      ]);

      // Our verifier accepts every file against the (unchanged) root roles.
      const root2 = parseRoot(files.get('root')!);
      assert.equal(root2.signed.version, 2);
      verifyThreshold(root2, 'root', rootRoleVerifier(root.signed, 'root'));
      assert.deepEqual(
        root2.signatures.map((s) => s.keyid),
        [rootCert.id],
        'signed under the certificate TUF id',
      );
      verifyThreshold(
        parseTargets(files.get('targets')!),
        'targets',
        rootRoleVerifier(root.signed, 'targets'),
      );
      verifyThreshold(
        parseSnapshot(files.get('snapshot')!),
        'snapshot',
        rootRoleVerifier(root.signed, 'snapshot'),
      );

      // Go's server takes the upload and Go's client (cached and fresh) lists our targets.
      const up = await uploadMetadata(srv.url, gun, files);
      assert.equal(up.status, 200, up.body);
      const want = [
        { name: 'release-by-trustdesk', role: 'targets/releases' },
        { name: 'signed-by-trustdesk', role: 'targets' },
      ];
      const sortByName = (xs: { name: string; role: string }[]) =>
        xs.sort((a, b) => (a.name < b.name ? -1 : 1));
      assert.deepEqual(sortByName(await go.list(gun)), want);
      assert.deepEqual(
        sortByName(await new GoNotaryCli(srv.url, join(work, 'fresh')).list(gun)),
        want,
      );
    }),
);

test(
  '(b) trustdesk-made keys exported in Go format: Go imports, lists, decrypts and publishes with them',
  { timeout: 180_000 },
  (t) =>
    withServer(t, async (srv, work) => {
      const gun = 'example.com/keyring/trustdesk-made';
      const kr = goKeyring(join(work, 'ours'));
      const root = await kr.generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW });
      const targets = await kr.generate({ algorithm: 'ecdsa', role: 'targets', gun, nowMs: NOW });
      const deleg = await kr.generate({
        algorithm: 'ed25519',
        role: 'targets/ed',
        gun: '',
        nowMs: NOW,
      });
      const qa = await kr.generate({ algorithm: 'ecdsa', role: 'targets/qa', gun: '', nowMs: NOW });
      // Exported under the Go passphrases of their roles (script mode reads NOTARY_<ROLE>_PASSPHRASE).
      const rootFile = join(work, 'root-export.pem');
      const targetsFile = join(work, 'targets-export.pem');
      const delegFile = join(work, 'deleg-export.pem');
      await writeFile(rootFile, await kr.exportPem([root]));
      // Go quirk: `key rotate --key F` decrypts F with the ROOT passphrase whatever the role
      // (cmd/notary/tuf.go readKey), so that file is exported under it.
      const underRoot = new Keyring({
        prompter: new ScriptPrompter({
          env: {
            ...GO_PASSPHRASES,
            TRUSTDESK_NEW_PASSPHRASE: GO_PASSPHRASES.NOTARY_ROOT_PASSPHRASE,
          },
        }),
        backends: [fileBackend(join(work, 'ours'))],
      });
      await writeFile(targetsFile, await underRoot.exportPem([targets]));
      await writeFile(delegFile, await kr.exportPem([deleg, qa]));

      const go = new GoNotaryCli(srv.url, join(work, 'go'));
      await go.ok(['key', 'import', delegFile]);
      await go.ok(['init', gun, '--rootkey', rootFile, '-p']);
      await go.ok(['key', 'rotate', gun, 'targets', '--key', targetsFile]);
      await go.ok(['publish', gun]);
      const listing = await go.ok(['key', 'list']);
      for (const [r, g] of [
        [root, ''],
        [targets, gun],
        [deleg, ''],
        [qa, ''],
      ] as const) {
        const row = listing.split('\n').find((l) => l.includes(r.id));
        assert.ok(row, `notary key list shows ${r.role} key ${r.id}:\n${listing}`);
        const cols = row.trim().split(/\s+/);
        assert.equal(cols[0], r.role, row);
        // Go shortens long GUNs to "...<tail>"; root and delegation keys have no GUN column value.
        if (g) assert.ok(g.endsWith(cols[1]!.replace(/^\.\.\./, '')), row);
        else assert.equal(cols[1], r.id, row);
      }
      // Go can decrypt the ed25519 key (Go's non-standard PKCS#8 OID and 96-byte blob).
      await go.ok(['key', 'passwd', deleg.id]);

      // The published root is our key's certificate; targets lists our key and Go signed with it.
      const rootMd = parseRoot(await fetchMetadata(srv.url, gun, 'root'));
      const rootKeys = rootMd.signed.roles.root.keyids.map((id) => rootMd.signed.keys.get(id)!);
      assert.deepEqual(
        rootKeys.map((k) => k.canonicalId),
        [root.id],
      );
      assert.deepEqual(rootMd.signed.roles.targets.keyids, [targets.tufId]);
      await writeFile(join(work, 'hello.txt'), 'hello from go\n');
      await go.ok(['add', gun, 'hello', join(work, 'hello.txt'), '-p']);
      const targetsMd = parseTargets(await fetchMetadata(srv.url, gun, 'targets'));
      assert.deepEqual(
        targetsMd.signatures.map((s) => s.keyid),
        [targets.tufId],
      );
      verifyThreshold(targetsMd, 'targets', rootRoleVerifier(rootMd.signed, 'targets'));
      assert.ok(targetsMd.signed.targets.has('hello'));

      // Our ECDSA delegation key: Go delegates to it and signs the delegation with our exported key.
      // (Go 0.7 cannot take ed25519 PUBLIC KEY PEMs in `delegation add`: "unknown public key format".)
      const pubFile = join(work, 'qa.pub.pem');
      await writeFile(
        pubFile,
        encodePem({ type: 'PUBLIC KEY', headers: {}, bytes: qa.publicKey.publicBytes }),
      );
      await go.ok(['delegation', 'add', gun, 'targets/qa', pubFile, '--all-paths', '-p']);
      await go.ok(['add', gun, 'qa-file', join(work, 'hello.txt'), '--roles', 'targets/qa', '-p']);
      const qaMd = parseTargets(await fetchMetadata(srv.url, gun, 'targets/qa'));
      assert.deepEqual(
        qaMd.signatures.map((s) => [s.keyid, s.method]),
        [[qa.tufId, 'ecdsa']],
      );
      assert.ok(qa.publicKey.verify('ecdsa', qaMd.canonicalSigned(), qaMd.signatures[0]!.sig));
    }),
);
