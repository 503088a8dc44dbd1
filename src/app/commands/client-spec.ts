// The repository commands' entries in the command table (notary's grammar and flags, so notary
// scripts run unchanged). Kept free of heavy imports: each handler loads its module on use.
// The connection flags (-s, -d, -c, --tlscacert, --tlscert, --tlskey, --offline) are global
// options (commands.ts), so they may come before or after the command, as with notary.

import type { CommandSpec, OptionSpec } from '../commands.js';

const PUBLISH: Record<string, OptionSpec> = {
  publish: { type: 'boolean', short: 'p', description: 'publish the staged changes right away' },
};

/** Where secrets come from when a key must be unlocked (never from arguments). */
const SECRETS: Record<string, OptionSpec> = {
  'passphrase-file': {
    type: 'string',
    value: '<file>',
    description: 'read key passphrases from the first line of this file',
  },
  'pin-file': { type: 'string', value: '<file>', description: 'read the token PIN from this file' },
};

const ROLES: Record<string, OptionSpec> = {
  roles: {
    type: 'string',
    short: 'r',
    multiple: true,
    value: '<role,…>',
    description: 'delegation roles (default: targets); repeat or separate with commas',
  },
};

const CUSTOM: Record<string, OptionSpec> = {
  custom: {
    type: 'string',
    value: '<file>',
    description: 'JSON file with custom data for the target',
  },
};

const YES: Record<string, OptionSpec> = {
  yes: { type: 'boolean', short: 'y', description: 'answer yes to the confirmation (scripts)' },
};

const STAGED_NOTE =
  'Offline: the change is staged in <trust_dir>/tuf/<gun>/changelist until `trustdesk publish` (or -p).';

