// Child process for the kill -9 tests (file-store.test.ts). Usage:
//   passwd-child.ts <trustDir> <keyId> pause   passwd A→B, then stop before the commit and wait
//   passwd-child.ts <trustDir> <keyId> loop    passwd A→B→A→… forever, printing each commit
// It prints `ready <tempPath>` / `done <n>` lines on stdout for the parent to act on.

import { FileBackend } from '../../src/keyring/file-store.js';
import { ScriptedPrompter, TEST_COST } from './helpers.js';

const [trustDir, keyId, mode] = process.argv.slice(2) as [string, string, string];
const PASSES = ['passphrase-A', 'passphrase-B'];

const backend = new FileBackend({
  trustDir,
  costFor: () => TEST_COST,
  hooks:
    mode === 'pause'
      ? {
          beforeCommit: (temp) => {
            process.stdout.write(`ready ${temp}\n`);
            return new Promise<void>(() => setInterval(() => {}, 60_000));
          },
        }
      : {},
});

const record = backend.read(backend.pathFor(keyId));
for (let n = 0; ; n++) {
  const from = PASSES[n % 2] as string;
  const to = PASSES[(n + 1) % 2] as string;
  await backend.changePassphrase(record.record, new ScriptedPrompter([from], [to]));
  process.stdout.write(`done ${n}\n`);
  if (mode !== 'loop') break;
}
