// Shared plumbing of the `trustdesk key …` subcommands: the trust dir, the keyring with every
// backend, the prompter (env/files first, then the terminal if there is one — never a prompt
// without a TTY), option checks and the JSON shape of a key record.

import { resolve } from 'node:path';
import { TrustdeskError } from '../../tuf/errors.js';
import { FileBackend } from '../../keyring/file-store.js';
import { Keyring } from '../../keyring/keyring.js';
import { ScriptPrompter, chainPrompters } from '../../keyring/prompter.js';
import {
  formatKeyUri,
  KEY_BACKENDS,
  type KeyBackend,
  type KeyBackendName,
  type KeyRecord,
  type Prompter,
} from '../../keyring/types.js';
import { loadClientConfig } from '../../client/config/client-config.js';
import { GLOBAL_OPTIONS } from '../commands.js';
import type { Context, ParsedArgs } from '../context.js';
import { TtyPrompter } from './key-tty-prompter.js';

/** A string option; for a repeatable one, its last value. */
export function opt(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  return typeof last === 'string' ? last : undefined;
}

/** A repeatable, comma-separated option (Go's StringSlice): `--key a,b --key c` → [a, b, c]. */
export function list(args: ParsedArgs, name: string): string[] | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
  return items
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter(Boolean);
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** Refuses options that the subcommand does not use (they would be silently ignored). */
export function onlyOptions(args: ParsedArgs, sub: string, allowed: readonly string[]): void {
  for (const [name, v] of Object.entries(args.values)) {
    if (v === undefined || name in GLOBAL_OPTIONS || allowed.includes(name)) continue;
    throw new TrustdeskError('ERR_USAGE', `key ${sub} does not take --${name}`, {
      hint: 'Run `trustdesk key --help`.',
    });
  }
}

export function positionalCount(args: ParsedArgs, sub: string, min: number, max: number): string[] {
  const rest = args.positionals.slice(1);
  if (rest.length < min || rest.length > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new TrustdeskError(
      'ERR_USAGE',
      `key ${sub} takes ${want} argument${max === 1 ? '' : 's'}, got ${rest.length}`,
      {
        hint: 'Run `trustdesk key --help`.',
      },
    );
  }
  return rest;
}

/**
 * The trust directory as every command resolves it (-d/--trustDir, else the client config's
 * trust_dir, else ~/.trustdesk). A caller that resolved it already may pass it as `trust-dir`.
 */
export async function trustDirOf(ctx: Context, args: ParsedArgs): Promise<string> {
  const resolved = opt(args, 'trust-dir');
  if (resolved !== undefined) return resolved;
  const configFile = opt(args, 'configFile');
  const trustDir = opt(args, 'trustDir');
  const config = await loadClientConfig({
    flags: {
      ...(configFile !== undefined ? { configFile } : {}),
      ...(trustDir !== undefined ? { trustDir } : {}),
    },
    env: ctx.io.env,
    cwd: ctx.io.cwd,
  });
  return config.trustDir;
}

export function backendName(args: ParsedArgs): KeyBackendName | undefined {
  const b = opt(args, 'backend');
  if (b === undefined) return undefined;
  if (!(KEY_BACKENDS as readonly string[]).includes(b)) {
    throw new TrustdeskError('ERR_USAGE', `--backend must be one of ${KEY_BACKENDS.join(', ')}`);
  }
  return b as KeyBackendName;
}

export interface PrompterOptions {
  /** passwd: the new passphrase must come from --new-passphrase-file / TRUSTDESK_NEW_PASSPHRASE. */
  distinctNew?: boolean;
  assumeYes?: boolean;
}

export function makePrompter(ctx: Context, args: ParsedArgs, o: PrompterOptions = {}): Prompter {
  const file = (name: string) => {
    const v = opt(args, name);
    return v === undefined ? undefined : resolve(ctx.io.cwd, v);
  };
  const passphraseFile = file('passphrase-file');
  const newPassphraseFile = file('new-passphrase-file');
  const pinFile = file('pin-file');
  const script = new ScriptPrompter({
    env: ctx.io.env,
    ...(passphraseFile !== undefined ? { passphraseFile } : {}),
    ...(newPassphraseFile !== undefined ? { newPassphraseFile } : {}),
    ...(pinFile !== undefined ? { pinFile } : {}),
    distinctNew: o.distinctNew === true,
    assumeYes: o.assumeYes === true,
    onNotice: (n) =>
      ctx.io.stderr.write(
        n.kind === 'touch' ? `Touch the token "${n.tokenLabel}"…\n` : `${n.message}\n`,
      ),
  });
  if (!ctx.interactive) return script;
  return chainPrompters(script, new TtyPrompter(process.stdin, ctx.io.stderr));
}

/** The keyring of the command's trust directory (see trustDirOf). */
export async function openKeyring(
  ctx: Context,
  args: ParsedArgs,
  prompter: Prompter,
): Promise<Keyring> {
  return openKeyringAt(ctx, await trustDirOf(ctx, args), prompter);
}

/** The keyring over every backend (file first: the default for new keys). */
export async function openKeyringAt(
  ctx: Context,
  trustDir: string,
  prompter: Prompter,
): Promise<Keyring> {
  const bctx = { trustDir, env: ctx.io.env };
  const backends: KeyBackend[] = [new FileBackend({ trustDir: bctx.trustDir })];
  const load = async (name: KeyBackendName, make: () => Promise<KeyBackend>) => {
    try {
      backends.push(await make());
    } catch (e) {
      backends.push(unavailableBackend(name, e));
    }
  };
  await load('keychain', async () =>
    (await import('../../keyring/keychain.js')).createKeychainBackend(bctx),
  );
  await load('pkcs11', async () =>
    (await import('../../keyring/pkcs11.js')).createPkcs11Backend(bctx),
  );
  return new Keyring({ prompter, backends });
}

/** A backend whose native module did not load: listed as a problem, every use fails with why. */
function unavailableBackend(name: KeyBackendName, cause: unknown): KeyBackend {
  const error = () =>
    new TrustdeskError(
      name === 'keychain' ? 'ERR_KEYCHAIN_UNAVAILABLE' : 'ERR_TOKEN_NOT_FOUND',
      `the ${name} backend could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  const fail = () => Promise.reject(error());
  return {
    name,
    list: fail,
    generate: fail,
    importPrivate: fail,
    signer: fail,
    remove: fail,
    exportPrivate: fail,
  };
}

export interface KeyRecordJson {
  id: string;
  tufId: string;
  role: string;
  gun: string;
  algorithm: string;
  backend: string;
  uri: string;
  location: string;
  createdAt: string | null;
  publicKey: { keytype: string; public: string };
}

export function recordJson(r: KeyRecord): KeyRecordJson {
  return {
    id: r.id,
    tufId: r.tufId,
    role: r.role,
    gun: r.gun,
    algorithm: r.algorithm,
    backend: r.backend,
    uri: formatKeyUri(r.uri),
    location: r.location,
    createdAt: r.createdAt,
    publicKey: { keytype: r.publicKey.keytype, public: r.publicKey.publicB64 },
  };
}

/** A fixed-width table (Go notary's `key list` look). */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('   ')
      .trimEnd();
  return [line(head), line(head.map((h) => '-'.repeat(h.length))), ...rows.map(line)].join('\n');
}