export const CLIENT_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'init',
    summary: 'create a repository: root, targets and snapshot keys and metadata (online)',
    usage:
      'init <gun> [--rootkey <key.pem>] [--rootcert <cert.pem>] [--server-managed-snapshot] [-p]',
    details: [
      'The root key is --rootkey (a Go notary key file), else the first root key held, else a new',
      'ECDSA key; its certificate is --rootcert or a new one for the GUN. New targets and snapshot',
      'keys are stored in the keyring; the server supplies the timestamp key. Nothing is uploaded',
      'until publish (or -p).',
    ],
    positionals: { min: 1, max: 1 },
    options: {
      rootkey: {
        type: 'string',
        value: '<file>',
        description: 'root key to use (Go notary PEM, encrypted)',
      },
      rootcert: {
        type: 'string',
        value: '<file>',
        description: 'certificate of the root key (PEM)',
      },
      'server-managed-snapshot': {
        type: 'boolean',
        description: 'let the server hold the snapshot key',
      },
      ...PUBLISH,
      ...SECRETS,
    },
    handler: async (ctx, args) => (await import('./init.js')).runInit(ctx, args),
  },
  {
    name: 'add',
    summary: 'stage a target from a file (offline)',
    usage: 'add <gun> <name> <file> [--roles <role,…>] [--custom <file>] [-p]',
    details: [STAGED_NOTE],
    positionals: { min: 3, max: 3 },
    options: { ...ROLES, ...CUSTOM, ...PUBLISH, ...SECRETS },
    handler: async (ctx, args) => (await import('./add.js')).runAdd(ctx, args),
  },
  {
    name: 'addhash',
    summary: 'stage a target from its size and hashes (offline)',
    usage:
      'addhash <gun> <name> <size> --sha256 <hex> [--sha512 <hex>] [--roles <role,…>] [--custom <file>] [-p]',
    details: [STAGED_NOTE],
    positionals: { min: 3, max: 3 },
    options: {
      sha256: { type: 'string', value: '<hex>', description: 'hex sha256 of the target' },
      sha512: { type: 'string', value: '<hex>', description: 'hex sha512 of the target' },
      ...ROLES,
      ...CUSTOM,
      ...PUBLISH,
      ...SECRETS,
    },
    handler: async (ctx, args) => (await import('./addhash.js')).runAddHash(ctx, args),
  },
  {
    name: 'remove',
    summary: 'stage the removal of a target (offline)',
    usage: 'remove <gun> <name> [--roles <role,…>] [-p]',
    details: [STAGED_NOTE],
    positionals: { min: 2, max: 2 },
    options: { ...ROLES, ...PUBLISH, ...SECRETS },
    handler: async (ctx, args) => (await import('./remove.js')).runRemove(ctx, args),
  },
  {
    name: 'list',
    summary: 'list the targets of a repository, verified',
    usage: 'list <gun> [--roles <role,…>]',
    details: [
      "Updates from the server first (from the cache only with --offline); prints Go notary's",
      "NAME / DIGEST / SIZE (BYTES) / ROLE table; -v adds every role's version and expiry.",
    ],
    positionals: { min: 1, max: 1 },
    options: {
      roles: {
        ...(ROLES.roles as OptionSpec),
        description: 'list only these roles (in priority order)',
      },
    },
    handler: async (ctx, args) => (await import('./list.js')).runList(ctx, args),
  },
  {
    name: 'lookup',
    summary: 'show one target of a repository, verified',
    usage: 'lookup <gun> <name>',
    positionals: { min: 2, max: 2 },
    options: {},
    handler: async (ctx, args) => (await import('./lookup.js')).runLookup(ctx, args),
  },
  {
    name: 'verify',
    summary: 'check content against a target; pass it through only if it matches',
    usage: 'verify <gun> <name> [-i <file>] [-o <file>] [-q]',
    details: [
      'Reads the content from stdin (or -i) and compares its size and hashes with the verified',
      'metadata. On a match it writes the content to stdout (or -o, nothing with -q); on a mismatch',
      'it writes nothing and exits 3.',
    ],
    positionals: { min: 2, max: 2 },
    options: {
      input: {
        type: 'string',
        short: 'i',
        value: '<file>',
        description: 'read the content from a file, not stdin',
      },
      output: {
        type: 'string',
        short: 'o',
        value: '<file>',
        description: 'write the content to a file, not stdout',
      },
      quiet: { type: 'boolean', short: 'q', description: 'write no content, only the exit code' },
    },
    handler: async (ctx, args) => (await import('./verify.js')).runVerify(ctx, args),
  },
  {
    name: 'status',
    summary: 'show the staged, unpublished changes (offline)',
    usage: 'status [<gun>] [--gun <gun>]',
    details: ['Without a GUN: every repository in the trust directory that has staged changes.'],
    positionals: { min: 0, max: 1 },
    options: { gun: { type: 'string', value: '<gun>', description: 'the repository' } },
    handler: async (ctx, args) => (await import('./status.js')).runStatus(ctx, args),
  },
  {
    name: 'reset',
    summary: 'drop staged changes (offline)',
    usage: 'reset <gun> (-n <number>[,…] | --all)',
    positionals: { min: 1, max: 1 },
    options: {
      number: {
        type: 'string',
        short: 'n',
        multiple: true,
        value: '<number,…>',
        description: 'changes to drop, as numbered by `status`',
      },
      all: { type: 'boolean', description: 'drop every staged change' },
    },
    handler: async (ctx, args) => (await import('./reset.js')).runReset(ctx, args),
  },
  {
    name: 'publish',
    summary: 'publish the staged changes (online)',
    usage: 'publish <gun>',
    details: [
      'Updates from the server, re-applies the staged changes on top, signs only what changed',
      '(and the snapshot when its key is held here), uploads everything in one request, and',
      'clears the staged changes only after the server accepted them.',
    ],
    positionals: { min: 1, max: 1 },
    options: { ...SECRETS },
    handler: async (ctx, args) => (await import('./publish.js')).runPublish(ctx, args),
  },
  {
    name: 'delegation',
    summary: 'list, add, remove or purge delegations',
    usage:
      'delegation (list|add|remove|purge) <gun> [<role>] [<key.pem>…|<key id>…] [--paths <p,…>] [--all-paths] [--key <id,…>] [-p]',
    details: [
      'delegation list <gun>                             delegations of the verified repository (online)',
      'delegation add <gun> <role> [key.pem…] [--paths p,…|--all-paths] [-p]',
      '                                                  keys are certificates or PUBLIC KEY PEM files',
      'delegation remove <gun> <role> [keyid…] [--paths p,…|--all-paths] [-y] [-p]',
      '                                                  with no keys or paths the whole role goes (asks)',
      'delegation purge <gun> --key <id,…> [-p]          remove keys from every delegation',
      STAGED_NOTE,
    ],
    positionals: { min: 2, max: 66 },
    options: {
      paths: {
        type: 'string',
        multiple: true,
        value: '<path,…>',
        description: 'target-name prefixes ("" = all); repeat or separate with commas',
      },
      'all-paths': { type: 'boolean', description: 'every target name (the path "")' },
      key: {
        type: 'string',
        multiple: true,
        value: '<id,…>',
        description: 'purge: canonical key IDs to remove',
      },
      ...YES,
      ...PUBLISH,
      ...SECRETS,
    },
    handler: async (ctx, args) => (await import('./delegation.js')).runDelegation(ctx, args),
  },
  {
    name: 'key rotate',
    summary: 'rotate a base role key and publish (root asks first)',
    usage: 'key rotate <gun> <role> [-r|--server-managed] [-k <key.pem>]… [-y]',
    details: [
      'root and targets: local keys only; snapshot: local or -r; timestamp: -r only.',
      'Without -k a new ECDSA key is generated (root: with a new certificate). A root rotation is',
      'signed by the old and the new root keys. Old local keys of other roles are deleted once the',
      'server accepted the rotation.',
    ],
    positionals: { min: 2, max: 2 },
    options: {
      'server-managed': {
        type: 'boolean',
        short: 'r',
        description: 'the server holds the new key (timestamp, snapshot)',
      },
      key: {
        type: 'string',
        short: 'k',
        multiple: true,
        value: '<file>',
        description: 'rotate to this private key (Go notary PEM); repeatable',
      },
      ...YES,
      ...SECRETS,
    },
    handler: async (ctx, args) => (await import('./rotate.js')).runRotate(ctx, args),
  },
  {
    name: 'witness',
    summary: 'stage a re-sign of targets roles at the next publish (offline)',
    usage: 'witness <gun> <role>… [-p]',
    positionals: { min: 2, max: 64 },
    options: { ...PUBLISH, ...SECRETS },
    handler: async (ctx, args) => (await import('./witness.js')).runWitness(ctx, args),
  },
  {
    name: 'delete',
    summary: "delete the local trust data of a repository (and with --remote the server's)",
    usage: 'delete <gun> [--remote] [-y]',
    details: ['Private keys are kept. --remote asks first (--yes, or "yes" or the GUN on stdin).'],
    positionals: { min: 1, max: 1 },
    options: {
      remote: {
        type: 'boolean',
        description: 'also delete everything the server holds for the GUN',
      },
      ...YES,
    },
    handler: async (ctx, args) => (await import('./delete.js')).runDelete(ctx, args),
  },
];

/** Connection flags shared by every command (Go notary's global flags, plus --offline). */
export const CLIENT_GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  server: { type: 'string', short: 's', value: '<url>', description: 'trust server URL' },
  trustDir: {
    type: 'string',
    short: 'd',
    value: '<dir>',
    description: 'trust directory (default ~/.trustdesk)',
  },
  configFile: {
    type: 'string',
    short: 'c',
    value: '<file>',
    description: 'client config file (default ~/.trustdesk/config.json)',
  },
  tlscacert: {
    type: 'string',
    value: '<file>',
    description: 'CA certificate(s) to verify the server with',
  },
  tlscert: { type: 'string', value: '<file>', description: 'TLS client certificate' },
  tlskey: { type: 'string', value: '<file>', description: 'TLS client key' },
  offline: { type: 'boolean', description: 'work from the cache only; never contact the server' },
};
