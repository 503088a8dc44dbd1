// Child process for storage-replicas.test.ts: one "replica" publishing to a shared database.
// Usage: node --import tsx storage-replica-writer.ts <backend> <db_url> <gun> <name> <loops> <attempts>
// Opens the store (running migrations, possibly racing the other replica), prints "ready",
// waits for "go" on stdin, then runs <loops> concurrent publish loops of <attempts> each. A
// publish is a linked chain — targets vN, snapshot vN naming sha256(targets), timestamp vN naming
// sha256(snapshot), N = stored timestamp version + 1 — so a mixed or forked commit is visible.
// Prints one JSON line {wins, conflicts, errors} and exits.

import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { openMetaStore } from '../../server/storage/open.js';
import { VersionConflictError } from '../../server/storage/types.js';

const [backend, dbUrl, gun, name, loops, attempts] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const enc = (s: string) => new TextEncoder().encode(s);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const store = await openMetaStore({ backend, dbUrl, poolSize: 4 });
process.stdout.write('ready\n');
await new Promise<void>((resolve) => {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === 'go') {
      rl.close();
      resolve();
    }
  });
});

let wins = 0;
let conflicts = 0;
const errors: string[] = [];
await Promise.all(
  Array.from({ length: Number(loops) }, async (_, loop) => {
    for (let a = 0; a < Number(attempts); a++) {
      const n = ((await store.latestVersions(gun)).get('timestamp') ?? 0) + 1;
      const tag = `${name}/${loop}/${a}`;
      const targets = enc(JSON.stringify({ tag, role: 'targets', version: n }));
      const snapshot = enc(
        JSON.stringify({ tag, role: 'snapshot', version: n, targets: sha256(targets) }),
      );
      const timestamp = enc(
        JSON.stringify({ tag, role: 'timestamp', version: n, snapshot: sha256(snapshot) }),
      );
      try {
        await store.updateMany(gun, [
          { role: 'targets', version: n, data: targets },
          { role: 'snapshot', version: n, data: snapshot },
          { role: 'timestamp', version: n, data: timestamp },
        ]);
        wins++;
      } catch (e) {
        if (e instanceof VersionConflictError) conflicts++;
        else errors.push(String(e));
      }
    }
  }),
);
await store.close();
process.stdout.write(`${JSON.stringify({ wins, conflicts, errors })}\n`);
