// The command framework: global flags, help from the command table, usage errors, the JSON error
// document, colour rules, exit codes per error category, and the real processes (source via tsx
// and the built dist/ file with plain node).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS, GLOBAL_OPTIONS } from '../../src/app/commands.js';
import { CATEGORY_EXIT, EXIT, EXIT_CODE_MEANINGS, exitCodeFor } from '../../src/app/exit-codes.js';
import { formatRelative } from '../../src/app/time.js';
import { ERROR_CODES, type ErrorCode } from '../../src/tuf/errors.js';
import { parseRfc3339 } from '../../src/tuf/metadata.js';
import { BUILT_CLI, REPO_ROOT, runTrustdesk } from './cli-process.js';
import { cli } from './harness.js';
import { requireService } from '../support/services.js';

const NOW = parseRfc3339('2026-06-01T12:00:00Z');
const version = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

test('--version prints the package version', async () => {
  const r = await cli(['--version'], { nowMs: NOW });
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `trustdesk ${version}\n`, '']);
});

test('--help lists every command and global option from the table', async () => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const r = await cli(argv, { nowMs: NOW });
    assert.equal(r.code, 0, argv.join(' '));
    const lines = r.stdout.split('\n');
    for (const c of COMMANDS) {
      const listed = lines.some((l) => l.startsWith(`  ${c.name} `) && l.endsWith(` ${c.summary}`));
      assert.ok(listed, c.name);
    }
    for (const name of Object.keys(GLOBAL_OPTIONS)) assert.ok(r.stdout.includes(`--${name}`), name);
    for (const e of EXIT_CODE_MEANINGS) assert.ok(r.stdout.includes(`  ${e.code}  ${e.meaning}`));
  }
});

test('command help shows its usage and options', async () => {
  for (const c of COMMANDS) {
    for (const argv of [
      [c.name, '--help'],
      ['help', c.name],
      ['--help', c.name],
    ]) {
      const r = await cli(argv, { nowMs: NOW });
      assert.equal(r.code, 0, argv.join(' '));
      assert.ok(r.stdout.startsWith(`Usage: trustdesk ${c.usage}\n`), argv.join(' '));
      for (const name of Object.keys(c.options)) assert.ok(r.stdout.includes(`--${name}`));
    }
  }
});

const USAGE_ERRORS: { name: string; argv: string[]; message: RegExp }[] = [
  { name: 'no command', argv: [], message: /no command given/ },
  { name: 'unknown command', argv: ['frobnicate'], message: /unknown command "frobnicate"/ },
  { name: 'unknown option', argv: ['inspect', 'x.json', '--bogus'], message: /--bogus/ },
  { name: 'missing argument', argv: ['inspect'], message: /inspect takes 1 argument, got 0/ },
  { name: 'extra argument', argv: ['inspect', 'a', 'b'], message: /got 2/ },
  { name: 'option without its value', argv: ['inspect', 'a.json', '--root'], message: /--root/ },
  {
    name: 'help for an unknown command',
    argv: ['help', 'nope'],
    message: /unknown command "nope"/,
  },
];

for (const c of USAGE_ERRORS) {
  test(`usage error: ${c.name} → exit 2 ERR_USAGE`, async () => {
    const human = await cli(c.argv, { nowMs: NOW });
    assert.equal(human.code, EXIT.usage);
    assert.match(human.stderr, /^error \[ERR_USAGE\]: /m);
    assert.match(human.stderr, c.message);
    assert.match(human.stderr, /^hint: /m);
    // --json anywhere on the line: one JSON document on stdout, nothing on stderr.
    const json = await cli([...c.argv, '--json'], { nowMs: NOW });
    assert.equal(json.code, EXIT.usage);
    assert.equal(json.stderr, '');
    const doc = JSON.parse(json.stdout) as {
      ok: boolean;
      error: { code: string; message: string; hint: string };
    };
    assert.equal(doc.ok, false);
    assert.equal(doc.error.code, 'ERR_USAGE');
    assert.match(doc.error.message, c.message);
    assert.ok(doc.error.hint);
  });
}

