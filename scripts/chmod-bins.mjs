#!/usr/bin/env node
// After `tsc`: make every built bin of package.json executable (tsc writes 0644), so
// `./dist/src/app/bin/trustdesk.js` runs directly, as it will once installed.
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// The bundled CLI too: bin/trustdesk runs it when the native launcher is absent or falls back.
for (const file of [...Object.values(pkg.bin ?? {}), 'dist/src/app/bin/trustdesk.js']) {
  const p = join(root, file);
  // Bins of parts not written yet (server, signer) are simply absent.
  if (existsSync(p)) chmodSync(p, 0o755);
}
