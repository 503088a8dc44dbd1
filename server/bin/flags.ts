// Go `flag`-style argument parsing for trustdesk-server: `-name value`, `-name=value`, `--name`
// (one or two dashes), boolean flags without a value (`-debug`, or `-debug=false`); parsing stops
// at the first non-flag argument or `--`. Unknown flags and missing values are usage errors.

import { TrustdeskError } from '../../src/tuf/errors.js';

export interface FlagSpec {
  /** Flag name → 'string' | 'boolean'. */
  [name: string]: 'string' | 'boolean';
}

export interface ParsedFlags {
  values: Map<string, string | boolean>;
  rest: string[];
}

export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedFlags {
  const values = new Map<string, string | boolean>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const kind = spec[name];
    if (!kind) throw new TrustdeskError('ERR_USAGE', `flag provided but not defined: -${name}`);
    if (kind === 'boolean') {
      const v = eq < 0 ? 'true' : body.slice(eq + 1);
      if (v !== 'true' && v !== 'false')
        throw new TrustdeskError(
          'ERR_USAGE',
          `invalid boolean value ${JSON.stringify(v)} for -${name}`,
        );
      values.set(name, v === 'true');
      continue;
    }
    if (eq >= 0) {
      values.set(name, body.slice(eq + 1));
    } else {
      const next = argv[i + 1];
      if (next === undefined)
        throw new TrustdeskError('ERR_USAGE', `flag needs an argument: -${name}`);
      values.set(name, next);
      i++;
    }
  }
  return { values, rest: argv.slice(i) };
}

export function stringFlag(f: ParsedFlags, name: string): string | undefined {
  const v = f.values.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function boolFlag(f: ParsedFlags, name: string): boolean {
  return f.values.get(name) === true;
}