test('global flags may come before or after the command', async () => {
  const before = await cli(['--json', 'inspect', 'missing.json'], { nowMs: NOW });
  const afterCmd = await cli(['inspect', 'missing.json', '--json'], { nowMs: NOW });
  assert.equal(before.stdout, afterCmd.stdout);
  assert.equal(before.code, EXIT.notFound);
});

test('colour only on a terminal, never with NO_COLOR or --json', async () => {
  const argv = ['demo'];
  // ESC [ starts every ANSI colour sequence.
  const esc = new RegExp(String.fromCharCode(27) + '\\[');
  assert.match((await cli(argv, { nowMs: NOW, tty: true })).stdout, esc);
  assert.doesNotMatch(
    (await cli(argv, { nowMs: NOW, tty: true, env: { NO_COLOR: '1' } })).stdout,
    esc,
  );
  assert.doesNotMatch((await cli(argv, { nowMs: NOW, tty: false })).stdout, esc);
  assert.doesNotMatch((await cli([...argv, '--json'], { nowMs: NOW, tty: true })).stdout, esc);
  const err = await cli(['nope'], { nowMs: NOW, tty: true, env: { NO_COLOR: '1' } });
  assert.doesNotMatch(err.stderr, esc);
});

test('-D adds the stack trace to errors', async () => {
  const plain = await cli(['inspect', 'missing.json'], { nowMs: NOW });
  const debug = await cli(['-D', 'inspect', 'missing.json'], { nowMs: NOW });
  assert.doesNotMatch(plain.stderr, /\n {4}at /);
  assert.match(debug.stderr, /\n {4}at /);
  assert.match(debug.stderr, /caused by: /);
});

test('every error category has an exit code; codes follow the documented table', () => {
  const expected: Record<string, number> = {
    input: 1,
    internal: 1,
    usage: 2,
    verification: 3,
    auth: 4,
    network: 5,
    'not-found': 6,
    conflict: 7,
  };
  assert.deepEqual({ ...CATEGORY_EXIT }, expected);
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    assert.equal(exitCodeFor(code), expected[ERROR_CODES[code].category], code);
  }
  assert.deepEqual(
    EXIT_CODE_MEANINGS.map((e) => e.code),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
});

const RELATIVE: [number, string][] = [
  [0, 'in less than a second'],
  [999, 'in less than a second'],
  [1_000, 'in 1 second'],
  [61_000, 'in 1 minute 1 second'],
  [3 * 3_600_000 + 5 * 60_000 + 7_000, 'in 3 hours 5 minutes'],
  [86_400_000, 'in 1 day'],
  [-(2 * 86_400_000 + 3_600_000), '2 days 1 hour ago'],
  [10 * 365 * 86_400_000, 'in 10 years'],
  [3 * 365 * 86_400_000 + 364 * 86_400_000, 'in 3 years 364 days'],
];

test('relative times name the two largest units', () => {
  for (const [ms, text] of RELATIVE) assert.equal(formatRelative(ms), text, String(ms));
});

test('the source CLI runs as a process: demo --json exits 0 and stays non-interactive', async () => {
  const r = await runTrustdesk(['demo', '--json', '--script']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { ok: boolean; reports: { role: string }[] };
  assert.equal(doc.ok, true);
  assert.equal(doc.reports.length, 5);
});

test('the built CLI runs on plain node (what npm start and the installed bin run)', async (t) => {
  if (!requireService(t, existsSync(BUILT_CLI), `built CLI ${BUILT_CLI} (run npm run build)`))
    return;
  const v = await runTrustdesk(['--version'], { built: true });
  assert.deepEqual([v.code, v.stdout], [0, `trustdesk ${version}\n`]);
  const demo = await runTrustdesk(['demo'], { built: true });
  assert.equal(demo.code, 0, demo.stderr);
  assert.match(demo.stdout, /✓ expiry/);
  assert.doesNotMatch(demo.stdout, /✗/);
  const bad = await runTrustdesk(['inspect', 'no-such-file.json'], { built: true });
  assert.equal(bad.code, EXIT.notFound);
  assert.match(bad.stderr, /^error \[ERR_NOT_FOUND\]/);
});
