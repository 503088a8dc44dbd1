#!/usr/bin/env node
// After scripts/bundle-cli.mjs: compiles native/launcher.c into dist/native/trustdesk, the fast
// front door of the CLI (see the header of launcher.c and docs/agent-protocol.md), and writes
// dist/native/build-id. The build id — the first 16 hex digits of SHA-256 of the bundled
// dist/src/app/bin/trustdesk.js — is compiled into the launcher and read by the agent, so an
// agent left running across an upgrade answers "fall back" instead of running old code.
//
// No C compiler (CC, then cc, gcc, clang): one line says so and the build goes on; bin/trustdesk
// then runs the CLI on node directly. TRUSTDESK_REQUIRE_NATIVE=1 (CI) makes that an error.
//
// Options (tests): --out-dir <dir> (default dist/native), --cli <file> (the file to hash,
// default dist/src/app/bin/trustdesk.js).
/* global process, console */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    'out-dir': { type: 'string', default: join(root, 'dist', 'native') },
    cli: { type: 'string', default: join(root, 'dist', 'src', 'app', 'bin', 'trustdesk.js') },
  },
});
const outDir = values['out-dir'];
const source = join(root, 'native', 'launcher.c');

/** The first C compiler that runs, or undefined. */
function findCompiler() {
  const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean);
  return candidates.find((cc) => spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0);
}

const cc = findCompiler();
if (!cc) {
  // A launcher from an earlier build would carry a stale build id: remove it.
  for (const f of ['trustdesk', 'build-id']) rmSync(join(outDir, f), { force: true });
  const required = process.env.TRUSTDESK_REQUIRE_NATIVE === '1';
  console.error(
    `build-native: no C compiler (cc, gcc, clang); the launcher was not built and the CLI will run on node directly${required ? ' (TRUSTDESK_REQUIRE_NATIVE=1: failing)' : ''}`,
  );
  process.exit(required ? 1 : 0);
}

let bundle;
try {
  bundle = readFileSync(values.cli);
} catch (e) {
  console.error(`build-native: cannot read ${values.cli} (run scripts/bundle-cli.mjs first)`);
  throw e;
}
const buildId = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
mkdirSync(outDir, { recursive: true });
const out = join(outDir, 'trustdesk');
// Compile beside the target and rename: a wrapper running meanwhile never sees half a binary.
const tmp = `${out}.${process.pid}.tmp`;
try {
  execFileSync(
    cc,
    [
      '-std=c99',
      '-O2',
      '-Wall',
      '-Wextra',
      '-Werror',
      `-DTRUSTDESK_BUILD_ID="${buildId}"`,
      '-o',
      tmp,
      source,
    ],
    { stdio: 'inherit' },
  );
  renameSync(tmp, out);
} catch (e) {
  rmSync(tmp, { force: true });
  console.error(`build-native: compiling ${source} with ${cc} failed`);
  throw e;
}
// Exactly the 16 hex digits, no newline: the agent compares it byte for byte.
writeFileSync(join(outDir, 'build-id'), buildId);
