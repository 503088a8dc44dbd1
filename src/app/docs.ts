// The README's generated tables, from the same tables the CLI uses (commands, exit codes, error
// codes). `npm run readme` rewrites the marked sections; test/app/readme.test.ts fails when the
// README and these tables disagree.

import { ERROR_CODES, type ErrorCode } from '../tuf/errors.js';
import { COMMANDS } from './commands.js';
import { EXIT_CODE_MEANINGS, exitCodeFor } from './exit-codes.js';

export interface DocTable {
  header: string[];
  rows: string[][];
}

export const README_TABLES: Record<string, () => DocTable> = {
  commands: () => ({
    header: ['command', 'what it does'],
    rows: COMMANDS.map((c) => [`\`trustdesk ${c.usage}\``, c.summary]),
  }),
  'exit-codes': () => ({
    header: ['exit code', 'meaning'],
    rows: EXIT_CODE_MEANINGS.map((e) => [String(e.code), e.meaning]),
  }),
  'error-codes': () => ({
    header: ['code', 'exit', 'kind', 'what to do'],
    rows: (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => [
      `\`${code}\``,
      String(exitCodeFor(code)),
      ERROR_CODES[code].category,
      ERROR_CODES[code].hint,
    ]),
  }),
};

// `|` would end the cell; `<` outside code spans would start an HTML tag.
const cell = (s: string) =>
  s.startsWith('`') ? s.replace(/\|/g, '\\|') : s.replace(/[|<]/g, '\\$&');

export function renderTable(t: DocTable): string {
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(t.header), line(t.header.map(() => '---')), ...t.rows.map(line)].join('\n');
}

const section = (name: string) =>
  new RegExp(`(<!-- BEGIN ${name} -->\\n)([\\s\\S]*?)(\\n<!-- END ${name} -->)`);

/** The README with every marked section replaced by its generated table. */
export function updateReadme(text: string): string {
  let out = text;
  for (const [name, make] of Object.entries(README_TABLES)) {
    if (!section(name).test(out)) throw new Error(`README has no section ${name}`);
    out = out.replace(
      section(name),
      (_, a: string, _b: string, c: string) => a + renderTable(make()) + c,
    );
  }
  return out;
}

/** The cells of the table in a marked README section (whatever its column padding). */
export function readmeTableRows(text: string, name: string): string[][] {
  const body = section(name).exec(text)?.[2];
  if (body === undefined) throw new Error(`README has no section ${name}`);
  return body
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|[\s:|-]+\|$/.test(l))
    .map((l) =>
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim().replace(/\\([|<])/g, '$1')),
    );
}
