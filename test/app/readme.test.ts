// The README stays true: its command, exit-code and error-code tables match the code (regenerate
// with `npm run readme`), the quick start is two commands, and CI runs the README's test command.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { README_TABLES, readmeTableRows, renderTable } from '../../src/app/docs.js';
import { ERROR_CODES } from '../../src/tuf/errors.js';
import { REPO_ROOT } from './cli-process.js';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

for (const [name, make] of Object.entries(README_TABLES)) {
  test(`README ${name} table matches the code (npm run readme)`, () => {
    const t = make();
    assert.deepEqual(readmeTableRows(readme, name), [t.header, ...t.rows]);
  });
}

test('README lists every error code', () => {
  const listed = readmeTableRows(readme, 'error-codes').map((r) => r[0]);
  for (const code of Object.keys(ERROR_CODES)) assert.ok(listed.includes(`\`${code}\``), code);
});

test('table rendering round-trips through the README parser, escapes included', () => {
  const t = { header: ['a', 'b'], rows: [['`x | y`', 'use <name> | or not']] };
  const text = `<!-- BEGIN commands -->\n${renderTable(t)}\n<!-- END commands -->`;
  assert.deepEqual(readmeTableRows(text, 'commands'), [t.header, ...t.rows]);
});

test('quick start is exactly two commands, and CI runs the same test command', () => {
  const quick = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const commands = quick
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  assert.deepEqual(commands, ['npm ci && npm start', 'npm test']);
  const ci = readFileSync(join(REPO_ROOT, '.ci', 'run'), 'utf8');
  assert.match(ci, /^set -euo pipefail$/m);
  for (const step of ['npm ci', 'npm run typecheck', 'npm run lint', 'npm run build', 'npm test']) {
    assert.match(ci, new RegExp(`^${step}( |$)`, 'm'), step);
  }
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.match(pkg.scripts.start ?? '', /dist\/src\/app\/bin\/trustdesk\.js demo$/);
  assert.equal(pkg.scripts.prestart, 'npm run build');
});
