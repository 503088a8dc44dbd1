#!/usr/bin/env node
// Runs every test/**/*.test.ts(x) with node:test + tsx. Node 20's test runner does not expand
// globs, and with no file list it would find nothing and exit 0 — so we list the files here and
// fail loudly if there are none. Extra args are treated as filters on the path.
//
// Under CI=true a skipped test fails the run: tests gate external services through
// test/support/services.ts (which already throws in CI), and as a second line of defence we read
// the reporter's summary (`# skipped N` in the TAP that node prints when stdout is not a TTY).
/* global process, console */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = join(import.meta.dirname, '..');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('-'));
const inCi = process.env.CI === 'true';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.test\.tsx?$/.test(name)) out.push(relative(root, p));
  }
  return out;
}

const files = walk(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}

const args = ['--import', 'tsx', '--test', '--test-concurrency=2', ...passthrough, ...files];
// Outside CI the output goes straight to the terminal (spec reporter on a TTY).
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: ['inherit', inCi ? 'pipe' : 'inherit', 'inherit'],
});
let tail = '';
child.stdout?.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
child.on('close', (code, signal) => {
  let status = code ?? 1;
  if (signal) console.error(`run-tests: test runner killed by ${signal}`);
  if (inCi) {
    const skipped = /^# skipped (\d+)$/m.exec(tail);
    if (!skipped) {
      console.error(
        'run-tests: no "# skipped" line in the test summary; cannot prove nothing skipped',
      );
      status ||= 1;
    } else if (Number(skipped[1]) > 0) {
      console.error(
        `run-tests: ${skipped[1]} test(s) skipped under CI=true; every test must run in CI`,
      );
      status ||= 1;
    }
  }
  process.exit(status);
});
