// `trustdesk delegation list|add|remove|purge` (Go cmd/notary/delegations.go):
//   list <gun>                                     delegations of the verified repository (online)
//   add <gun> <role> [pem…] [--paths p,… | --all-paths] [-p]
//                                                  keys (certificates or PUBLIC KEY PEMs) and/or paths
//   remove <gun> <role> [keyid…] [--paths p,… | --all-paths] [-y] [-p]
//                                                  with neither keys nor paths: the whole role (asks)
//   purge <gun> --key <id>[,…] [-p]                those keys out of every delegation
// Edits are staged (offline); -p publishes them.

import { TrustdeskError } from '../../tuf/errors.js';
import { isWholeDelegationRemoval, normalisePaths } from '../../client/ops/stage.js';
import { readPublicKeyFile } from '../../client/ops/pem-keys.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { cliPath, flag, gunArg, list, withSession } from './client-context.js';
import { goTable, stagedJson } from './client-output.js';
import { maybePublish } from './publish.js';

export const DELEGATION_SUBCOMMANDS = ['list', 'add', 'remove', 'purge'] as const;

function prettyPaths(paths: readonly string[]): string[] {
  return [...paths].sort().map((p) => (p === '' ? '"" <all paths>' : p));
}

function args1(args: ParsedArgs): ParsedArgs {
  return { positionals: args.positionals.slice(1), values: args.values };
}

function roleArg(args: ParsedArgs): string {
  const role = args.positionals[1];
  if (role === undefined)
    throw new TrustdeskError('ERR_USAGE', 'give the delegation role, e.g. targets/releases');
  return role;
}

async function runList(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  return withSession(ctx, args, { online: true, gun }, async (s) => {
    const { delegations } = await s.repository(gun).delegations();
    return {
      json: { gun, delegations, warnings: s.events.warnings },
      text: () => {
        if (delegations.length === 0) return '\nNo delegations present in this repository.\n\n';
        const rows: string[][] = [];
        for (const d of delegations) {
          const paths = prettyPaths(d.paths);
          const n = Math.max(1, paths.length, d.keyIds.length);
          for (let i = 0; i < n; i++)
            rows.push([
              i === 0 ? d.role : '',
              paths[i] ?? '',
              d.keyIds[i] ?? '',
              i === 0 ? String(d.threshold) : '',
            ]);
        }
        return `\n${goTable(['ROLE', 'PATHS', 'KEY IDS', 'THRESHOLD'], rows)}\n`;
      },
    };
  });
}

async function runAdd(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const role = roleArg(args);
  const keys = await Promise.all(
    args.positionals.slice(2).map((f) => readPublicKeyFile(cliPath(ctx, f))),
  );
  const given = list(args, 'paths');
  const paths =
    given === undefined && !flag(args, 'all-paths')
      ? []
      : normalisePaths(given, flag(args, 'all-paths'));
  return withSession(ctx, args, { online: false, gun }, async (s) => {
    const staged = await s.repository(gun).addDelegation(role, keys, paths);
    const pub = await maybePublish(s, args, gun);
    const ids = keys.map((k) => k.canonicalId);
    const items = [
      ids.length ? `with keys [${ids.join(' ')}], ` : '',
      paths.length ? `with paths [${prettyPaths(paths).join('\n')}], ` : '',
    ].join('');
    return {
      json: {
        gun,
        role,
        keyIds: ids,
        paths,
        staged: stagedJson(staged),
        ...pub.json,
        warnings: s.events.warnings,
      },
      text: () =>
        `\nAddition of delegation role ${role} ${items}to repository "${gun}" staged for next publish.\n\n${pub.text}`,
    };
  });
}

async function runRemove(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  const role = roleArg(args);
  const keyIds = args.positionals.slice(2);
  const allPaths = flag(args, 'all-paths');
  const paths = allPaths ? undefined : list(args, 'paths');
  const removal = { keyIds, ...(paths ? { paths } : {}), allPaths };
  return withSession(ctx, args, { online: false, gun }, async (s) => {
    const repo = s.repository(gun);
    const whole = isWholeDelegationRemoval(removal);
    if (whole) {
      const keyring = await s.keyring();
      const ok = await keyring.prompter.confirm({
        message: `Remove the delegation ${role} of ${gun} with all its keys and paths?`,
        dangerous: false,
      });
      if (!ok)
        throw new TrustdeskError('ERR_ABORTED', 'Aborting action: the delegation was not removed');
    }
    const staged = await repo.removeDelegation(role, removal);
    const pub = await maybePublish(s, args, gun);
    const items = [
      keyIds.length ? `with keys [${keyIds.join(' ')}], ` : '',
      allPaths ? 'with all paths, ' : '',
      paths?.length ? `with paths [${prettyPaths(paths).join('\n')}], ` : '',
    ].join('');
    return {
      json: {
        gun,
        role,
        whole,
        staged: stagedJson(staged),
        ...pub.json,
        warnings: s.events.warnings,
      },
      text: () =>
        (whole
          ? `\nForced removal (including all keys and paths) of delegation role ${role} to repository "${gun}" staged for next publish.\n\n`
          : `\nRemoval of delegation role ${role} ${items}to repository "${gun}" staged for next publish.\n\n`) +
        pub.text,
    };
  });
}

async function runPurge(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const gun = gunArg(args);
  if (args.positionals.length !== 1)
    throw new TrustdeskError(
      'ERR_USAGE',
      'delegation purge takes the GUN only; give the keys with --key',
    );
  const ids = list(args, 'key') ?? [];
  return withSession(ctx, args, { online: false, gun }, async (s) => {
    const staged = await s.repository(gun).purgeDelegationKeys(ids);
    const pub = await maybePublish(s, args, gun);
    return {
      json: {
        gun,
        keyIds: ids,
        staged: stagedJson(staged),
        ...pub.json,
        warnings: s.events.warnings,
      },
      text: () =>
        `Removal of the following keys from all delegations in ${gun} staged for next publish:\n\t- ${ids.join('\n\t- ')}\n${pub.text}`,
    };
  });
}

export async function runDelegation(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const sub = args.positionals[0] ?? '';
  const rest = args1(args);
  switch (sub) {
    case 'list':
      if (rest.positionals.length !== 1)
        throw new TrustdeskError('ERR_USAGE', 'delegation list takes the GUN only');
      return runList(ctx, rest);
    case 'add':
      if (rest.positionals.length < 2)
        throw new TrustdeskError('ERR_USAGE', 'delegation add takes a GUN, a role and key files');
      return runAdd(ctx, rest);
    case 'remove':
      if (rest.positionals.length < 2)
        throw new TrustdeskError('ERR_USAGE', 'delegation remove takes a GUN and a role');
      return runRemove(ctx, rest);
    case 'purge':
      return runPurge(ctx, rest);
    default:
      throw new TrustdeskError(
        'ERR_USAGE',
        `unknown delegation subcommand ${JSON.stringify(sub)}`,
        {
          hint: `Use one of: ${DELEGATION_SUBCOMMANDS.join(', ')} (trustdesk delegation --help).`,
        },
      );
  }
}
