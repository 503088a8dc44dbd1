// Key DB passphrases by alias (notary-protocol §6.3, Go cmd/notary-signer/config.go): each row
// names the alias it was sealed under, and the passphrase of alias A comes from the environment,
// TRUSTDESK_SIGNER_<A'> or Go's NOTARY_SIGNER_<A'> (A' = A upper-cased with '.' → '_'; the
// TRUSTDESK_ name wins). An unset or empty variable is an error naming both variables. Never
// from the config file or argv.

import { TrustdeskError } from '../src/tuf/errors.js';

/** Aliases are varchar(50) in Go's schema; letters, digits, '.', '_' and '-' keep env names sane. */
const ALIAS = /^[A-Za-z0-9._-]{1,50}$/;

export function checkAlias(alias: string, where: string): string {
  if (!ALIAS.test(alias)) {
    throw new TrustdeskError(
      'ERR_CONFIG',
      `${where}: passphrase alias ${JSON.stringify(alias)} must be 1–50 letters, digits, '.', '_' or '-'`,
    );
  }
  return alias;
}

export function passphraseEnvNames(alias: string): [string, string] {
  const suffix = alias.toUpperCase().replaceAll('.', '_');
  return [`TRUSTDESK_SIGNER_${suffix}`, `NOTARY_SIGNER_${suffix}`];
}

/** Looks passphrases up by alias; `fixed` ones (memory store, dev setup) take precedence. */
export class Passphrases {
  constructor(
    readonly env: Readonly<Record<string, string | undefined>>,
    readonly fixed: ReadonlyMap<string, string> = new Map(),
  ) {}

  get(alias: string): string {
    const known = this.fixed.get(alias);
    if (known !== undefined) return known;
    const names = passphraseEnvNames(alias);
    for (const name of names) {
      const v = this.env[name];
      if (v !== undefined && v !== '') return v;
    }
    throw new TrustdeskError(
      'ERR_BAD_PASSPHRASE',
      `no passphrase for key DB alias "${alias}": set ${names[0]} (or Go's ${names[1]})`,
      { hint: `Export ${names[0]} with the passphrase the "${alias}" keys were sealed with.` },
    );
  }
}
