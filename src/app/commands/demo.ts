// `trustdesk demo`: a whole repository built in memory with fresh keys, then every file inspected
// the way `trustdesk inspect` would — the core end to end, with no setup, disk or server.

import { fileMetaFor, RepoBuilder } from '../../tuf/builder.js';
import { KeyObjectSigner } from '../../tuf/key-object-signer.js';
import type { Signer } from '../../tuf/keys.js';
import { createRootCertificate } from '../../tuf/x509.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { renderInspect } from '../inspect/render.js';
import { inspectMetadata, type InspectFile, type InspectOutcome } from '../inspect/report.js';
import { makeStyle } from '../output.js';

export const DEFAULT_DEMO_GUN = 'example.com/trustdesk/demo';

const utf8 = new TextEncoder();

export interface DemoRepository {
  gun: string;
  /** Role → exact file bytes, in signing order. */
  files: Map<string, Uint8Array>;
}

/** Root (x509 certificate), targets with three targets and a delegation, snapshot, timestamp. */
export async function buildDemoRepository(gun: string, nowMs: number): Promise<DemoRepository> {
  const rootKey = KeyObjectSigner.generate('ecdsa');
  const rootCert = await createRootCertificate(rootKey, gun, { nowMs });
  const keys: Record<string, Signer> = {
    root: rootKey,
    targets: KeyObjectSigner.generate('ecdsa'),
    snapshot: KeyObjectSigner.generate('ecdsa'),
    // As Go notary-server's local trust service does.
    timestamp: KeyObjectSigner.generate('ed25519'),
    'targets/releases': KeyObjectSigner.generate('ecdsa'),
  };
  const repo = RepoBuilder.create({
    gun,
    rootKeys: [rootCert],
    targetsKeys: [keys.targets!.publicKey],
    snapshotKeys: [keys.snapshot!.publicKey],
    timestampKeys: [keys.timestamp!.publicKey],
  });
  const content: Record<string, string> = {
    'README.md': '# demo\n',
    'bin/app-linux-amd64': 'binary for linux\n',
    'bin/app-darwin-arm64': 'binary for macOS\n',
  };
  for (const [name, text] of Object.entries(content)) {
    repo.addTarget('targets', name, fileMetaFor(utf8.encode(text)));
  }
  repo.addDelegation('targets/releases', [keys['targets/releases']!.publicKey], ['releases/']);
  repo.addTarget('targets/releases', 'releases/v1.0.0.tar.gz', fileMetaFor(utf8.encode('v1\n')));
  const files = await repo.sign({
    nowMs,
    signers: (role) => (keys[role] ? [keys[role]] : []),
    timestamp: true,
  });
  return { gun, files };
}

/** The inspect runs the demo prints: each file checked against what vouches for it. */
export function inspectDemo(repo: DemoRepository, nowMs: number): InspectOutcome[] {
  const file = (role: string): InspectFile => ({
    name: `${role}.json`,
    bytes: repo.files.get(role)!,
  });
  const root = file('root');
  const { gun } = repo;
  return [
    inspectMetadata({ file: root, gun, nowMs }),
    inspectMetadata({ file: file('targets'), root, gun, nowMs }),
    inspectMetadata({
      file: file('targets/releases'),
      role: 'targets/releases',
      parent: file('targets'),
      root,
      gun,
      nowMs,
    }),
    inspectMetadata({ file: file('snapshot'), root, gun, nowMs }),
    inspectMetadata({ file: file('timestamp'), root, gun, nowMs }),
  ];
}

export async function runDemo(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = typeof args.values.gun === 'string' ? args.values.gun : DEFAULT_DEMO_GUN;
  const nowMs = ctx.io.nowMs();
  const repo = await buildDemoRepository(gun, nowMs);
  const runs = inspectDemo(repo, nowMs);
  const failure = runs.find((r) => r.failure)?.failure;
  const style = makeStyle(ctx.color);
  const text = () =>
    [
      style.bold(`trustdesk demo: a repository for ${gun}, built in memory with fresh keys`),
      'root key: ECDSA P-256 in a self-signed x509 certificate (CN = GUN, 10 years); targets,',
      'snapshot and targets/releases keys: ECDSA P-256; timestamp key: Ed25519.',
      'Each file is checked against what vouches for it: root against itself and the GUN,',
      'targets/snapshot/timestamp against root.json, targets/releases against targets.json.',
      '',
      ...runs.map((r) => renderInspect(r.report, style, ctx.verbose)),
    ].join('\n');
  return {
    json: { gun, reports: runs.map((r) => r.report) },
    text,
    ...(failure ? { failure } : {}),
  };
}
