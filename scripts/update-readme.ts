// `npm run readme`: regenerates the README's command, exit-code and error-code tables from the
// code (src/app/docs.ts) and formats the file with prettier.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { updateReadme } from '../src/app/docs.js';

const path = join(import.meta.dirname, '..', 'README.md');
const updated = updateReadme(readFileSync(path, 'utf8'));
const options = (await prettier.resolveConfig(path)) ?? {};
writeFileSync(path, await prettier.format(updated, { ...options, filepath: path }));
console.log('README.md tables updated');
