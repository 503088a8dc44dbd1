#!/usr/bin/env node
// trustdesk-signer: a notary-signer that Go notary-server can use unchanged.
//
//   trustdesk-signer -config <file.json> [-debug] [--insecure-dev]   serve (Go's flags)
//   trustdesk-signer [--insecure-dev]                                dev setup on 127.0.0.1:7899
//   trustdesk-signer rotate-passphrase -config <file.json> --to <alias>
//   trustdesk-signer -version | --help
//
// Flags take Go's single dash or two, with "=value" or a separate argument. Exit status: 0 ok,
// 1 failure at run time (database, passphrase, TLS files, port in use), 2 bad usage or config.
// SIGTERM/SIGINT stop gracefully (running RPCs finish, up to 10 s); a second signal exits now.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isTrustdeskError } from '../../src/tuf/errors.js';
import { devConfig, loadConfigFile, parseAddr, type SignerConfig } from '../config.js';
import { rotatePassphrase } from '../rotate.js';
import { startSigner } from '../signer.js';

const USAGE = `usage:
  trustdesk-signer -config <file.json> [-debug] [--insecure-dev]
  trustdesk-signer [--insecure-dev]          (no config: dev setup on 127.0.0.1:7899)
  trustdesk-signer rotate-passphrase [-config <file.json>] --to <alias>
  trustdesk-signer -version

The config file is a Go notary-signer config (server.grpc_addr, server.tls_cert_file,
server.tls_key_file, server.client_ca_file, storage.backend sqlite|postgres|memory|pkcs11,
storage.db_url, storage.default_alias, logging.level); TRUSTDESK_SIGNER_<PATH> or
NOTARY_SIGNER_<PATH> environment variables override it. Key DB passphrases come from
TRUSTDESK_SIGNER_<ALIAS> (or NOTARY_SIGNER_<ALIAS>).
`;

interface Args {
  command: 'serve' | 'rotate-passphrase';
  config?: string;
  to?: string;
  debug: boolean;
  insecureDev: boolean;
  version: boolean;
  help: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    command: 'serve',
    debug: false,
    insecureDev: false,
    version: false,
    help: false,
  };
  const rest = [...argv];
  if (rest[0] === 'rotate-passphrase') {
    args.command = 'rotate-passphrase';
    rest.shift();
  }
  while (rest.length > 0) {
    const arg = rest.shift() as string;
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const [, flag, inline] = m;
    const value = (): string => {
      const v = inline ?? rest.shift();
      if (v === undefined || v === '') throw new UsageError(`-${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case 'config':
        args.config = value();
        break;
      case 'to':
        args.to = value();
        break;
      case 'debug':
        args.debug = true;
        break;
      case 'insecure-dev':
        args.insecureDev = true;
        break;
      case 'logf':
        if (value() !== 'json') throw new UsageError('-logf: trustdesk-signer logs JSON only');
        break;
      case 'version':
        args.version = true;
        break;
      case 'h':
      case 'help':
        args.help = true;
        break;
      default:
        throw new UsageError(`unknown flag ${arg}`);
    }
  }
  if (args.command === 'rotate-passphrase' && !args.to)
    throw new UsageError('rotate-passphrase needs --to <alias>');
  return args;
}

function version(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(
        readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8'),
      ) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'trustdesk') return pkg.version ?? 'unknown';
    } catch {
      // try the next layout (source tree vs dist/)
    }
  }
  return 'unknown';
}

const say = (m: string) => process.stderr.write(`trustdesk-signer: ${m}\n`);

function configOf(args: Args): SignerConfig {
  const config = args.config
    ? loadConfigFile(args.config, process.env, { insecureDev: args.insecureDev })
    : devConfig(process.env, args.insecureDev);
  if (args.debug && !config.debug) config.debug = parseAddr('localhost:8080', '-debug');
  return config;
}

async function serve(args: Args): Promise<number> {
  const config = configOf(args);
  if (!args.config) say(`no -config given: dev setup in ${config.dataDir ?? '?'}`);
  const signer = await startSigner(config, { notice: say });
  say(
    `listening on ${config.listen.host ?? '*'}:${signer.port}${config.insecureDev ? ' (PLAINTEXT)' : ' (mutual TLS)'}`,
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) process.exit(1);
      stopping = true;
      say(`${signal}: stopping`);
      signer.close(10_000).then(
        () => resolve(0),
        (e: unknown) => {
          say(`error while stopping: ${e instanceof Error ? e.message : String(e)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    say((e as Error).message);
    process.stderr.write(USAGE);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`trustdesk-signer ${version()}\n`);
    return 0;
  }
  try {
    if (args.command === 'rotate-passphrase') {
      const r = await rotatePassphrase(configOf(args), args.to as string, {
        env: process.env,
        notice: say,
      });
      say(
        `re-sealed ${r.rotated} key(s) under alias "${args.to}" (${r.unchanged} already were); ` +
          `now set storage.default_alias to "${args.to}"`,
      );
      return 0;
    }
    return await serve(args);
  } catch (e) {
    if (isTrustdeskError(e)) {
      say(`${e.message}\n  hint: ${e.hint}`);
      return e.category === 'usage' ? 2 : 1;
    }
    say(e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    say(String(e));
    process.exit(1);
  },
);
