// The `trustdesk key …` entry of the command table (notary's `key` grammar). Kept free of heavy
// imports: the handler loads the keyring on first use.

import type { CommandSpec } from '../commands.js';

export const KEY_SUBCOMMANDS = [
  'list',
  'generate',
  'import',
  'export',
  'remove',
  'passwd',
  'backup',
  'restore',
] as const;
export type KeySubcommand = (typeof KEY_SUBCOMMANDS)[number];

export const KEY_COMMAND: CommandSpec = {
  name: 'key',
  summary: 'manage private keys: list, generate, import, export, remove, passwd, backup, restore',
  usage: `key <${KEY_SUBCOMMANDS.join('|')}> [arguments] [options]`,
  details: [
    'key list                                  every key (role, GUN, backend, algorithm, location); unlocks nothing',
    'key generate [ecdsa|ed25519] [--role R] [--gun G] [--backend file|keychain|pkcs11] [--token URI] [-o F]',
    '                                          new key (default: ecdsa root key in the file backend); with -o,',
    '                                          write F-key.pem (Go notary format) and F.pem instead of storing it',
    'key import <pem>… [--role R] [--gun G]    import Go notary key files (role/gun from PEM headers first)',
    'key export [--key ID[,ID…]] [--gun G] [-o F]  Go notary PEM that `notary key import` accepts',
    'key remove <id>                           delete a key (asks; --yes in scripts)',
    'key passwd <id>                           change the passphrase (script: --new-passphrase-file)',
    'key backup <id>                           show the 24-word paper backup (asks; --yes-show-mnemonic in scripts)',
    'key restore --key ID [--root-cert F] [--from-file F] [--role R] [--gun G]',
    '                                          rebuild a key from its 24 words, checked against ID first',
    '',
    'Key ids are canonical ids (as `notary key list` shows them); any unique prefix works.',
    'The trust directory is -d/--trustDir, else trust_dir of the client config (-c), else ~/.trustdesk.',
    'Passphrases come from a terminal prompt, --passphrase-file, or TRUSTDESK_<ROLE>_PASSPHRASE /',
    'NOTARY_<ROLE>_PASSPHRASE (ROLE = ROOT, TARGETS, SNAPSHOT, TIMESTAMP or DELEGATION); never from',
    'arguments. Token PINs: prompt, --pin-file or TRUSTDESK_PKCS11_PIN. Without a terminal nothing is',
    'ever prompted: a missing secret is an error that says which variable or flag to set.',
  ],
  positionals: { min: 1, max: 64 },
  options: {
    role: {
      type: 'string',
      short: 'r',
      value: '<role>',
      description: 'key role (generate: default root)',
    },
    gun: {
      type: 'string',
      short: 'g',
      value: '<gun>',
      description: 'repository (targets/snapshot/timestamp keys)',
    },
    backend: {
      type: 'string',
      value: '<file|keychain|pkcs11>',
      description: 'where a new key is stored (default file)',
    },
    token: {
      type: 'string',
      value: '<pkcs11-uri>',
      description: 'generate/import on this PKCS#11 token (RFC 7512 URI)',
    },
    output: {
      type: 'string',
      short: 'o',
      value: '<file>',
      description: 'generate/export: write to this file',
    },
    key: {
      type: 'string',
      short: 'k',
      multiple: true,
      value: '<id>',
      description: 'export: key ids (repeat or separate with commas); restore: the expected id',
    },
    'passphrase-file': {
      type: 'string',
      value: '<file>',
      description: 'read the (current) passphrase from the first line of this file',
    },
    'new-passphrase-file': {
      type: 'string',
      value: '<file>',
      description: 'passwd: read the new passphrase from this file',
    },
    'pin-file': {
      type: 'string',
      value: '<file>',
      description: 'read the token PIN from this file',
    },
    'from-file': {
      type: 'string',
      value: '<file>',
      description: 'restore: read the 24 words from this file',
    },
    'root-cert': {
      type: 'string',
      value: '<cert.pem|root.json>',
      description: 'restore: the root certificate (or root.json) to check against',
    },
    yes: { type: 'boolean', short: 'y', description: 'remove: do not ask for confirmation' },
    'yes-show-mnemonic': {
      type: 'boolean',
      description: 'backup: print the 24 words without asking',
    },
  },
  handler: async (ctx, args) => (await import('./key.js')).runKey(ctx, args),
};
