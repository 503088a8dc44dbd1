// TUF core throughput: canonical JSON and full verification of (1) one targets file with 10,000
// targets and (2) a repository with 100 delegations, next to the machine's limit for the same
// bytes (JSON.parse + JSON.stringify, which does far less: no integer checks, no duplicate-key
// checks, no sorting, no signatures). Not part of the tests: `npm run bench`.
//
// Each measurement repeats its operation for at least MIN_MS after a short warm-up and prints
// operations per second and megabytes (10^6 bytes) of metadata per second.

import { cpus } from 'node:os';
import { canonicalBytes } from '../src/tuf/canonical.js';
import { fileMetaFor, RepoBuilder } from '../src/tuf/builder.js';
import { sha256 } from '../src/tuf/encoding.js';
import { checkFileMeta } from '../src/tuf/filemeta.js';
import { parseJson, type JsonValue } from '../src/tuf/json.js';
import { KeyObjectSigner } from '../src/tuf/key-object-signer.js';
import type { Signer } from '../src/tuf/keys.js';
import { parseRoot, parseSnapshot, parseTargets } from '../src/tuf/metadata.js';
import { rootRoleVerifier } from '../src/tuf/root-trust.js';
import { TrustedMetadataSet } from '../src/tuf/trusted-set.js';
import { verifyThreshold } from '../src/tuf/verify.js';
import { createRootCertificate } from '../src/tuf/x509.js';

const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 1500);
const GUN = 'example.com/bench/repo';
const NOW = Date.UTC(2026, 0, 1);
const utf8 = new TextDecoder();

interface Result {
  name: string;
  opsPerSec: number;
  mbPerSec: number;
}

function measure(name: string, bytesPerOp: number, op: () => unknown): Result {
  for (let i = 0; i < 3; i++) op();
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    op();
    n++;
    elapsed = performance.now() - t0;
  } while (elapsed < MIN_MS);
  const opsPerSec = (n * 1000) / elapsed;
  return { name, opsPerSec, mbPerSec: (opsPerSec * bytesPerOp) / 1e6 };
}

function print(title: string, results: Result[], limit: Result): void {
  console.log(`\n${title}`);
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    const ratio =
      r === limit ? 'machine limit' : `${(r.mbPerSec / limit.mbPerSec).toFixed(2)}× the limit`;
    console.log(
      `  ${r.name.padEnd(width)}  ${r.opsPerSec.toFixed(1).padStart(9)} ops/s  ${r.mbPerSec.toFixed(1).padStart(7)} MB/s  (${ratio})`,
    );
  }
}

async function repoKeys(): Promise<{ signers: Map<string, Signer>; builder: RepoBuilder }> {
  const root = KeyObjectSigner.generate('ecdsa');
  const signers = new Map<string, Signer>([
    ['root', root],
    ['targets', KeyObjectSigner.generate('ecdsa')],
    ['snapshot', KeyObjectSigner.generate('ecdsa')],
    ['timestamp', KeyObjectSigner.generate('ed25519')],
  ]);
  const builder = RepoBuilder.create({
    gun: GUN,
    rootKeys: [await createRootCertificate(root, GUN, { nowMs: NOW })],
    targetsKeys: [signers.get('targets')!.publicKey],
    snapshotKeys: [signers.get('snapshot')!.publicKey],
    timestampKeys: [signers.get('timestamp')!.publicKey],
  });
  return { signers, builder };
}

const fakeFile = (name: string) => fileMetaFor(sha256(name));

/** JSON.parse + JSON.stringify: the floor any JSON processing of these bytes pays. */
function nativeRoundTrip(files: readonly Uint8Array[]): () => void {
  return () => {
    for (const f of files) JSON.stringify(JSON.parse(utf8.decode(f)));
  };
}

/** Strict parse (integers only, no duplicate keys) + Go-canonical serialisation of `signed`. */
function canonicalRoundTrip(files: readonly Uint8Array[]): () => void {
  return () => {
    for (const f of files) {
      const doc = parseJson(f) as { signed: JsonValue };
      canonicalBytes(doc.signed);
    }
  };
}

async function benchLargeTargets(): Promise<void> {
  const { signers, builder } = await repoKeys();
  for (let i = 0; i < 10_000; i++) {
    const name = `releases/v${Math.floor(i / 100)}.${i % 100}/app-linux-amd64-${i}.tar.gz`;
    builder.addTarget('targets', name, fakeFile(name));
  }
  const files = await builder.sign({ nowMs: NOW, signers: (r) => [signers.get(r)!] });
  const root = parseRoot(files.get('root')!);
  const targetsBytes = files.get('targets')!;
  const snapshot = parseSnapshot(files.get('snapshot')!);
  const verifier = rootRoleVerifier(root.signed, 'targets');
  const expected = snapshot.signed.meta.get('targets');

  const limit = measure(
    'JSON.parse + JSON.stringify',
    targetsBytes.length,
    nativeRoundTrip([targetsBytes]),
  );
  const results = [
    limit,
    measure(
      'canonical JSON (strict parse + canonicalise)',
      targetsBytes.length,
      canonicalRoundTrip([targetsBytes]),
    ),
    measure('full verification (parse + signature + hashes)', targetsBytes.length, () => {
      checkFileMeta(targetsBytes, expected, 'targets');
      verifyThreshold(parseTargets(targetsBytes), 'targets', verifier);
    }),
  ];
  print(
    `targets.json with 10,000 targets (${(targetsBytes.length / 1e6).toFixed(2)} MB)`,
    results,
    limit,
  );
}

async function benchDelegations(): Promise<void> {
  const { signers, builder } = await repoKeys();
  for (let d = 0; d < 100; d++) {
    const role = `targets/team-${String(d).padStart(3, '0')}`;
    const key = KeyObjectSigner.generate('ecdsa');
    signers.set(role, key);
    builder.addDelegation(role, [key.publicKey], [`team-${d}/`]);
    for (let i = 0; i < 10; i++)
      builder.addTarget(role, `team-${d}/artifact-${i}`, fakeFile(`${d}/${i}`));
  }
  builder.addTarget('targets', 'README.md', fakeFile('README.md'));
  const files = await builder.sign({
    nowMs: NOW,
    signers: (r) => [signers.get(r)!],
    timestamp: true,
  });
  const all = [...files.values()];
  const total = all.reduce((n, f) => n + f.length, 0);
  const delegations = [...files.keys()].filter((r) => r.startsWith('targets/'));

  const limit = measure('JSON.parse + JSON.stringify of every file', total, nativeRoundTrip(all));
  const results = [
    limit,
    measure('canonical JSON of every file', total, canonicalRoundTrip(all)),
    measure('full verification (trusted set: root → … → 100 delegations)', total, () => {
      const set = TrustedMetadataSet.firstContact(files.get('root')!, { gun: GUN, nowMs: NOW });
      set.updateTimestamp(files.get('timestamp')!);
      set.updateSnapshot(files.get('snapshot')!);
      set.updateTargets(files.get('targets')!);
      for (const role of delegations) set.updateDelegatedTargets(files.get(role)!, role);
    }),
  ];
  print(
    `repository with 100 delegations (${files.size} files, ${delegations.length * 10 + 1} targets, ${(total / 1e6).toFixed(2)} MB; ${delegations.length + 4} signatures per verification)`,
    results,
    limit,
  );
}

console.log(
  `trustdesk TUF benchmarks — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), ≥${MIN_MS} ms per line`,
);
await benchLargeTargets();
await benchDelegations();
