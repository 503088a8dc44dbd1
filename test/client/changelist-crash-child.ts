// Child process for the changelist crash test: stages one change and stops at the named point
// of the atomic write ("before-commit": temp file written and fsynced, not yet renamed;
// "after-commit": renamed, directory not yet fsynced), announces it on stdout, and waits for
// the parent's SIGKILL. Usage: node --import tsx changelist-crash-child.ts <dir> <stage> <path>

import { FileChangelist } from '../../src/client/changelist/file-changelist.js';
import { removeTargetChange } from '../../src/client/changelist/change.js';

const [dir, stage, target] = process.argv.slice(2) as [string, string, string];

const pause = async (what: string, path: string): Promise<void> => {
  if (what !== stage) return;
  process.stdout.write(`PAUSED ${path}\n`);
  await new Promise<never>(() => setInterval(() => {}, 60_000));
};

const cl = new FileChangelist(dir, {
  hooks: {
    beforeCommit: (p) => pause('before-commit', p),
    afterCommit: (p) => pause('after-commit', p),
  },
});
await cl.add([removeTargetChange('targets', target)]);
process.stdout.write('DONE\n');
